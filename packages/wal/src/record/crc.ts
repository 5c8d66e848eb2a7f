import { createRequire } from 'node:module';

// CRC-32C (Castagnoli, reflected polynomial 0x82f63b78) over a range of a buffer, without copying it.
// Short ranges go through a slice-by-8 table loop in JS; ranges of NATIVE_MIN_BYTES and more go to
// `@node-rs/crc32` (SSE 4.2 / ARMv8 CRC instructions) when its prebuilt binary loads, since its per-call cost
// (~0.25 µs) is repaid only from a few hundred bytes on. Without it everything runs in JS (~1.2 GB/s).

const POLY = 0x82f63b78;

/** Slice-by-8 tables: T[k * 256 + b] is the CRC of byte b followed by k zero bytes. */
const T = buildTables();

/** The slice-by-8 tables (read-only by contract), for the WebAssembly CRC's memory. */
export const SLICE8_TABLES: Readonly<Int32Array> = T;

function buildTables(): Int32Array {
  const t = new Int32Array(8 * 256);
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[b] = c;
  }
  for (let b = 0; b < 256; b++) {
    let c = t[b] as number;
    for (let k = 1; k < 8; k++) {
      c = (t[c & 0xff] as number) ^ (c >>> 8);
      t[k * 256 + b] = c;
    }
  }
  return t;
}

/** The CRC-32C of `buf[start, end)` continuing from `prev`, in JS. Exported for tests. */
export function crc32cRangeJs(prev: number, buf: Uint8Array, start: number, end: number): number {
  let c = ~prev;
  let i = start;
  const t = T;
  for (const last8 = end - 8; i <= last8; i += 8) {
    const lo =
      c ^
      ((buf[i] as number) |
        ((buf[i + 1] as number) << 8) |
        ((buf[i + 2] as number) << 16) |
        ((buf[i + 3] as number) << 24));
    c =
      (t[1792 + (lo & 0xff)] as number) ^
      (t[1536 + ((lo >>> 8) & 0xff)] as number) ^
      (t[1280 + ((lo >>> 16) & 0xff)] as number) ^
      (t[1024 + (lo >>> 24)] as number) ^
      (t[768 + (buf[i + 4] as number)] as number) ^
      (t[512 + (buf[i + 5] as number)] as number) ^
      (t[256 + (buf[i + 6] as number)] as number) ^
      (t[buf[i + 7] as number] as number);
  }
  for (; i < end; i++) c = (t[(c ^ (buf[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

type NativeCrc = (input: Uint8Array, initialState?: number) => number;

/** `@node-rs/crc32`'s crc32c, or undefined when the optional package or its binary is missing. */
function loadNative(): NativeCrc | undefined {
  if (process.env.X_WAL_NO_NATIVE_CRC === '1') return undefined;
  try {
    const mod = createRequire(import.meta.url)('@node-rs/crc32') as { crc32c?: unknown };
    const fn = mod.crc32c;
    if (typeof fn !== 'function') return undefined;
    const native = fn as NativeCrc;
    // Trust it only if it gives the check value, chained.
    const check = new TextEncoder().encode('123456789');
    return native(check.subarray(4), native(check.subarray(0, 4), 0)) === 0xe3069283 ? native : undefined;
  } catch {
    return undefined;
  }
}

const native = loadNative();

/** Ranges this long or longer go to the native CRC when it loaded. */
export const NATIVE_MIN_BYTES = 384;

/** Whether the hardware-backed CRC-32C loaded (for benchmarks and diagnostics). */
export const nativeCrcLoaded = native !== undefined;

/**
 * CRC-32C of `buf[start, end)`, chained: `crc32cRange(crc32cRange(0, b, 0, k), b, k, n) === crc32cRange(0, b, 0, n)`,
 * as Go's `crc32.Update(prev, castagnoliTable, data)`. Check value: CRC of "123456789" is 0xe3069283. Always
 * returns an unsigned 32-bit value.
 */
export function crc32cRange(prev: number, buf: Uint8Array, start: number, end: number): number {
  if (native !== undefined && end - start >= NATIVE_MIN_BYTES) {
    // A view made with the constructor costs about a third less than `subarray` (no species lookup), which is most
    // of the per-call overhead at 1,000 B.
    return native(new Uint8Array(buf.buffer, buf.byteOffset + start, end - start), prev >>> 0) >>> 0;
  }
  return crc32cRangeJs(prev, buf, start, end);
}

/** CRC-32C of all of `bytes`, chained from `prev` (see {@link crc32cRange}). */
export function crc32cUpdate(prev: number, bytes: Uint8Array): number {
  return crc32cRange(prev, bytes, 0, bytes.byteLength);
}
