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

/** Where the parts of a snapshot file lie, read from its header and trailer. */
export interface SnapLayout {
  metaLen: number;
  dataOffset: number;
  dataLen: number;
  /** The CRC-32C the trailer stores. */
  crc: number;
}

/** Why a snapshot file is corrupt: the field that is wrong, the byte offset where it starts, and what is wrong. */
export interface SnapFileProblem {
  field: 'size' | 'magic' | 'metaLen' | 'metadata' | 'dataLen' | 'crc' | 'trailer';
  offset: number;
  reason: string;
}

/** `<field> at byte offset <n>: <reason>`, the form logs and the CLI print. */
export function describeSnapProblem(p: SnapFileProblem): string {
  return `${p.field} at byte offset ${p.offset}: ${p.reason}`;
}

function hexBytes(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}

/**
 * Checks the fixed parts of a snapshot file of `fileSize` bytes given its first bytes (at least 12) and its last
 * 16 bytes; returns the layout or the first field that is wrong.
 */
export function parseLayout(
  head: Uint8Array,
  trailer: Uint8Array,
  fileSize: number,
): SnapLayout | SnapFileProblem {
  const minimum = SNAP_HEADER_FIXED + SNAP_TRAILER_BYTES;
  if (fileSize < minimum) {
    return {
      field: 'size',
      offset: fileSize,
      reason: `file of ${fileSize} bytes is shorter than ${minimum}`,
    };
  }
  if (head.byteLength < SNAP_HEADER_FIXED || !bytesEqual(head.subarray(0, 8), SNAP_MAGIC)) {
    return { field: 'magic', offset: 0, reason: `bad magic ${hexBytes(head.subarray(0, 8))}` };
  }
  const trailerAt = fileSize - SNAP_TRAILER_BYTES;
  if (
    trailer.byteLength !== SNAP_TRAILER_BYTES ||
    !bytesEqual(trailer.subarray(12, 16), SNAP_TRAILER_MAGIC)
  ) {
    return {
      field: 'trailer',
      offset: trailerAt + 12,
      reason: `no "SNAP" trailer at the end (found ${hexBytes(trailer.subarray(12, 16))}): a truncated file or a damaged trailer`,
    };
  }
  const metaLen = new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(8, true);
  const tdv = new DataView(trailer.buffer, trailer.byteOffset, trailer.byteLength);
  const dataLen64 = tdv.getBigUint64(0, true);
  const crc = tdv.getUint32(8, true);
  const dataOffset = SNAP_HEADER_FIXED + metaLen;
  if (dataOffset > trailerAt) {
    return {
      field: 'metaLen',
      offset: 8,
      reason: `metadata length ${metaLen} runs past the trailer (file size ${fileSize})`,
    };
  }
  if (dataLen64 !== BigInt(trailerAt - dataOffset)) {
    return {
      field: 'dataLen',
      offset: trailerAt,
      reason: `data length ${dataLen64} with metadata length ${metaLen} does not add up to the file size ${fileSize} (expected ${trailerAt - dataOffset})`,
    };
  }
  return { metaLen, dataOffset, dataLen: Number(dataLen64), crc };
}
