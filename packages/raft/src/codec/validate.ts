import { RaftError } from '../errors.js';

// Field validators for decoding: each throws RaftError('ERR_DECODE') naming the field, so a hostile buffer can
// never become a malformed object inside raft.

export function fail(field: string, what: string): never {
  throw new RaftError('ERR_DECODE', `invalid ${field}: ${what}`, field);
}

/** A non-negative safe integer (ids, indexes, terms). */
export function uint(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    fail(field, `expected a non-negative integer, got ${describe(v)}`);
  return v;
}

export function bytes(v: unknown, field: string): Uint8Array {
  if (!(v instanceof Uint8Array)) fail(field, `expected bytes, got ${describe(v)}`);
  return v;
}

export function array(v: unknown, field: string, maxLength: number): unknown[] {
  if (!Array.isArray(v)) fail(field, `expected an array, got ${describe(v)}`);
  if (v.length > maxLength) fail(field, `array of ${v.length} elements exceeds ${maxLength}`);
  return v;
}

export function oneOf<T extends number>(v: unknown, field: string, allowed: ReadonlySet<number>): T {
  const n = uint(v, field);
  if (!allowed.has(n)) fail(field, `unknown value ${n}`);
  return n as T;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v instanceof Uint8Array) return `bytes(${v.byteLength})`;
  if (Array.isArray(v)) return `array(${v.length})`;
  if (typeof v === 'number') return String(v);
  return typeof v;
}
