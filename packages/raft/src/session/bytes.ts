import { RaftError } from '../errors.js';

// The session layer's byte codec: unsigned LEB128 varints up to 2^53 - 1 (every id, sequence number and log time
// is a safe integer) and length-prefixed byte strings. Written by hand rather than with msgpack so a session tag
// costs a few bytes in every log entry and a decode error can name the field and the byte offset.

/** Appends varints and bytes to a growing buffer. */
export class ByteWriter {
  private buf = new Uint8Array(64);
  private len = 0;

  /** Appends `n` (a non-negative safe integer) as an unsigned LEB128 varint. */
  uint(n: number): this {
    this.reserve(8);
    // Above 2^31 the bitwise operators would truncate: peel 7 bits at a time arithmetically.
    while (n >= 0x80) {
      this.buf[this.len++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.len++] = n;
    return this;
  }

  /** Appends `b` as it is (no length). */
  raw(b: Uint8Array): this {
    this.reserve(b.byteLength);
    this.buf.set(b, this.len);
    this.len += b.byteLength;
    return this;
  }

  /** Appends `b` behind its length. */
  bytes(b: Uint8Array): this {
    return this.uint(b.byteLength).raw(b);
  }

  /** The bytes written (a copy sized to fit). */
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.byteLength) return;
    const next = new Uint8Array(Math.max(this.buf.byteLength * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
}

/**
 * Reads what {@link ByteWriter} wrote. Every read names its field: malformed or truncated input throws
 * `RaftError` `ERR_DECODE` saying which field at which byte offset of `what` (e.g. "session entry").
 */
export class ByteReader {
  offset = 0;

  constructor(
    private readonly buf: Uint8Array,
    private readonly what: string,
  ) {}

  get remaining(): number {
    return this.buf.byteLength - this.offset;
  }

  fail(field: string, problem: string, at = this.offset): never {
    throw new RaftError('ERR_DECODE', `${this.what}: ${field} at byte ${at}: ${problem}`, field);
  }

  byte(field: string): number {
    const b = this.buf[this.offset];
    if (b === undefined) this.fail(field, 'truncated');
    this.offset++;
    return b;
  }

  /** A varint that must be a safe integer (at most 8 bytes: 7 * 8 = 56 bits covers 2^53). */
  uint(field: string): number {
    const start = this.offset;
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.byte(field);
      n += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(n)) this.fail(field, `${n} exceeds 2^53 - 1`, start);
        if (i > 0 && b === 0) this.fail(field, 'varint is not minimal', start);
        return n;
      }
      scale *= 0x80;
    }
    return this.fail(field, 'varint longer than 8 bytes', start);
  }

  /** `n` bytes, as a view (no copy). */
  raw(n: number, field: string): Uint8Array {
    if (n > this.remaining) this.fail(field, `${n} bytes announced, ${this.remaining} left`);
    const out = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  /** A length-prefixed byte string, as a view. */
  bytes(field: string): Uint8Array {
    return this.raw(this.uint(`${field}.length`), field);
  }

  /** Everything left, as a view. */
  rest(): Uint8Array {
    const out = this.buf.subarray(this.offset);
    this.offset = this.buf.byteLength;
    return out;
  }

  /** Throws unless every byte was read. */
  end(field: string): void {
    if (this.remaining !== 0) this.fail(field, `${this.remaining} unexpected trailing bytes`);
  }
}
