import { UNKNOWN, type Model, type Operation } from './model.js';

/** The checker's answer. */
export interface LinearizabilityResult<I, O> {
  /** True when some total order of the operations respects real time and the model. */
  ok: boolean;
  /** Operations checked (after dropping nothing). */
  operations: number;
  /** Sub-histories checked separately (P-compositionality). */
  partitions: number;
  /** When not linearizable: where the search got stuck, in the partition that failed. */
  explanation?: Explanation<I, O>;
  /** When linearizable: a witness, one legal order of each partition's operations. */
  linearization?: Operation<I, O>[][];
}

/** Where no order works: the longest linearizable prefix found, and the operation that could not follow it. */
export interface Explanation<I, O> {
  /** The longest prefix of operations that could be linearized, in order (its last few). */
  linearizedTail: Operation<I, O>[];
  /** How many operations that prefix has. */
  linearizedCount: number;
  /** Operations that had to come next (by real time) but fit no order after the prefix. */
  stuck: Operation<I, O>[];
  /** The model state after the prefix, hashed. */
  state: string;
  /** A readable summary. */
  text: string;
}

interface Entry {
  /** Call entries link to their return entry; return entries have none. */
  match: Entry | undefined;
  id: number;
  time: number;
  isCall: boolean;
  prev: Entry | undefined;
  next: Entry | undefined;
}

/**
 * Checks a history against a sequential model: Wing & Gong's search with Lowe's cache of visited (linearized set,
 * state) pairs, per partition of the history (P-compositionality), in the manner of porcupine.
 *
 * @example
 * ```ts
 * const result = checkLinearizable(casRegisterModel(), history);
 * if (!result.ok) console.log(result.explanation?.text);
 * ```
 */
export function checkLinearizable<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
): LinearizabilityResult<I, O> {
  const parts = model.partition !== undefined ? model.partition(history) : [[...history]];
  const linearization: Operation<I, O>[][] = [];
  for (const part of parts) {
    const r = checkPartition(model, part);
    if (!Array.isArray(r))
      return { ok: false, operations: history.length, partitions: parts.length, explanation: r };
    linearization.push(r.map((id) => part[id]!));
  }
  return { ok: true, operations: history.length, partitions: parts.length, linearization };
}

function buildList<I, O>(ops: readonly Operation<I, O>[]): Entry {
  const events: Entry[] = [];
  ops.forEach((op, id) => {
    const ret: Entry = {
      match: undefined,
      id,
      time: op.return,
      isCall: false,
      prev: undefined,
      next: undefined,
    };
    events.push({ match: ret, id, time: op.call, isCall: true, prev: undefined, next: undefined }, ret);
  });
  // By time; at equal times calls first, so touching operations count as concurrent.
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? 0 : a.isCall ? -1 : 1));
  const head: Entry = {
    match: undefined,
    id: -1,
    time: -Infinity,
    isCall: false,
    prev: undefined,
    next: undefined,
  };
  let last = head;
  for (const e of events) {
    last.next = e;
    e.prev = last;
    last = e;
  }
  return head;
}

function lift(e: Entry): void {
  e.prev!.next = e.next;
  if (e.next !== undefined) e.next.prev = e.prev;
  const m = e.match!;
  m.prev!.next = m.next;
  if (m.next !== undefined) m.next.prev = m.prev;
}

function unlift(e: Entry): void {
  const m = e.match!;
  m.prev!.next = m;
  if (m.next !== undefined) m.next.prev = m;
  e.prev!.next = e;
  if (e.next !== undefined) e.next.prev = e;
}

/** A bitset over operation ids with a cheap hash, for the visited cache. */
class Bits {
  readonly words: Uint32Array;
  constructor(n: number) {
    this.words = new Uint32Array(Math.ceil(n / 32) || 1);
  }
  set(i: number): void {
    this.words[i >>> 5]! |= 1 << (i & 31);
  }
  clear(i: number): void {
    this.words[i >>> 5]! &= ~(1 << (i & 31));
  }
  key(): string {
    // Words joined: exact, so no false cache hits.
    return this.words.join(',');
  }
}

/** Returns a legal order (operation ids) when the partition is linearizable, else an explanation. */
function checkPartition<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
): number[] | Explanation<I, O> {
  const hash = (s: S): string => (model.hash !== undefined ? model.hash(s) : JSON.stringify(s));
  const head = buildList(ops);
  const linearized = new Bits(ops.length);
  const cache = new Set<string>();
  const calls: { entry: Entry; state: S }[] = [];
  let state = model.init();
  let entry = head.next;
  let best = { count: -1, order: [] as number[], state: '', stuckAt: undefined as Entry | undefined };
  while (head.next !== undefined) {
    if (entry !== undefined && entry.isCall) {
      const op = ops[entry.id]!;
      const next = model.step(state, op.input, op.output);
      if (next !== undefined) {
        linearized.set(entry.id);
        const key = `${linearized.key()}|${hash(next)}`;
        if (!cache.has(key)) {
          cache.add(key);
          calls.push({ entry, state });
          state = next;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized.clear(entry.id);
      }
      entry = entry.next;
    } else {
      // A return whose call is not linearized: nothing later can go first. Record the deepest point, backtrack.
      if (calls.length > best.count) {
        best = {
          count: calls.length,
          order: calls.map((c) => c.entry.id),
          state: hash(state),
          stuckAt: entry,
        };
      }
      const top = calls.pop();
      if (top === undefined) return explain(model, ops, best);
      state = top.state;
      linearized.clear(top.entry.id);
      unlift(top.entry);
      entry = top.entry.next;
    }
  }
  return calls.map((c) => c.entry.id);
}

function explain<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  best: { count: number; order: number[]; state: string; stuckAt: Entry | undefined },
): Explanation<I, O> {
  const done = new Set(best.order);
  const blocked = best.stuckAt !== undefined ? ops[best.stuckAt.id] : undefined;
  // The operations that could have come next: not yet linearized, and invoked before the blocking one completed.
  const stuck = ops.filter((op, id) => !done.has(id) && blocked !== undefined && op.call <= blocked.return);
  const linearizedTail = best.order.slice(-8).map((id) => ops[id]!);
  const show = (op: Operation<I, O>): string =>
    `client ${op.clientId} ${model.describe?.(op.input, op.output) ?? `${JSON.stringify(op.input)} -> ${op.output === UNKNOWN ? '?' : JSON.stringify(op.output)}`} [${op.call}, ${op.return}]`;
  const text = [
    `not linearizable: after ${best.count} operations (state ${best.state}) none of these can come next:`,
    ...stuck.slice(0, 10).map((op) => `  ${show(op)}`),
    'last operations of the longest linearizable prefix:',
    ...linearizedTail.map((op) => `  ${show(op)}`),
  ].join('\n');
  return { linearizedTail, linearizedCount: best.count, stuck, state: best.state, text };
}
