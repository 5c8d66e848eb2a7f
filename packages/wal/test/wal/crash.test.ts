import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listSegments } from '../../src/segment/names.js';
import { Wal } from '../../src/wal.js';
import type { Preallocate, SyncMode } from '../../src/wal/options.js';
import { WalError } from '../../src/errors.js';
import { bytesOf, tempParent } from '../helpers.js';
import { transpileSrc } from './transpile.js';

// A child process appends under load (many saves in flight, small segments so it cuts often) and prints
// "ack <index>" when each save's promise resolves; the parent SIGKILLs it at a random moment, then reopens the WAL
// and checks that every acknowledged entry is there, in order, with the right bytes. Rounds continue the same WAL.
// Seeded: a failure prints the seed; rerun with WAL_CRASH_SEED=<seed>. More rounds with SOAK=1.

const ROUNDS = process.env.SOAK === '1' ? 40 : 4;
const SEGMENT = 32 * 1024;

const sizeOf = (i: number): number => 1 + ((i * 37) % 700);
const dataOf = (i: number): Uint8Array => bytesOf(sizeOf(i), i);

const CHILD = (indexJs: string, dir: string, syncMode: SyncMode, preallocate: Preallocate) => `
import { Wal, WalError } from ${JSON.stringify(indexJs)};
const dir = ${JSON.stringify(dir)};
const opts = { segmentSizeBytes: ${SEGMENT}, syncMode: ${JSON.stringify(syncMode)}, preallocate: ${JSON.stringify(preallocate)} };
const bytesOf = ${bytesOf.toString()};
const sizeOf = ${sizeOf.toString()};
let wal;
if (await Wal.exist(dir)) {
  try { wal = await Wal.open(dir, undefined, opts); }
  catch (err) {
    if (err instanceof WalError && err.code === 'ERR_WAL_UNEXPECTED_EOF' && (await Wal.repair(dir))) wal = await Wal.open(dir, undefined, opts);
    else throw err;
  }
} else wal = await Wal.create(dir, new Uint8Array([1]), opts);
const { entries } = await wal.readAll();
let next = (entries.at(-1)?.index ?? 0) + 1;
process.stdout.write('ready ' + next + '\\n');
const inFlight = new Set();
for (;;) {
  const i = next++;
  const p = wal.saveEntry([{ index: i, term: 1, data: bytesOf(sizeOf(i), i) }]).then(() => {
    process.stdout.write('ack ' + i + '\\n');
    inFlight.delete(p);
  });
  inFlight.add(p);
  if (inFlight.size >= 16) await Promise.race(inFlight);
}
`;

let t: Awaited<ReturnType<typeof tempParent>>;
let indexJs: string;
beforeAll(async () => {
  t = await tempParent('x-wal-crash-');
  indexJs = await transpileSrc(join(t.parent, 'js'));
});
afterAll(async () => {
  await t.cleanup();
});

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

/** Runs the child until it has acknowledged something, then `extraMs` more, then SIGKILLs it. */
async function runAndKill(script: string, extraMs: number): Promise<number> {
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let maxAck = 0;
  let stderr = '';
  let buf = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const firstAck = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^ack (\d+)$/.exec(line);
        if (m) {
          maxAck = Math.max(maxAck, Number(m[1]));
          resolve();
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`child exited early (${code}): ${stderr}`)));
  });
  await firstAck;
  await new Promise((r) => setTimeout(r, extraMs));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGKILL');
  await exited;
  return maxAck;
}

describe('crash: SIGKILL under load', () => {
  it.each([
    ['threadpool', 'auto'],
    ['inline', 'auto'],
    ['threadpool', 'none'],
  ] as const)(
    'every acknowledged entry survives, in order, with its bytes (%s fdatasync, preallocate %s)',
    async (syncMode, preallocate) => {
      const seed = Number(process.env.WAL_CRASH_SEED ?? Date.now() % 1_000_000);
      const random = rng(seed);
      const dir = `${t.dir}-${syncMode}-${preallocate}`;
      const script = join(t.parent, `child-${syncMode}-${preallocate}.mjs`);
      const opts = { segmentSizeBytes: SEGMENT, preallocate };
      await writeFile(script, CHILD(indexJs, dir, syncMode, preallocate));
      let acked = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const maxAck = await runAndKill(script, Math.floor(random() * 150));
        acked = Math.max(acked, maxAck);
        let wal: Wal;
        try {
          wal = await Wal.open(dir, undefined, opts);
        } catch (err) {
          expect(
            err instanceof WalError && err.code === 'ERR_WAL_UNEXPECTED_EOF',
            `seed ${seed} round ${round}`,
          ).toBe(true);
          expect(await Wal.repair(dir), `seed ${seed}`).toBe(true);
          wal = await Wal.open(dir, undefined, opts);
        }
        const { entries } = await wal.readAll();
        await wal.close();
        const where = `seed ${seed} round ${round} (rerun with WAL_CRASH_SEED=${seed})`;
        expect(entries.length, where).toBeGreaterThanOrEqual(acked);
        entries.forEach((e, k) => {
          expect(e.index, where).toBe(k + 1);
          expect(Buffer.from(e.data).equals(Buffer.from(dataOf(e.index))), `${where} entry ${e.index}`).toBe(
            true,
          );
        });
      }
      expect(acked).toBeGreaterThan(0);
      // The load crossed segment boundaries (cuts happened while being killed).
      expect((await listSegments(dir)).length, `seed ${seed}, ${acked} acked`).toBeGreaterThan(1);
      if (process.env.WAL_CRASH_VERBOSE === '1') console.log(`seed ${seed}: ${acked} acked`);
    },
  );
});
