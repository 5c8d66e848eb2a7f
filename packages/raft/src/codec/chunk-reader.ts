// Reading snapshot data as a stream of chunks: the envelopes in front of a state machine's snapshot (RaftNode's
// member table, withSessions' session table) are read off the front of the stream, and the rest is handed on as a
// stream, so no layer holds the whole snapshot.
import { RaftError } from '../errors.js';

/** Snapshot data: bytes, or chunks (sync or async), so a large snapshot need not sit in memory whole. */
export type SnapshotChunks = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/**
 * `data` as an async stream of chunks (bytes become one chunk; empty chunks are skipped).
 *
 * @example
 * ```ts
 * for await (const chunk of snapshotChunks(await sm.snapshot())) out.write(chunk);
 * ```
 */
export async function* snapshotChunks(data: SnapshotChunks): AsyncGenerator<Uint8Array> {
  if (data instanceof Uint8Array) {
    if (data.byteLength > 0) yield data;
    return;
  }
  for await (const chunk of data) {
    if (!(chunk instanceof Uint8Array))
      throw new RaftError('ERR_INVALID_ARGUMENT', 'snapshot chunk is not a Uint8Array', 'snapshot');
    if (chunk.byteLength > 0) yield chunk;
  }
}

/**
 * Reads a whole snapshot stream into one buffer: for a state machine whose state lives in memory anyway and that
 * decodes its snapshot in one piece (a large one should decode chunk by chunk instead).
 *
 * @example
 * ```ts
 * async restore(chunks) { this.state = decode(await readSnapshotBytes(chunks)); }
 * ```
 */
export async function readSnapshotBytes(data: SnapshotChunks): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of snapshotChunks(data)) {
    parts.push(chunk);
    size += chunk.byteLength;
  }
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * Reads fixed-size fields off the front of a chunk stream, then hands on the rest as a stream. Bytes read but not
 * consumed (a peek, or the tail of a chunk) are handed on first. Invariant: `buffered` holds the bytes taken from
 * the source and not yet consumed, in order.
 */
export class ChunkReader {
  private readonly source: AsyncIterator<Uint8Array>;
  private buffered: Uint8Array[] = [];
  private bufferedBytes = 0;
  private done = false;
  private consumed = 0;

  constructor(
    data: SnapshotChunks,
    /** Names the stream in errors (e.g. "snapshot at index 7"). */
    private readonly where: string,
  ) {
    this.source = snapshotChunks(data)[Symbol.asyncIterator]();
  }

  /** Bytes consumed so far (the offset of the next byte). */
  get offset(): number {
    return this.consumed;
  }

  /** Up to `n` next bytes without consuming them (fewer only at the end of the stream). */
  async peek(n: number): Promise<Uint8Array> {
    await this.fill(n);
    return this.copyFront(Math.min(n, this.bufferedBytes));
  }

  /** Exactly the next `n` bytes; ERR_DECODE naming `field` and the offset when the stream ends first. */
  async read(n: number, field: string): Promise<Uint8Array> {
    await this.fill(n);
    if (this.bufferedBytes < n) {
      throw new RaftError(
        'ERR_DECODE',
        `${this.where}: ${field} at offset ${this.consumed} is truncated (${n} bytes wanted, ${this.bufferedBytes} left)`,
        field,
      );
    }
    const out = this.copyFront(n);
    this.drop(n);
    return out;
  }

  /** One byte (ERR_DECODE naming `field` at the end of the stream). */
  async byte(field: string): Promise<number> {
    return (await this.read(1, field))[0] ?? 0;
  }

  /** Everything not consumed yet, as a stream (call once; the reader is spent after it). */
  async *rest(): AsyncGenerator<Uint8Array> {
    const held = this.buffered;
    this.buffered = [];
    this.bufferedBytes = 0;
    for (const chunk of held) {
      this.consumed += chunk.byteLength;
      yield chunk;
    }
    while (!this.done) {
      const next = await this.source.next();
      if (next.done === true) {
        this.done = true;
        return;
      }
      this.consumed += next.value.byteLength;
      yield next.value;
    }
  }

  /** Stops reading: the source is closed (e.g. its file), whatever was not read is dropped. */
  async close(): Promise<void> {
    this.buffered = [];
    this.bufferedBytes = 0;
    if (!this.done) {
      this.done = true;
      await this.source.return?.();
    }
  }

  private async fill(n: number): Promise<void> {
    while (this.bufferedBytes < n && !this.done) {
      const next = await this.source.next();
      if (next.done === true) {
        this.done = true;
        return;
      }
      this.buffered.push(next.value);
      this.bufferedBytes += next.value.byteLength;
    }
  }

  /** A copy of the first `n` buffered bytes (n <= bufferedBytes). */
  private copyFront(n: number): Uint8Array {
    const first = this.buffered[0];
    if (first !== undefined && first.byteLength >= n) return first.slice(0, n);
    const out = new Uint8Array(n);
    let at = 0;
    for (const chunk of this.buffered) {
      if (at >= n) break;
      const take = Math.min(chunk.byteLength, n - at);
      out.set(chunk.subarray(0, take), at);
      at += take;
    }
    return out;
  }

  private drop(n: number): void {
    let left = n;
    while (left > 0) {
      const first = this.buffered[0];
      if (first === undefined) break;
      if (first.byteLength <= left) {
        this.buffered.shift();
        left -= first.byteLength;
      } else {
        this.buffered[0] = first.subarray(left);
        left = 0;
      }
    }
    this.bufferedBytes -= n;
    this.consumed += n;
  }
}
