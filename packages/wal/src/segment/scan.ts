import { open, type FileHandle } from 'node:fs/promises';
import { WalError } from '../errors.js';
import { crc32cRange } from '../record/crc.js';
import { FRAME_HEADER_BYTES, padOf, recordBytesAt } from '../record/frame.js';
import { decodeRecordAt, type RecordFields } from '../record/record.js';
import { RecordType } from '../record/record-type.js';
import { CrcOffload, type CrcOffloadMode } from './crc-offload.js';
import type { SegmentName } from './names.js';

/**
 * One record as read from a segment, after its frame and CRC were checked (with a {@link CrcOffload}, the CRC of a
 * record before the last segment is checked on the worker, possibly after the record was visited: see forEach).
 */
export interface ScannedRecord {
  /** Path of the segment file. */
  file: string;
  /** The segment's sequence number. */
  seq: number;
  /** Byte offset of the frame (its length word) in the file. */
  offset: number;
  type: number;
  crc: number;
  /** The record's data: a view into the file's bytes, valid while the caller holds it (copy to keep longer). */
  readonly data: Uint8Array | undefined;
  /** Bytes the whole frame takes: length word, record, padding. */
  frameBytes: number;
  /**
   * The file's bytes; the data is `buf[dataStart, dataEnd)` (dataStart -1 when there is none). A buffer of its
   * own per file read, never written or reused by the scanner.
   */
  buf: Uint8Array;
  /**
   * Whether values decoded from the record may view {@link buf}: false in a last segment that ends in
   * preallocated zeros (a few entries must not keep a 64 MB buffer alive), true elsewhere.
   */
  viewable: boolean;
  dataStart: number;
  dataEnd: number;
}

/** The record object {@link SegmentScanner.forEach} reuses: `data` is made only when asked for. */
class RecordCursor implements ScannedRecord {
  offset = 0;
  type = 0;
  crc = 0;
  frameBytes = 0;
  dataStart = -1;
  dataEnd = -1;

  constructor(
    readonly file: string,
    readonly seq: number,
    readonly buf: Uint8Array,
    readonly viewable: boolean,
  ) {}

  get data(): Uint8Array | undefined {
    return this.dataStart < 0 ? undefined : this.buf.subarray(this.dataStart, this.dataEnd);
  }

  /** A plain copy that stays valid after the cursor moves on. */
  snapshot(): ScannedRecord {
    const { file, seq, offset, type, crc, data, frameBytes, buf, dataStart, dataEnd, viewable } = this;
    return { file, seq, offset, type, crc, data, frameBytes, buf, dataStart, dataEnd, viewable };
  }
}

const NO_VISIT = (): void => undefined;

/** A torn write leaves whole sectors of zeros; etcd checks 512-byte sectors. */
const SECTOR_BYTES = 512;

/**
 * Reads the records of consecutive segments in order, checking every frame and the CRC chain.
 *
 * The chain: each non-Crc record's `crc` is the CRC-32C of all non-Crc data since the WAL was created; a Crc
 * record carries the running value so far. A fresh scanner trusts the first Crc record it meets (running value 0),
 * so it can start at a segment after older ones were released.
 *
 * Errors are WalErrors naming the file and the frame's offset:
 * - In the last segment, a torn tail (a cut length word, a record running past the end of the file, or a bad
 *   record with a 512-byte sector of zeros) is ERR_WAL_UNEXPECTED_EOF: `repair` may cut it.
 * - Anything else that does not check out is ERR_WAL_CRC_MISMATCH: corruption, never cut.
 *
 * After the scan (or a failure), {@link file} and {@link lastValidOffset} say where the last good record ended.
 *
 * @example
 * ```ts
 * const scanner = new SegmentScanner(selectSegments(dir, await listSegments(dir), 0));
 * for await (const rec of scanner.records()) console.log(rec.file, rec.offset, rec.type, rec.frameBytes);
 * ```
 */
export class SegmentScanner {
  /** The running CRC after the last record read. */
  crc = 0;
  /** The file being read (the last one once the scan ended); undefined before the first. */
  file: string | undefined;
  /** The segment being read. */
  segment: SegmentName | undefined;
  /** End offset of the last valid frame in {@link file}: where an appender would write next. */
  lastValidOffset = 0;
  /** Size of {@link file}. */
  fileSize = 0;
  /** In the last file, the end of the non-zero bytes after {@link lastValidOffset} (stale data to zero). */
  dirtyEnd = 0;
  /** The bytes of the segment being scanned, once read. */
  lastRead: Uint8Array | undefined;

  /**
   * @param segments consecutive segments, oldest first
   * @param findDirtyEnd compute {@link dirtyEnd} (a pass over the last file's tail; only a writer needs it)
   */
  constructor(
    private readonly segments: readonly SegmentName[],
    private readonly findDirtyEnd = false,
  ) {}

  /**
   * Yields every record of every segment; throws a WalError on the first bad frame (after yielding the records
   * before it).
   */
  async *records(): AsyncGenerator<ScannedRecord, void, undefined> {
    const reads = this.readAhead();
    for (let i = 0; i < this.segments.length; i++) {
      const batch: ScannedRecord[] = [];
      let failure: Error | undefined;
      try {
        await this.scanSegment(i, reads, (r) => batch.push((r as RecordCursor).snapshot()), true);
      } catch (err) {
        failure = err instanceof Error ? err : new Error(String(err));
      }
      yield* batch;
      if (failure !== undefined) throw failure;
    }
  }

  /**
   * Calls `visit` with every record of every segment, in order (the fast path of replay: no async iteration per
   * record; the next segment is read while this one is checked); throws a WalError on the first bad frame. The
   * record object passed is reused from call to call: copy what you keep. `offload` says whether the CRCs of the
   * segments before the last are checked on a worker thread ({@link CrcOffload}). The error thrown is the same
   * either way, but with a worker, records after a damaged one may have been visited before it is thrown: a
   * caller must discard what it gathered when this throws.
   */
  async forEach(visit: (rec: ScannedRecord) => void, offload: CrcOffloadMode = 'never'): Promise<void> {
    const checker = CrcOffload.start(this.segments, offload);
    const reads = this.readAhead(checker !== undefined);
    if (checker === undefined) {
      for (let i = 0; i < this.segments.length; i++) await this.scanSegment(i, reads, visit, true);
      return;
    }
    try {
      await checker.scan(this, reads, visit);
    } finally {
      checker.stop();
    }
  }

  /**
   * Checks one segment that is not the last one, frames and CRC chain, from {@link crc} on (a fresh scanner
   * trusts its first Crc record); throws the WalError a full scan would.
   */
  verifyFile(seg: SegmentName, buf: Uint8Array): void {
    this.segment = seg;
    this.file = seg.path;
    this.scanFile(seg, buf, false, NO_VISIT, true);
  }

  /**
   * One read per segment, each started when the one before it is taken (so at most two buffers are held); into
   * SharedArrayBuffers when `shared` (for a {@link CrcOffload}'s worker).
   */
  private readAhead(shared = false): (i: number) => Promise<Uint8Array> {
    const pending = new Map<number, Promise<Uint8Array>>();
    const start = (i: number): void => {
      const seg = this.segments[i];
      if (seg === undefined || pending.has(i)) return;
      const p = readSegment(seg.path, shared);
      p.catch(() => undefined); // reported when taken
      pending.set(i, p);
    };
    return (i) => {
      start(i);
      const p = pending.get(i) as Promise<Uint8Array>;
      pending.delete(i);
      start(i + 1);
      return p;
    };
  }

  /**
   * Reads segment `i` and visits its records; with `checkCrc` false the CRCs are left to a {@link CrcOffload}
   * (frames are still checked). Returns the segment's bytes (also left in {@link lastRead}).
   */
  async scanSegment(
    i: number,
    read: (i: number) => Promise<Uint8Array>,
    visit: (rec: ScannedRecord) => void,
    checkCrc: boolean,
  ): Promise<Uint8Array> {
    const seg = this.segments[i] as SegmentName;
    const isLast = i === this.segments.length - 1;
    this.segment = seg;
    this.file = seg.path;
    this.lastValidOffset = 0;
    this.lastRead = undefined;
    const buf = await read(i);
    this.lastRead = buf;
    this.fileSize = buf.byteLength;
    this.scanFile(seg, buf, isLast, visit, checkCrc);
    if (isLast && this.findDirtyEnd) this.dirtyEnd = lastNonZeroEnd(buf, this.lastValidOffset);
    return buf;
  }

  private scanFile(
    seg: SegmentName,
    buf: Uint8Array,
    isLast: boolean,
    visit: (rec: ScannedRecord) => void,
    checkCrc: boolean,
  ): void {
    const file = seg.path;
    const size = buf.byteLength;
    const f = this.fields;
    const out = new RecordCursor(file, seg.seq, buf, !isLast || endsInData(buf));
    let off = 0;
    for (;;) {
      const left = size - off;
      if (left === 0) return;
      if (left < FRAME_HEADER_BYTES) {
        if (isZero(buf, off, size)) return;
        throw this.bad(isLast, file, off, `length word cut short (${left} bytes left)`);
      }
      const top = buf[off + 7] as number;
      if (top === 0 && isZero(buf, off, off + FRAME_HEADER_BYTES)) return; // zero word: end of this file's records
      if (top !== 0 && (top & 0xf8) !== 0x80) {
        throw new WalError('ERR_WAL_CRC_MISMATCH', `corrupt length word (top byte 0x${top.toString(16)})`, {
          file,
          offset: off,
        });
      }
      const recordBytes = recordBytesAt(buf, off);
      const pad = padOf(top);
      const start = off + FRAME_HEADER_BYTES;
      if (recordBytes + pad > size - start) {
        throw this.bad(
          isLast,
          file,
          off,
          `record of ${recordBytes} bytes runs past the end of the file (${size - start} bytes left)`,
        );
      }
      const end = start + recordBytes;
      const malformed = decodeRecordAt(buf, start, end, f);
      let problem: string | undefined;
      if (malformed !== undefined) {
        problem = `malformed record: ${malformed}`;
      } else if (f.type < RecordType.Metadata || f.type > RecordType.Snapshot) {
        // The CRC covers only the data, so a damaged type field shows up here.
        problem = `unknown record type ${f.type}`;
      } else if (pad > 0 && !isZero(buf, end, end + pad)) {
        problem = 'non-zero padding';
      } else if (!checkCrc) {
        // a CrcOffload checks this segment's CRCs
      } else if (f.type === RecordType.Crc) {
        if (this.crc !== 0 && f.crc !== this.crc) {
          throw new WalError(
            'ERR_WAL_CRC_MISMATCH',
            `Crc record holds 0x${f.crc.toString(16)}, the chain so far is 0x${this.crc.toString(16)}`,
            { file, offset: off },
          );
        }
        this.crc = f.crc;
      } else {
        const computed = f.dataStart < 0 ? this.crc : crc32cRange(this.crc, buf, f.dataStart, f.dataEnd);
        if (computed !== f.crc) {
          problem = `CRC mismatch: record holds 0x${f.crc.toString(16)}, computed 0x${computed.toString(16)}`;
        } else {
          this.crc = computed;
        }
      }
      if (problem !== undefined) {
        if (isLast && hasZeroSector(buf, start, end + pad)) {
          throw new WalError('ERR_WAL_UNEXPECTED_EOF', `torn write (a zeroed sector): ${problem}`, {
            file,
            offset: off,
          });
        }
        throw new WalError('ERR_WAL_CRC_MISMATCH', problem, { file, offset: off });
      }
      const frameBytes = FRAME_HEADER_BYTES + recordBytes + pad;
      out.offset = off;
      out.type = f.type;
      out.crc = f.crc;
      out.dataStart = f.dataStart;
      out.dataEnd = f.dataEnd;
      out.frameBytes = frameBytes;
      visit(out);
      off += frameBytes;
      this.lastValidOffset = off;
    }
  }

  /** Scratch for {@link decodeRecordAt}. */
  private readonly fields: RecordFields = { type: 0, crc: 0, dataStart: -1, dataEnd: -1 };

  private bad(isLast: boolean, file: string, offset: number, why: string): WalError {
    return isLast
      ? new WalError('ERR_WAL_UNEXPECTED_EOF', `torn tail: ${why}`, { file, offset })
      : new WalError('ERR_WAL_CRC_MISMATCH', `${why} in a segment that is not the last`, { file, offset });
  }
}

/**
 * The file's bytes in a buffer of their own (not a slice of a shared pool: decoded entries may view it), read with
 * one positional read for the whole file. `readFile` reads in 512 KiB steps, each resumed from the event loop, so
 * the read-ahead of the next segment would stall while the main thread checks the current one.
 */
async function readSegment(path: string, shared: boolean): Promise<Uint8Array> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new WalError('ERR_WAL_FILE_NOT_FOUND', 'segment disappeared while reading', {
        file: path,
        cause: err,
      });
    }
    throw err;
  }
  try {
    const size = (await fh.stat()).size;
    const buf = new Uint8Array(shared ? new SharedArrayBuffer(size) : new ArrayBuffer(size));
    let got = 0;
    while (got < size) {
      const { bytesRead } = await fh.read(buf, got, size - got, got);
      if (bytesRead === 0) break; // shrank while reading (a live writer truncating its tail): scan what is there
      got += bytesRead;
    }
    return got === size ? buf : buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}

/**
 * Whether the file's last 64 bytes hold anything but zeros: it was not preallocated, or is full (a grown
 * segment ends with its last record; a zero-filled one with the unused rest of its allocation).
 */
function endsInData(buf: Uint8Array): boolean {
  return !isZero(buf, Math.max(0, buf.byteLength - 64), buf.byteLength);
}

function isZero(buf: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buf[i] !== 0) return false;
  return true;
}

/**
 * Whether any chunk of `[from, to)`, cut at absolute 512-byte sector boundaries, is all zeros (etcd's
 * isTornEntry): a write torn by a crash leaves whole sectors unwritten.
 */
export function hasZeroSector(buf: Uint8Array, from: number, to: number): boolean {
  let pos = from;
  while (pos < to) {
    const end = Math.min(to, (Math.floor(pos / SECTOR_BYTES) + 1) * SECTOR_BYTES);
    if (isZero(buf, pos, end)) return true;
    pos = end;
  }
  return false;
}

function lastNonZeroEnd(buf: Uint8Array, from: number): number {
  let i = buf.byteLength;
  // Whole 4-byte words first (a preallocated tail is megabytes of zeros), then bytes.
  const alignedEnd = from + Math.floor((i - from) / 4) * 4;
  for (; i > alignedEnd; i--) if (buf[i - 1] !== 0) return i;
  if ((buf.byteOffset + from) % 4 === 0) {
    const words = new Uint32Array(buf.buffer, buf.byteOffset + from, (alignedEnd - from) / 4);
    let w = words.length;
    while (w > 0 && words[w - 1] === 0) w--;
    i = from + w * 4;
  }
  for (; i > from; i--) if (buf[i - 1] !== 0) return i;
  return from;
}
