import { open, readFile, readdir, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { msgpackCodecs, type Entry, type Snapshot } from '../../src/codec/msgpack.js';
import { RecordType } from '../../src/record/record-type.js';
import { listSegments } from '../../src/segment/names.js';
import { Wal } from '../../src/wal.js';
import { SMALL, bytesOf, enc, entries, tempParent } from '../helpers.js';
import { records, writeSegment } from '../segment/build.js';

let t: Awaited<ReturnType<typeof tempParent>>;
beforeEach(async () => {
  t = await tempParent();
});
afterEach(async () => {
  await t.cleanup();
});

const FIRST = '0000000000000000-0000000000000000.wal';

/** A one-segment WAL with entries 1..n; returns the segment path and its pristine bytes. */
async function oneSegment(
  n: number,
  size = 16,
  segmentSizeBytes = 64 * 1024,
): Promise<{ path: string; pristine: Buffer }> {
  const wal = await Wal.create(t.dir, enc('m'), { segmentSizeBytes });
  for (let i = 1; i <= n; i++) await wal.saveEntry([{ index: i, term: 1, data: bytesOf(size, i) }]);
  await wal.close();
  const path = join(t.dir, FIRST);
  return { path, pristine: await readFile(path) };
}

const expected = (n: number, size = 16): Entry[] =>
  Array.from({ length: n }, (_, k) => ({ index: k + 1, term: 1, data: bytesOf(size, k + 1) }));

async function readEntries(): Promise<Entry[]> {
  const r = await Wal.openForRead(t.dir);
  const got = (await r.readAll()).entries;
  await r.close();
  return got;
}

describe('torn tails (repairable: ERR_WAL_UNEXPECTED_EOF)', () => {
  it('a cut at every byte offset of the last record: read mode gets the good prefix, repair cuts it', async () => {
    const { path, pristine } = await oneSegment(4);
    const recs = await records(t.dir);
    const last = recs[recs.length - 1]!;
    for (let cut = last.offset + 1; cut < last.offset + last.frameBytes; cut++) {
      await writeFile(path, pristine.subarray(0, cut));
      await expect(Wal.open(t.dir), `cut at ${cut}`).rejects.toMatchObject({
        code: 'ERR_WAL_UNEXPECTED_EOF',
        offset: last.offset,
      });
      expect(await readEntries(), `cut at ${cut}`).toEqual(expected(3));
      // Repair at every cut is checked too, but it fsyncs several times: every other byte keeps the test quick,
      // and both a cut length word (< 8 bytes) and a cut record are covered.
      if ((cut - last.offset) % 2 === 0) continue;
      expect(await Wal.repair(t.dir), `cut at ${cut}`).toBe(true);
      expect((await stat(path)).size).toBe(last.offset);
      expect((await readFile(`${path}.broken`)).equals(pristine.subarray(0, cut))).toBe(true);
      const w = await Wal.open(t.dir, undefined, { segmentSizeBytes: 64 * 1024 });
      expect((await w.readAll()).entries).toEqual(expected(3));
      // Opening for write preallocated the repaired tail again.
      expect((await stat(path)).size).toBe(64 * 1024);
      if ((cut - last.offset) % 8 === 1) {
        // The repaired WAL takes appends again.
        await w.saveEntry([{ index: 4, term: 2, data: enc('again') }]);
        expect((await Wal.openForRead(t.dir).then((r) => r.readAll())).entries.at(-1)).toEqual({
          index: 4,
          term: 2,
          data: enc('again'),
        });
      }
      await w.close();
      await unlink(`${path}.broken`);
    }
  });

  it('a length word beyond the end of the file is a torn tail, not an allocation', async () => {
    const { path, pristine } = await oneSegment(3);
    const recs = await records(t.dir);
    const last = recs[recs.length - 1]!;
    const bad = Buffer.from(pristine);
    bad.writeUInt32LE(0x7fff_fff0, last.offset); // ~2 GB
    bad[last.offset + 4] = 0x12;
    await writeFile(path, bad);
    await expect(Wal.open(t.dir)).rejects.toMatchObject({
      code: 'ERR_WAL_UNEXPECTED_EOF',
      offset: last.offset,
    });
    expect(await readEntries()).toEqual(expected(2));
  });

  it('a zeroed 512-byte sector inside the last record is a torn write', async () => {
    const { path, pristine } = await oneSegment(3, 3000);
    const recs = await records(t.dir);
    const last = recs[recs.length - 1]!;
    const sector = Math.ceil((last.offset + 8) / 512) * 512;
    expect(sector + 512).toBeLessThan(last.offset + last.frameBytes);
    const bad = Buffer.from(pristine);
    bad.fill(0, sector, sector + 512);
    await writeFile(path, bad);
    await expect(Wal.open(t.dir)).rejects.toMatchObject({
      code: 'ERR_WAL_UNEXPECTED_EOF',
      offset: last.offset,
    });
    expect(await Wal.repair(t.dir)).toBe(true);
    expect(await readEntries()).toEqual(expected(2, 3000));
  });
});

describe('corruption (ERR_WAL_CRC_MISMATCH, never repaired)', () => {
  it('non-zero garbage over the last record', async () => {
    const { path, pristine } = await oneSegment(3);
    const recs = await records(t.dir);
    const last = recs[recs.length - 1]!;
    const bad = Buffer.from(pristine);
    bad.fill(0xa5, last.offset + 8, last.offset + last.frameBytes);
    await writeFile(path, bad);
    await expect(Wal.open(t.dir)).rejects.toMatchObject({
      code: 'ERR_WAL_CRC_MISMATCH',
      offset: last.offset,
    });
    await expect(Wal.openForRead(t.dir)).rejects.toMatchObject({ code: 'ERR_WAL_CRC_MISMATCH' });
    expect(await Wal.repair(t.dir)).toBe(false);
    expect((await readFile(path)).equals(bad)).toBe(true);
    expect(await readdir(t.dir)).not.toContain(`${FIRST}.broken`);
  });

  it('one bit flipped in any middle record, in read, write and verify mode', async () => {
    const { path, pristine } = await oneSegment(6);
    const recs = await records(t.dir);
    for (const rec of recs.slice(1, -1)) {
      for (const at of [rec.offset + 8 + 1, rec.offset + rec.frameBytes - 3]) {
        const bad = Buffer.from(pristine);
        bad[at] = (bad[at] ?? 0) ^ 0x10;
        if (bad.equals(pristine)) continue;
        await writeFile(path, bad);
        const where = `record at ${rec.offset}, byte ${at}`;
        await expect(Wal.openForRead(t.dir), where).rejects.toMatchObject({ code: 'ERR_WAL_CRC_MISMATCH' });
        await expect(Wal.open(t.dir), where).rejects.toMatchObject({ code: 'ERR_WAL_CRC_MISMATCH' });
        await expect(Wal.verify(t.dir), where).rejects.toMatchObject({ code: 'ERR_WAL_CRC_MISMATCH' });
        expect(await Wal.repair(t.dir), where).toBe(false);
        expect((await readFile(path)).equals(bad), where).toBe(true);
      }
    }
  });

  it('a torn (zeroed) record in a segment that is not the last is corruption', async () => {
    const wal = await Wal.create(t.dir, enc('m'), { segmentSizeBytes: 4096 });
    for (let i = 1; i <= 6; i++) await wal.saveEntry([{ index: i, term: 1, data: bytesOf(1500, i) }]);
    await wal.close();
    const segs = await listSegments(t.dir);
    expect(segs.length).toBeGreaterThan(2);
    const first = segs[0]!.path;
    const bad = await readFile(first);
    bad.fill(0, 1024, 1536); // a sector inside an entry of the first segment
    await writeFile(first, bad);
    await expect(Wal.open(t.dir)).rejects.toMatchObject({ code: 'ERR_WAL_CRC_MISMATCH', file: first });
    expect(await Wal.repair(t.dir)).toBe(false);
  });
});

describe('segments', () => {
  it('cuts into consecutive segments named after the next index, chaining the CRC across them', async () => {
    const wal = await Wal.create(t.dir, enc('meta'), { segmentSizeBytes: 4096 });
    await wal.saveState({ term: 3, vote: 1, commit: 0 });
    for (let i = 1; i <= 60; i++) await wal.saveEntry([{ index: i, term: 3, data: bytesOf(200, i) }]);
    await wal.close();
    const segs = await listSegments(t.dir);
    expect(segs.length).toBeGreaterThan(3);
    const recs = await records(t.dir);
    let running = 0;
    for (const seg of segs.slice(1)) {
      const head = recs.filter((r) => r.seq === seg.seq);
      // Each segment opens with Crc (the running CRC of everything before), Metadata and the last State.
      expect(head.slice(0, 3).map((r) => r.type)).toEqual([
        RecordType.Crc,
        RecordType.Metadata,
        RecordType.State,
      ]);
      const before = recs.filter((r) => r.seq < seg.seq && r.type !== RecordType.Crc).at(-1)!;
      expect(head[0]!.crc).toBe(before.crc);
      expect(Buffer.from(head[1]!.data!).toString()).toBe('meta');
      // The name's index is one past the last entry in the segments before it.
      const lastEntry = recs.filter((r) => r.seq < seg.seq && r.type === RecordType.Entry).at(-1)!;
      expect(seg.index).toBe(msgpackCodecs.entry.decode(lastEntry.data!).index + 1);
      running++;
    }
    expect(running).toBe(segs.length - 1);
    // Every segment but the last was truncated at its last record.
    for (const seg of segs.slice(0, -1)) {
      const own = recs.filter((r) => r.seq === seg.seq).at(-1)!;
      expect((await stat(seg.path)).size).toBe(own.offset + own.frameBytes);
    }
    expect(await Wal.verify(t.dir)).toEqual({ term: 3, vote: 1, commit: 0 });
    expect(await readEntries()).toEqual(
      Array.from({ length: 60 }, (_, k) => ({ index: k + 1, term: 3, data: bytesOf(200, k + 1) })),
    );
    expect((await readdir(t.dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('a missing middle segment is ERR_WAL_SEQUENCE_GAP', async () => {
    const wal = await Wal.create(t.dir, enc('m'), { segmentSizeBytes: 4096 });
    for (let i = 1; i <= 30; i++) await wal.saveEntry([{ index: i, term: 1, data: bytesOf(300, i) }]);
    await wal.close();
    const segs = await listSegments(t.dir);
    expect(segs.length).toBeGreaterThan(2);
    await unlink(segs[1]!.path);
    await expect(Wal.open(t.dir)).rejects.toMatchObject({
      code: 'ERR_WAL_SEQUENCE_GAP',
      file: segs[2]!.path,
    });
    await expect(Wal.openForRead(t.dir)).rejects.toMatchObject({ code: 'ERR_WAL_SEQUENCE_GAP' });
    expect(await Wal.repair(t.dir)).toBe(false);
  });

  it('release deletes the head segments; reopening at the snapshot trusts the first Crc record', async () => {
    const wal = await Wal.create(t.dir, enc('m'), { segmentSizeBytes: 4096 });
    for (let i = 1; i <= 40; i++) await wal.saveEntry([{ index: i, term: 1, data: bytesOf(300, i) }]);
    const before = await listSegments(t.dir);
    await wal.saveSnap({ index: 25, term: 1 });
    await wal.saveState({ term: 1, vote: 0, commit: 40 });
    await wal.release({ index: 25, term: 1 });
    const after = await listSegments(t.dir);
    const holding = before.filter((s) => s.index <= 25).at(-1)!;
    expect(after[0]!.seq).toBe(holding.seq);
    for (let i = 41; i <= 45; i++) await wal.saveEntry([{ index: i, term: 1, data: bytesOf(300, i) }]);
    await wal.close();
    const w = await Wal.open(t.dir, { index: 25, term: 1 }, { segmentSizeBytes: 4096 });
    const got = await w.readAll();
    expect(got.entries.map((e) => e.index)).toEqual(Array.from({ length: 20 }, (_, k) => k + 26));
    expect(got.entries[0]).toEqual({ index: 26, term: 1, data: bytesOf(300, 26) });
    await w.close();
    expect(await Wal.validSnapshots(t.dir)).toEqual([{ index: 25, term: 1 }]);
    // What release deleted cannot be opened any more, and says so.
    await expect(Wal.open(t.dir)).rejects.toMatchObject({ code: 'ERR_WAL_FILE_NOT_FOUND' });
  });

  it('keepExtraSegments keeps that many segments before the one holding the snapshot', async () => {
    const wal = await Wal.create(t.dir, enc('m'), { segmentSizeBytes: 4096, keepExtraSegments: 1 });
    for (let i = 1; i <= 40; i++) await wal.saveEntry([{ index: i, term: 1, data: bytesOf(300, i) }]);
    const before = await listSegments(t.dir);
    await wal.saveSnap({ index: 30, term: 1 });
    await wal.release({ index: 30, term: 1 });
    let holdingAt = 0;
    before.forEach((s, i) => {
      if (s.index <= 30) holdingAt = i;
    });
    expect((await listSegments(t.dir))[0]!.seq).toBe(before[holdingAt - 1]!.seq);
    await wal.close();
  });

  it('opening for write zeroes stale records after a zeroed record, so they never come back', async () => {
    const { path, pristine } = await oneSegment(10);
    const recs = await records(t.dir);
    const sixth = recs.filter((r) => r.type === RecordType.Entry)[5]!;
    const bad = Buffer.from(pristine);
    bad.fill(0, sixth.offset, sixth.offset + 8); // entries 7..10 stay behind a zero length word
    await writeFile(path, bad);
    const w = await Wal.open(t.dir);
    expect((await w.readAll()).entries).toEqual(expected(5));
    const now = await readFile(path);
    expect(now.subarray(sixth.offset).every((b) => b === 0)).toBe(true);
    await w.saveEntry([{ index: 6, term: 2, data: enc('six') }]);
    await w.close();
    expect(await readEntries()).toEqual([...expected(5), { index: 6, term: 2, data: enc('six') }]);
  });
});

describe('reading', () => {
  it('differing Metadata records are ERR_WAL_METADATA_CONFLICT', async () => {
    const { mkdir } = await import('node:fs/promises');
    await mkdir(t.dir);
    await writeSegment(join(t.dir, FIRST), [
      [RecordType.Crc, undefined],
      [RecordType.Metadata, enc('a')],
      [RecordType.Snapshot, msgpackCodecs.snapshot.encode({ index: 0, term: 0 })],
      [RecordType.Metadata, enc('b')],
    ]);
    const second = (await records(t.dir)).at(-1)!;
    expect(second.type).toBe(RecordType.Metadata);
    await expect(Wal.openForRead(t.dir)).rejects.toMatchObject({
      code: 'ERR_WAL_METADATA_CONFLICT',
      offset: second.offset,
    });
  });

  it('an entry index that skips ahead is ERR_WAL_INDEX_GAP, naming the file and offset', async () => {
    // Written by hand: the WAL itself refuses to write a gap (wal/gaps.test.ts), but a file from elsewhere may
    // hold one.
    const { mkdir } = await import('node:fs/promises');
    await mkdir(t.dir);
    await writeSegment(join(t.dir, FIRST), [
      [RecordType.Crc, undefined],
      [RecordType.Metadata, enc('m')],
      [RecordType.Snapshot, msgpackCodecs.snapshot.encode({ index: 0, term: 0 })],
      ...[...entries(1, 3), ...entries(5, 5)].map(
        (e) => [RecordType.Entry, msgpackCodecs.entry.encode(e)] as const,
      ),
    ]);
    const fifth = (await records(t.dir)).at(-1)!;
    for (const openIt of [(d: string) => Wal.openForRead(d), (d: string) => Wal.open(d)])
      await expect(openIt(t.dir)).rejects.toMatchObject({ code: 'ERR_WAL_INDEX_GAP', offset: fifth.offset });
  });

  it('snapshot mismatch and snapshot not found, in read and write mode', async () => {
    const wal = await Wal.create(t.dir, enc('m'), SMALL);
    await wal.saveEntry(entries(1, 10));
    await wal.saveSnap({ index: 5, term: 1 });
    await wal.close();
    const opens = [
      (d: string, s: Snapshot) => Wal.open(d, s),
      (d: string, s: Snapshot) => Wal.openForRead(d, s),
    ];
    for (const openIt of opens) {
      await expect(openIt(t.dir, { index: 5, term: 2 })).rejects.toMatchObject({
        code: 'ERR_WAL_SNAPSHOT_MISMATCH',
      });
      await expect(openIt(t.dir, { index: 7, term: 1 })).rejects.toMatchObject({
        code: 'ERR_WAL_SNAPSHOT_NOT_FOUND',
      });
    }
    // The failed write-mode opens released the lock.
    const ok = await Wal.open(t.dir, { index: 5, term: 1 });
    await ok.close();
  });

  it('an empty or missing directory is ERR_WAL_FILE_NOT_FOUND', async () => {
    await expect(Wal.open(t.dir)).rejects.toMatchObject({ code: 'ERR_WAL_FILE_NOT_FOUND' });
    await expect(Wal.openForRead(t.dir)).rejects.toMatchObject({ code: 'ERR_WAL_FILE_NOT_FOUND' });
    expect(await Wal.repair(t.dir)).toBe(false);
  });

  it('a 40 MB entry round-trips', async () => {
    const big = bytesOf(40 * 1024 * 1024, 42);
    const wal = await Wal.create(t.dir, enc('m'), SMALL);
    await wal.saveEntry([{ index: 1, term: 1, data: big }]);
    await wal.saveEntry([{ index: 2, term: 1, data: enc('after') }]);
    await wal.close();
    const got = await readEntries();
    expect(got.length).toBe(2);
    expect(Buffer.from(got[0]!.data).equals(Buffer.from(big))).toBe(true);
    expect(got[1]).toEqual({ index: 2, term: 1, data: enc('after') });
  });

  it('a truncated file with only a partial length word left at its end', async () => {
    const { path } = await oneSegment(2);
    const recs = await records(t.dir);
    const end = recs.at(-1)!.offset + recs.at(-1)!.frameBytes;
    await truncate(path, end);
    const fh = await open(path, 'a');
    await fh.write(Uint8Array.from([0x20, 0x00, 0x00]));
    await fh.close();
    await expect(Wal.open(t.dir)).rejects.toMatchObject({ code: 'ERR_WAL_UNEXPECTED_EOF', offset: end });
    expect(await Wal.repair(t.dir)).toBe(true);
    expect(await readEntries()).toEqual(expected(2));
  });
});
