import crc32c from 'crc-32/crc32c.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  crc32cRange,
  crc32cRangeJs,
  crc32cUpdate,
  NATIVE_MIN_BYTES,
  nativeCrcLoaded,
} from '../../src/record/crc.js';
import { enc } from '../helpers.js';

const reference = (prev: number, b: Uint8Array): number => crc32c.buf(b, prev | 0) >>> 0;

describe('range CRC-32C', () => {
  it('has the check value crc32c("123456789") = 0xe3069283 in JS and through the dispatcher', () => {
    const b = enc('123456789');
    expect(crc32cRangeJs(0, b, 0, b.byteLength)).toBe(0xe3069283);
    expect(crc32cRange(0, b, 0, b.byteLength)).toBe(0xe3069283);
    const long = new Uint8Array(NATIVE_MIN_BYTES + 9);
    long.set(b, NATIVE_MIN_BYTES);
    // chained over a native-sized prefix of zeros, then the check string
    const z = crc32cRange(0, long, 0, NATIVE_MIN_BYTES);
    expect(crc32cRange(z, long, NATIVE_MIN_BYTES, long.byteLength)).toBe(
      reference(reference(0, long.subarray(0, NATIVE_MIN_BYTES)), b),
    );
  });

  it('loads the native CRC where @node-rs/crc32 ships a prebuilt binary (a broken optional install shows here)', () => {
    // Linux x64 and arm64 are what this project's machines and CI run; elsewhere the JS path is a valid outcome
    // (the other tests check it gives the same values).
    const prebuilt = process.platform === 'linux' && ['x64', 'arm64'].includes(process.arch);
    if (prebuilt) expect(nativeCrcLoaded).toBe(true);
    else expect(typeof nativeCrcLoaded).toBe('boolean');
  });

  it('matches crc-32 on random ranges of random data, short and long, JS and dispatcher', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000 }),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: 0xffffffff }),
        (data, a, b, prev) => {
          const start = data.byteLength === 0 ? 0 : a % (data.byteLength + 1);
          const end = start + (data.byteLength - start === 0 ? 0 : b % (data.byteLength - start + 1));
          const want = reference(prev, data.subarray(start, end));
          expect(crc32cRangeJs(prev, data, start, end)).toBe(want);
          expect(crc32cRange(prev, data, start, end)).toBe(want);
          expect(crc32cUpdate(prev, data.subarray(start, end))).toBe(want);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('never reads outside the range', () => {
    const data = new Uint8Array(2000).fill(0xaa);
    const inner = data.subarray(100, 1900);
    for (const [s, e] of [
      [0, 17],
      [3, 1000],
      [0, 1800],
    ] as const) {
      expect(crc32cRange(7, data, 100 + s, 100 + e)).toBe(reference(7, inner.subarray(s, e)));
    }
  });
});
