import { RaftError } from '../errors.js';
import { limitSize } from '../log/limit-size.js';
import {
  emptyConfState,
  type ConfState,
  type Entry,
  type HardState,
  type Snapshot,
} from '../raftpb/types.js';
import type { Storage } from './storage.js';

const EMPTY = new Uint8Array(0);

/**
 * An in-memory {@link Storage} (etcd's MemoryStorage): the log after the last snapshot, the snapshot, and the hard
 * state. The application appends each Ready's entries after persisting them durably elsewhere (the WAL), and
 * compacts after taking a snapshot. It is raft's view of the log, not a durable log: a `RaftNode` in tests takes a
 * `MemoryDurableStorage` (and a `MemorySnapshotStore`) instead.
 *
 * @example
 * ```ts
 * const storage = new MemoryStorage();
 * const node = new RawNode({ id: 1, electionTick: 10, heartbeatTick: 1, storage });
 * // in the Ready loop, after the WAL saved rd.entries / rd.hardState:
 * storage.append(rd.entries);
 * if (rd.hardState) storage.setHardState(rd.hardState);
 * ```
 */
export class MemoryStorage implements Storage {
  private hs: HardState = { term: 0, vote: 0, commit: 0 };
  private snap: Snapshot = { data: EMPTY, metadata: { index: 0, term: 0, confState: emptyConfState() } };
  /**
   * ents[i] holds log position `ents[0].index + i`. ents[0] is a dummy carrying the index and term of the last
   * compacted entry (the snapshot's); it is never returned by `entries()`. Invariant: ents.length >= 1.
   */
  private ents: Entry[] = [{ term: 0, index: 0, type: 0, data: EMPTY }];

  /** `confState` seeds the initial configuration (as a snapshot at index 0 would); used by tests and tools. */
  constructor(init: { confState?: ConfState } = {}) {
    if (init.confState !== undefined) this.snap.metadata.confState = init.confState;
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hs, confState: this.snap.metadata.confState };
  }

  /** The stored hard state. */
  hardState(): HardState {
    return this.hs;
  }

  setHardState(hs: HardState): void {
    this.hs = { term: hs.term, vote: hs.vote, commit: hs.commit };
  }

  entries(lo: number, hi: number, maxSize: number): Entry[] {
    const offset = this.ents[0]!.index;
    if (lo <= offset)
      throw new RaftError(
        'ERR_COMPACTED',
        `entries(${lo}, ${hi}): index ${lo} is compacted (first is ${offset + 1})`,
      );
    if (hi > this.lastIndex() + 1) {
      throw new RangeError(`entries(${lo}, ${hi}): hi is out of bound, last index is ${this.lastIndex()}`);
    }
    if (this.ents.length === 1) throw new RaftError('ERR_UNAVAILABLE', 'entries(): the log holds no entries');
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxSize);
  }

  term(i: number): number {
    const offset = this.ents[0]!.index;
    if (i < offset)
      throw new RaftError('ERR_COMPACTED', `term(${i}): index is compacted (first is ${offset + 1})`);
    const e = this.ents[i - offset];
    if (e === undefined)
      throw new RaftError('ERR_UNAVAILABLE', `term(${i}): index is past the last (${this.lastIndex()})`);
    return e.term;
  }

  lastIndex(): number {
    return this.ents[0]!.index + this.ents.length - 1;
  }

  firstIndex(): number {
    return this.ents[0]!.index + 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces the contents with a snapshot (a follower installing the leader's). Refuses an older one. */
  applySnapshot(snap: Snapshot): void {
    if (this.snap.metadata.index >= snap.metadata.index) {
      throw new RaftError(
        'ERR_SNAPSHOT_OUT_OF_DATE',
        `applySnapshot: snapshot at ${snap.metadata.index} is not newer than the current one at ${this.snap.metadata.index}`,
      );
    }
    this.snap = snap;
    this.ents = [{ term: snap.metadata.term, index: snap.metadata.index, type: 0, data: EMPTY }];
  }

  /**
   * Records a snapshot of the state at index `i` (which must be applied), with its configuration and data; returns
   * it. Entries up to `i` may then be dropped with {@link compact}.
   */
  createSnapshot(i: number, cs: ConfState | undefined, data: Uint8Array): Snapshot {
    if (i <= this.snap.metadata.index) {
      throw new RaftError(
        'ERR_SNAPSHOT_OUT_OF_DATE',
        `createSnapshot(${i}): not newer than the snapshot at ${this.snap.metadata.index}`,
      );
    }
    const offset = this.ents[0]!.index;
    if (i > this.lastIndex())
      throw new RangeError(`createSnapshot(${i}) is out of bound, last index is ${this.lastIndex()}`);
    this.snap = {
      data,
      metadata: {
        index: i,
        term: this.ents[i - offset]!.term,
        confState: cs ?? this.snap.metadata.confState,
      },
    };
    return this.snap;
  }

  /**
   * Drops entries before `compactIndex` (the entry at compactIndex stays, as the new dummy). Only compact up to
   * what is applied and covered by a snapshot: a follower that needs a compacted entry gets the snapshot instead.
   */
  compact(compactIndex: number): void {
    const offset = this.ents[0]!.index;
    if (compactIndex <= offset)
      throw new RaftError('ERR_COMPACTED', `compact(${compactIndex}): already compacted to ${offset}`);
    if (compactIndex > this.lastIndex()) {
      throw new RangeError(`compact(${compactIndex}) is out of bound, last index is ${this.lastIndex()}`);
    }
    const i = compactIndex - offset;
    const dummy: Entry = { term: this.ents[i]!.term, index: this.ents[i]!.index, type: 0, data: EMPTY };
    this.ents = [dummy, ...this.ents.slice(i + 1)];
  }

  /**
   * Appends entries, replacing any existing ones from the first new index on (a leader's log overrides a
   * conflicting suffix). Entries already compacted are skipped. A gap after the last entry is an error.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0]!.index + entries.length - 1;
    if (last < first) return;
    let from = 0;
    if (first > entries[0]!.index) from = first - entries[0]!.index;
    const start = entries[from]!.index;
    const offset = start - this.ents[0]!.index;
    if (offset > this.ents.length) {
      throw new RangeError(`append: missing log entry [last: ${this.lastIndex()}, append at: ${start}]`);
    }
    this.ents.length = offset;
    for (let k = from; k < entries.length; k++) this.ents.push(entries[k]!);
  }
}
