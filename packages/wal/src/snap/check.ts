// Reading and checking one snapshot file: the one mechanism under SnapshotStore's loader and `x-wal snap`.
import { open, stat, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import type { SnapshotCodec } from '../codec/types.js';
import { WalError } from '../errors.js';
import { crc32cUpdate } from '../record/crc.js';
import {
  SNAP_HEADER_FIXED,
  SNAP_TRAILER_BYTES,
  parseLayout,
  parseSnapFileName,
  snapFileName,
  type SnapFileProblem,
  type SnapLayout,
} from './format.js';

/** Chunk size for streaming a snapshot's data through the CRC. */
export const SNAP_READ_CHUNK = 1 << 20;

/** A snapshot file whose frame and metadata are sound (and, when its data was checked, its CRC). */
export interface CheckedSnapFile<N> {
  ok: true;
  fileSize: number;
  layout: SnapLayout;
  metadata: N;
  /** CRC-32C of the metadata bytes: where the data's CRC starts. */
  metaCrc: number;
  /** Whether the data was read and its CRC matched the trailer's (false: not read). */
  dataChecked: boolean;
}

/** A snapshot file that is not sound, and where. */
export interface CorruptSnapFile {
  ok: false;
  problem: SnapFileProblem;
}

/**
 * Reads a snapshot file's header, trailer and metadata and, with `checkData`, streams its data (in 1 MiB reads)
 * through the CRC. Corruption is a {@link CorruptSnapFile} naming the field and byte offset; a file that cannot be
 * read at all (missing, a directory) throws, as that is no verdict on the file's bytes.
 *
 * A file whose name has the store's `%016x-%016x.snap` form must hold the metadata of that term and index; a file
 * named otherwise (a backup copy) is not held to it.
 */
export async function checkSnapFile<N>(
  file: string,
  codec: SnapshotCodec<N>,
  opts: { checkData: boolean },
): Promise<CheckedSnapFile<N> | CorruptSnapFile> {
  const st = await stat(file);
  if (!st.isFile()) {
    throw new WalError('ERR_WAL_INVALID_ARGUMENT', 'not a regular file', { file });
  }
  const size = st.size;
  const fh = await open(file, 'r');
  const corrupt = (problem: SnapFileProblem): CorruptSnapFile => ({ ok: false, problem });
  try {
    const head = await readAt(fh, 0, Math.min(size, SNAP_HEADER_FIXED));
    const trailer = await readAt(
      fh,
      Math.max(0, size - SNAP_TRAILER_BYTES),
      Math.min(size, SNAP_TRAILER_BYTES),
    );
    const layout = parseLayout(head, trailer, size);
    if ('field' in layout) return corrupt(layout);
    const meta = await readAt(fh, SNAP_HEADER_FIXED, layout.metaLen);
    const metaCrc = crc32cUpdate(0, meta);
    if (opts.checkData) {
      let crc = metaCrc;
      for (let off = 0; off < layout.dataLen; off += SNAP_READ_CHUNK) {
        const n = Math.min(SNAP_READ_CHUNK, layout.dataLen - off);
        crc = crc32cUpdate(crc, await readAt(fh, layout.dataOffset + off, n));
      }
      if (crc >>> 0 !== layout.crc) {
        return corrupt({
          field: 'crc',
          offset: size - SNAP_TRAILER_BYTES + 8,
          reason: `CRC mismatch: stored ${hex32(layout.crc)}, computed ${hex32(crc)} over bytes ${SNAP_HEADER_FIXED}..${layout.dataOffset + layout.dataLen} (metadata and data)`,
        });
      }
    }
    let metadata: N;
    try {
      metadata = codec.decode(meta);
    } catch (err) {
      return corrupt({
        field: 'metadata',
        offset: SNAP_HEADER_FIXED,
        reason: `metadata does not decode: ${err instanceof Error ? err.message : String(err)}`,
      });
    }
    const named = parseSnapFileName(basename(file));
    const expected = snapFileName(codec.term(metadata), codec.index(metadata));
    if (named !== undefined && basename(file) !== expected) {
      return corrupt({
        field: 'metadata',
        offset: SNAP_HEADER_FIXED,
        reason: `metadata (${expected}) does not match the file name`,
      });
    }
    return { ok: true, fileSize: size, layout, metadata, metaCrc, dataChecked: opts.checkData };
  } finally {
    await fh.close();
  }
}

/** `0x` and 8 hex digits. */
export function hex32(v: number): string {
  return `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
}

/** Up to `length` bytes at `position` (fewer only at the end of the file). */
export async function readAt(fh: FileHandle, position: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(out, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === length ? out : out.subarray(0, got);
}
