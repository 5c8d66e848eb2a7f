// The on-disk layout of one snapshot file `%016x-%016x.snap` (term, index):
//
//   offset 0   magic      8 bytes  "XSNAP\x00\x00\x01"
//          8   metaLen    u32 LE   length of the encoded metadata
//         12   meta       metaLen bytes (the snapshot codec's encoding of the metadata)
//   12+metaLen data       dataLen bytes (the application's snapshot, written from a stream)
//   end-16     dataLen    u64 LE
//   end-8      crc        u32 LE   CRC-32C over meta then data
//   end-4      trailer    4 bytes  "SNAP"
//
// The data length sits in the trailer so the data can be written from a stream whose length is unknown up front;
// a file whose trailer is missing or does not add up is corrupt (a torn write of a snapshot never renamed into
// place cannot occur, but bit rot or a truncated copy can).

export const SNAP_MAGIC = new Uint8Array([0x58, 0x53, 0x4e, 0x41, 0x50, 0x00, 0x00, 0x01]);
export const SNAP_TRAILER_MAGIC = new Uint8Array([0x53, 0x4e, 0x41, 0x50]);
export const SNAP_HEADER_FIXED = 12;
export const SNAP_TRAILER_BYTES = 16;
export const SNAP_SUFFIX = '.snap';

/** `%016x-%016x.snap` of term and index. */
export function snapFileName(term: number | bigint, index: number | bigint): string {
  return `${hex16(term)}-${hex16(index)}${SNAP_SUFFIX}`;
}

function hex16(v: number | bigint): string {
  return BigInt(v).toString(16).padStart(16, '0');
}

/** Term and index of a snapshot file name, or undefined when the name is not one. */
export function parseSnapFileName(name: string): { term: bigint; index: bigint } | undefined {
  const m = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/.exec(name);
  if (m === null) return undefined;
  return { term: BigInt(`0x${m[1] ?? ''}`), index: BigInt(`0x${m[2] ?? ''}`) };
}

export function encodeHeader(meta: Uint8Array): Uint8Array {
  const out = new Uint8Array(SNAP_HEADER_FIXED + meta.byteLength);
  out.set(SNAP_MAGIC, 0);
  new DataView(out.buffer).setUint32(8, meta.byteLength, true);
  out.set(meta, SNAP_HEADER_FIXED);
  return out;
}

export function encodeTrailer(dataLen: number, crc: number): Uint8Array {
  const out = new Uint8Array(SNAP_TRAILER_BYTES);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(dataLen), true);
  dv.setUint32(8, crc >>> 0, true);
  out.set(SNAP_TRAILER_MAGIC, 12);
  return out;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Why a snapshot file's frame does not parse; undefined when it does. */
export interface SnapLayout {
  metaLen: number;
  dataOffset: number;
  dataLen: number;
  crc: number;
}

/**
 * Checks the fixed parts of a snapshot file of `fileSize` bytes given its first bytes (at least 12) and its last
 * 16 bytes; returns the layout or a reason string.
 */
export function parseLayout(head: Uint8Array, trailer: Uint8Array, fileSize: number): SnapLayout | string {
  if (fileSize < SNAP_HEADER_FIXED + SNAP_TRAILER_BYTES) return `file of ${fileSize} bytes is too short`;
  if (head.byteLength < SNAP_HEADER_FIXED || !bytesEqual(head.subarray(0, 8), SNAP_MAGIC)) return 'bad magic';
  if (
    trailer.byteLength !== SNAP_TRAILER_BYTES ||
    !bytesEqual(trailer.subarray(12, 16), SNAP_TRAILER_MAGIC)
  ) {
    return 'missing trailer';
  }
  const metaLen = new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(8, true);
  const tdv = new DataView(trailer.buffer, trailer.byteOffset, trailer.byteLength);
  const dataLen64 = tdv.getBigUint64(0, true);
  const crc = tdv.getUint32(8, true);
  const dataOffset = SNAP_HEADER_FIXED + metaLen;
  if (dataLen64 > BigInt(Number.MAX_SAFE_INTEGER)) return `data length ${dataLen64} is out of range`;
  const dataLen = Number(dataLen64);
  if (dataOffset + dataLen + SNAP_TRAILER_BYTES !== fileSize) {
    return `lengths (meta ${metaLen}, data ${dataLen}) do not add up to the file size ${fileSize}`;
  }
  return { metaLen, dataOffset, dataLen, crc };
}
