import { copyOut } from './slab.js';

// A hand-rolled fast path for the one msgpack shape on the replay and append hot paths: an Entry as
// `[index, term, bin]` or `[index, term, bin, type]` with non-negative integers. The bytes are plain msgpack
// (msgpackr reads them, and they read what msgpackr writes); anything else falls back to msgpackr.

/** Bytes of the msgpack encoding of a non-negative safe integer. */
function uintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x100 ? 2 : v < 0x10000 ? 3 : v < 0x1_0000_0000 ? 5 : 9;
}

function writeUint(out: Uint8Array, pos: number, v: number): number {
  if (v < 0x80) {
    out[pos] = v;
    return pos + 1;
  }
  if (v < 0x100) {
    out[pos] = 0xcc;
    out[pos + 1] = v;
    return pos + 2;
  }
  if (v < 0x10000) {
    out[pos] = 0xcd;
    out[pos + 1] = v >>> 8;
    out[pos + 2] = v & 0xff;
    return pos + 3;
  }
  if (v < 0x1_0000_0000) {
    out[pos] = 0xce;
    out[pos + 1] = v >>> 24;
    out[pos + 2] = (v >>> 16) & 0xff;
    out[pos + 3] = (v >>> 8) & 0xff;
    out[pos + 4] = v & 0xff;
    return pos + 5;
  }
  // Beyond 32 bits msgpackr writes a float64 (exact for safe integers) and reads uint64 as a bigint: do the same.
  out[pos] = 0xcb;
  new DataView(out.buffer, out.byteOffset + pos + 1, 8).setFloat64(0, v, false);
  return pos + 9;
}

/** Bytes of the msgpack bin header for `n` bytes of data. */
function binHeadSize(n: number): number {
  return n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

/** Bytes of {@link encodeEntryInto}'s output for these fields. */
export function entrySizeFast(
  index: number,
  term: number,
  dataBytes: number,
  type: number | undefined,
): number {
  return (
    1 +
    uintSize(index) +
    uintSize(term) +
    binHeadSize(dataBytes) +
    dataBytes +
    (type === undefined ? 0 : uintSize(type))
  );
}

/**
 * Writes `[index, term, data]` (and `type` when given) at `out[pos]`, which has room for {@link entrySizeFast}
 * bytes; all numbers are non-negative safe integers. Returns the position after it.
 */
export function encodeEntryInto(
  out: Uint8Array,
  pos: number,
  index: number,
  term: number,
  data: Uint8Array,
  type: number | undefined,
): number {
  const n = data.byteLength;
  out[pos++] = type === undefined ? 0x93 : 0x94;
  pos = writeUint(out, pos, index);
  pos = writeUint(out, pos, term);
  if (n < 0x100) {
    out[pos++] = 0xc4;
    out[pos++] = n;
  } else if (n < 0x10000) {
    out[pos++] = 0xc5;
    out[pos++] = n >>> 8;
    out[pos++] = n & 0xff;
  } else {
    out[pos++] = 0xc6;
    out[pos++] = n >>> 24;
    out[pos++] = (n >>> 16) & 0xff;
    out[pos++] = (n >>> 8) & 0xff;
    out[pos++] = n & 0xff;
  }
  if (n < 32) for (let i = 0; i < n; i++) out[pos + i] = data[i] as number;
  else out.set(data, pos);
  pos += n;
  return type === undefined ? pos : writeUint(out, pos, type);
}

/** Encodes `[index, term, data]` (and `type` when given) into a new array. */
export function encodeEntryFast(
  index: number,
  term: number,
  data: Uint8Array,
  type: number | undefined,
): Uint8Array {
  const out = new Uint8Array(entrySizeFast(index, term, data.byteLength, type));
  encodeEntryInto(out, 0, index, term, data, type);
  return out;
}

let at = 0;
/** End of the range being decoded. */
let end = 0;

/** A non-negative integer at `at` (advancing it), or -1 for any other encoding. */
function readUint(b: Uint8Array): number {
  if (at >= end) return -1;
  const t = b[at] as number;
  if (t < 0x80) {
    at += 1;
    return t;
  }
  if (t === 0xcb) {
    if (at + 9 > end) return -1;
    const f = new DataView(b.buffer, b.byteOffset + at + 1, 8).getFloat64(0, false);
    if (!Number.isSafeInteger(f) || f < 0) return -1;
    at += 9;
    return f;
  }
  const len = t === 0xcc ? 1 : t === 0xcd ? 2 : t === 0xce ? 4 : t === 0xcf ? 8 : 0;
  if (len === 0 || at + 1 + len > end) return -1;
  let v = 0;
  for (let i = 1; i <= len; i++) v = v * 256 + (b[at + i] as number);
  if (!Number.isSafeInteger(v)) return -1;
  at += 1 + len;
  return v;
}

/** An entry as {@link decodeEntryFast} returns it (the shape of msgpack.ts's Entry); `type` only when present. */
export interface FastEntry {
  index: number;
  term: number;
  type?: number;
  data: Uint8Array;
}

/**
 * The entry in `b[from, to)` (default all of `b`) in the fast shape, or undefined when the bytes are in any
 * other shape. Its data is a copy, or with `mayView` a view into `b` (see the codec's `decodeAt`).
 */
export function decodeEntryFast(
  b: Uint8Array,
  from = 0,
  to = b.byteLength,
  mayView = false,
): FastEntry | undefined {
  const head = b[from];
  if (from >= to || (head !== 0x93 && head !== 0x94)) return undefined;
  at = from + 1;
  end = to;
  const index = readUint(b);
  if (index < 0) return undefined;
  const term = readUint(b);
  if (term < 0) return undefined;
  const t = b[at];
  const lenBytes = t === 0xc4 ? 1 : t === 0xc5 ? 2 : t === 0xc6 ? 4 : 0;
  if (lenBytes === 0 || at + 1 + lenBytes > end) return undefined;
  let n = 0;
  for (let i = 1; i <= lenBytes; i++) n = n * 256 + (b[at + i] as number);
  const start = at + 1 + lenBytes;
  if (start + n > end) return undefined;
  // Unless `b` may be viewed, a copy (a plain Uint8Array even when `b` is a Buffer) carved from a slab.
  const data = mayView && !Buffer.isBuffer(b) ? b.subarray(start, start + n) : copyOut(b, start, start + n);
  at = start + n;
  if (head === 0x93) return at === end ? { index, term, data } : undefined;
  const type = readUint(b);
  if (type < 0 || at !== end) return undefined;
  return { index, term, type, data };
}
