import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileIo } from './file-io.js';

/**
 * Creates `dir` and its missing parents, and makes them durable: a new directory entry survives a power cut only
 * once its parent directory is fsynced (found by the crash explorer: a snapshot directory created without it
 * could vanish with every snapshot in it). Fsyncs the parent of `dir` even when `dir` already existed, since
 * a process killed right after creating it left it unsynced, and the parent of every parent it created.
 */
export async function mkdirDurable(dir: string): Promise<void> {
  const created: string[] = [];
  for (let d = resolve(dir); dirname(d) !== d && !(await isDir(d)); d = dirname(d)) created.push(d);
  if (created.length > 0) await fileIo.mkdir(dir, { recursive: true });
  const parents = new Set([dirname(resolve(dir)), ...created.map((d) => dirname(d))]);
  for (const p of parents) await fileIo.fsyncDir(p);
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
