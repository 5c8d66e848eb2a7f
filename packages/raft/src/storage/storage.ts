import type { ConfState, Entry, HardState, Snapshot } from '../raftpb/types.js';

/**
 * What raft reads its log from (etcd's `raft.Storage`). Calls are synchronous and must be cheap: raft calls them
 * on its hot path. Errors are thrown `RaftError`s: `ERR_COMPACTED` for an index before the first available one,
 * `ERR_UNAVAILABLE` for one after the last, `ERR_SNAPSHOT_TEMPORARILY_UNAVAILABLE` from `snapshot()` while a
 * snapshot is being made (raft retries later). The application writes to it (after persisting each Ready) and
 * raft only reads; {@link MemoryStorage} is the usual implementation, rebuilt from the WAL on restart.
 */
export interface Storage {
  /**
   * The saved hard state and configuration (on restart). Raft treats everything in Storage as durable: it never
   * hands those entries out for persistence again. `confState` must be the configuration as of the index raft
   * starts applying after (`Config.applied`, usually the snapshot's index): conf changes after it come out again
   * in `committedEntries` and are applied again.
   */
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [lo, hi), at most `maxSize` total size but always at least one entry if any are in range. */
  entries(lo: number, hi: number, maxSize: number): Entry[];
  /**
   * The term of entry `i`, which must be in [firstIndex - 1, lastIndex]. firstIndex - 1 is the snapshot's last
   * entry: its term is still needed to check an append that follows it (§5.3).
   */
  term(i: number): number;
  /** Index of the last entry. */
  lastIndex(): number;
  /** Index of the first entry that is available (older ones were compacted into the snapshot). */
  firstIndex(): number;
  /** The most recent snapshot. */
  snapshot(): Snapshot;
}
