// A frame: an 8-byte little-endian length word, the record, then `pad` zero bytes to 8-byte alignment. When the
// record needs padding the word's top byte is `0x80 | pad`; frames written before padding existed have a zero top
// byte and no padding (readers accept both). A zero length word marks the end of a file's records (preallocated
// space is zeros, and a real record is at least 4 bytes).

/** Size of the length word. */
export const FRAME_HEADER_BYTES = 8;

/** Padding after a record of `n` bytes. */
export function framePad(n: number): number {
  return (8 - (n % 8)) % 8;
}

/** Total frame size (length word + record + padding) of a record of `n` bytes. */
export function frameSize(n: number): number {
  return FRAME_HEADER_BYTES + n + framePad(n);
}

/** Writes the length word of a record of `n` bytes at `pos`. */
export function writeLengthWord(buf: Uint8Array, pos: number, n: number): void {
  const pad = framePad(n);
  const lo = n >>> 0;
  const hi = n <= 0xffffffff ? 0 : Math.floor(n / 0x1_0000_0000);
  buf[pos] = lo & 0xff;
  buf[pos + 1] = (lo >>> 8) & 0xff;
  buf[pos + 2] = (lo >>> 16) & 0xff;
  buf[pos + 3] = (lo >>> 24) & 0xff;
  buf[pos + 4] = hi & 0xff;
  buf[pos + 5] = (hi >>> 8) & 0xff;
  buf[pos + 6] = (hi >>> 16) & 0xff;
  buf[pos + 7] = pad > 0 ? 0x80 | pad : 0;
}

/** A decoded length word. */
export interface LengthWord {
  /** Record bytes. */
  recordBytes: number;
  /** Zero bytes after the record. */
  pad: number;
}

/** Reads the length word at `pos` (8 bytes must be there). */
export function readLengthWord(buf: Uint8Array, pos: number): LengthWord {
  return { recordBytes: recordBytesAt(buf, pos), pad: padOf(buf[pos + 7] as number) };
}

/** The record length in the length word at `pos` (allocation-free, for the replay loop). */
export function recordBytesAt(buf: Uint8Array, pos: number): number {
  const lo =
    ((buf[pos] as number) |
      ((buf[pos + 1] as number) << 8) |
      ((buf[pos + 2] as number) << 16) |
      ((buf[pos + 3] as number) << 24)) >>>
    0;
  const mid = (buf[pos + 4] as number) | ((buf[pos + 5] as number) << 8) | ((buf[pos + 6] as number) << 16);
  return mid === 0 ? lo : mid * 0x1_0000_0000 + lo;
}

/** The padding a length word's top byte announces. */
export function padOf(top: number): number {
  return (top & 0x80) !== 0 ? top & 0x07 : 0;
}

/** Encodes one frame around already encoded record bytes. */
export function encodeFrame(record: Uint8Array): Uint8Array {
  const out = new Uint8Array(frameSize(record.byteLength));
  writeLengthWord(out, 0, record.byteLength);
  out.set(record, FRAME_HEADER_BYTES);
  return out;
}
