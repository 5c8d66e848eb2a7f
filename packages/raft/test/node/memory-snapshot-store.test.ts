import { describe, expect, it } from 'vitest';
import { isRaftError } from '../../src/errors.js';
import { MemorySnapshotStore } from '../../src/node/memory-snapshot-store.js';
import { emptyConfState, type SnapshotMetadata } from '../../src/raftpb/types.js';

const meta = (index: number, term = 1): SnapshotMetadata => ({ index, term, confState: emptyConfState() });
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = async (
  p: Promise<{ bytes(): Promise<Uint8Array> } | undefined>,
): Promise<string | undefined> => {
  const got = await p;
  return got === undefined ? undefined : new TextDecoder().decode(await got.bytes());
};

describe('MemorySnapshotStore', () => {
  it('loads the newest snapshot; saves chunked payloads whole', async () => {
    const s = new MemorySnapshotStore();
    expect(await s.load()).toBeUndefined();
    await s.save(meta(10), bytes('ten'));
    await s.save(meta(20), [bytes('twe'), bytes('nty')]);
    await s.save(meta(15), bytes('fifteen'));
    expect((await s.load())?.metadata.index).toBe(20);
    expect(await text(s.load())).toBe('twenty');
    const chunks: Uint8Array[] = [];
    for await (const c of (await s.load())!.stream()) chunks.push(c);
    expect(new TextDecoder().decode(Buffer.concat(chunks))).toBe('twenty');
  });

  it('purge keeps the newest `keep`', async () => {
    const s = new MemorySnapshotStore();
    for (const i of [1, 2, 3, 4]) await s.save(meta(i), bytes(`s${i}`));
    expect((await s.purge(2)).map((m) => m.index)).toEqual([1, 2]);
    expect(s.list().map((m) => m.index)).toEqual([3, 4]);
    await expect(s.purge(-1)).rejects.toSatisfy((e: unknown) => isRaftError(e, 'ERR_CONFIG_INVALID'));
  });

  it('a snapshot being saved when the store crashes is lost whole; the rest survive', async () => {
    const s = new MemorySnapshotStore();
    await s.save(meta(5), bytes('five'));
    const saving = s.save(meta(9), bytes('nine'));
    const after = s.crash();
    await expect(saving).rejects.toSatisfy((e: unknown) => isRaftError(e, 'ERR_STOPPED'));
    expect(after.list().map((m) => m.index)).toEqual([5]);
    await expect(s.load()).rejects.toSatisfy((e: unknown) => isRaftError(e, 'ERR_STOPPED'));
  });

  it('loadNewestAvailable passes over a snapshot the storage has no record of', async () => {
    const s = new MemorySnapshotStore();
    await s.save(meta(5, 1), bytes('five'));
    await s.save(meta(9, 2), bytes('nine'));
    expect(await text(s.loadNewestAvailable([meta(5, 1)]))).toBe('five');
    expect(await text(s.loadNewestAvailable([meta(5, 1), meta(9, 2)]))).toBe('nine');
    expect(await s.loadNewestAvailable([meta(9, 1)])).toBeUndefined(); // same index, other term
  });
});
