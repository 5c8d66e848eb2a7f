import { crc32cUpdate } from '../record/crc.js';
import { FRAME_HEADER_BYTES, framePad, writeLengthWord } from '../record/frame.js';
import { recordSize, writeRecord } from '../record/record.js';
import { RecordType } from '../record/record-type.js';

const INITIAL_BYTES = 64 * 1024;
/** A buffer grown past this (by a huge entry) is dropped after use rather than kept for the next batch. */
const KEEP_MAX_BYTES = 8 * 1024 * 1024;

/**
 * Frames records into one growing buffer that is reused from batch to batch, chaining the CRC as it goes: the
 * write path's only per-record allocation is the payload the codec produced.
 */
export class FrameBuffer {
  buf = new Uint8Array(INITIAL_BYTES);
  length = 0;

  constructor(
    /** The running CRC after the last record framed. */
    public crc: number,
  ) {}

  /** Appends one record: a Crc record carries the running CRC; any other adds its data to the chain. */
  append(type: number, data: Uint8Array | undefined): void {
    if (type !== RecordType.Crc) this.crc = crc32cUpdate(this.crc, data ?? EMPTY);
    const n = recordSize(type, this.crc, data);
    const pad = framePad(n);
    this.ensure(FRAME_HEADER_BYTES + n + pad);
    const pos = this.length;
    writeLengthWord(this.buf, pos, n);
    const end = writeRecord(this.buf, pos + FRAME_HEADER_BYTES, type, this.crc, data);
    this.buf.fill(0, end, end + pad);
    this.length = end + pad;
  }

  /** Empties the buffer for the next batch. */
  reset(): void {
    this.length = 0;
    if (this.buf.byteLength > KEEP_MAX_BYTES) this.buf = new Uint8Array(INITIAL_BYTES);
  }

  private ensure(extra: number): void {
    const need = this.length + extra;
    if (need <= this.buf.byteLength) return;
    let cap = this.buf.byteLength * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
}

const EMPTY = new Uint8Array(0);
