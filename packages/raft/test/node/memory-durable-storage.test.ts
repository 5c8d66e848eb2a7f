import { describe, expect, it } from 'vitest';
import { isRaftError } from '../../src/errors.js';
import { MemoryDurableStorage } from '../../src/node/memory-durable-storage.js';
import type { Entry } from '../../src/raftpb/types.js';

const ent = (index: number, term = 1, text = `e${index}`): Entry => ({
  index,
  term,
  type: 0,
  data: new TextEncoder().encode(text),
});
const indexes = async (s: MemoryDurableStorage): Promise<number[]> =>
  (await s.readAll()).entries.map((e) => e.index);
const isStopped = (e: unknown): boolean => isRaftError(e, 'ERR_STOPPED');

describe('MemoryDurableStorage', () => {
  it('starts empty', async () => {
    expect(await new MemoryDurableStorage().readAll()).toEqual({ state: undefined, entries: [] });
  });

  it('a save with entries, or a new term or vote, survives a crash once its promise resolved', async () => {
    const s = new MemoryDurableStorage();
    await s.save({ term: 1, vote: 2, commit: 0 }, [ent(1), ent(2)]);
    await s.save({ term: 2, vote: 3, commit: 0 }, []);
    const after = s.crash();
    expect(await after.readAll()).toEqual({
      state: { term: 2, vote: 3, commit: 0 },
      entries: [ent(1), ent(2)],
    });
  });

  it('a commit-only hard state is written, but lost in a crash until a sync covers it (MustSync)', async () => {
    const s = new MemoryDurableStorage();
    await s.save({ term: 1, vote: 1, commit: 0 }, [ent(1), ent(2)]);
    await s.save({ term: 1, vote: 1, commit: 2 }, []); // resolves without a sync
    expect((await s.readAll()).state).toEqual({ term: 1, vote: 1, commit: 2 });
    const reopened = s.reopen(); // a process restart: the written state is there
    expect((await reopened.readAll()).state?.commit).toBe(2);

    const t = new MemoryDurableStorage();
    await t.save({ term: 1, vote: 1, commit: 0 }, [ent(1)]);
    await t.save({ term: 1, vote: 1, commit: 1 }, []);
    expect((await t.crash().readAll()).state?.commit).toBe(0); // a power loss: not synced

    const u = new MemoryDurableStorage();
    await u.save({ term: 1, vote: 1, commit: 0 }, [ent(1)]);
    await u.save({ term: 1, vote: 1, commit: 1 }, []);
    await u.sync();
    expect((await u.crash().readAll()).state?.commit).toBe(1);
  });

  it('a save whose sync had not returned at the crash rejects, and the crash image lacks it', async () => {
    const s = new MemoryDurableStorage({ syncDelayMs: 50 });
    await s.save({ term: 1, vote: 1, commit: 0 }, [ent(1)]);
    const pending = s.save(undefined, [ent(2)]);
    const after = s.crash();
    await expect(pending).rejects.toSatisfy(isStopped);
    expect(await indexes(after)).toEqual([1]);
  });

  it('the crashed instance rejects every later call, and its close() does nothing', async () => {
    const s = new MemoryDurableStorage();
    s.crash();
    await expect(s.save(undefined, [ent(1)])).rejects.toSatisfy(isStopped);
    await expect(s.readAll()).rejects.toSatisfy(isStopped);
    await expect(s.sync()).rejects.toSatisfy(isStopped);
    await expect(s.close()).resolves.toBeUndefined();
    expect(() => s.crash()).toThrow(/already crashed/);
  });

  it('writing entry i replaces i and every later entry', async () => {
    const s = new MemoryDurableStorage();
    await s.save(undefined, [ent(1), ent(2), ent(3), ent(4)]);
    await s.save(undefined, [ent(3, 2, 'new3')]);
    const { entries } = await s.crash().readAll();
    expect(entries.map((e) => [e.index, e.term])).toEqual([
      [1, 1],
      [2, 1],
      [3, 2],
    ]);
  });

  it('refuses a gap with ERR_LOG_CORRUPT', async () => {
    const s = new MemoryDurableStorage();
    await s.save(undefined, [ent(1)]);
    await expect(s.save(undefined, [ent(3)])).rejects.toSatisfy((e: unknown) =>
      isRaftError(e, 'ERR_LOG_CORRUPT'),
    );
  });

  it('release drops the entries a synced snapshot record covers; the record is listed', async () => {
    const s = new MemoryDurableStorage();
    await s.save(
      { term: 1, vote: 1, commit: 5 },
      [1, 2, 3, 4, 5].map((i) => ent(i)),
    );
    const snap = {
      index: 3,
      term: 1,
      confState: { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
    };
    await s.saveSnap(snap);
    await s.release(snap);
    const after = s.crash();
    expect(await indexes(after)).toEqual([4, 5]);
    expect(after.snapshotRecords()).toEqual([snap]);
    // Entries continue after the snapshot even when every entry was released.
    await after.release({ ...snap, index: 5 });
    await expect(after.save(undefined, [ent(6)])).resolves.toBeUndefined();
  });

  it('promises settle in call order', async () => {
    const s = new MemoryDurableStorage({ syncDelayMs: 5 });
    const order: string[] = [];
    await Promise.all([
      s.save({ term: 1, vote: 1, commit: 0 }, [ent(1)]).then(() => order.push('a')),
      s.save({ term: 1, vote: 1, commit: 1 }, []).then(() => order.push('b (commit-only)')),
      s.save(undefined, [ent(2)]).then(() => order.push('c')),
      s.sync().then(() => order.push('d')),
    ]);
    expect(order).toEqual(['a', 'b (commit-only)', 'c', 'd']);
  });

  it('failWrites makes every later write fail (a failed fsync is fatal)', async () => {
    const s = new MemoryDurableStorage();
    await s.save(undefined, [ent(1)]);
    s.failWrites(new Error('injected EIO'));
    await expect(s.save(undefined, [ent(2)])).rejects.toThrow('injected EIO');
    await expect(s.sync()).rejects.toThrow('injected EIO');
    expect(await indexes(s.crash())).toEqual([1]);
  });

  it('close syncs what is pending; a closed storage rejects writes', async () => {
    const s = new MemoryDurableStorage();
    await s.save({ term: 1, vote: 1, commit: 0 }, [ent(1)]);
    await s.save({ term: 1, vote: 1, commit: 1 }, []);
    await s.close();
    await expect(s.save(undefined, [ent(2)])).rejects.toSatisfy(isStopped);
    expect((await s.crash().readAll()).state?.commit).toBe(1);
  });

  it('rejects a negative syncDelayMs', () => {
    expect(() => new MemoryDurableStorage({ syncDelayMs: -1 })).toThrow(/syncDelayMs/);
  });
});
