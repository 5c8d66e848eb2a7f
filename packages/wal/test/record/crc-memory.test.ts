import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import crc32c from 'crc-32/crc32c.js';
import fc from 'fast-check';
import wabt from 'wabt';
import { describe, expect, it } from 'vitest';
import { CrcMemory, crcMemoryAvailable } from '../../src/record/crc-memory.js';
import { NATIVE_MIN_BYTES } from '../../src/record/crc.js';
import { CRC32C_WASM_BASE64 } from '../../src/record/crc32c-wasm-bytes.js';
import { enc } from '../helpers.js';

const reference = (prev: number, b: Uint8Array): number => crc32c.buf(b, prev | 0) >>> 0;
const watPath = fileURLToPath(new URL('../../src/record/crc32c.wat', import.meta.url));
const bytesPath = fileURLToPath(new URL('../../src/record/crc32c-wasm-bytes.ts', import.meta.url));

function memory(capacity: number): CrcMemory {
  const m = CrcMemory.create(capacity);
  if (m === undefined) throw new Error('WebAssembly is unavailable in this test run');
  return m;
}

describe('CRC-32C in a WebAssembly memory', () => {
  it('embeds exactly the module crc32c.wat assembles to', async () => {
    const mod = (await wabt()).parseWat('crc32c.wat', readFileSync(watPath, 'utf8'));
    const assembled = Buffer.from(mod.toBinary({}).buffer).toString('base64');
    mod.destroy();
    if (process.env.UPDATE_CRC_WASM === '1' && assembled !== CRC32C_WASM_BASE64) {
      const text = readFileSync(bytesPath, 'utf8').replace(CRC32C_WASM_BASE64, assembled);
      writeFileSync(bytesPath, text);
      return;
    }
    expect(CRC32C_WASM_BASE64).toBe(assembled);
  });

  it('is available in Node (so the framing takes the in-place path)', () => {
    expect(crcMemoryAvailable).toBe(true);
  });

  it('has the check value crc32c("123456789") = 0xe3069283, whole and chained', () => {
    const m = memory(64);
    m.bytes.set(enc('123456789'), 3);
    expect(m.crc(0, 3, 12)).toBe(0xe3069283);
    expect(m.crc(m.crc(0, 3, 7), 7, 12)).toBe(0xe3069283);
  });

  it('equals the reference on any bytes, range and starting value, short and long', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3 * NATIVE_MIN_BYTES }),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: 0xffffffff }),
        (data, a, b, prev) => {
          const m = memory(data.byteLength + 16);
          m.bytes.set(data, 5);
          const start = a % (data.byteLength + 1);
          const end = start + (b % (data.byteLength - start + 1));
          expect(m.crc(prev, 5 + start, 5 + end)).toBe(reference(prev, data.subarray(start, end)));
        },
      ),
    );
  });

  it('keeps its contents when it grows, across WebAssembly pages', () => {
    const m = memory(100);
    const first = new Uint8Array(100).map((_, i) => i * 7);
    m.bytes.set(first);
    const before = m.bytes;
    m.grow(200_000);
    expect(m.bytes.byteLength).toBe(200_000);
    expect(before.byteLength).toBe(0); // the old view is detached: holders must take `bytes` again
    expect(m.bytes.subarray(0, 100)).toEqual(first);
    const tail = new Uint8Array(150_000).map((_, i) => (i * 13) ^ (i >>> 8));
    m.bytes.set(tail, 50_000);
    expect(m.crc(1, 50_000, 200_000)).toBe(reference(1, tail));
    expect(m.crc(0, 0, 100)).toBe(reference(0, first));
    expect(m.grow(10)).toBe(true); // never shrinks
    expect(m.bytes.byteLength).toBe(200_000);
    // Past what a 32-bit memory holds: refused, and the buffer is as it was.
    const view = m.bytes;
    expect(m.grow(2 ** 32)).toBe(false);
    expect(m.bytes).toBe(view);
    expect(m.crc(1, 50_000, 200_000)).toBe(reference(1, tail));
  });
});
