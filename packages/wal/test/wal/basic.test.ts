import { readdir } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Wal } from '../../src/wal.js';
import { WalError } from '../../src/errors.js';
import { SMALL, enc, entries, tempParent } from '../helpers.js';

let t: Awaited<ReturnType<typeof tempParent>>;
beforeEach(async () => {
  t = await tempParent();
});
afterEach(async () => {
  await t.cleanup();
});

describe('Wal create/open/save/readAll/close', () => {
  it('round-trips metadata, the last state and entries through close and reopen', async () => {
    const wal = await Wal.create(t.dir, enc('somedata'), SMALL);
    await wal.save({ term: 1, vote: 2, commit: 0 }, entries(1, 5));
    await wal.saveEntry(entries(6, 10));
    await wal.saveState({ term: 1, vote: 2, commit: 7 });
    await wal.close();
    const again = await Wal.open(t.dir, undefined, SMALL);
    const got = await again.readAll();
    expect(new TextDecoder().decode(got.metadata)).toBe('somedata');
    expect(got.state).toEqual({ term: 1, vote: 2, commit: 7 });
    expect(got.entries).toEqual(entries(1, 10));
    await again.close();
  });

  it('refuses to create over an existing WAL (ERR_WAL_EXISTS)', async () => {
    const wal = await Wal.create(t.dir, enc('a'), SMALL);
    await wal.close();
    await expect(Wal.create(t.dir, enc('a'), SMALL)).rejects.toMatchObject({ code: 'ERR_WAL_EXISTS' });
    expect(await Wal.exist(t.dir)).toBe(true);
    expect(await Wal.exist(`${t.dir}-none`)).toBe(false);
  });

  it('leaves no temporary directory and names the first segment 0-0', async () => {
    const wal = await Wal.create(t.dir, enc('a'), SMALL);
    await wal.close();
    expect(await readdir(t.parent)).toEqual(['wal']);
    expect((await readdir(t.dir)).filter((n) => n.endsWith('.wal'))).toEqual([
      '0000000000000000-0000000000000000.wal',
    ]);
  });

  it('appends after reopening and keeps the chain valid', async () => {
    let wal = await Wal.create(t.dir, enc('m'), SMALL);
    await wal.saveEntry(entries(1, 3));
    await wal.close();
    wal = await Wal.open(t.dir, undefined, SMALL);
    await wal.readAll();
    await wal.saveEntry(entries(4, 6));
    await wal.close();
    expect(await Wal.verify(t.dir)).toBeUndefined();
    const r = await Wal.openForRead(t.dir);
    expect((await r.readAll()).entries).toEqual(entries(1, 6));
    await r.close();
  });

  it('rejects calls after close with ERR_WAL_CLOSED and read-only calls with ERR_WAL_INVALID_ARGUMENT', async () => {
    const wal = await Wal.create(t.dir, enc('m'), SMALL);
    await wal.close();
    await expect(wal.saveEntry(entries(1, 1))).rejects.toMatchObject({ code: 'ERR_WAL_CLOSED' });
    const r = await Wal.openForRead(t.dir);
    await expect(r.saveEntry(entries(1, 1))).rejects.toBeInstanceOf(WalError);
    await expect(r.sync()).rejects.toMatchObject({ code: 'ERR_WAL_INVALID_ARGUMENT' });
    await r.close();
  });

  it('an entry at index i replaces those read at >= i (rewritten indexes)', async () => {
    const wal = await Wal.create(t.dir, enc('m'), SMALL);
    await wal.saveEntry(entries(1, 10, 1));
    await wal.saveEntry(entries(6, 8, 2));
    await wal.close();
    const r = await Wal.openForRead(t.dir);
    expect((await r.readAll()).entries).toEqual([...entries(1, 5, 1), ...entries(6, 8, 2)]);
    await r.close();
  });

  it('returns only entries after the snapshot it was opened at', async () => {
    const wal = await Wal.create(t.dir, enc('m'), SMALL);
    await wal.saveEntry(entries(1, 10));
    await wal.saveSnap({ index: 5, term: 1 });
    await wal.saveState({ term: 1, vote: 1, commit: 10 });
    await wal.close();
    const r = await Wal.open(t.dir, { index: 5, term: 1 }, SMALL);
    expect((await r.readAll()).entries).toEqual(entries(6, 10));
    await r.close();
    expect(await Wal.validSnapshots(t.dir)).toEqual([
      { index: 0, term: 0 },
      { index: 5, term: 1 },
    ]);
  });
});

describe('Wal.create after a crash mid-create', () => {
  it('clears a leftover <dir>.tmp and accepts a trailing slash', async () => {
    const { mkdir, writeFile } = await import('node:fs/promises');
    await mkdir(`${t.dir}.tmp`, { recursive: true });
    await writeFile(`${t.dir}.tmp/0000000000000000-0000000000000000.wal`, 'half-built');
    expect(await Wal.exist(t.dir)).toBe(false);
    const wal = await Wal.create(`${t.dir}/`, enc('m'), SMALL);
    await wal.saveEntry(entries(1, 1));
    await wal.close();
    expect(await readdir(t.parent)).toEqual(['wal']);
    const r = await Wal.openForRead(t.dir);
    expect((await r.readAll()).entries).toEqual(entries(1, 1));
    await r.close();
  });

  it('refuses a non-empty directory without a WAL rather than deleting its files', async () => {
    const { mkdir, writeFile } = await import('node:fs/promises');
    await mkdir(t.dir);
    await writeFile(`${t.dir}/precious.txt`, 'keep me');
    await expect(Wal.create(t.dir, enc('m'), SMALL)).rejects.toMatchObject({ code: 'ERR_WAL_EXISTS' });
    expect(await readdir(t.dir)).toEqual(['precious.txt']);
  });
});
