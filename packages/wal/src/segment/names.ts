import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { WalError } from '../errors.js';

/** A segment file: `%016x-%016x.wal` of its sequence number and the index of the first entry it may hold. */
export interface SegmentName {
  /** File name (no directory). */
  name: string;
  /** Absolute or dir-relative path. */
  path: string;
  seq: number;
  /** Index of the first entry the segment may hold. */
  index: number;
}

const NAME_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;

/** The file name of segment `seq` whose first entry index is `index`. */
export function segmentFileName(seq: number, index: number): string {
  return `${seq.toString(16).padStart(16, '0')}-${index.toString(16).padStart(16, '0')}.wal`;
}

/** Sequence and index of a segment file name, or undefined when the name is not one (or beyond 2^53). */
export function parseSegmentFileName(name: string): { seq: number; index: number } | undefined {
  const m = NAME_RE.exec(name);
  if (m === null) return undefined;
  const seq = Number.parseInt(m[1] ?? '', 16);
  const index = Number.parseInt(m[2] ?? '', 16);
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(index)) return undefined;
  return { seq, index };
}

/** The directory's segments sorted by sequence number; `[]` when the directory does not exist. */
export async function listSegments(dir: string): Promise<SegmentName[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: SegmentName[] = [];
  for (const name of names) {
    const parsed = parseSegmentFileName(name);
    if (parsed !== undefined) out.push({ name, path: join(dir, name), ...parsed });
  }
  out.sort((a, b) => a.seq - b.seq);
  return out;
}

/**
 * The segments a reader starting at snapshot index `snapIndex` needs: from the last one whose first index is at
 * or below it, to the end. Throws ERR_WAL_FILE_NOT_FOUND when there is none, ERR_WAL_SEQUENCE_GAP when the
 * sequence numbers from there on are not consecutive (a segment is missing).
 */
export function selectSegments(
  dir: string,
  segments: readonly SegmentName[],
  snapIndex: number,
): SegmentName[] {
  let start = -1;
  for (let i = 0; i < segments.length; i++) if ((segments[i] as SegmentName).index <= snapIndex) start = i;
  if (start < 0) {
    throw new WalError(
      'ERR_WAL_FILE_NOT_FOUND',
      segments.length === 0
        ? 'no WAL segment files'
        : `no WAL segment starts at or below index ${snapIndex} (first starts at ${segments[0]?.index})`,
      { file: dir },
    );
  }
  const selected = segments.slice(start);
  checkConsecutive(selected);
  return selected;
}

/** Throws ERR_WAL_SEQUENCE_GAP unless the segments' sequence numbers are consecutive. */
export function checkConsecutive(segments: readonly SegmentName[]): void {
  for (let i = 1; i < segments.length; i++) {
    const prev = segments[i - 1] as SegmentName;
    const cur = segments[i] as SegmentName;
    if (cur.seq !== prev.seq + 1) {
      throw new WalError(
        'ERR_WAL_SEQUENCE_GAP',
        `segment sequence jumps from ${prev.seq} (${prev.name}) to ${cur.seq}: a segment is missing`,
        { file: cur.path },
      );
    }
  }
}
