import { Packr } from 'msgpackr';
import { WalError } from '../errors.js';
import { decodeEntryFast, encodeEntryFast, encodeEntryInto, entrySizeFast } from './msgpack-entry.js';
import type { Codecs, EntryCodec } from './types.js';

/** A log entry of the default codecs. */
export interface Entry {
  index: number;
  term: number;
  /** The entry's kind, left to the application (Raft: normal, conf change...); absent means 0. */
  type?: number;
  data: Uint8Array;
}

/** Raft's hard state: current term, vote, and commit index. All zero means empty (never written). */
export interface HardState {
  term: number;
  vote: number;
  commit: number;
}

/** Cluster membership at a snapshot, exactly `@x/raft`'s ConfState. */
export interface ConfState {
  voters: number[];
  learners: number[];
  votersOutgoing: number[];
  learnersNext: number[];
  autoLeave: boolean;
}

/** The WAL's snapshot record: the index and term a snapshot was taken at, and the membership then. */
export interface Snapshot {
  index: number;
  term: number;
  confState?: ConfState;
}

// Records are msgpack arrays (positional, so no key strings are stored per entry):
//   Entry      [index, term, data] or [index, term, data, type]
//   HardState  [term, vote, commit]
//   Snapshot   [index, term] or [index, term, [voters, learners, votersOutgoing, learnersNext, autoLeave]]
const packr = new Packr({ useRecords: false, copyBuffers: true, mapsAsObjects: true });

function fail(what: string, why: string): never {
  throw new WalError('ERR_WAL_CODEC', `msgpack ${what}: ${why}`);
}

function num(what: string, field: string, v: unknown): number {
  // msgpackr reads a uint64 as a bigint; one within the safe range is an ordinary index.
  if (typeof v === 'bigint' && v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    fail(what, `${field} must be a non-negative safe integer, got ${String(v)}`);
  }
  return v;
}

function nums(what: string, field: string, v: unknown): number[] {
  if (!Array.isArray(v)) fail(what, `${field} must be an array`);
  return v.map((x, i) => num(what, `${field}[${i}]`, x));
}

/** Checks an entry's fields (throwing ERR_WAL_CODEC); returns its type field. */
function checkEntry(e: Entry): number | undefined {
  num('Entry', 'index', e.index);
  num('Entry', 'term', e.term);
  if (!(e.data instanceof Uint8Array)) fail('Entry', 'data must be a Uint8Array');
  return e.type === undefined ? undefined : num('Entry', 'type', e.type);
}

function unpack(what: string, bytes: Uint8Array): unknown[] {
  let v: unknown;
  try {
    v = packr.unpack(bytes);
  } catch (err) {
    fail(what, `undecodable bytes (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!Array.isArray(v)) fail(what, 'not an array');
  return v;
}

function pack(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** An entry in any msgpack shape msgpackr reads (the fast path's fallback). */
function decodeEntrySlow(bytes: Uint8Array): Entry {
  const a = unpack('Entry', bytes);
  if (a.length !== 3 && a.length !== 4) fail('Entry', `expected 3 or 4 fields, got ${a.length}`);
  const data = a[2];
  if (!(data instanceof Uint8Array)) fail('Entry', 'data is not bytes');
  // A plain Uint8Array (msgpackr gives a Buffer), so decoded entries compare equal to the ones saved.
  const plain = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const e: Entry = { index: num('Entry', 'index', a[0]), term: num('Entry', 'term', a[1]), data: plain };
  if (a.length === 4) e.type = num('Entry', 'type', a[3]);
  return e;
}

/**
 * Adds the fast-path hooks to `codec` as non-enumerable properties. A codec made by spreading a built-in one and
 * overriding `encode` or `decode` (`{ ...msgpackCodecs.entry, encode }`) then drops them, instead of silently
 * keeping hooks that bypass the override.
 */
function withFastPaths<T>(
  codec: EntryCodec<T>,
  hooks: Required<Pick<EntryCodec<T>, 'encodedSize' | 'encodeInto' | 'decodeAt'>>,
): EntryCodec<T> {
  for (const [name, value] of Object.entries(hooks)) {
    Object.defineProperty(codec, name, { value, enumerable: false, writable: false, configurable: false });
  }
  return codec;
}

/**
 * The default codecs: {@link Entry}, {@link HardState} and {@link Snapshot} as msgpack arrays (msgpackr).
 * `decode` validates the shape and throws a WalError `ERR_WAL_CODEC` on anything else.
 *
 * @example
 * ```ts
 * const wal = await Wal.create(dir, new Uint8Array(), { codecs: msgpackCodecs }); // the default anyway
 * await wal.save({ term: 1, vote: 1, commit: 0 }, [{ index: 1, term: 1, data: new Uint8Array([1]) }]);
 * ```
 */
export const msgpackCodecs: Codecs<Entry, HardState, Snapshot> = {
  entry: withFastPaths(
    {
      encode(e) {
        return encodeEntryFast(e.index, e.term, e.data, checkEntry(e));
      },
      decode(bytes) {
        return decodeEntryFast(bytes) ?? decodeEntrySlow(bytes);
      },
      index: (e) => e.index,
    },
    {
      encodedSize(e) {
        return entrySizeFast(e.index, e.term, e.data.byteLength, checkEntry(e));
      },
      encodeInto(e, buf, offset) {
        return encodeEntryInto(buf, offset, e.index, e.term, e.data, e.type);
      },
      decodeAt(buf, start, end, mayView) {
        return decodeEntryFast(buf, start, end, mayView) ?? decodeEntrySlow(buf.subarray(start, end));
      },
    },
  ),
  state: {
    encode(s) {
      return pack([
        num('HardState', 'term', s.term),
        num('HardState', 'vote', s.vote),
        num('HardState', 'commit', s.commit),
      ]);
    },
    decode(bytes) {
      const a = unpack('HardState', bytes);
      if (a.length !== 3) fail('HardState', `expected 3 fields, got ${a.length}`);
      return {
        term: num('HardState', 'term', a[0]),
        vote: num('HardState', 'vote', a[1]),
        commit: num('HardState', 'commit', a[2]),
      };
    },
    term: (s) => s.term,
    vote: (s) => s.vote,
    commit: (s) => s.commit,
    isEmpty: (s) => s.term === 0 && s.vote === 0 && s.commit === 0,
  },
  snapshot: {
    encode(s) {
      const head = [num('Snapshot', 'index', s.index), num('Snapshot', 'term', s.term)];
      const cs = s.confState;
      if (cs === undefined) return pack(head);
      return pack([
        ...head,
        [
          nums('Snapshot', 'voters', cs.voters),
          nums('Snapshot', 'learners', cs.learners),
          nums('Snapshot', 'votersOutgoing', cs.votersOutgoing),
          nums('Snapshot', 'learnersNext', cs.learnersNext),
          cs.autoLeave === true,
        ],
      ]);
    },
    decode(bytes) {
      const a = unpack('Snapshot', bytes);
      if (a.length !== 2 && a.length !== 3) fail('Snapshot', `expected 2 or 3 fields, got ${a.length}`);
      const s: Snapshot = { index: num('Snapshot', 'index', a[0]), term: num('Snapshot', 'term', a[1]) };
      if (a.length === 3) {
        const c = a[2];
        if (!Array.isArray(c) || c.length !== 5 || typeof c[4] !== 'boolean')
          fail('Snapshot', 'malformed confState');
        s.confState = {
          voters: nums('Snapshot', 'voters', c[0]),
          learners: nums('Snapshot', 'learners', c[1]),
          votersOutgoing: nums('Snapshot', 'votersOutgoing', c[2]),
          learnersNext: nums('Snapshot', 'learnersNext', c[3]),
          autoLeave: c[4],
        };
      }
      return s;
    },
    index: (s) => s.index,
    term: (s) => s.term,
    zero: () => ({ index: 0, term: 0 }),
  },
};
