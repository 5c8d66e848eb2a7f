import { readFile, writeFile } from 'node:fs/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The built package: the CRC worker runs from dist/ (from TypeScript sources there is no worker script to start).
import { Wal, WalError, type Entry } from '@x/wal';
import { listSegments } from '../../src/segment/names.js';
import { bytesOf, enc, tempParent } from '../helpers.js';

// A read with the full segments' CRCs checked on a worker thread (crcWorker 'always') must give exactly what the
// sequential read gives ('never'): the same entries and state, or the same error (code, file, offset) for any
// corruption: the first in file order, a CRC mismatch before what decoding the damaged record would find.
// fast-check prints the seed and path of a failing run; rerun with fc.assert's { seed, path }.

const SEGMENT = 16 * 1024;
let t: Awaited<ReturnType<typeof tempParent>>;
let segments: string[];
let pristine: Map<string, Buffer>;

beforeAll(async () => {
  t = await tempParent('x-wal-crc-offload-');
  const wal = await Wal.create(t.dir, enc('meta'), { segmentSizeBytes: SEGMENT });
  for (let i = 1; i <= 300; i += 5) {
    const es: Entry[] = [];
    for (let k = i; k < i + 5; k++)
      es.push({ index: k, term: 1 + (k >> 7), data: bytesOf(40 + (k % 300), k) });
    await wal.save({ term: 1 + ((i + 4) >> 7), vote: 1, commit: Math.max(0, i - 3) }, es);
  }
  await wal.close();
  segments = (await listSegments(t.dir)).map((s) => s.path);
  pristine = new Map(await Promise.all(segments.map(async (p) => [p, await readFile(p)] as const)));
});
afterAll(async () => {
  await t.cleanup();
});

type Outcome =
  | { ok: true; entries: number; lastIndex: number; digest: string; state: unknown }
  | { ok: false; code: string; file: string | undefined; offset: number | undefined };

async function readWith(crcWorker: 'never' | 'always', how: 'read' | 'open' | 'verify'): Promise<Outcome> {
  try {
    if (how === 'verify') {
      const state = await Wal.verify(t.dir, undefined, { crcWorker });
      return { ok: true, entries: 0, lastIndex: 0, digest: '', state };
    }
    const wal =
      how === 'read'
        ? await Wal.openForRead(t.dir, undefined, { crcWorker })
        : await Wal.open(t.dir, undefined, { crcWorker, segmentSizeBytes: SEGMENT });
    const { entries, state } = await wal.readAll();
    await wal.close();
    let h = 0;
    for (const e of entries) for (const b of e.data) h = (h * 31 + b) >>> 0;
    return {
      ok: true,
      entries: entries.length,
      lastIndex: entries.at(-1)?.index ?? 0,
      digest: String(h),
      state,
    };
  } catch (err) {
    if (!(err instanceof WalError)) throw err;
    return { ok: false, code: err.code, file: err.file, offset: err.offset };
  }
}

async function restore(): Promise<void> {
  for (const [p, bytes] of pristine) await writeFile(p, bytes);
}

describe('CRC checks on a worker thread', () => {
  it('reads the same entries and state as the sequential read, and the WAL appends on', async () => {
    expect(segments.length).toBeGreaterThanOrEqual(4);
    const seq = await readWith('never', 'read');
    expect(seq).toMatchObject({ ok: true, entries: 300, lastIndex: 300 });
    expect(await readWith('always', 'read')).toEqual(seq);
    expect(await readWith('always', 'verify')).toEqual(await readWith('never', 'verify'));
    // Opened for writing (which may zero-fill the tail: restored after).
    try {
      expect(await readWith('always', 'open')).toEqual(seq);
    } finally {
      await restore();
    }
  });

  it('gives the sequential read’s result for any one damaged byte (fast-check)', async () => {
    const sizes = segments.map((p) => (pristine.get(p) as Buffer).byteLength);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: segments.length - 1 }),
        // Unbiased: a uniform byte of the segment, not mostly its first or last ones.
        fc.noBias(fc.nat({ max: 1 << 30 })),
        fc.integer({ min: 1, max: 255 }),
        fc.constantFrom('read' as const, 'verify' as const),
        async (seg, where, xor, how) => {
          const path = segments[seg] as string;
          const bytes = Buffer.from(pristine.get(path) as Buffer);
          const at = where % (sizes[seg] as number);
          bytes[at] = (bytes[at] as number) ^ xor;
          await writeFile(path, bytes);
          try {
            const seq = await readWith('never', how);
            const par = await readWith('always', how);
            expect(par, `segment ${seg} byte ${at} ^ ${xor}, ${how}`).toEqual(seq);
          } finally {
            await writeFile(path, pristine.get(path) as Buffer);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('reports a damaged data byte of each full segment as the sequential read does (a CRC mismatch)', async () => {
    for (const path of segments.slice(0, -1)) {
      const bytes = Buffer.from(pristine.get(path) as Buffer);
      const mid = bytes.byteLength >> 1;
      bytes[mid] = (bytes[mid] as number) ^ 0x10;
      await writeFile(path, bytes);
      try {
        const seq = await readWith('never', 'read');
        expect(seq).toMatchObject({ ok: false, code: 'ERR_WAL_CRC_MISMATCH', file: path });
        expect(await readWith('always', 'read')).toEqual(seq);
      } finally {
        await restore();
      }
    }
  });

  it('reports the earliest of two errors in different segments, as the sequential read does', async () => {
    try {
      // Damage the data of a record late in segment 2 and the framing early in segment 1.
      const s1 = Buffer.from(pristine.get(segments[1] as string) as Buffer);
      const s2 = Buffer.from(pristine.get(segments[2] as string) as Buffer);
      s1[200] = (s1[200] as number) ^ 0xff;
      s2[s2.byteLength >> 1] = (s2[s2.byteLength >> 1] as number) ^ 0x01;
      await writeFile(segments[1] as string, s1);
      await writeFile(segments[2] as string, s2);
      const seq = await readWith('never', 'read');
      expect(seq).toMatchObject({ ok: false, file: segments[1] });
      expect(await readWith('always', 'read')).toEqual(seq);
    } finally {
      await restore();
    }
  });

  it('rejects an unknown mode', async () => {
    await expect(
      Wal.openForRead(t.dir, undefined, { crcWorker: 'sometimes' as 'never' }),
    ).rejects.toMatchObject({ code: 'ERR_WAL_INVALID_ARGUMENT' });
  });
});
