import { WalError } from '../errors.js';
import { ProtoReader, ProtoWriter, type Uint64 } from './protobuf.js';
import type { Codecs } from './types.js';

// etcd's record payloads, byte for byte as etcd v3 (gogoproto) writes them:
//   raftpb.Entry      08 type 10 term 18 index [22 len data]      (data left out when absent)
//   raftpb.HardState  08 term 10 vote 18 commit
//   walpb.Snapshot    08 index 10 term [1a len ConfState]
//   raftpb.ConfState  08 voter... 10 learner... 18 votersOutgoing... 20 learnersNext... 28 autoLeave
// Every scalar is written even when zero, repeated fields unpacked, fields in number order. Decoding also accepts
// missing fields (0), packed repeated fields and unknown fields, as etcd's newer encoder produces.

export type { Uint64 } from './protobuf.js';

/**
 * raftpb.Entry. `data` is undefined when the record has no data field (etcd writes none for a nil slice, `22 00`
 * for an empty one), so that re-encoding a decoded entry gives the same bytes. Terms may be bigint (never rounded).
 */
export interface EtcdEntry {
  index: number;
  term: Uint64;
  type?: number;
  data?: Uint8Array | undefined;
}

/** raftpb.HardState. etcd's votes are random 64-bit member ids: `vote` is a bigint when above 2^53 - 1. */
export interface EtcdHardState {
  term: Uint64;
  vote: Uint64;
  commit: number;
}

/** raftpb.ConfState with exact 64-bit member ids. */
export interface EtcdConfState {
  voters: Uint64[];
  learners: Uint64[];
  votersOutgoing: Uint64[];
  learnersNext: Uint64[];
  autoLeave: boolean;
}

/** walpb.Snapshot: the index and term of a snapshot (and, since etcd 3.5, its ConfState). */
export interface EtcdSnapshot {
  index: number;
  term: Uint64;
  confState?: EtcdConfState | undefined;
}

function codecError(what: string, err: unknown): never {
  throw new WalError('ERR_WAL_CODEC', `etcd ${what}: ${err instanceof Error ? err.message : String(err)}`);
}

function isZero(v: Uint64): boolean {
  return v === 0 || v === 0n;
}

function safeIndex(v: Uint64, what: string): number {
  if (typeof v === 'bigint') throw new WalError('ERR_WAL_CODEC', `etcd ${what} ${v} exceeds 2^53 - 1`);
  return v;
}

function encodeEntry(e: EtcdEntry): Uint8Array {
  try {
    const w = new ProtoWriter()
      .uint(1, e.type ?? 0, 'entry.type')
      .uint(2, e.term, 'entry.term')
      .uint(3, e.index, 'entry.index');
    if (e.data !== undefined) w.bytes(4, e.data, 'entry.data');
    return w.finish();
  } catch (err) {
    return codecError('entry encode', err);
  }
}

function decodeEntry(b: Uint8Array): EtcdEntry {
  try {
    const r = new ProtoReader(b, 'raftpb.Entry');
    const e: EtcdEntry = { index: 0, term: 0, type: 0 };
    while (!r.done()) {
      const [f, wt] = r.key();
      if (f === 1) e.type = r.safeField('type', wt);
      else if (f === 2) e.term = r.uint64Field('term', wt);
      else if (f === 3) e.index = r.safeField('index', wt);
      else if (f === 4) e.data = r.bytesField('data', wt);
      else r.skip(wt);
    }
    return e;
  } catch (err) {
    return codecError('entry decode', err);
  }
}

function encodeHardState(s: EtcdHardState): Uint8Array {
  try {
    return new ProtoWriter()
      .uint(1, s.term, 'hardState.term')
      .uint(2, s.vote, 'hardState.vote')
      .uint(3, s.commit, 'hardState.commit')
      .finish();
  } catch (err) {
    return codecError('hard state encode', err);
  }
}

function decodeHardState(b: Uint8Array): EtcdHardState {
  try {
    const r = new ProtoReader(b, 'raftpb.HardState');
    const s: EtcdHardState = { term: 0, vote: 0, commit: 0 };
    while (!r.done()) {
      const [f, wt] = r.key();
      if (f === 1) s.term = r.uint64Field('term', wt);
      else if (f === 2) s.vote = r.uint64Field('vote', wt);
      else if (f === 3) s.commit = r.safeField('commit', wt);
      else r.skip(wt);
    }
    return s;
  } catch (err) {
    return codecError('hard state decode', err);
  }
}

function encodeConfState(w: ProtoWriter, cs: EtcdConfState): Uint8Array {
  for (const v of cs.voters) w.uint(1, v, 'confState.voters');
  for (const v of cs.learners) w.uint(2, v, 'confState.learners');
  for (const v of cs.votersOutgoing) w.uint(3, v, 'confState.votersOutgoing');
  for (const v of cs.learnersNext) w.uint(4, v, 'confState.learnersNext');
  w.uint(5, cs.autoLeave ? 1 : 0, 'confState.autoLeave');
  return w.finish();
}

function decodeConfState(b: Uint8Array): EtcdConfState {
  const r = new ProtoReader(b, 'raftpb.ConfState');
  const cs: EtcdConfState = {
    voters: [],
    learners: [],
    votersOutgoing: [],
    learnersNext: [],
    autoLeave: false,
  };
  const lists = [cs.voters, cs.learners, cs.votersOutgoing, cs.learnersNext];
  while (!r.done()) {
    const [f, wt] = r.key();
    const list = lists[f - 1];
    if (list !== undefined && wt === 0) list.push(r.uint64(`confState field ${f}`));
    else if (list !== undefined && wt === 2) {
      // packed encoding
      const inner = new ProtoReader(r.bytes(`confState field ${f}`), 'raftpb.ConfState packed');
      while (!inner.done()) list.push(inner.uint64(`confState field ${f}`));
    } else if (f === 5) cs.autoLeave = r.safeField('autoLeave', wt) !== 0;
    else r.skip(wt);
  }
  return cs;
}

function encodeSnapshot(s: EtcdSnapshot): Uint8Array {
  try {
    const w = new ProtoWriter().uint(1, s.index, 'snapshot.index').uint(2, s.term, 'snapshot.term');
    if (s.confState !== undefined)
      w.bytes(3, encodeConfState(new ProtoWriter(), s.confState), 'snapshot.confState');
    return w.finish();
  } catch (err) {
    return codecError('snapshot encode', err);
  }
}

function decodeSnapshot(b: Uint8Array): EtcdSnapshot {
  try {
    const r = new ProtoReader(b, 'walpb.Snapshot');
    const s: EtcdSnapshot = { index: 0, term: 0 };
    while (!r.done()) {
      const [f, wt] = r.key();
      if (f === 1) s.index = r.safeField('index', wt);
      else if (f === 2) s.term = r.uint64Field('term', wt);
      else if (f === 3) s.confState = decodeConfState(r.bytesField('confState', wt));
      else r.skip(wt);
    }
    return s;
  } catch (err) {
    return codecError('snapshot decode', err);
  }
}

/**
 * Codecs for etcd's own record payloads (raftpb.Entry, raftpb.HardState, walpb.Snapshot), byte for byte as etcd v3
 * writes them: a WAL written with them is what etcd writes, and an etcd WAL directory can be read. Every uint64 is
 * exact: a `number` while safe, a `bigint` above 2^53 - 1 (etcd's member ids, as votes); nothing is rounded, and
 * re-encoding what was decoded gives the same bytes.
 *
 * @example
 * ```ts
 * const wal = await Wal.openForRead('/var/lib/etcd/member/wal', undefined, { codecs: etcdCodecs });
 * const { state, entries } = await wal.readAll();
 * console.log(state?.vote); // e.g. 12677484914216645533n
 * ```
 */
export const etcdCodecs: Codecs<EtcdEntry, EtcdHardState, EtcdSnapshot> = {
  entry: { encode: encodeEntry, decode: decodeEntry, index: (e) => e.index },
  state: {
    encode: encodeHardState,
    decode: decodeHardState,
    term: (s) => s.term,
    vote: (s) => s.vote,
    commit: (s) => s.commit,
    isEmpty: (s) => isZero(s.term) && isZero(s.vote) && s.commit === 0,
  },
  snapshot: {
    encode: encodeSnapshot,
    decode: decodeSnapshot,
    index: (s) => safeIndex(s.index, 'snapshot index'),
    term: (s) => s.term,
    zero: () => ({ index: 0, term: 0 }),
  },
};
