import { readdir, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { WalError } from '../errors.js';
import { RecordType } from '../record/record-type.js';
import { mkdirDurable } from '../fs/durable-mkdir.js';
import { fileIo } from '../fs/file-io.js';
import { DirLock } from '../segment/lock.js';
import { listSegments, segmentFileName } from '../segment/names.js';
import { FrameBuffer } from './frame-buffer.js';
import type { ResolvedOptions } from './options.js';
import type { ReadResult } from './reader.js';
import { SegmentWriter } from './writer.js';

/** A writer and the lock it runs under. */
export interface OpenedWriter {
  writer: SegmentWriter;
  lock: DirLock;
}

/**
 * Creates a WAL atomically: the first segment (zero-filled to the segment size unless `preallocate: 'none'`)
 * gets Crc(0), Metadata and the zero Snapshot, is fdatasync'd, and is built in `<dir>.tmp`, which is then renamed
 * to `dir` (the parent fsync'd). A crash leaves either no WAL or a complete one. `dir` may exist only if empty.
 */
export async function createWal<E, S, N>(
  dir: string,
  metadata: Uint8Array,
  o: ResolvedOptions<E, S, N>,
): Promise<OpenedWriter> {
  if ((await listSegments(dir)).length > 0) {
    throw new WalError('ERR_WAL_EXISTS', 'a WAL already exists here', { file: dir });
  }
  const existing = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (existing !== undefined && existing.length > 0) {
    throw new WalError('ERR_WAL_EXISTS', `directory is not empty (${existing.length} entries, no WAL)`, {
      file: dir,
    });
  }
  const snapBytes = o.codecs.snapshot.encode(o.codecs.snapshot.zero());
  const tmpDir = `${dir}.tmp`;
  await fileIo.rmTree(tmpDir);
  await mkdirDurable(tmpDir); // and the WAL's parent directories, if this creates them
  const name = segmentFileName(0, 0);
  let fh: FileHandle | undefined = await fileIo.open(join(tmpDir, name), 'w+');
  try {
    if (o.preallocate !== 'none') await fileIo.writeZeros(fh, 0, o.segmentSizeBytes);
    const head = new FrameBuffer(0, false);
    head.append(RecordType.Crc, undefined);
    head.append(RecordType.Metadata, metadata);
    head.append(RecordType.Snapshot, snapBytes);
    fileIo.writeAll(fh, head.buf, 0, head.length, 0);
    await fileIo.datasync(fh);
    await fileIo.fsyncDir(tmpDir);
    if (existing !== undefined) await fileIo.rmdir(dir); // empty, checked above
    await fileIo.rename(tmpDir, dir);
    await fileIo.fsyncDir(dirname(dir));
    const lock = await DirLock.acquire(dir);
    const writer = new SegmentWriter({
      dir,
      fh,
      path: join(dir, name),
      seq: 0,
      offset: head.length,
      crc: head.crc,
      metadata,
      stateBytes: undefined,
      lastIndex: 0,
      options: o,
    });
    fh = undefined;
    return { writer, lock };
  } finally {
    if (fh !== undefined) {
      await fh.close().catch(() => undefined);
      await fileIo.rmTree(tmpDir).catch(() => undefined);
    }
  }
}

/**
 * Prepares the tail segment for appending after a read in write mode: removes temporary files a crash left,
 * zeroes every stale byte after the last valid record (so old records never come back), and starts the writer.
 */
export async function openWriter<E, S, N>(
  dir: string,
  read: ReadResult<E, S>,
  o: ResolvedOptions<E, S, N>,
): Promise<SegmentWriter> {
  for (const name of await readdir(dir)) {
    if (/^\d+\.tmp$/.test(name)) await fileIo.unlink(join(dir, name));
  }
  const seg = read.lastSegment;
  const fh = await fileIo.open(seg.path, 'r+');
  try {
    // Stale bytes after the last record are zeroed (a later append must never line up with old records), and a
    // tail shorter than a segment (after a repair, or grown) is zero-filled to the segment size again, unless
    // `preallocate: 'none'`.
    const zeroed = read.dirtyEnd > read.lastValidOffset;
    if (zeroed) await fileIo.writeZeros(fh, read.lastValidOffset, read.dirtyEnd);
    const grow = o.preallocate !== 'none' && read.lastFileSize < o.segmentSizeBytes;
    if (grow) await fileIo.writeZeros(fh, read.lastFileSize, o.segmentSizeBytes);
    if (zeroed || grow) await fileIo.datasync(fh);
  } catch (err) {
    await fh.close();
    throw err;
  }
  return new SegmentWriter({
    dir,
    fh,
    path: seg.path,
    seq: seg.seq,
    offset: read.lastValidOffset,
    crc: read.crc,
    metadata: read.metadata,
    stateBytes: read.stateBytes,
    lastIndex: read.lastIndex,
    options: o,
  });
}
