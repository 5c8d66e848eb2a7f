import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dataIncarnation } from '../../src/node/data-incarnation.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function dir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'kv-incarnation-'));
  dirs.push(d);
  return d;
}

describe('dataIncarnation', () => {
  it('creates one id for a data directory and keeps it (renamed into place: no temporary file is left)', async () => {
    const d = await dir();
    const id = await dataIncarnation(d);
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(await dataIncarnation(d)).toBe(id);
    expect(await readdir(d)).toEqual(['incarnation']);
  });

  it('refuses an id file that is not one (e.g. empty), naming the file, instead of adopting it', async () => {
    const d = await dir();
    await writeFile(join(d, 'incarnation'), '');
    await expect(dataIncarnation(d)).rejects.toThrow(/incarnation: not a data-directory id/);
  });
});
