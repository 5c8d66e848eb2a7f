// Codecs turn the WAL's record payloads into values and back. They are per WAL (options.codecs), replacing the
// process-global registry of the Go API. Types flow from the codecs through `Wal<E, S, N>`.

/**
 * Encodes and decodes one kind of record payload. `decode` throws on bytes it cannot read.
 *
 * `encodedSize` and `encodeInto` are an optional pair (a codec has both or neither): with them the WAL encodes a
 * value straight into its frame buffer instead of taking a new array from `encode` and copying it. They must
 * produce exactly the bytes `encode` produces.
 *
 * @example
 * ```ts
 * const bytesCodec: Codec<Uint8Array> = {
 *   encode: (v) => v.slice(),
 *   decode: (b) => b.slice(),
 *   encodedSize: (v) => v.byteLength,
 *   encodeInto: (v, buf, offset) => (buf.set(v, offset), offset + v.byteLength),
 * };
 * ```
 */
export interface Codec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
  /** Bytes `encode(value)` would return; throws where `encode` would. */
  encodedSize?(value: T): number;
  /**
   * Writes `encode(value)`'s bytes at `buf[offset]` (the caller made room for {@link encodedSize} bytes) and
   * returns the offset after them. Called right after `encodedSize` on the same value.
   */
  encodeInto?(value: T, buf: Uint8Array, offset: number): number;
  /**
   * Optional: `decode(buf.subarray(start, end))` without making the subarray (replay calls it once per Entry
   * record when present). With `mayView` false the value must not alias `buf`; with `mayView` true `buf` is a
   * buffer of its own that is never written or reused, and the value may keep views into it instead of copies
   * (keeping all of `buf` in memory while it lives).
   */
  decodeAt?(buf: Uint8Array, start: number, end: number, mayView: boolean): T;
}

/** Entry records: the WAL needs each entry's index (to order, replace and release). */
export interface EntryCodec<E> extends Codec<E> {
  /** The entry's log index; a safe integer. */
  index(entry: E): number;
}

/** Hard-state records: the WAL needs term, vote and commit (MustSync, validSnapshots) and emptiness. */
export interface StateCodec<S> extends Codec<S> {
  term(state: S): number | bigint;
  vote(state: S): number | bigint;
  commit(state: S): number;
  /** An empty state (all zero) is never written, as etcd does. */
  isEmpty(state: S): boolean;
}

/** Snapshot records: the WAL needs the snapshot's index and term. */
export interface SnapshotCodec<N> extends Codec<N> {
  index(snap: N): number;
  term(snap: N): number | bigint;
  /** The snapshot record that `create` writes: index 0, term 0. */
  zero(): N;
}

/** The three codecs a WAL uses. */
export interface Codecs<E, S, N> {
  entry: EntryCodec<E>;
  state: StateCodec<S>;
  snapshot: SnapshotCodec<N>;
}
