import { dirname } from 'node:path';
import type { Codecs } from '../codec/types.js';
import { WalError } from '../errors.js';
import { RecordType } from '../record/record-type.js';
import { fileIo } from '../fs/file-io.js';
import { DirLock } from '../segment/lock.js';
import { checkConsecutive, listSegments } from '../segment/names.js';
import { SegmentScanner } from '../segment/scan.js';
import type { WalLogger } from './options.js';
import { decode } from './reader.js';

/**
 * Repairs a torn tail: scans every segment; if the only problem is a torn tail in the last segment
 * (ERR_WAL_UNEXPECTED_EOF), copies that file to `<name>.broken`, truncates it at the end of the last valid
 * record, fsyncs it and the directory, and returns true. Returns true when there is nothing to repair, false
 * (changing nothing) on any other problem. Takes the writer lock meanwhile (ERR_WAL_LOCKED if a writer runs).
 */
export async function repairWal(dir: string, logger: WalLogger | undefined): Promise<boolean> {
  const segments = await listSegments(dir);
  if (segments.length === 0) return false;
  const lock = await DirLock.acquire(dir);
  try {
    try {
      checkConsecutive(segments);
    } catch {
      return false;
    }
    const scanner = new SegmentScanner(segments);
    try {
      await scanner.forEach(() => undefined); // reading is the check
      return true;
    } catch (err) {
      const last = segments[segments.length - 1];
      if (
        last === undefined ||
        !(err instanceof WalError) ||
        err.code !== 'ERR_WAL_UNEXPECTED_EOF' ||
        scanner.file !== last.path
      ) {
        return false;
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
      return true;
    }
  } finally {
    await lock.release();
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
