// The window of MsgApp messages sent to one follower but not yet acknowledged (etcd's tracker.Inflights).

/**
 * A ring buffer of in-flight appends, each remembered by the index of its last entry and its payload bytes.
 * The leader checks {@link Inflights.full} before sending, calls {@link Inflights.add} for every append it
 * sends, and {@link Inflights.freeLE} when the follower acknowledges an index. The buffer grows on demand by
 * doubling up to `size` (as etcd does, so thousands of idle groups cost little memory).
 *
 * Invariants: `0 <= count <= size`; `0 <= start < max(1, capacity)`; the `count` slots starting at `start`
 * (wrapping at `size`) hold strictly increasing indexes; `bytes` is the sum of their byte sizes.
 *
 * @example
 * const inf = new Inflights(2, 0); // at most 2 appends, no byte limit
 * inf.add(5, 100); inf.add(9, 100);
 * inf.full(); // true
 * inf.freeLE(5); // the follower acked index 5
 * inf.count(); // 1
 */
export class Inflights {
  /** Slot of the oldest in-flight append. */
  private start = 0;
  /** Number of in-flight appends. */
  private n = 0;
  /** Sum of the in-flight appends' byte sizes. */
  private totalBytes = 0;
  /** Last entry index of each in-flight append; length is the current capacity (<= size). */
  private indexes: Float64Array;
  /** Byte size of each in-flight append, parallel to `indexes`. */
  private sizes: Float64Array;

  /**
   * @param size the most appends in flight at once (Config.maxInflightMsgs); must be >= 1.
   * @param maxBytes the most payload bytes in flight, 0 for no limit. The limit is soft: one append may take
   *   the total from below `maxBytes` to above it, after which the window is full.
   */
  constructor(
    readonly size: number,
    readonly maxBytes: number,
  ) {
    this.indexes = new Float64Array(0);
    this.sizes = new Float64Array(0);
  }

  /** A copy sharing no memory with this one. */
  clone(): Inflights {
    const c = new Inflights(this.size, this.maxBytes);
    c.start = this.start;
    c.n = this.n;
    c.totalBytes = this.totalBytes;
    c.indexes = this.indexes.slice();
    c.sizes = this.sizes.slice();
    return c;
  }

  /**
   * Records an append whose last entry is `index`, carrying `bytes` of payload. Callers check {@link full}
   * first and add indexes in increasing order.
   *
   * @throws Error if the window is full (a caller bug, as etcd panics).
   */
  add(index: number, bytes: number): void {
    if (this.full()) throw new Error(`cannot add index ${index} into a full inflights window`);
    let next = this.start + this.n;
    if (next >= this.size) next -= this.size;
    if (next >= this.indexes.length) this.grow();
    this.indexes[next] = index;
    this.sizes[next] = bytes;
    this.n++;
    this.totalBytes += bytes;
  }

  /** Doubles the buffer (1, 2, 4, ... capped at `size`), keeping slot positions. */
  private grow(): void {
    let cap = this.indexes.length * 2;
    if (cap === 0) cap = 1;
    else if (cap > this.size) cap = this.size;
    const indexes = new Float64Array(cap);
    const sizes = new Float64Array(cap);
    indexes.set(this.indexes);
    sizes.set(this.sizes);
    this.indexes = indexes;
    this.sizes = sizes;
  }

  /** Frees every in-flight append whose last index is <= `to` (the follower acknowledged `to`). */
  freeLE(to: number): void {
    if (this.n === 0 || to < (this.indexes[this.start] as number)) return;
    let idx = this.start;
    let i = 0;
    let freed = 0;
    for (; i < this.n; i++) {
      if (to < (this.indexes[idx] as number)) break;
      freed += this.sizes[idx] as number;
      if (++idx >= this.size) idx -= this.size;
    }
    this.n -= i;
    this.totalBytes -= freed;
    // An empty window restarts at slot 0 so that it does not grow the buffer needlessly.
    this.start = this.n === 0 ? 0 : idx;
  }

  /** Whether no more appends may be sent: `size` appends in flight, or the byte limit reached. */
  full(): boolean {
    return this.n === this.size || (this.maxBytes !== 0 && this.totalBytes >= this.maxBytes);
  }

  /** Number of appends in flight. */
  count(): number {
    return this.n;
  }

  /** Payload bytes in flight. */
  bytes(): number {
    return this.totalBytes;
  }

  /** Current buffer capacity (grows by doubling up to `size`); exposed for tests and status. */
  capacity(): number {
    return this.indexes.length;
  }

  /** The in-flight last-entry indexes, oldest first (a copy; for status, tests and debugging). */
  indexList(): number[] {
    const out: number[] = [];
    let idx = this.start;
    for (let i = 0; i < this.n; i++) {
      out.push(this.indexes[idx] as number);
      if (++idx >= this.size) idx -= this.size;
    }
    return out;
  }

  /** Frees everything (the follower changed state). Keeps the buffer for reuse. */
  reset(): void {
    this.start = 0;
    this.n = 0;
    this.totalBytes = 0;
  }
}
