// A minimal protobuf wire-format reader and writer: varints (exact to 64 bits, as number or bigint), length-delimited
// fields, and skipping of unknown fields. Enough for etcd's raftpb/walpb records; errors name the field and offset.

import { writeVarint } from '../record/record.js';

/** A uint64: a number while it is a safe integer, a bigint beyond (never rounded). */
export type Uint64 = number | bigint;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const U64_MAX = (1n << 64n) - 1n;

export class ProtoError extends Error {
  override readonly name = 'ProtoError';
}

/** Reads fields from a protobuf message. */
export class ProtoReader {
  pos = 0;
  constructor(
    readonly buf: Uint8Array,
    private readonly what: string,
  ) {}

  done(): boolean {
    return this.pos >= this.buf.byteLength;
  }

  private fail(msg: string): never {
    throw new ProtoError(`${this.what}: ${msg} at byte ${this.pos}`);
  }

  /** A varint as an exact uint64. */
  uint64(field: string): Uint64 {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.byteLength) this.fail(`truncated varint in ${field}`);
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) {
        if (result > U64_MAX) this.fail(`varint overflows 64 bits in ${field}`);
        return result <= MAX_SAFE ? Number(result) : result;
      }
      shift += 7n;
    }
    return this.fail(`varint longer than 10 bytes in ${field}`);
  }

  /** A varint that must fit a safe integer. */
  safe(field: string): number {
    const v = this.uint64(field);
    if (typeof v === 'bigint') this.fail(`${field} = ${v} exceeds 2^53 - 1`);
    return v;
  }

  /** A field key: [field number, wire type]. */
  key(): [number, number] {
    const k = this.safe('field key');
    return [Math.floor(k / 8), k % 8];
  }

  bytes(field: string): Uint8Array {
    const len = this.safe(`${field} length`);
    if (this.pos + len > this.buf.byteLength) this.fail(`${field} length ${len} runs past the end`);
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  /** Skips a field of an unknown number. */
  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.uint64('unknown field');
        return;
      case 1:
        this.advance(8);
        return;
      case 2:
        this.bytes('unknown field');
        return;
      case 5:
        this.advance(4);
        return;
      default:
        this.fail(`unsupported wire type ${wireType}`);
    }
  }

  private advance(n: number): void {
    if (this.pos + n > this.buf.byteLength) this.fail('truncated fixed-width field');
    this.pos += n;
  }

  expectWire(field: string, got: number, want: number): void {
    if (got !== want) this.fail(`${field} has wire type ${got}, expected ${want}`);
  }

  /** A varint field's value, after checking its wire type. */
  uint64Field(field: string, wireType: number): Uint64 {
    this.expectWire(field, wireType, 0);
    return this.uint64(field);
  }

  /** A varint field that must be a safe integer, after checking its wire type. */
  safeField(field: string, wireType: number): number {
    this.expectWire(field, wireType, 0);
    return this.safe(field);
  }

  /** A length-delimited field's bytes, after checking its wire type. */
  bytesField(field: string, wireType: number): Uint8Array {
    this.expectWire(field, wireType, 2);
    return this.bytes(field);
  }
}

/** Builds a protobuf message in a growable buffer. */
export class ProtoWriter {
  private buf = new Uint8Array(64);
  private len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.byteLength) return;
    let cap = this.buf.byteLength * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  varint(v: Uint64, field: string): this {
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v) || v < 0)
        throw new ProtoError(`${field} must be a non-negative integer, got ${v}`);
      this.ensure(10);
      this.len = writeVarint(this.buf, this.len, v);
      return this;
    }
    if (typeof v !== 'bigint') throw new ProtoError(`${field} must be an integer or bigint, got ${typeof v}`);
    if (v < 0n || v > U64_MAX) throw new ProtoError(`${field} must fit in 64 bits, got ${v}`);
    this.ensure(10);
    while (v > 0x7fn) {
      this.buf[this.len++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.len++] = Number(v);
    return this;
  }

  /** A varint field: key then value. */
  uint(fieldNo: number, v: Uint64, field: string): this {
    return this.varint(fieldNo * 8, field).varint(v, field);
  }

  /** A length-delimited field. */
  bytes(fieldNo: number, b: Uint8Array, field: string): this {
    if (!(b instanceof Uint8Array)) throw new ProtoError(`${field} must be a Uint8Array, got ${typeof b}`);
    this.varint(fieldNo * 8 + 2, field).varint(b.byteLength, field);
    this.ensure(b.byteLength);
    this.buf.set(b, this.len);
    this.len += b.byteLength;
    return this;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** uint64 equality across number and bigint. */
export function u64Equal(a: Uint64, b: Uint64): boolean {
  return BigInt(a) === BigInt(b);
}
