import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Wal } from '../../src/wal.js';

// The built executable, started the way npm's bin link starts it: through a symlink (process.argv[1] is the link,
// not the file). The package's own tests of the commands call `run` in-process (cli.test.ts).
const BIN = fileURLToPath(new URL('../../dist/cli/bin.js', import.meta.url));

let root: string;
let link: string;
let walDir: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'x-wal-bin-'));
  link = join(root, 'x-wal');
  await symlink(BIN, link);
  walDir = join(root, 'wal');
  const wal = await Wal.create(walDir, new Uint8Array(0), { segmentSizeBytes: 1024 * 1024 });
  // Enough records that `dump` prints far more than a pipe buffer (64 KiB) holds.
  for (let i = 1; i <= 20; i++) {
    await wal.save(
      { term: 1, vote: 1, commit: 0 },
      Array.from({ length: 500 }, (_, j) => ({
        index: (i - 1) * 500 + j + 1,
        term: 1,
        data: new Uint8Array(8),
      })),
    );
  }
  await wal.close();
});
afterAll(() => rm(root, { recursive: true, force: true }));

interface Ran {
  code: number | null;
  out: string;
  err: string;
}

/** Runs `node <symlink> ...args`; with `stopAfterFirstChunk`, closes its stdout after the first chunk (`| head`). */
function runLinked(args: string[], stopAfterFirstChunk = false): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [link, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (stopAfterFirstChunk) child.stdout.destroy();
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

describe('the x-wal executable', () => {
  it('runs its command when started through a symlink (as npm, npx and pnpm exec start it)', async () => {
    const r = await runLinked(['stats', walDir, '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect((JSON.parse(r.out) as { entries: number }).entries).toBe(10_000);
  });

  it('ends quietly with status 0 when the reader closes the pipe early (x-wal dump DIR | head)', async () => {
    const r = await runLinked(['dump', walDir], true);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    // It stopped early: far fewer bytes than the whole dump reached the reader.
    expect(r.out.length).toBeGreaterThan(0);
    expect(r.out.split('\n').length).toBeLessThan(10_000);
  });

  it('prints an error code once, and exits 1 for a data error, 2 for a usage error', async () => {
    const missing = await runLinked(['verify', join(root, 'nonexistent')]);
    expect(missing.code).toBe(1);
    expect(missing.err.match(/ERR_WAL_FILE_NOT_FOUND/g)).toHaveLength(1);
    expect(missing.err).not.toContain('usage');
    for (const cmd of ['dump', 'stats']) {
      const none = await runLinked([cmd, join(root, 'nonexistent')]);
      expect(none.code, cmd).toBe(1);
      expect(none.err.match(/ERR_WAL_FILE_NOT_FOUND/g), cmd).toHaveLength(1);
    }
    const usage = await runLinked(['verify']);
    expect(usage.code).toBe(2);
    expect(usage.err).toContain('usage: x-wal');
  });

  it('verify on a torn tail exits 1 through the symlink (it used to print nothing and exit 0)', async () => {
    const torn = join(root, 'torn');
    const wal = await Wal.create(torn, new Uint8Array(0), { segmentSizeBytes: 64 * 1024 });
    await wal.save({ term: 1, vote: 1, commit: 0 }, [
      { index: 1, term: 1, data: new Uint8Array(100).fill(7) },
    ]);
    await wal.close();
    // The segment may be preallocated with zeros: its records end at the last non-zero byte. Cut inside the entry.
    const seg = join(torn, '0000000000000000-0000000000000000.wal');
    const bytes = await readFile(seg);
    let end = bytes.length;
    while (end > 0 && bytes[end - 1] === 0) end--;
    await truncate(seg, end - 20);
    const r = await runLinked(['verify', torn]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('ERR_WAL_UNEXPECTED_EOF');
  });
});
