import type { Clock, ClockTimer } from '../../node/clock.js';
import { fnv } from '../invariants.js';
import { EventQueue } from './event-queue.js';

interface Timer {
  fn: () => void;
  /** Cleared, or its scope was killed: skipped when its time comes. */
  cancelled: boolean;
  scope: ClockScope | undefined;
}

/** A process's view of the virtual clock: killing it (a crash) drops every timer it started, as a dead process's. */
export interface ClockScope extends Clock {
  readonly alive: boolean;
  kill(): void;
}

/**
 * Virtual time for a simulation of real `RaftNode`s: every timer and deferral of every node, disk and network
 * is an event in one queue, ordered by (time, order of scheduling). {@link runUntil} runs them one at a time, and
 * after each lets every promise callback it caused run to completion (a real `setImmediate` comes only after the
 * microtask queue is empty), so the interleaving of async code depends on nothing but the seed.
 *
 * Invariant: nothing under simulation touches Node's timers or I/O; everything it awaits is settled by an event
 * of this queue (else a run would hang: {@link runUntil} then just moves the clock on).
 */
export class VirtualClock implements Clock {
  private readonly queue = new EventQueue<Timer>();
  private t = 0;
  /** Events run so far. */
  events = 0;
  /** Hash over (time, sequence) of every event run: equal for two runs of one seed. */
  traceHash = 0x811c9dc5;
  /** Thrown by an event callback: the run stops and rethrows it. */
  private failure: Error | undefined;

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): ClockTimer {
    return this.schedule(fn, ms, undefined);
  }

  clearTimeout(timer: ClockTimer): void {
    (timer as Timer).cancelled = true;
  }

  defer(fn: () => void): void {
    this.schedule(fn, 0, undefined);
  }

  /** A clock for one process: its timers die with it ({@link ClockScope.kill}). */
  scope(): ClockScope {
    let alive = true;
    const scope: ClockScope = {
      get alive() {
        return alive;
      },
      kill: () => {
        alive = false;
      },
      now: () => this.t,
      setTimeout: (fn, ms) => this.schedule(fn, ms, scope),
      clearTimeout: (timer) => this.clearTimeout(timer),
      defer: (fn) => void this.schedule(fn, 0, scope),
    };
    return scope;
  }

  private schedule(fn: () => void, ms: number, scope: ClockScope | undefined): Timer {
    const timer: Timer = { fn, cancelled: false, scope };
    // Whole milliseconds keep the event order independent of float rounding.
    this.queue.push(this.t + Math.max(0, Math.ceil(ms)), timer);
    return timer;
  }

  /** Runs every event due at or before `until` (and what each one causes), then sets the time to `until`. */
  async runUntil(until: number): Promise<void> {
    for (;;) {
      const next = this.queue.peekTime();
      if (next === undefined || next > until) break;
      const ev = this.queue.pop()!;
      const timer = ev.item;
      if (timer.cancelled || (timer.scope !== undefined && !timer.scope.alive)) continue;
      this.t = ev.time;
      this.events++;
      this.traceHash = fnv(this.traceHash, ev.time);
      try {
        timer.fn();
      } catch (err) {
        this.fail(err);
      }
      await settle();
      if (this.failure !== undefined) {
        const err = this.failure;
        this.failure = undefined;
        throw err;
      }
    }
    this.t = Math.max(this.t, until);
  }

  /** Folds `v` into the trace hash (the network and the cluster record what they did). */
  record(v: number): void {
    this.traceHash = fnv(this.traceHash, v);
  }

  /** Makes the current run throw `err` after the event running now (for checks inside callbacks). */
  fail(err: unknown): void {
    this.failure ??= err instanceof Error ? err : new Error(String(err));
  }
}

/** Resolves once every promise callback queued so far, and every one those queue, has run. */
function settle(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}
