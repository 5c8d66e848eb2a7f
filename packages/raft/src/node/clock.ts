/** A timer started by a {@link Clock}; opaque to its users. */
export type ClockTimer = { readonly __clockTimer: true } | object;

/**
 * Time as the runtime sees it: every timer, deadline, deferral and latency measurement of a {@link RaftNode} goes
 * through one `Clock`, so a simulator can run the shipping code on virtual time (`@x/raft/testing`'s
 * `simulate`) and replay a seed exactly. {@link systemClock} is Node's timers; services never need another one.
 *
 * @example
 * ```ts
 * const timer = systemClock.setTimeout(() => console.log('later'), 100);
 * systemClock.clearTimeout(timer);
 * ```
 */
export interface Clock {
  /** Milliseconds on a monotonic clock (only differences mean anything). */
  now(): number;
  /** Calls `fn` once, `ms` milliseconds from now. */
  setTimeout(fn: () => void, ms: number): ClockTimer;
  clearTimeout(timer: ClockTimer): void;
  /**
   * Calls `fn` after the current turn: after every promise callback already queued has run (`setImmediate`).
   * The Ready loop yields with it so that proposals made in one turn join one Ready.
   */
  defer(fn: () => void): void;
}

/** Node's timers and `performance.now()`. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer as ReturnType<typeof setTimeout>),
  defer: (fn) => setImmediate(fn),
};

/** A promise that resolves after the current turn (see {@link Clock.defer}). */
export function nextTurn(clock: Clock): Promise<void> {
  return new Promise<void>((resolve) => clock.defer(resolve));
}
