import { link, open, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WalError } from '../errors.js';

/** The lock file's name inside a WAL directory. */
export const LOCK_FILE = 'wal.lock';

/**
 * The cross-process writer lock of a WAL directory.
 *
 * Node has no flock/OFD locks, so the lock is a file, `wal.lock`, holding the owner's pid. It is published
 * atomically: the pid is written to a private temporary file which is then hard-linked to `wal.lock` (link fails
 * with EEXIST when the lock is taken), so the lock file is never seen empty.
 *
 * - A holder that is alive (`process.kill(pid, 0)` succeeds or fails with EPERM), this process included, means
 *   ERR_WAL_LOCKED.
 * - A holder that is dead (ESRCH) left a stale lock (it was SIGKILLed or the machine crashed): it is taken over, so
 *   a killed writer never blocks a restart. The takeover renames the stale file to a private name first and checks
 *   that what it moved still names the dead pid; if a live process had re-locked in between, the file is put back
 *   and ERR_WAL_LOCKED is raised.
 * - Limits: the lock is advisory and local (not for network file systems), and a dead holder's pid reused by an
 *   unrelated live process keeps the lock held until that process exits (remove `wal.lock` by hand then).
 */
export class DirLock {
  private released = false;
  private constructor(readonly path: string) {}

  /** Takes the lock of `dir` for this process. */
  static async acquire(dir: string): Promise<DirLock> {
    const path = join(dir, LOCK_FILE);
    const tmp = join(dir, `${LOCK_FILE}.${process.pid}.tmp`);
    await writeFile(tmp, `${process.pid}\n`);
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          await link(tmp, path);
          return new DirLock(path);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
        const holder = await readPid(path);
        if (holder === undefined) continue; // released meanwhile: try again
        if (isAlive(holder)) {
          throw new WalError('ERR_WAL_LOCKED', `WAL directory is locked by live process ${holder}`, {
            file: path,
          });
        }
        await takeOverStale(dir, path, holder);
      }
      throw new WalError('ERR_WAL_LOCKED', 'could not take the WAL lock (contended)', { file: path });
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  /** Releases the lock (idempotent). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const holder = await readPid(this.path);
    if (holder === process.pid) await unlink(this.path).catch(() => undefined);
  }
}

async function readPid(path: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const pid = Number.parseInt(text.trim(), 10);
  // An unreadable lock file cannot name a live holder: treat it as stale (pid 0 is never alive here).
  return Number.isSafeInteger(pid) && pid > 0 ? pid : 0;
}

function isAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function takeOverStale(dir: string, path: string, deadPid: number): Promise<void> {
  const aside = join(dir, `${LOCK_FILE}.stale.${process.pid}`);
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else moved it: retry
    throw err;
  }
  const moved = await readPid(aside);
  if (moved !== undefined && moved !== deadPid && isAlive(moved)) {
    // A live process locked between our read and our rename: give its lock back.
    await link(aside, path).catch(() => undefined);
    await unlink(aside).catch(() => undefined);
    throw new WalError('ERR_WAL_LOCKED', `WAL directory is locked by live process ${moved}`, { file: path });
  }
  await unlink(aside).catch(() => undefined);
  // Make the stale lock's removal durable before the new owner writes.
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
