import { performance } from 'node:perf_hooks';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { FileHandle } from 'node:fs/promises';
import { msgpackCodecs, type Entry, type HardState, type Snapshot } from '../../src/codec/msgpack.js';
import type { Codecs, EntryCodec } from '../../src/codec/types.js';
import { fileIo } from '../../src/fs/file-io.js';
import { Wal } from '../../src/wal.js';
import { SMALL, enc, entries, tempParent } from '../helpers.js';

/** The codec with only encode, decode and index (no encodedSize, encodeInto, decodeAt). */
const withoutHooks = (c: EntryCodec<Entry>): EntryCodec<Entry> => ({
  encode: (e) => c.encode(e),
  decode: (b) => c.decode(b),
  index: (e) => c.index(e),
});

/** The codec with its fast-path hooks copied as ordinary properties (a spread leaves them out). */
const withHooks = (c: EntryCodec<Entry>): EntryCodec<Entry> => ({
  ...withoutHooks(c),
  encodedSize: (e) => c.encodedSize!(e),
  encodeInto: (e, buf, offset) => c.encodeInto!(e, buf, offset),
});

let t: Awaited<ReturnType<typeof tempParent>>;
const realIo = { ...fileIo };
beforeEach(async () => {
  t = await tempParent();
});
afterEach(async () => {
  Object.assign(fileIo, realIo);
  await t.cleanup();
});

describe('group commit', () => {
  it('N concurrent saves share writes and fdatasyncs, and all are durable', async () => {
    let syncs = 0;
    const wal = await Wal.create(t.dir, enc('m'), {
      ...SMALL,
      segmentSizeBytes: 1 << 20,
      onFsync: () => syncs++,
    });
    const n = 64;
    await Promise.all(Array.from({ length: n }, (_, k) => wal.saveEntry(entries(k + 1, k + 1))));
    expect(syncs).toBeGreaterThanOrEqual(1);
    expect(syncs).toBeLessThan(n / 4);
    await wal.close();
    const r = await Wal.openForRead(t.dir);
    expect((await r.readAll()).entries).toEqual(entries(1, n));
    await r.close();
  });

  it('resolves promises in call order, and only after fdatasync returned', async () => {
    const order: string[] = [];
    const wal = await Wal.create(t.dir, enc('m'), { ...SMALL, segmentSizeBytes: 1 << 20 });
    const realSync = fileIo.datasync.bind(fileIo);
    // For each fdatasync: the number of calls issued when it started, once it has returned.
    const covered: number[] = [];
    let issued = 0;
    fileIo.datasync = async (fh: FileHandle) => {
      const callsBefore = issued;
      await realSync(fh);
      covered.push(callsBefore);
    };
    const calls: Promise<void>[] = [];
    for (let k = 1; k <= 10; k++) {
      issued = k;
      calls.push(
        wal.saveEntry(entries(k, k)).then(() => {
          order.push(`save-${k}`);
          // An fdatasync that started after call k was made (so after its bytes were written) has returned.
          expect(covered.some((n) => n >= k)).toBe(true);
        }),
      );
      if (k % 3 === 0) await Promise.resolve(); // some calls arrive while a flush is in flight
    }
    calls.push(wal.sync().then(() => void order.push('sync-call')));
    await Promise.all(calls);
    expect(order).toEqual([...Array.from({ length: 10 }, (_, k) => `save-${k + 1}`), 'sync-call']);
    await wal.close();
  });

  it('settles a later batch after an earlier one, whatever order the handlers were attached in', async () => {
    const wal = await Wal.create(t.dir, enc('m'), SMALL);
    const first = wal.saveEntry(entries(1, 1));
    await Promise.resolve(); // the first flush has taken call 1: calls 2 and 3 gather into the next batch
    const second = wal.saveEntry(entries(2, 2));
    const third = wal.saveEntry(entries(3, 3));
    const order: string[] = [];
    // Handlers attached last call first: the batches still settle in call order.
    const done = [
      third.then(() => void order.push('third')),
      second.then(() => void order.push('second')),
      first.then(() => void order.push('first')),
    ];
    await Promise.all(done);
    expect(order).toEqual(['first', 'third', 'second']);
    // Calls that shared a write share its promise.
    expect(second).toBe(third);
    expect(first).not.toBe(second);
    await wal.close();
  });

  it('MustSync: a commit-only state is written but not synced; a term or vote change and sync() are', async () => {
    let syncs = 0;
    const wal = await Wal.create(t.dir, enc('m'), { ...SMALL, onFsync: () => syncs++ });
    await wal.saveState({ term: 1, vote: 1, commit: 0 });
    const afterVote = syncs;
    expect(afterVote).toBe(1);
    await wal.saveState({ term: 1, vote: 1, commit: 5 });
    expect(syncs).toBe(afterVote);
    await wal.sync();
    expect(syncs).toBe(afterVote + 1);
    await wal.saveState({ term: 2, vote: 1, commit: 5 });
    expect(syncs).toBe(afterVote + 2);
    await wal.save({ term: 2, vote: 1, commit: 6 }, entries(1, 1));
    expect(syncs).toBe(afterVote + 3);
    await wal.saveSnap({ index: 0, term: 0 });
    expect(syncs).toBe(afterVote + 4);
    // An empty state and no entries writes nothing.
    await wal.save({ term: 0, vote: 0, commit: 0 }, []);
    expect(syncs).toBe(afterVote + 4);
    await wal.close();
    expect(await Wal.verify(t.dir)).toEqual({ term: 2, vote: 1, commit: 6 });
  });
});

describe('fsync observability', () => {
  it('reports every fdatasync duration and warns when one takes over 1 s', async () => {
    const durations: number[] = [];
    const warnings: Record<string, unknown>[] = [];
    const wal = await Wal.create(t.dir, enc('m'), {
      ...SMALL,
      onFsync: (ms) => durations.push(ms),
      logger: { warn: (obj) => warnings.push(obj) },
    });
    await wal.saveEntry(entries(1, 1));
    expect(durations.length).toBe(1);
    expect(warnings).toEqual([]);
    // A slow disk: the clock advances 1.5 s across the next fdatasync.
    let skew = 0;
    const realNow = performance.now.bind(performance);
    const spy = vi.spyOn(performance, 'now').mockImplementation(() => realNow() + skew);
    fileIo.datasync = async (fh: FileHandle) => {
      await realIo.datasync(fh);
      skew += 1500;
    };
    await wal.saveEntry(entries(2, 2));
    spy.mockRestore();
    expect(durations.at(-1)).toBeGreaterThanOrEqual(1500);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ file: expect.stringContaining('.wal') as string });
    await wal.close();
  });
});

describe('failures', () => {
  it('inline mode: fdatasyncSync runs on the main thread, never the pool, before each save resolves, in order', async () => {
    const wal = await Wal.create(t.dir, enc('m'), { ...SMALL, syncMode: 'inline' });
    let inline = 0;
    let pooled = 0;
    fileIo.datasync = async (fh: FileHandle) => {
      pooled++;
      await realIo.datasync(fh);
    };
    fileIo.datasyncInline = (fh: FileHandle) => {
      inline++;
      realIo.datasyncInline(fh);
    };
    const order: number[] = [];
    await Promise.all(
      [1, 2, 3].map((i) => wal.saveEntry(entries(i, i)).then(() => order.push(inline === 0 ? -i : i))),
    );
    expect(order).toEqual([1, 2, 3]);
    expect(pooled).toBe(0);
    await wal.close();
    await expect(
      Wal.create(`${t.dir}-x`, enc('m'), { syncMode: 'sometimes' as 'inline' }),
    ).rejects.toMatchObject({ code: 'ERR_WAL_INVALID_ARGUMENT' });
  });

  it.each(['threadpool', 'inline'] as const)(
    'a failed fdatasync (%s) fails the WAL: that save and every later call reject ERR_WAL_FAILED, no retry',
    async (syncMode) => {
      const wal = await Wal.create(t.dir, enc('m'), { ...SMALL, syncMode });
      await wal.saveEntry(entries(1, 1));
      let attempts = 0;
      const eio = (): never => {
        attempts++;
        throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
      };
      fileIo.datasync = async () => eio();
      fileIo.datasyncInline = eio;
      const failing = wal.saveEntry(entries(2, 2));
      const queued = wal.saveEntry(entries(3, 3));
      await expect(failing).rejects.toMatchObject({ code: 'ERR_WAL_FAILED' });
      await expect(queued).rejects.toMatchObject({ code: 'ERR_WAL_FAILED' });
      await expect(wal.saveEntry(entries(4, 4))).rejects.toMatchObject({ code: 'ERR_WAL_FAILED' });
      await expect(wal.sync()).rejects.toMatchObject({ code: 'ERR_WAL_FAILED' });
      await expect(wal.saveSnap({ index: 1, term: 1 })).rejects.toMatchObject({ code: 'ERR_WAL_FAILED' });
      await wal.close(); // closes files without syncing again
      expect(attempts).toBe(1);
      Object.assign(fileIo, realIo);
      // What was acknowledged is there.
      const r = await Wal.openForRead(t.dir);
      expect((await r.readAll()).entries.slice(0, 1)).toEqual(entries(1, 1));
      await r.close();
    },
  );

  it('a failed write fails the WAL too', async () => {
    const wal = await Wal.create(t.dir, enc('m'), SMALL);
    fileIo.writeAll = () => {
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    };
    const err = await wal.saveEntry(entries(1, 1)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_WAL_FAILED' });
    expect((err as Error).message).toContain('ENOSPC');
    expect((err as Error).cause).toMatchObject({ code: 'ENOSPC' });
    await expect(wal.saveEntry(entries(1, 1))).rejects.toMatchObject({ code: 'ERR_WAL_FAILED' });
    await wal.close();
  });

  it.each(['encode', 'encodedSize', 'encodeInto'] as const)(
    'a codec whose %s throws rejects that call with ERR_WAL_CODEC and leaves the WAL usable',
    async (hook) => {
      let explode = false;
      const codecs: Codecs<Entry, HardState, Snapshot> = {
        ...msgpackCodecs,
        entry: {
          ...(hook === 'encode' ? withoutHooks(msgpackCodecs.entry) : withHooks(msgpackCodecs.entry)),
          [hook]: (...args: Parameters<typeof msgpackCodecs.entry.encode>) => {
            if (explode) throw new Error('boom');
            return (msgpackCodecs.entry[hook] as (...a: unknown[]) => unknown)(...args);
          },
          decode: (b) => {
            if (explode) throw new Error('cannot decode');
            return msgpackCodecs.entry.decode(b);
          },
          decodeAt: (b, start, end) => {
            if (explode) throw new Error('cannot decode');
            return msgpackCodecs.entry.decode(b.subarray(start, end));
          },
        },
      };
      const wal = await Wal.create(t.dir, enc('m'), { ...SMALL, codecs });
      await wal.saveEntry(entries(1, 2));
      explode = true;
      await expect(wal.saveEntry(entries(3, 4))).rejects.toMatchObject({ code: 'ERR_WAL_CODEC' });
      explode = false;
      await wal.saveEntry(entries(3, 4));
      await wal.close();
      const r = await Wal.openForRead(t.dir, undefined, { codecs });
      expect((await r.readAll()).entries).toEqual(entries(1, 4));
      await r.close();
      explode = true;
      const err = await Wal.openForRead(t.dir, undefined, { codecs }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'ERR_WAL_CODEC', offset: expect.any(Number) as number });
      expect((err as Error).message).toContain('cannot decode');
    },
  );

  it('bad arguments get ERR_WAL_INVALID_ARGUMENT', async () => {
    await expect(Wal.create('', enc('m'))).rejects.toMatchObject({ code: 'ERR_WAL_INVALID_ARGUMENT' });
    await expect(Wal.create(t.dir, 'x' as unknown as Uint8Array)).rejects.toMatchObject({
      code: 'ERR_WAL_INVALID_ARGUMENT',
    });
    await expect(Wal.create(t.dir, enc('m'), { segmentSizeBytes: 1 })).rejects.toMatchObject({
      code: 'ERR_WAL_INVALID_ARGUMENT',
    });
    const wal = await Wal.create(t.dir, enc('m'), SMALL);
    await expect(wal.saveEntry([{ index: -1, term: 1, data: enc('x') }])).rejects.toMatchObject({
      code: 'ERR_WAL_INVALID_ARGUMENT',
    });
    await expect(
      wal.saveEntry([{ index: 1, term: 1, data: 'x' as unknown as Uint8Array }]),
    ).rejects.toMatchObject({
      code: 'ERR_WAL_CODEC',
    });
    await wal.close();
  });
});
