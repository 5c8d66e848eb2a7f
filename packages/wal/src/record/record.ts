// The Record protobuf (proto2): `int64 type = 1; uint32 crc = 2; bytes data = 3;`, written as gogoproto does:
// `08 <varint type> 10 <varint crc> [1a <varint len> data]`. Type and crc are always written; data is left out
// when undefined and written as `1a 00` when empty, so undefined and an empty array stay distinct.

/** A decoded record. `data` is a view into the bytes it was decoded from (no copy). */
export interface DecodedRecord {
  type: number;
  crc: number;
  data: Uint8Array | undefined;
}

/** Bytes a varint of `v` (a non-negative safe integer) takes. */
export function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x20_0000) return 3;
  if (v < 0x1000_0000) return 4;
  if (v < 0x8_0000_0000) return 5;
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Writes the varint of `v` at `pos`; returns the position after it. */
export function writeVarint(buf: Uint8Array, pos: number, v: number): number {
  if (v <= 0xffffffff) {
    // 32-bit fast path: shifts instead of divisions
    while (v >= 0x80) {
      buf[pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[pos++] = v;
    return pos;
  }
  while (v >= 0x80) {
    buf[pos++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}

/** Encoded size of a record with this type, crc and data. */
export function recordSize(type: number, crc: number, data: Uint8Array | undefined): number {
  const head = 2 + varintSize(type) + varintSize(crc);
  return data === undefined ? head : head + 1 + varintSize(data.byteLength) + data.byteLength;
}

/**
 * Writes a record's fields up to its data at `pos`: type, crc, and (unless `dataBytes` is undefined) the data
 * field's key and length. Returns where the data goes (or the record's end, without data).
 */
export function writeRecordHead(
  buf: Uint8Array,
  pos: number,
  type: number,
  crc: number,
  dataBytes: number | undefined,
): number {
  buf[pos++] = 0x08;
  pos = writeVarint(buf, pos, type);
  buf[pos++] = 0x10;
  pos = writeVarint(buf, pos, crc);
  if (dataBytes === undefined) return pos;
  buf[pos++] = 0x1a;
  return writeVarint(buf, pos, dataBytes);
}

/** Writes the record at `pos` (the caller sized `buf` with {@link recordSize}); returns the position after it. */
export function writeRecord(
  buf: Uint8Array,
  pos: number,
  type: number,
  crc: number,
  data: Uint8Array | undefined,
): number {
  pos = writeRecordHead(buf, pos, type, crc, data?.byteLength);
  if (data !== undefined) {
    buf.set(data, pos);
    pos += data.byteLength;
  }
  return pos;
}

/** Encodes one record into a new array. */
export function encodeRecord(type: number, crc: number, data: Uint8Array | undefined): Uint8Array {
  const out = new Uint8Array(recordSize(type, crc, data));
  writeRecord(out, 0, type, crc, data);
  return out;
}

/** A record's fields as {@link decodeRecordAt} finds them: its data is `buf[dataStart, dataEnd)`, or absent. */
export interface RecordFields {
  type: number;
  crc: number;
  /** Start of the data field's bytes, or -1 when the record has no data field. */
  dataStart: number;
  dataEnd: number;
}

/**
 * Decodes a record, or returns a string saying why the bytes are not one. Fields may come in any order and
 * missing ones are zero (as protobuf decoders do); unknown fields of the known wire types are skipped.
 */
export function decodeRecord(bytes: Uint8Array): DecodedRecord | string {
  const f: RecordFields = { type: 0, crc: 0, dataStart: -1, dataEnd: -1 };
  const problem = decodeRecordAt(bytes, 0, bytes.byteLength, f);
  if (problem !== undefined) return problem;
  return {
    type: f.type,
    crc: f.crc,
    data: f.dataStart < 0 ? undefined : bytes.subarray(f.dataStart, f.dataEnd),
  };
}

/**
 * Decodes the record in `bytes[start, end)` into `out` without allocating (the replay hot path); returns
 * undefined, or a string saying why the bytes are not a record (as {@link decodeRecord}).
 */
export function decodeRecordAt(
  bytes: Uint8Array,
  start: number,
  end: number,
  out: RecordFields,
): string | undefined {
  out.type = 0;
  out.crc = 0;
  out.dataStart = -1;
  out.dataEnd = -1;
  let pos = start;
  while (pos < end) {
    const key = readVarint(bytes, pos, end);
    if (key < 0) return `truncated field key at ${pos - start}`;
    pos = varintEnd;
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 0) return 'field number 0';
    if (wire === 0) {
      const v = readVarint(bytes, pos, end);
      if (v < 0) return `truncated varint of field ${field}`;
      pos = varintEnd;
      if (field === 1) out.type = v;
      else if (field === 2) {
        if (v > 0xffffffff) return `crc ${v} does not fit in 32 bits`;
        out.crc = v;
      }
    } else if (wire === 2) {
      const len = readVarint(bytes, pos, end);
      if (len < 0 || len > end - varintEnd) return `length of field ${field} runs past the record`;
      pos = varintEnd;
      if (field === 3) {
        out.dataStart = pos;
        out.dataEnd = pos + len;
      }
      pos += len;
    } else if (wire === 5) {
      if (end - pos < 4) return `truncated fixed32 field ${field}`;
      pos += 4;
    } else if (wire === 1) {
      if (end - pos < 8) return `truncated fixed64 field ${field}`;
      pos += 8;
    } else {
      return `unsupported wire type ${wire} of field ${field}`;
    }
  }
  return undefined;
}

/** Where the last {@link readVarint} ended (module state, so the hot decode loop allocates nothing). */
let varintEnd = 0;

/** The varint at `pos` (at most 10 bytes, before `end`), or -1 when truncated; sets {@link varintEnd}. */
function readVarint(bytes: Uint8Array, pos: number, end: number): number {
  if (pos < end && (bytes[pos] as number) < 0x80) {
    varintEnd = pos + 1;
    return bytes[pos] as number;
  }
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) return -1;
    const b = bytes[pos++] as number;
    result += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) {
      varintEnd = pos;
      return result;
    }
    mul *= 128;
  }
  return -1;
}
