import { randomBytes } from 'node:crypto';
import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A random id for this data directory, created once and kept: peers refuse this node's id if it comes back with
 * another one (its data was wiped), instead of letting it vote with a log it no longer has.
 */
export async function dataIncarnation(dataDir: string): Promise<string> {
  const file = join(dataDir, 'incarnation');
  let held: string | undefined;
  try {
    held = (await readFile(file, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (held !== undefined) {
    if (!/^[0-9a-f]{16}$/.test(held)) {
      throw new Error(
        `${file}: not a data-directory id (16 hex digits): ${JSON.stringify(held.slice(0, 40))}`,
      );
    }
    return held;
  }
  // Written whole or not at all: a temporary file, fdatasync, rename, then the directory fsynced so the new name
  // survives a power cut (a crash mid-write must not leave an empty id that the next start would adopt).
  const id = randomBytes(8).toString('hex');
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(id);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  const dir = await open(dataDir, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return id;
}
