import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry } from '../src/codec/msgpack.js';

/** A fresh temporary parent directory; the WAL goes in `<parent>/wal`. */
export async function tempParent(
  prefix = 'x-wal-',
): Promise<{ parent: string; dir: string; cleanup(): Promise<void> }> {
  const parent = await mkdtemp(join(tmpdir(), prefix));
  return { parent, dir: join(parent, 'wal'), cleanup: () => rm(parent, { recursive: true, force: true }) };
}

/** Deterministic pseudo-random bytes (xorshift32). */
export function bytesOf(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Entries `from..to` (inclusive) of term `term`, each with `size` bytes of data seeded by its index. */
export function entries(from: number, to: number, term = 1, size = 16): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push({ index: i, term, data: bytesOf(size, i * 7919 + term) });
  return out;
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Small segments keep tests fast (zero-filling a 64 MB segment is slow on a shared disk). */
export const SMALL = { segmentSizeBytes: 16 * 1024 } as const;
