/**
 * What one or more consecutive running applies returned: the same promise (a state machine acknowledging a group of
 * writes at once), settled by one reaction; or a value (an apply that returned at once while others were running).
 */
export interface Outcome<V> {
  /** Undefined for a value. */
  promise: PromiseLike<unknown> | undefined;
  settled: boolean;
  value: V | undefined;
  /** Set when the promise rejected. */
  error: { reason: unknown } | undefined;
}

/**
 * The applies running at once (`applyConcurrency` > 1), oldest first: a ring of parallel arrays that keeps its
 * capacity (no object per entry; no arrays dropped and grown again each time the window empties, which at
 * hundreds of thousands of applies a second was garbage the collector paid for), doubling when full.
 *
 * Invariant: slots `head .. head + size - 1` (mod capacity) hold the running applies in log order.
 */
export class RunningApplies<V> {
  private index: number[];
  private seq: number[];
  private outcome: (Outcome<V> | undefined)[];
  private head = 0;
  size = 0;

  /** `capacity`: a power of two, the initial room (it doubles when full). */
  constructor(capacity = 256) {
    this.index = new Array<number>(capacity).fill(0);
    this.seq = new Array<number>(capacity).fill(0);
    this.outcome = new Array<Outcome<V> | undefined>(capacity).fill(undefined);
  }

  push(index: number, seq: number, outcome: Outcome<V>): void {
    if (this.size === this.index.length) this.grow();
    const at = (this.head + this.size) & (this.index.length - 1);
    this.index[at] = index;
    this.seq[at] = seq;
    this.outcome[at] = outcome;
    this.size++;
  }

  /** The oldest running apply's outcome. */
  oldest(): Outcome<V> | undefined {
    return this.size === 0 ? undefined : this.outcome[this.head];
  }

  /**
   * Hands the settled applies at the front to `take`, oldest first, and drops them. Throws the reason of a rejected
   * one (the ones before it are taken).
   */
  takeSettled(take: (index: number, seq: number, value: V) => void): void {
    const mask = this.index.length - 1;
    while (this.size > 0) {
      const o = this.outcome[this.head]!;
      if (!o.settled) return;
      if (o.error !== undefined) throw o.error.reason;
      const at = this.head;
      this.outcome[at] = undefined;
      this.head = (at + 1) & mask;
      this.size--;
      take(this.index[at]!, this.seq[at]!, o.value as V);
    }
  }

  /** The promises still pending, once each; empties the ring. */
  clear(): PromiseLike<unknown>[] {
    const pending = new Set<PromiseLike<unknown>>();
    for (let i = 0; i < this.size; i++) {
      const o = this.outcome[(this.head + i) & (this.index.length - 1)]!;
      if (!o.settled && o.promise !== undefined) pending.add(o.promise);
    }
    this.outcome.fill(undefined);
    this.head = 0;
    this.size = 0;
    return [...pending];
  }

  private grow(): void {
    const n = this.index.length;
    const order = (a: number[]): number[] => {
      const out = new Array<number>(n * 2).fill(0);
      for (let i = 0; i < this.size; i++) out[i] = a[(this.head + i) & (n - 1)]!;
      return out;
    };
    const outcome = new Array<Outcome<V> | undefined>(n * 2).fill(undefined);
    for (let i = 0; i < this.size; i++) outcome[i] = this.outcome[(this.head + i) & (n - 1)];
    this.index = order(this.index);
    this.seq = order(this.seq);
    this.outcome = outcome;
    this.head = 0;
  }
}
