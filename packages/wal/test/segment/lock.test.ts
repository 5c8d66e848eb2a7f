import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCK_FILE } from '../../src/segment/lock.js';
import { Wal } from '../../src/wal.js';
import { SMALL, enc, entries, tempParent } from '../helpers.js';

let t: Awaited<ReturnType<typeof tempParent>>;
let child: ChildProcess | undefined;
beforeEach(async () => {
  t = await tempParent();
});
afterEach(async () => {
  if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  child = undefined;
  await t.cleanup();
});

/** A child process that holds the WAL lock as a writer does (its pid in wal.lock, created exclusively). */
async function childHoldingLock(dir: string): Promise<ChildProcess> {
  const script = `
    const fs = require('node:fs');
    fs.writeFileSync(${JSON.stringify(join(dir, LOCK_FILE))}, process.pid + '\\n', { flag: 'wx' });
    process.stdout.write('locked\\n');
    setInterval(() => {}, 1000);
  `;
  const p = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    p.stdout?.once('data', () => resolve());
    p.once('exit', (code) => reject(new Error(`child exited ${code}`)));
  });
  return p;
}

async function exited(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  await new Promise<void>((resolve) => p.once('exit', () => resolve()));
}

describe('the writer lock', () => {
  it('a second writer in the same process gets ERR_WAL_LOCKED; a reader does not', async () => {
    const wal = await Wal.create(t.dir, enc('m'), SMALL);
    await expect(Wal.open(t.dir, undefined, SMALL)).rejects.toMatchObject({ code: 'ERR_WAL_LOCKED' });
    await wal.saveEntry(entries(1, 2));
    const reader = await Wal.openForRead(t.dir);
    expect((await reader.readAll()).entries).toEqual(entries(1, 2));
    await reader.close();
    await wal.close();
    const again = await Wal.open(t.dir, undefined, SMALL);
    await again.close();
  });

  it('a live writer in another process blocks; once it is SIGKILLed its stale lock is taken over', async () => {
    const wal = await Wal.create(t.dir, enc('m'), SMALL);
    await wal.saveEntry(entries(1, 3));
    await wal.close();
    child = await childHoldingLock(t.dir);
    await expect(Wal.open(t.dir, undefined, SMALL)).rejects.toMatchObject({
      code: 'ERR_WAL_LOCKED',
      file: join(t.dir, LOCK_FILE),
    });
    await expect(Wal.repair(t.dir)).rejects.toMatchObject({ code: 'ERR_WAL_LOCKED' });
    child.kill('SIGKILL');
    await exited(child);
    const w = await Wal.open(t.dir, undefined, SMALL);
    expect((await w.readAll()).entries).toEqual(entries(1, 3));
    expect((await readFile(join(t.dir, LOCK_FILE), 'utf8')).trim()).toBe(String(process.pid));
    await w.close();
  });

  it('an unreadable lock file (no pid) is stale', async () => {
    const wal = await Wal.create(t.dir, enc('m'), SMALL);
    await wal.close();
    await writeFile(join(t.dir, LOCK_FILE), '');
    const w = await Wal.open(t.dir, undefined, SMALL);
    await w.close();
  });
});
