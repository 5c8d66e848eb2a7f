import { readdir, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listSegments } from '../../src/segment/names.js';
import type { Entry } from '../../src/codec/msgpack.js';
import type { WalOptions } from '../../src/wal/options.js';
import { Wal } from '../../src/wal.js';
import { enc, entries, tempParent } from '../helpers.js';

// How new segments are allocated (`preallocate`): zero-filled to the segment size, or empty and growing, and
// `'auto'` choosing by the bytes written per fdatasync. The format is the same either way, so every variant must
// read back what was saved, across cuts, reopens and a torn tail.

const SEGMENT = 512 * 1024;

let t: Awaited<ReturnType<typeof tempParent>>;
beforeEach(async () => {
  t = await tempParent('x-wal-prealloc-');
});
afterEach(async () => {
  await t.cleanup();
});

/** Sizes of the segment files, oldest first. */
async function segmentSizes(dir: string): Promise<number[]> {
  const segs = await listSegments(dir);
  return Promise.all(segs.map(async (s) => (await stat(s.path)).size));
}

/** `got` equals `want` (byte arrays compared with Buffer.equals: deep equality of 1 MB of entries is slow). */
function expectSameEntries(got: readonly Entry[], want: readonly Entry[]): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    expect([g.index, g.term]).toEqual([w.index, w.term]);
    expect(Buffer.from(g.data).equals(Buffer.from(w.data))).toBe(true);
  }
}

/** Saves `count` entries from `from` on, `perSave` per call, each entry `size` bytes; returns the next index. */
async function fill(wal: Wal, from: number, count: number, perSave: number, size: number): Promise<number> {
  let i = from;
  while (i < from + count) {
    const n = Math.min(perSave, from + count - i);
    await wal.saveEntry(entries(i, i + n - 1, 1, size));
    i += n;
  }
  return i;
}

describe('preallocate', () => {
  it("'zero-filled': the first and every later segment are allocated to the segment size", async () => {
    const wal = await Wal.create(t.dir, enc('m'), { segmentSizeBytes: SEGMENT, preallocate: 'zero-filled' });
    // 100 KiB per save: 'auto' would grow the next segment; this mode must not.
    const next = await fill(wal, 1, 1200, 100, 1024);
    const sizes = await segmentSizes(t.dir);
    expect(sizes.length).toBeGreaterThanOrEqual(3);
    // Cut segments are truncated at their last record; the tail keeps its allocation.
    expect(sizes.at(-1)).toBe(SEGMENT);
    await wal.close();
    const r = await Wal.openForRead(t.dir);
    expectSameEntries((await r.readAll()).entries, entries(1, next - 1, 1, 1024));
    await r.close();
  });

  it("'none': segments start empty and grow with the records; a reopen does not allocate either", async () => {
    const o: WalOptions = { segmentSizeBytes: SEGMENT, preallocate: 'none' };
    const wal = await Wal.create(t.dir, enc('m'), o);
    expect(await segmentSizes(t.dir)).toEqual([expect.any(Number)]);
    expect((await segmentSizes(t.dir))[0]).toBeLessThanOrEqual(128);
    const next = await fill(wal, 1, 700, 1, 1024); // small saves: 'auto' would zero-fill
    const sizes = await segmentSizes(t.dir);
    expect(sizes.length).toBeGreaterThanOrEqual(2);
    expect(sizes.at(-1)).toBeLessThan(SEGMENT);
    await wal.close();
    const w2 = await Wal.open(t.dir, undefined, o);
    expectSameEntries((await w2.readAll()).entries, entries(1, next - 1, 1, 1024));
    expect((await segmentSizes(t.dir)).at(-1)).toBe(sizes.at(-1));
    const end = await fill(w2, next, 50, 10, 1024);
    await w2.close();
    const r = await Wal.openForRead(t.dir);
    expectSameEntries((await r.readAll()).entries, entries(1, end - 1, 1, 1024));
    await r.close();
  });

  it("'auto' (the default): small writes get a zero-filled next segment, large writes a growing one", async () => {
    const small = await Wal.create(join(t.parent, 'small'), enc('m'), { segmentSizeBytes: SEGMENT });
    await fill(small, 1, 600, 1, 1024); // ~1 KiB per fdatasync, past one cut
    const smallSizes = await segmentSizes(join(t.parent, 'small'));
    expect(smallSizes.length).toBe(2);
    expect(smallSizes[1]).toBe(SEGMENT);
    await small.close();

    const large = await Wal.create(join(t.parent, 'large'), enc('m'), { segmentSizeBytes: SEGMENT });
    const next = await fill(large, 1, 600, 100, 1024); // ~100 KiB per fdatasync, past one cut
    const largeSizes = await segmentSizes(join(t.parent, 'large'));
    expect(largeSizes.length).toBe(2);
    expect(largeSizes[1]).toBeLessThan(SEGMENT);
    await large.close();
    const r = await Wal.openForRead(join(t.parent, 'large'));
    expectSameEntries((await r.readAll()).entries, entries(1, next - 1, 1, 1024));
    await r.close();
    // No temporary file is left behind by the pipeline.
    expect((await readdir(join(t.parent, 'large'))).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('a torn tail of a growing segment is repairable, and only the torn record is lost', async () => {
    const o: WalOptions = { segmentSizeBytes: SEGMENT, preallocate: 'none' };
    const wal = await Wal.create(t.dir, enc('m'), o);
    await fill(wal, 1, 20, 5, 1024);
    await wal.close();
    const last = (await listSegments(t.dir)).at(-1)!;
    const size = (await stat(last.path)).size;
    await truncate(last.path, size - 300); // the last record loses its end, as a crash mid-append would leave it
    await expect(Wal.open(t.dir, undefined, o)).rejects.toMatchObject({ code: 'ERR_WAL_UNEXPECTED_EOF' });
    expect(await Wal.repair(t.dir)).toBe(true);
    const w2 = await Wal.open(t.dir, undefined, o);
    expectSameEntries((await w2.readAll()).entries, entries(1, 19, 1, 1024));
    await w2.close();
  });

  it('rejects an unknown mode', async () => {
    await expect(Wal.create(t.dir, enc('m'), { preallocate: 'sometimes' as 'none' })).rejects.toMatchObject({
      code: 'ERR_WAL_INVALID_ARGUMENT',
      message: expect.stringContaining('preallocate') as string,
    });
  });
});
