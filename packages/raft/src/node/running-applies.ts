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

/** The sequence number of an entry this node did not propose. */
export const NO_SEQ = -1;

/**
 * The applies running at once (`applyConcurrency` > 1), oldest first, kept as runs: consecutive applies with one
 * outcome (a group acknowledged by one promise), consecutive indexes, and consecutive proposal sequence numbers
 * (this node's proposals, in the order it made them) or none (entries other nodes proposed) are one run. An apply
 * that joins the run before it costs a few comparisons and an increment, and a run is taken at once: it reads no
 * entry again (its indexes and sequence numbers are counted from its first), and a run of other nodes' entries
 * (all of a follower's) costs nothing per entry.
 * Runs sit in a ring of parallel arrays that keeps its capacity (no object per run, no arrays dropped and grown
 * again each time the window empties), doubling when full.
 *
 * Invariants: slots `head .. head + runs - 1` (mod capacity) hold the runs in log order, each of `count` >= 1
 * applies, indexes `first .. first + count - 1`, sequence numbers `seq0 + k` (mod 2^32) or all NO_SEQ; `size` is the
 * sum of their counts.
 */
export class RunningApplies<V> {
  private first: number[];
  private seq0: number[];
  private count: number[];
  private outcome: (Outcome<V> | undefined)[];
  private head = 0;
  private runs = 0;
  /** Applies running (the sum of the runs' counts). */
  size = 0;

  /** `capacity`: a power of two, the initial room in runs (it doubles when full). */
  constructor(capacity = 64) {
    this.first = new Array<number>(capacity).fill(0);
    this.seq0 = new Array<number>(capacity).fill(0);
    this.count = new Array<number>(capacity).fill(0);
    this.outcome = new Array<Outcome<V> | undefined>(capacity).fill(undefined);
  }

  /** Adds the apply of entry `index` (proposed here as `seq`, or NO_SEQ) that returned `outcome`. */
  push(index: number, seq: number, outcome: Outcome<V>): void {
    this.size++;
    if (this.runs > 0) {
      const last = (this.head + this.runs - 1) & (this.first.length - 1);
      const n = this.count[last]!;
      const s0 = this.seq0[last]!;
      if (
        this.outcome[last] === outcome &&
        this.first[last]! + n === index &&
        (s0 === NO_SEQ ? seq === NO_SEQ : seq === (s0 + n) >>> 0)
      ) {
        this.count[last] = n + 1;
        return;
      }
    }
    if (this.runs === this.first.length) this.grow();
    const slot = (this.head + this.runs) & (this.first.length - 1);
    this.first[slot] = index;
    this.seq0[slot] = seq;
    this.count[slot] = 1;
    this.outcome[slot] = outcome;
    this.runs++;
  }

  /** The oldest running apply's outcome. */
  oldest(): Outcome<V> | undefined {
    return this.runs === 0 ? undefined : this.outcome[this.head];
  }

  /**
   * Hands the settled runs at the front to `take`, oldest first, and drops them: applies `first .. first + count - 1`,
   * proposed here as `seq0 + k` (mod 2^32) or all NO_SEQ, settled with `value`. Throws the reason of a rejected run
   * (the ones before it are taken).
   */
  takeSettled(take: (first: number, count: number, seq0: number, value: V) => void): void {
    const mask = this.first.length - 1;
    while (this.runs > 0) {
      const at = this.head;
      const o = this.outcome[at]!;
      if (!o.settled) return;
      if (o.error !== undefined) throw o.error.reason;
      const n = this.count[at]!;
      // Dropped before it is handed out: `take` may call back into the applier.
      this.outcome[at] = undefined;
      this.head = (at + 1) & mask;
      this.runs--;
      this.size -= n;
      take(this.first[at]!, n, this.seq0[at]!, o.value as V);
    }
  }

  /** The promises still pending, once each; empties the ring. */
  clear(): PromiseLike<unknown>[] {
    const pending = new Set<PromiseLike<unknown>>();
    for (let i = 0; i < this.runs; i++) {
      const o = this.outcome[(this.head + i) & (this.first.length - 1)]!;
      if (!o.settled && o.promise !== undefined) pending.add(o.promise);
    }
    this.outcome.fill(undefined);
    this.head = 0;
    this.runs = 0;
    this.size = 0;
    return [...pending];
  }

  private grow(): void {
    const n = this.first.length;
    const unwrap = <T>(a: T[], fill: T): T[] => {
      const out = new Array<T>(n * 2).fill(fill);
      for (let i = 0; i < this.runs; i++) out[i] = a[(this.head + i) & (n - 1)]!;
      return out;
    };
    this.first = unwrap(this.first, 0);
    this.seq0 = unwrap(this.seq0, 0);
    this.count = unwrap(this.count, 0);
    this.outcome = unwrap(this.outcome, undefined);
    this.head = 0;
  }
}
