import crc32c from 'crc-32/crc32c.js';

/**
 * CRC-32C (Castagnoli), chained: `crc32cUpdate(crc32cUpdate(0, a), b) === crc32c(a ++ b)`, as Go's
 * `crc32.Update(prev, castagnoliTable, data)`. Check value: `crc32cUpdate(0, "123456789") === 0xe3069283`.
 * Always returns an unsigned 32-bit value.
 */
export function crc32cUpdate(prev: number, bytes: Uint8Array): number {
  return crc32c.buf(bytes, prev | 0) >>> 0;
}
