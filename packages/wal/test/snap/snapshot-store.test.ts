import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SnapshotStore } from '../../src/snap/snapshot-store.js';
import { snapFileName } from '../../src/snap/format.js';
import { WalError } from '../../src/errors.js';
import { bytesOf } from '../helpers.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'x-snap-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const meta = (index: number, term: number) => ({ index, term });
async function collect(stream: NodeJS.ReadableStream): Promise<{ data: Buffer; chunks: number }> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return { data: Buffer.concat(parts), chunks: parts.length };
}

describe('SnapshotStore', () => {
  it('names files %016x-%016x.snap by term and index', () => {
    expect(snapFileName(3, 0x2710)).toBe('0000000000000003-0000000000002710.snap');
    expect(snapFileName(0xafee657a4b52739dn, 1)).toBe('afee657a4b52739d-0000000000000001.snap');
  });

  it('saves and loads the newest snapshot with its metadata and data', async () => {
    const store = await SnapshotStore.open(dir);
    await store.save(meta(10, 1), bytesOf(1000, 1));
    await store.save(meta(20, 2), bytesOf(2000, 2));
    expect(await store.list()).toEqual([snapFileName(2, 20), snapFileName(1, 10)]);
    const snap = await store.load();
    expect(snap?.metadata).toMatchObject({ index: 20, term: 2 });
    expect(snap?.dataSize).toBe(2000);
    expect(Buffer.from(await snap!.bytes()).equals(Buffer.from(bytesOf(2000, 2)))).toBe(true);
    // No temporary file is left behind.
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('writes from a stream and reads back as a stream of chunks, never one giant buffer', async () => {
    const store = await SnapshotStore.open(dir);
    const chunk = 256 * 1024;
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 24; i++) yield bytesOf(chunk, i + 1);
    }
    await store.save(meta(100, 4), source());
    const snap = await store.load();
    expect(snap?.dataSize).toBe(24 * chunk);
    const { data, chunks } = await collect(snap!.stream());
    expect(chunks).toBeGreaterThan(1);
    const expected = Buffer.concat(Array.from({ length: 24 }, (_, i) => Buffer.from(bytesOf(chunk, i + 1))));
    expect(data.equals(expected)).toBe(true);
  });

  it('sets a corrupt newest file aside as .broken and falls back to the next older one', async () => {
    const warnings: unknown[] = [];
    const store = await SnapshotStore.open(dir, { logger: { warn: (o) => warnings.push(o) } });
    await store.save(meta(10, 1), bytesOf(5000, 1));
    const newest = await store.save(meta(20, 1), bytesOf(5000, 2));
    const raw = await readFile(newest);
    raw[2000] = (raw[2000] ?? 0) ^ 0x01; // one bit of rot in the data
    await writeFile(newest, raw);
    const snap = await store.load();
    expect(snap?.metadata).toMatchObject({ index: 10, term: 1 });
    const names = await readdir(dir);
    expect(names).toContain(`${snapFileName(1, 20)}.broken`);
    expect(names).not.toContain(snapFileName(1, 20));
    expect(warnings).toHaveLength(1);
    expect(JSON.stringify(warnings[0])).toContain('CRC mismatch');
  });

  it('treats a truncated file as corrupt', async () => {
    const store = await SnapshotStore.open(dir);
    const f = await store.save(meta(5, 1), bytesOf(4000, 3));
    await truncate(f, 3000);
    expect(await store.load()).toBeUndefined();
    expect(await readdir(dir)).toEqual([`${snapFileName(1, 5)}.broken`]);
  });

  it('loadNewestAvailable passes over a snapshot the WAL has no record of (crash between save and saveSnap)', async () => {
    const store = await SnapshotStore.open(dir);
    await store.save(meta(10, 1), bytesOf(100, 1));
    await store.save(meta(20, 2), bytesOf(100, 2)); // the WAL record for this one never made it
    const chosen = await store.loadNewestAvailable([meta(0, 0), meta(10, 1)]);
    expect(chosen?.metadata).toMatchObject({ index: 10, term: 1 });
    expect(await store.loadNewestAvailable([meta(0, 0)])).toBeUndefined();
    // Nothing was set aside: the newer file is intact, just not usable yet.
    expect(await store.list()).toHaveLength(2);
  });

  it('purge keeps the newest N', async () => {
    const store = await SnapshotStore.open(dir);
    for (let i = 1; i <= 5; i++) await store.save(meta(i * 10, 1), bytesOf(10, i));
    const removed = await store.purge(2);
    expect(removed).toEqual([snapFileName(1, 30), snapFileName(1, 20), snapFileName(1, 10)]);
    expect(await store.list()).toEqual([snapFileName(1, 50), snapFileName(1, 40)]);
    await expect(store.purge(-1)).rejects.toBeInstanceOf(WalError);
  });

  it('removes temporary files a crash left mid-save when opened', async () => {
    await writeFile(join(dir, `${snapFileName(1, 9)}.tmp`), 'partial');
    const store = await SnapshotStore.open(dir);
    expect(await readdir(dir)).toEqual([]);
    expect(await store.load()).toBeUndefined();
  });

  it('stream() fails at its end when the data changed after the check', async () => {
    const store = await SnapshotStore.open(dir);
    const f = await store.save(meta(7, 1), bytesOf(3 << 20, 9));
    const snap = await store.load();
    const raw = await readFile(f);
    raw[100] = (raw[100] ?? 0) ^ 0xff;
    await writeFile(f, raw);
    await expect(collect(snap!.stream())).rejects.toMatchObject({ code: 'ERR_WAL_CRC_MISMATCH' });
    await expect(snap!.bytes()).rejects.toMatchObject({ code: 'ERR_WAL_CRC_MISMATCH' });
  });

  it('rejects chunks that are not bytes without leaving a file', async () => {
    const store = await SnapshotStore.open(dir);
    await expect(store.save(meta(1, 1), ['nope' as unknown as Uint8Array])).rejects.toBeInstanceOf(WalError);
    expect(await readdir(dir)).toEqual([]);
  });

  it('readFile checks one file under any name (a backup copy) and names the problem of a corrupt one', async () => {
    const store = await SnapshotStore.open(dir);
    const saved = await store.save(meta(30, 3), bytesOf(5000, 3));
    const copy = join(dir, 'backup-copy.bin');
    const bytes = await readFile(saved);
    await writeFile(copy, bytes);
    const snap = await SnapshotStore.readFile(copy);
    expect(snap.metadata).toMatchObject({ index: 30, term: 3 });
    expect(Buffer.from(await snap.bytes()).equals(Buffer.from(bytesOf(5000, 3)))).toBe(true);
    bytes[100] = bytes[100]! ^ 0xff;
    await writeFile(copy, bytes);
    const err = await SnapshotStore.readFile(copy).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WalError);
    expect(err).toMatchObject({
      code: 'ERR_WAL_CRC_MISMATCH',
      message: expect.stringContaining('crc at byte offset') as string,
    });
    await expect(SnapshotStore.readFile(join(dir, 'missing.snap'))).rejects.toMatchObject({
      code: 'ERR_WAL_FILE_NOT_FOUND',
    });
    expect(await readdir(dir)).toContain('backup-copy.bin'); // never set aside: it is not the store's
  });
});
