import { dirname } from 'node:path';
import type { Codecs } from '../codec/types.js';
import { WalError } from '../errors.js';
import { RecordType } from '../record/record-type.js';
import { fileIo } from '../fs/file-io.js';
import { DirLock } from '../segment/lock.js';
import { checkConsecutive, listSegments, selectSegments, type SegmentName } from '../segment/names.js';
import { SegmentScanner } from '../segment/scan.js';
import type { WalLogger } from './options.js';
import { decode, readSegments, type SnapPosition } from './reader.js';

/** What {@link repairWal} did, and whether the WAL can be read now. */
export interface RepairReport {
  /**
   * Whether the WAL now reads cleanly from its newest valid snapshot record (the zero snapshot when it has
   * none): every record's CRC, the segment sequence, the metadata, the entry indexes (no gap).
   */
  readable: boolean;
  /** The torn tail that was cut, if any (the original file is kept as `<file>.broken`). */
  cut: { file: string; offset: number } | undefined;
  /** Why the WAL is not readable: the first error a read meets. Undefined when `readable`. */
  problem: WalError | undefined;
}

/**
 * Repairs a torn tail: scans every segment; if the only damage is a torn tail in the last segment
 * (ERR_WAL_UNEXPECTED_EOF), copies that file to `<name>.broken`, truncates it at the end of the last valid
 * record, and fsyncs it and the directory. Any other damage changes nothing. Then reads the WAL as `Wal.open`
 * would at its newest valid snapshot, and reports whether that works and, if not, why. Takes the writer lock
 * meanwhile (ERR_WAL_LOCKED if a writer runs).
 */
export async function repairWal<E, S, N>(
  dir: string,
  codecs: Codecs<E, S, N>,
  logger: WalLogger | undefined,
): Promise<RepairReport> {
  const segments = await listSegments(dir);
  if (segments.length === 0) {
    const problem = new WalError('ERR_WAL_FILE_NOT_FOUND', 'no WAL segment files', { file: dir });
    return { readable: false, cut: undefined, problem };
  }
  const lock = await DirLock.acquire(dir);
  try {
    let cut: RepairReport['cut'];
    try {
      checkConsecutive(segments);
      cut = await cutTornTail(segments, logger);
    } catch (err) {
      if (!(err instanceof WalError)) throw err;
      logger?.warn({ reason: err.message }, 'WAL not repaired: damage other than a torn tail');
      return { readable: false, cut: undefined, problem: err };
    }
    const problem = await readProblem(dir, codecs);
    if (problem !== undefined) {
      logger?.warn({ reason: problem.message }, 'WAL still not readable after repair');
      return { readable: false, cut, problem };
    }
    return { readable: true, cut, problem: undefined };
  } finally {
    await lock.release();
  }
}

/** Cuts a torn tail of the last segment, if there is one; rethrows any other damage the scan meets. */
async function cutTornTail(
  segments: readonly SegmentName[],
  logger: WalLogger | undefined,
): Promise<RepairReport['cut']> {
  const scanner = new SegmentScanner(segments);
  try {
    await scanner.forEach(() => undefined); // reading is the check
    return undefined;
  } catch (err) {
    const last = segments[segments.length - 1];
    if (
      last === undefined ||
      !(err instanceof WalError) ||
      err.code !== 'ERR_WAL_UNEXPECTED_EOF' ||
      scanner.file !== last.path
    ) {
      throw err;
    }
    const file = last.path;
    const cutAt = scanner.lastValidOffset;
    await fileIo.copyFile(file, `${file}.broken`);
    const fh = await fileIo.open(file, 'r+');
    try {
      await fileIo.truncate(fh, cutAt);
      await fileIo.datasync(fh);
    } finally {
      await fh.close();
    }
    await fileIo.fsyncDir(dirname(file));
    logger?.warn(
      { file, offset: cutAt, reason: err.message },
      'repaired WAL: torn tail cut, copy kept as .broken',
    );
    return { file, offset: cutAt };
  }
}

/** The error a full read from the newest valid snapshot meets, or undefined when it reads cleanly. */
async function readProblem<E, S, N>(dir: string, codecs: Codecs<E, S, N>): Promise<WalError | undefined> {
  try {
    const snaps = await readSnapshots(dir, codecs);
    let pos: SnapPosition = { index: 0, term: 0 };
    for (const s of snaps) {
      const index = codecs.snapshot.index(s);
      if (index >= pos.index) pos = { index, term: codecs.snapshot.term(s) };
    }
    await readSegments(selectSegments(dir, await listSegments(dir), pos.index), pos, codecs, 'verify');
    return undefined;
  } catch (err) {
    if (err instanceof WalError) return err;
    throw err;
  }
}

/**
 * Snapshot records at or below the last State's commit index (with read-mode semantics: a torn tail ends the
 * read), from every segment; retried when a segment disappears mid-read (a concurrent release).
 */
export async function validSnapshotsOf<E, S, N>(dir: string, codecs: Codecs<E, S, N>): Promise<N[]> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await readSnapshots(dir, codecs);
    } catch (err) {
      if (attempt < 2 && err instanceof WalError && err.code === 'ERR_WAL_FILE_NOT_FOUND') continue;
      throw err;
    }
  }
}

async function readSnapshots<E, S, N>(dir: string, codecs: Codecs<E, S, N>): Promise<N[]> {
  const segments = await listSegments(dir);
  if (segments.length === 0)
    throw new WalError('ERR_WAL_FILE_NOT_FOUND', 'no WAL segment files', { file: dir });
  checkConsecutive(segments);
  const snaps: N[] = [];
  let state: S | undefined;
  const scanner = new SegmentScanner(segments);
  try {
    await scanner.forEach((rec) => {
      if (rec.type === RecordType.Snapshot) {
        snaps.push(decode(codecs.snapshot, rec.data ?? new Uint8Array(0), 'snapshot', rec.file, rec.offset));
      } else if (rec.type === RecordType.State) {
        state = decode(codecs.state, rec.data ?? new Uint8Array(0), 'state', rec.file, rec.offset);
      }
    });
  } catch (err) {
    if (!(err instanceof WalError) || err.code !== 'ERR_WAL_UNEXPECTED_EOF') throw err;
  }
  const commit = state === undefined ? 0 : codecs.state.commit(state);
  return snaps.filter((s) => codecs.snapshot.index(s) <= commit);
}
