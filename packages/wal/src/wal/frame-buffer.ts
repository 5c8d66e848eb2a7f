import type { Codec } from '../codec/types.js';
import { WalError } from '../errors.js';
import { crc32cRange } from '../record/crc.js';
import { CrcMemory } from '../record/crc-memory.js';
import { FRAME_HEADER_BYTES, framePad, writeLengthWord } from '../record/frame.js';
import { recordSize, varintSize, writeRecord, writeRecordHead } from '../record/record.js';
import { RecordType } from '../record/record-type.js';

const INITIAL_BYTES = 64 * 1024;
/** A buffer grown past this (by a huge entry) is dropped after use rather than kept for the next batch. */
const KEEP_MAX_BYTES = 8 * 1024 * 1024;
/** The most bytes a record's crc varint takes (a 32-bit value). */
const MAX_CRC_VARINT = 5;

/** Where a frame buffer stood: {@link FrameBuffer.rollback} returns to it. */
export interface FrameMark {
  length: number;
  crc: number;
}

/**
 * Frames records into one growing buffer that is reused from batch to batch, chaining the CRC as it goes. Values
 * of codecs with `encodedSize`/`encodeInto` are encoded straight into the buffer (no per-record allocation or
 * copy) and their CRC runs over it in place; others go through `encode` and one copy. The buffer lives in a
 * WebAssembly memory ({@link CrcMemory}) where WebAssembly is available, else in an ordinary array.
 */
export class FrameBuffer {
  /** Holds {@link buf} when it lives in WebAssembly memory. */
  private memory: CrcMemory | undefined;
  /** The frames: `buf[0, length)`. Replaced when it grows; never hold on to it across an append. */
  buf: Uint8Array;
  length = 0;
  /** Where the data of the last record appended starts and ends in {@link buf}. */
  dataStart = 0;
  dataEnd = 0;

  constructor(
    /** The running CRC after the last record framed. */
    public crc: number,
    /**
     * Whether the buffer may live in WebAssembly memory: for the writer's batch buffers, reused for the WAL's
     * life. A one-off buffer (a segment's head records) takes an ordinary array: an instance costs ~80 µs.
     */
    private readonly inWasm = true,
  ) {
    const fresh = freshStorage(inWasm);
    this.memory = fresh.memory;
    this.buf = fresh.buf;
  }

  /** Appends one record: a Crc record carries the running CRC; any other adds its data to the chain. */
  append(type: number, data: Uint8Array | undefined): void {
    if (type !== RecordType.Crc && data !== undefined)
      this.crc = crc32cRange(this.crc, data, 0, data.byteLength);
    const n = recordSize(type, this.crc, data);
    const pad = framePad(n);
    this.ensure(FRAME_HEADER_BYTES + n + pad);
    const pos = this.length;
    writeLengthWord(this.buf, pos, n);
    const end = writeRecord(this.buf, pos + FRAME_HEADER_BYTES, type, this.crc, data);
    this.dataEnd = end;
    this.dataStart = end - (data?.byteLength ?? 0);
    this.buf.fill(0, end, end + pad);
    this.length = end + pad;
  }

  /**
   * Appends a record holding `codec`'s encoding of `value`. A codec failure (or a codec breaking the
   * `encodedSize`/`encodeInto` contract) throws ERR_WAL_CODEC and leaves the buffer as it was.
   */
  appendValue<T>(type: number, codec: Codec<T>, value: T, what: string): void {
    if (codec.encodedSize === undefined || codec.encodeInto === undefined) {
      this.append(type, encodeValue(codec, value, what));
      return;
    }
    let size: number;
    try {
      size = codec.encodedSize(value);
    } catch (err) {
      throw codecFailure(what, err);
    }
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new WalError('ERR_WAL_CODEC', `${what} codec's encodedSize returned ${String(size)}`);
    }
    // Layout: length word, 08 <type>, 10 <crc>, 1a <len>, data, padding. The data goes where it would sit after
    // a 5-byte crc varint; when the crc turns out shorter it moves back (1 time in 16 for a uniform crc).
    const typeBytes = varintSize(type);
    const lenBytes = varintSize(size);
    const maxHead = FRAME_HEADER_BYTES + 3 + typeBytes + MAX_CRC_VARINT + lenBytes;
    this.ensure(maxHead + size + 7);
    const buf = this.buf;
    const pos = this.length;
    const at = pos + maxHead;
    let end: number;
    try {
      end = codec.encodeInto(value, buf, at);
    } catch (err) {
      throw codecFailure(what, err);
    }
    if (end !== at + size) {
      throw new WalError(
        'ERR_WAL_CODEC',
        `${what} codec's encodeInto ended ${String(end - at)} bytes on, encodedSize said ${size}`,
      );
    }
    const crc =
      this.memory !== undefined
        ? this.memory.crc(this.crc, at, at + size)
        : crc32cRange(this.crc, buf, at, at + size);
    const shift = MAX_CRC_VARINT - varintSize(crc);
    if (shift > 0) buf.copyWithin(at - shift, at, at + size);
    const recordBytes = maxHead - FRAME_HEADER_BYTES - shift + size;
    writeLengthWord(buf, pos, recordBytes);
    const p = writeRecordHead(buf, pos + FRAME_HEADER_BYTES, type, crc, size);
    const dataEnd = p + size;
    const padEnd = dataEnd + framePad(recordBytes);
    for (let i = dataEnd; i < padEnd; i++) buf[i] = 0;
    this.dataStart = p;
    this.dataEnd = dataEnd;
    this.crc = crc;
    this.length = padEnd;
  }

  /** The current position, to {@link rollback} to. */
  mark(): FrameMark {
    return { length: this.length, crc: this.crc };
  }

  /** Drops what was appended after `mark`. */
  rollback(mark: FrameMark): void {
    this.length = mark.length;
    this.crc = mark.crc;
  }

  /** Empties the buffer for the next batch (the CRC chain goes on). */
  reset(): void {
    this.length = 0;
    if (this.buf.byteLength > KEEP_MAX_BYTES) {
      // A WebAssembly memory cannot shrink: a fresh one.
      const fresh = freshStorage(this.inWasm);
      this.memory = fresh.memory;
      this.buf = fresh.buf;
    }
  }

  private ensure(extra: number): void {
    const need = this.length + extra;
    if (need <= this.buf.byteLength) return;
    let cap = this.buf.byteLength * 2;
    while (cap < need) cap *= 2;
    if (this.memory?.grow(cap) === true) {
      this.buf = this.memory.bytes;
      return;
    }
    // No WebAssembly memory, or it cannot grow this far: an ordinary array from now on.
    this.memory = undefined;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
}

/** A new buffer of INITIAL_BYTES: in a WebAssembly memory when `inWasm` and one can be made, else an array. */
function freshStorage(inWasm: boolean): { memory: CrcMemory | undefined; buf: Uint8Array } {
  const memory = inWasm ? CrcMemory.create(INITIAL_BYTES) : undefined;
  return { memory, buf: memory?.bytes ?? new Uint8Array(INITIAL_BYTES) };
}

/** `codec.encode(value)`, checked to be a Uint8Array; failures are ERR_WAL_CODEC naming `what`. */
export function encodeValue<T>(codec: Codec<T>, value: T, what: string): Uint8Array {
  let out: unknown;
  try {
    out = codec.encode(value);
  } catch (err) {
    throw codecFailure(what, err);
  }
  if (!(out instanceof Uint8Array)) {
    throw new WalError('ERR_WAL_CODEC', `${what} codec returned ${typeof out}, not a Uint8Array`);
  }
  return out;
}

function codecFailure(what: string, err: unknown): WalError {
  return new WalError(
    'ERR_WAL_CODEC',
    `${what} codec failed to encode: ${err instanceof Error ? err.message : String(err)}`,
    { cause: err },
  );
}
