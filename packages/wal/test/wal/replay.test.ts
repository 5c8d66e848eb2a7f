import fc from 'fast-check';
import { unpack } from 'msgpackr';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stat } from 'node:fs/promises';
import { msgpackCodecs, type Entry } from '../../src/codec/msgpack.js';
import { copyOut } from '../../src/codec/slab.js';
import { listSegments } from '../../src/segment/names.js';
import { SegmentScanner } from '../../src/segment/scan.js';
import { RecordType } from '../../src/record/record-type.js';
import { Wal } from '../../src/wal.js';
import { bytesOf, enc, tempParent } from '../helpers.js';

let t: Awaited<ReturnType<typeof tempParent>>;
beforeEach(async () => {
  t = await tempParent('x-wal-replay-');
});
afterEach(async () => {
  await t.cleanup();
});

/** Writes a distinct pattern into every entry's data, then checks each still holds its own: no two overlap. */
function expectDisjoint(es: readonly Entry[]): void {
  es.forEach((e, k) => e.data.fill((k * 31 + 7) & 0xff));
  es.forEach((e, k) => expect(e.data.every((b) => b === ((k * 31 + 7) & 0xff))).toBe(true));
}

describe('slab copies', () => {
  it('copy the bytes, alias neither the source nor each other, small and large', () => {
    const src = bytesOf(100_000, 3);
    const keep = src.slice();
    const sizes = [0, 1, 7, 100, 1000, 16 * 1024, 16 * 1024 + 1, 40_000];
    const copies = sizes.map((n, k) => ({ c: copyOut(src, k * 10, k * 10 + n), k, n }));
    src.fill(0);
    for (const { c, k, n } of copies) {
      expect(c).toBeInstanceOf(Uint8Array);
      expect(c.byteLength).toBe(n);
      expect(c).toEqual(keep.subarray(k * 10, k * 10 + n));
    }
    const many = Array.from({ length: 3000 }, (_, i) => copyOut(keep, i, i + 100)); // crosses slabs
    many.forEach((c, i) => expect(c).toEqual(keep.subarray(i, i + 100)));
    expectDisjoint(many.map((data, index) => ({ index, term: 1, data })));
  });
});

describe('replay', () => {
  it('decodes exactly the entries saved (as msgpackr reads the records), across segments, none aliasing another or a later read', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            size: fc.oneof(fc.nat(120), fc.nat(3000), fc.integer({ min: 16 * 1024 - 4, max: 20_000 })),
            type: fc.option(fc.nat(3), { nil: undefined }),
            term: fc.oneof(fc.nat(5), fc.maxSafeNat()),
          }),
          { minLength: 1, maxLength: 60 },
        ),
        async (specs) => {
          const dir = `${t.dir}-${run++}`;
          const saved: Entry[] = specs.map((s, i) => {
            const e: Entry = { index: i + 1, term: s.term, data: bytesOf(s.size, i + 1) };
            if (s.type !== undefined) e.type = s.type;
            return e;
          });
          const wal = await Wal.create(dir, enc('m'), { segmentSizeBytes: 8 * 1024 });
          for (let i = 0; i < saved.length; i += 7) await wal.saveEntry(saved.slice(i, i + 7));
          await wal.close();
          // An independent decoder over the raw records.
          const reference: Entry[] = [];
          for await (const r of new SegmentScanner(await listSegments(dir)).records()) {
            if (r.type !== RecordType.Entry) continue;
            const a = unpack(r.data ?? new Uint8Array(0)) as [number, number, Uint8Array, number?];
            const e: Entry = { index: a[0], term: a[1], data: new Uint8Array(a[2]) };
            if (a[3] !== undefined) e.type = a[3];
            reference.push(e);
          }
          const r1 = await Wal.openForRead(dir);
          const first = (await r1.readAll()).entries;
          await r1.close();
          expect(first).toEqual(saved);
          expect(first).toEqual(reference);
          for (const e of first) expect(Object.getPrototypeOf(e.data)).toBe(Uint8Array.prototype);
          const r2 = await Wal.openForRead(dir);
          const second = (await r2.readAll()).entries;
          await r2.close();
          expectDisjoint(first);
          expect(second).toEqual(saved); // the first read's data shares nothing with the second's
        },
      ),
      { numRuns: 25 },
    );
  });

  /**
   * Saves 300 entries of 500 B in 5 KB calls into 64 KiB segments, reads them back, and returns them with the
   * segment files' sizes and the first index of the last segment.
   */
  async function savedAndReplayed(
    preallocate: 'auto' | 'none',
  ): Promise<{ entries: Entry[]; sizes: number[]; lastFirstIndex: number }> {
    const wal = await Wal.create(t.dir, enc('m'), { segmentSizeBytes: 64 * 1024, preallocate });
    const saved: Entry[] = Array.from({ length: 300 }, (_, i) => ({
      index: i + 1,
      term: 1,
      data: bytesOf(500, i),
    }));
    for (let i = 0; i < saved.length; i += 10) await wal.saveEntry(saved.slice(i, i + 10));
    await wal.close();
    const segments = await listSegments(t.dir);
    expect(segments.length).toBeGreaterThan(1);
    const sizes = await Promise.all(segments.map(async (s) => (await stat(s.path)).size));
    const r = await Wal.openForRead(t.dir);
    const { entries } = await r.readAll();
    await r.close();
    expect(entries).toEqual(saved);
    expectDisjoint(entries);
    return { entries, sizes, lastFirstIndex: segments[segments.length - 1]?.index ?? 0 };
  }

  it('entries of full segments view the segment buffer; entries of the last segment are copies that pin nothing', async () => {
    const { entries, sizes, lastFirstIndex } = await savedAndReplayed('auto');
    for (const e of entries) {
      const held = e.data.buffer.byteLength;
      if (e.index >= lastFirstIndex) expect(held, `entry ${e.index}`).not.toBe(sizes[sizes.length - 1]);
      else expect(sizes.slice(0, -1), `entry ${e.index}`).toContain(held);
    }
  });

  it('a last segment that ends in records (grown, not preallocated) is viewed like a full one', async () => {
    const { entries, sizes, lastFirstIndex } = await savedAndReplayed('none');
    for (const e of entries.filter((x) => x.index >= lastFirstIndex)) {
      expect(e.data.buffer.byteLength, `entry ${e.index}`).toBe(sizes[sizes.length - 1]);
    }
  });

  it('decodeAt copies unless told it may view', () => {
    const bytes = msgpackCodecs.entry.encode({ index: 1, term: 1, data: bytesOf(50, 1) });
    const copied = msgpackCodecs.entry.decodeAt?.(bytes, 0, bytes.byteLength, false);
    const viewed = msgpackCodecs.entry.decodeAt?.(bytes, 0, bytes.byteLength, true);
    expect(copied?.data.buffer).not.toBe(bytes.buffer);
    expect(viewed?.data.buffer).toBe(bytes.buffer);
    expect(viewed).toEqual(copied);
  });
});
