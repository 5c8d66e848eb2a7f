import type { ResultCodec } from '@x/raft';
import { Packr } from 'msgpackr';
import type { KvResult, KvValue } from './kv-state.js';

// The results the session table records (to answer a retried write with its first answer) and carries in
// snapshots: msgpack positional arrays, validated on decode like the commands.
//   put [1, revision, value|null]  del [2, revision, deleted]  cas [3, revision, ok, value|null]
//   incr [6, revision, ok, number|null, value|null]         value = [value, modRevision, createRevision]

const packr = new Packr({ useRecords: false, mapsAsObjects: false });

function packValue(v: KvValue | undefined): unknown {
  return v === undefined ? null : [v.value, v.modRevision, v.createRevision];
}

function unpackValue(v: unknown): KvValue | undefined {
  if (v === null) return undefined;
  const [value, modRevision, createRevision] = Array.isArray(v) ? (v as unknown[]) : [];
  if (typeof value !== 'string' || !isUint(modRevision) || !isUint(createRevision))
    throw new Error('recorded result: malformed value');
  return { value, modRevision, createRevision };
}

function isUint(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Encodes and decodes {@link KvResult}s for `withSessions`. */
export const kvResultCodec: ResultCodec<KvResult> = {
  encode(r) {
    switch (r.op) {
      case 'put':
        return packr.pack([1, r.revision, packValue(r.previous)]);
      case 'del':
        return packr.pack([2, r.revision, r.deleted]);
      case 'cas':
        return packr.pack([3, r.revision, r.ok, packValue(r.current)]);
      case 'incr':
        return packr.pack([6, r.revision, r.ok, r.value ?? null, packValue(r.current)]);
    }
  },
  decode(bytes) {
    const v: unknown = packr.unpack(bytes);
    const [op, revision, a, b, c] = Array.isArray(v) ? (v as unknown[]) : [];
    if (!isUint(revision)) throw new Error('recorded result: malformed revision');
    switch (op) {
      case 1:
        return { op: 'put', revision, previous: unpackValue(a) };
      case 2:
        if (typeof a !== 'boolean') throw new Error('recorded result: malformed del');
        return { op: 'del', revision, deleted: a };
      case 3:
        if (typeof a !== 'boolean') throw new Error('recorded result: malformed cas');
        return a
          ? { op: 'cas', revision, ok: true }
          : { op: 'cas', revision, ok: false, current: unpackValue(b) };
      case 6:
        if (typeof a !== 'boolean' || (b !== null && !(typeof b === 'number' && Number.isSafeInteger(b))))
          throw new Error('recorded result: malformed incr');
        return a
          ? { op: 'incr', revision, ok: true, value: b ?? undefined }
          : { op: 'incr', revision, ok: false, current: unpackValue(c) };
      default:
        throw new Error(`recorded result: unknown op ${String(op)}`);
    }
  },
};
