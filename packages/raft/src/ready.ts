import type { Entry, HardState, Message, Snapshot } from './raftpb/types.js';
import type { ReadState, SoftState } from './raft/raft.js';

/**
 * Everything the application must do for the node, batched (etcd's Ready). **The contract**, in order:
 *
 * 1. **Persist** `entries`, then `hardState` and `snapshot` when present, to stable storage (a WAL). When
 *    `mustSync` is true the write must be durable (fdatasync) before going on. Writing entry `i` replaces any
 *    previously persisted entries at `i` and above.
 * 2. **Send** `messages`, only after step 1 (a vote or an append acknowledgement must never leave before the state
 *    it vouches for is on disk). A leader may send its messages in parallel with its own write in step 1
 *    (thesis §10.2.1): raft counts the leader's own entries toward the commit only after `advance`. After sending
 *    a `MsgSnap`, call `reportSnapshot` with the outcome.
 * 3. **Apply** `snapshot` (if any) and then `committedEntries` to the state machine, in order. For a
 *    `ConfChange`/`ConfChangeV2` entry call `applyConfChange`. Committed entries may include entries of this very
 *    Ready, which is why step 1 comes first.
 * 4. Call **`advance(ready)`**, then wait for the next `hasReady()`.
 *
 * `readStates` are confirmed read-index requests: serve each once the applied index reaches its `index`.
 */
export interface Ready {
  /** Leader and role, when they changed. Not persisted. */
  softState?: SoftState;
  /** Term, vote and commit to persist, when they changed. */
  hardState?: HardState;
  readStates: ReadState[];
  /** Entries to persist before sending messages. */
  entries: Entry[];
  /** A snapshot to persist and apply (a follower receiving the leader's). */
  snapshot?: Snapshot;
  /** Entries to apply (already committed). */
  committedEntries: Entry[];
  /** Messages to send after persisting. */
  messages: Message[];
  /** True when the hard state or entries must be fsync'd before messages go out (etcd's MustSync). */
  mustSync: boolean;
}

/** etcd's MustSync: new entries, or a term or vote change, must reach disk before anything else happens. */
export function mustSync(st: HardState, prev: HardState, entries: number): boolean {
  return entries !== 0 || st.vote !== prev.vote || st.term !== prev.term;
}
