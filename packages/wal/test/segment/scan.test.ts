import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WalError } from '../../src/errors.js';
import {
  listSegments,
  parseSegmentFileName,
  segmentFileName,
  selectSegments,
} from '../../src/segment/names.js';
import { SegmentScanner, hasZeroSector, type ScannedRecord } from '../../src/segment/scan.js';
import { Wal } from '../../src/wal.js';
import { tempParent } from '../helpers.js';
import { ETCD_FIXTURE_BAD_FRAME_OFFSET, ETCD_LENGTH_EXCEEDS_FILE, pbCodecs } from './etcd-fixture.js';

let t: Awaited<ReturnType<typeof tempParent>>;
beforeEach(async () => {
  t = await tempParent();
  await mkdir(t.dir);
});
afterEach(async () => {
  await t.cleanup();
});

const FIRST = '0000000000000000-0000000000000000.wal';

async function scanAll(
  dir: string,
): Promise<{ records: ScannedRecord[]; error: unknown; scanner: SegmentScanner }> {
  const scanner = new SegmentScanner(selectSegments(dir, await listSegments(dir), 0));
  const records: ScannedRecord[] = [];
  try {
    for await (const r of scanner.records()) records.push(r);
  } catch (err) {
    return { records, error: err, scanner };
  }
  return { records, error: undefined, scanner };
}

describe('segment names', () => {
  it('formats and parses %016x-%016x.wal and ignores other names', () => {
    expect(segmentFileName(1, 0x2a)).toBe('0000000000000001-000000000000002a.wal');
    expect(parseSegmentFileName('0000000000000001-000000000000002a.wal')).toEqual({ seq: 1, index: 42 });
    expect(parseSegmentFileName('0.tmp')).toBeUndefined();
    expect(parseSegmentFileName('0000000000000001-000000000000002a.wal.broken')).toBeUndefined();
  });

  it('selects the last segment starting at or below the snapshot index; a gap is ERR_WAL_SEQUENCE_GAP', () => {
    const seg = (seq: number, index: number) => ({
      name: segmentFileName(seq, index),
      path: `d/${seq}`,
      seq,
      index,
    });
    const all = [seg(0, 0), seg(1, 10), seg(2, 20)];
    expect(selectSegments('d', all, 15).map((s) => s.seq)).toEqual([1, 2]);
    expect(selectSegments('d', all, 20).map((s) => s.seq)).toEqual([2]);
    expect(() => selectSegments('d', [seg(1, 10)], 5)).toThrow(
      expect.objectContaining({ code: 'ERR_WAL_FILE_NOT_FOUND' }),
    );
    expect(() => selectSegments('d', [], 0)).toThrow(
      expect.objectContaining({ code: 'ERR_WAL_FILE_NOT_FOUND' }),
    );
    expect(() => selectSegments('d', [seg(0, 0), seg(2, 20)], 0)).toThrow(
      expect.objectContaining({ code: 'ERR_WAL_SEQUENCE_GAP' }),
    );
  });
});

describe('hasZeroSector (etcd isTornEntry)', () => {
  it('cuts at absolute 512-byte sector boundaries', () => {
    const buf = new Uint8Array(2048).fill(1);
    expect(hasZeroSector(buf, 100, 1500)).toBe(false);
    buf.fill(0, 512, 1024);
    expect(hasZeroSector(buf, 100, 1500)).toBe(true);
    // Zeros that do not fill a whole sector chunk of the range are not a torn write.
    const b2 = new Uint8Array(2048).fill(1);
    b2.fill(0, 600, 1000);
    expect(hasZeroSector(b2, 100, 1500)).toBe(false);
    // ...unless the range's own chunk ends there: [1000, 1024) is a whole chunk of the range [1000, 1500).
    b2.fill(0, 1000, 1024);
    expect(hasZeroSector(b2, 1000, 1500)).toBe(true);
  });
});

describe('etcd fixture: last record length exceeds the file end', () => {
  beforeEach(async () => {
    await writeFile(join(t.dir, FIRST), ETCD_LENGTH_EXCEEDS_FILE);
  });

  it('scans the good records and reports ERR_WAL_UNEXPECTED_EOF at the bad frame', async () => {
    const { records, error, scanner } = await scanAll(t.dir);
    expect(records.map((r) => [r.offset, r.type])).toEqual([
      [0, 4],
      [16, 1],
      [32, 5],
      [56, 2],
      [96, 2],
    ]);
    expect(records.map((r) => r.frameBytes)).toEqual([16, 16, 24, 40, 40]);
    expect(records[1]?.data).toBeUndefined(); // nil metadata: no field 3
    expect(error).toBeInstanceOf(WalError);
    expect(error).toMatchObject({ code: 'ERR_WAL_UNEXPECTED_EOF', offset: ETCD_FIXTURE_BAD_FRAME_OFFSET });
    expect((error as WalError).message).toContain(FIRST);
    expect((error as WalError).message).toContain(`byte offset ${ETCD_FIXTURE_BAD_FRAME_OFFSET}`);
    expect(scanner.lastValidOffset).toBe(ETCD_FIXTURE_BAD_FRAME_OFFSET);
  });

  it('read mode returns the good prefix; write mode refuses; repair cuts it and keeps a .broken copy', async () => {
    const r = await Wal.openForRead(t.dir, undefined, { codecs: pbCodecs });
    const got = await r.readAll();
    expect(got.entries.map((e) => [e.index, Buffer.from(e.data).toString()])).toEqual([
      [1, 'waldata1'],
      [2, 'waldata2'],
    ]);
    await r.close();
    await expect(Wal.open(t.dir, undefined, { codecs: pbCodecs })).rejects.toMatchObject({
      code: 'ERR_WAL_UNEXPECTED_EOF',
    });
    await expect(Wal.verify(t.dir, undefined, { codecs: pbCodecs })).rejects.toMatchObject({
      code: 'ERR_WAL_UNEXPECTED_EOF',
    });
    expect(await Wal.repair(t.dir, { codecs: pbCodecs })).toBe(true);
    expect((await stat(join(t.dir, FIRST))).size).toBe(ETCD_FIXTURE_BAD_FRAME_OFFSET);
    expect(
      Buffer.from(await readFile(join(t.dir, `${FIRST}.broken`))).equals(
        Buffer.from(ETCD_LENGTH_EXCEEDS_FILE),
      ),
    ).toBe(true);
    const w = await Wal.open(t.dir, undefined, { codecs: pbCodecs });
    expect((await w.readAll()).entries.map((e) => e.index)).toEqual([1, 2]);
    await w.close();
  });

  it('the CRC chain of etcd-written records checks out (0x81e6d9a0, then the entries)', async () => {
    const { records } = await scanAll(t.dir);
    expect(records.slice(2).map((r) => r.crc)).toEqual([0x81e6d9a0, 0xf0b705ba, 0x239ff421]);
  });
});

describe('stale bytes after the last record', () => {
  it('a write-mode scan finds where non-zero bytes end, at any alignment', async () => {
    const { writeSegment } = await import('./build.js');
    const path = join(t.dir, FIRST);
    const end = await (async () => {
      await writeSegment(path, [[4, undefined]]);
      return (await stat(path)).size;
    })();
    for (const tail of [0, 1, 3, 4, 5, 8, 13, 100]) {
      const buf = Buffer.concat([await readFile(path).then((b) => b.subarray(0, end)), Buffer.alloc(200)]);
      if (tail > 0) buf[end + 20 + tail - 1] = 7;
      await writeFile(path, buf);
      const scanner = new SegmentScanner(selectSegments(t.dir, await listSegments(t.dir), 0), true);
      await scanner.forEach(() => undefined);
      expect(scanner.lastValidOffset).toBe(end);
      expect(scanner.dirtyEnd, `tail ${tail}`).toBe(tail === 0 ? end : end + 20 + tail);
    }
  });
});
