import { UNKNOWN, type Operation } from './model.js';

/** One line of a Jepsen-style history: an invocation or a completion by a process. */
export interface HistoryEvent<I, O> {
  process: number;
  type: 'invoke' | 'ok' | 'fail' | 'info';
  /** The invocation's input (on `invoke` events). */
  input?: I;
  /** The completion's output (on `ok` events). */
  output?: O;
  /** Defaults to the event's position in the list. */
  time?: number;
}

/**
 * Pairs each invocation with its process's next completion: `ok` completes it, `fail` (a definite failure: it
 * did not happen) drops it, `info` (a timeout or crash) or no completion at all makes its outcome unknown, so it
 * may take effect at any time after its call, or never.
 *
 * @example
 * ```ts
 * const ops = historyFromEvents([
 *   { process: 0, type: 'invoke', input: { op: 'write', value: 1 } },
 *   { process: 0, type: 'ok' },
 * ]);
 * ```
 */
export function historyFromEvents<I, O>(
  events: readonly HistoryEvent<I, O>[],
  opts: { dropUnknown?: (input: I) => boolean } = {},
): Operation<I, O>[] {
  const open = new Map<number, { input: I; call: number }>();
  const out: Operation<I, O>[] = [];
  const unknown = (process: number, pending: { input: I; call: number }): void => {
    if (opts.dropUnknown?.(pending.input) === true) return;
    out.push({
      clientId: process,
      input: pending.input,
      call: pending.call,
      output: UNKNOWN,
      return: Infinity,
    });
  };
  events.forEach((e, i) => {
    const time = e.time ?? i;
    if (e.type === 'invoke') {
      const prev = open.get(e.process);
      if (prev !== undefined) unknown(e.process, prev);
      open.set(e.process, { input: e.input as I, call: time });
      return;
    }
    const pending = open.get(e.process);
    if (pending === undefined) return;
    open.delete(e.process);
    if (e.type === 'ok')
      out.push({
        clientId: e.process,
        input: pending.input,
        call: pending.call,
        output: e.output as O,
        return: time,
      });
    else if (e.type === 'info') unknown(e.process, pending);
  });
  for (const [process, pending] of open) unknown(process, pending);
  return out;
}
