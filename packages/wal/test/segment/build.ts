import { readFile, writeFile } from 'node:fs/promises';
import { listSegments, selectSegments } from '../../src/segment/names.js';
import { SegmentScanner, type ScannedRecord } from '../../src/segment/scan.js';
import { FrameBuffer } from '../../src/wal/frame-buffer.js';

/** Writes a segment file of the given records (CRC chained from `crc`); returns the running CRC after them. */
export async function writeSegment(
  path: string,
  records: readonly (readonly [number, Uint8Array | undefined])[],
  crc = 0,
): Promise<number> {
  const fb = new FrameBuffer(crc);
  for (const [type, data] of records) fb.append(type, data);
  await writeFile(path, fb.buf.subarray(0, fb.length));
  return fb.crc;
}

/** Every record of the WAL in `dir`, from its first segment (throws on a bad frame). */
export async function records(dir: string): Promise<ScannedRecord[]> {
  const scanner = new SegmentScanner(selectSegments(dir, await listSegments(dir), 0));
  const out: ScannedRecord[] = [];
  for await (const r of scanner.records()) out.push({ ...r, data: r.data?.slice() });
  return out;
}

/** A file's bytes, for before/after comparisons. */
export async function bytesOfFile(path: string): Promise<Buffer> {
  return readFile(path);
}
