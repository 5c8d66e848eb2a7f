import type { Codec, Codecs } from '../codec/types.js';
import { WalError } from '../errors.js';
import { RecordType } from '../record/record-type.js';
import type { CrcOffloadMode } from '../segment/crc-offload.js';
import type { SegmentName } from '../segment/names.js';
import { SegmentScanner, type ScannedRecord } from '../segment/scan.js';

/**
 * How a read treats a torn tail: `write` and `verify` fail with ERR_WAL_UNEXPECTED_EOF; `read` returns the good
 * prefix (a live writer may be mid-append).
 */
export type ReadMode = 'write' | 'read' | 'verify';

/** What a full read of the selected segments found. */
export interface ReadResult<E, S> {
  metadata: Uint8Array;
  state: S | undefined;
  entries: E[];
  /** The last State record's payload (a copy), written again at the head of each new segment. */
  stateBytes: Uint8Array | undefined;
  /** Index a new segment's name starts after: the last entry's index, or the snapshot's if larger. */
  lastIndex: number;
  /** Running CRC after the last valid record. */
  crc: number;
  /** The last segment and the end of its last valid record. */
  lastSegment: SegmentName;
  lastValidOffset: number;
  /** End of stale non-zero bytes after `lastValidOffset` in the last segment. */
  dirtyEnd: number;
  /** Size of the last segment file. */
  lastFileSize: number;
  /** In read mode, the torn tail that ended the read early. */
  tornTail: WalError | undefined;
}

/** The snapshot position a read starts at. */
export interface SnapPosition {
  index: number;
  term: number | bigint;
}

/**
 * Reads every record of `segments` (already selected for `snap`): entries after the snapshot (an entry at index
 * i replaces those read at >= i), the last State, the Metadata (all copies equal), and checks that a Snapshot
 * record matches `snap`.
 */
export async function readSegments<E, S, N>(
  segments: readonly SegmentName[],
  snap: SnapPosition,
  codecs: Codecs<E, S, N>,
  mode: ReadMode,
  crcWorker: CrcOffloadMode = 'never',
): Promise<ReadResult<E, S>> {
  const scanner = new SegmentScanner(segments, mode === 'write');
  let metadata: Uint8Array | undefined;
  let state: S | undefined;
  let stateBytes: Uint8Array | undefined;
  const entries: E[] = [];
  let lastIndex = snap.index;
  let match = false;
  let tornTail: WalError | undefined;
  const snapTerm = BigInt(snap.term);
  try {
    await scanner.forEach((rec) => {
      // Entry data is decoded straight from the file's bytes when the codec can (no view made).
      const data = rec.type === RecordType.Entry ? EMPTY : (rec.data ?? EMPTY);
      switch (rec.type) {
        case RecordType.Entry: {
          const e = decodeEntry(codecs.entry, rec);
          const idx = codecs.entry.index(e);
          if (idx > snap.index) {
            const pos = idx - snap.index - 1;
            if (pos > entries.length) {
              throw new WalError(
                'ERR_WAL_INDEX_GAP',
                `entry ${idx} follows entry ${snap.index + entries.length}: indexes skip`,
                { file: rec.file, offset: rec.offset },
              );
            }
            if (pos < entries.length) entries.length = pos;
            entries.push(e);
          } else {
            // An entry at or below the snapshot replaces every entry written before it at its index and above,
            // those after the snapshot included: they were truncated before the snapshot was taken. (etcd's
            // ReadAll keeps them; a property test found the stale entry coming back after such a truncation.)
            entries.length = 0;
          }
          lastIndex = idx;
          break;
        }
        case RecordType.State:
          state = decode(codecs.state, data, 'state', rec.file, rec.offset);
          stateBytes = data;
          break;
        case RecordType.Metadata:
          if (metadata !== undefined && !bytesEqual(metadata, data)) {
            throw new WalError(
              'ERR_WAL_METADATA_CONFLICT',
              'metadata differs from the first Metadata record',
              {
                file: rec.file,
                offset: rec.offset,
              },
            );
          }
          metadata ??= data.slice();
          break;
        case RecordType.Snapshot: {
          const s = decode(codecs.snapshot, data, 'snapshot', rec.file, rec.offset);
          const idx = codecs.snapshot.index(s);
          if (idx === snap.index) {
            if (BigInt(codecs.snapshot.term(s)) !== snapTerm) {
              throw new WalError(
                'ERR_WAL_SNAPSHOT_MISMATCH',
                `snapshot record ${idx} has term ${codecs.snapshot.term(s)}, expected ${snap.term}`,
                { file: rec.file, offset: rec.offset },
              );
            }
            match = true;
          }
          if (idx > lastIndex) lastIndex = idx;
          break;
        }
        case RecordType.Crc:
          break;
        default:
          throw new WalError('ERR_WAL_CODEC', `unknown record type ${rec.type}`, {
            file: rec.file,
            offset: rec.offset,
          });
      }
    }, crcWorker);
  } catch (err) {
    if (mode === 'read' && err instanceof WalError && err.code === 'ERR_WAL_UNEXPECTED_EOF') tornTail = err;
    else throw err;
  }
  if (!match) {
    throw new WalError(
      'ERR_WAL_SNAPSHOT_NOT_FOUND',
      `no snapshot record at index ${snap.index} term ${snap.term}`,
      { file: segments[0]?.path ?? '' },
    );
  }
  const last = segments[segments.length - 1];
  if (last === undefined) throw new WalError('ERR_WAL_FILE_NOT_FOUND', 'no segments to read');
  return {
    metadata: metadata ?? new Uint8Array(0),
    state,
    entries,
    stateBytes: stateBytes?.slice(),
    lastIndex: Math.max(lastIndex, snap.index),
    crc: scanner.crc,
    lastSegment: last,
    lastValidOffset: scanner.lastValidOffset,
    dirtyEnd: scanner.dirtyEnd,
    lastFileSize: scanner.fileSize,
    tornTail,
  };
}

const EMPTY = new Uint8Array(0);

/**
 * Decodes an Entry record's data, straight from the file's bytes when the codec has `decodeAt`. Entries may be
 * views into the segment's buffer (read once, never reused; it stays in memory while one of its entries does),
 * except in a last segment that ends in preallocated zeros: those are copies, so that a few entries never keep a
 * 64 MB buffer alive.
 */
function decodeEntry<E>(codec: Codec<E>, rec: ScannedRecord): E {
  if (codec.decodeAt === undefined) return decode(codec, rec.data ?? EMPTY, 'entry', rec.file, rec.offset);
  try {
    return rec.dataStart < 0
      ? codec.decodeAt(EMPTY, 0, 0, false)
      : codec.decodeAt(rec.buf, rec.dataStart, rec.dataEnd, rec.viewable);
  } catch (err) {
    throw codecError('entry', err, rec.file, rec.offset);
  }
}

/** Decodes with a codec, turning its exceptions into ERR_WAL_CODEC naming the record. */
export function decode<T>(
  codec: { decode(bytes: Uint8Array): T },
  data: Uint8Array,
  what: string,
  file: string,
  offset: number,
): T {
  try {
    return codec.decode(data);
  } catch (err) {
    throw codecError(what, err, file, offset);
  }
}

function codecError(what: string, err: unknown, file: string, offset: number): WalError {
  return new WalError(
    'ERR_WAL_CODEC',
    `${what} codec failed to decode: ${err instanceof Error ? err.message : String(err)}`,
    { file, offset, cause: err },
  );
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
