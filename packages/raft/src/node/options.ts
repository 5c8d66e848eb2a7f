import { RaftError } from '../errors.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { StateType } from '../raft/state-type.js';
import {
  EntryType,
  type ConfChangeSingle,
  type ConfState,
  type Entry,
  type HardState,
  type SnapshotMetadata,
} from '../raftpb/types.js';
import type { DurableStorage, LoadedSnapshot, SnapshotFiles, StateMachine, Transport } from './types.js';

/** Events a {@link RaftNode} emits. */
export interface RaftNodeEvents {
  /** This node's role changed (e.g. follower → leader). */
  role: (role: StateType, term: number) => void;
  /** The known leader changed (0 = none). */
  leader: (leader: number, term: number) => void;
  /** Entries up to `index` are applied to the state machine. */
  applied: (index: number) => void;
  /** A snapshot was taken locally, or installed from the leader. */
  snapshot: (metadata: SnapshotMetadata, origin: 'local' | 'leader') => void;
  /** A membership change was applied: the new configuration, the changes, and the proposer's context bytes. */
  confChange: (confState: ConfState, changes: readonly ConfChangeSingle[], context: Uint8Array) => void;
  /** A fatal error: the node stopped (e.g. the WAL failed). */
  error: (err: Error) => void;
}

/** An entry as a durable log returns it (the WAL's `type` is optional; absent means a normal entry). */
export interface StoredEntry {
  index: number;
  term: number;
  type?: number | undefined;
  data: Uint8Array;
}

export function toEntry(e: StoredEntry): Entry {
  const type = e.type ?? EntryType.Normal;
  if (type !== EntryType.Normal && type !== EntryType.ConfChange && type !== EntryType.ConfChangeV2) {
    throw new RaftError('ERR_LOG_CORRUPT', `entry ${e.index} in the durable log has unknown type ${type}`);
  }
  return { index: e.index, term: e.term, type, data: e.data };
}

/** Options of {@link RaftNode.start}. */
export interface RaftNodeOptions<R> {
  /** This node's id (non-zero, never reused). */
  id: number;
  /**
   * The initial members of a brand-new cluster, with their transport addresses. Used only when there is no
   * recovered state and `join` is false.
   */
  peers?: readonly { id: number; address?: string }[];
  /** Start empty and wait for the leader to add this node (a member added by a conf change). */
  join?: boolean;
  /** The durable log (an `@x/wal` `Wal` opened at `snapshot`). */
  storage: DurableStorage;
  /** What `wal.readAll()` returned, when restarting. */
  recovered?: { state: HardState | undefined; entries: readonly StoredEntry[] } | undefined;
  /** The snapshot the WAL was opened at (from `SnapshotStore.loadNewestAvailable`), when restarting. */
  snapshot?: LoadedSnapshot | undefined;
  /** Where snapshots are saved; without it the node never snapshots (and cannot catch followers up by snapshot). */
  snapshots?: SnapshotFiles;
  stateMachine: StateMachine<R>;
  transport: Transport;
  /** Milliseconds per raft tick. Default 100. */
  tickMs?: number;
  /** Default 10 ticks. */
  electionTick?: number;
  /** Default 1 tick. */
  heartbeatTick?: number;
  /** Take a snapshot after this many applied entries since the last one (etcd: 10,000). */
  snapshotCount?: number;
  /**
   * Decides, after each applied batch, whether to snapshot now; replaces the `snapshotCount` rule. For example,
   * snapshot by bytes applied, or only at quiet times.
   */
  snapshotPolicy?: (s: { appliedIndex: number; snapshotIndex: number }) => boolean;
  /** Entries kept in the in-memory log behind a snapshot so slow followers catch up without one (etcd: 5,000). */
  snapshotCatchUpEntries?: number;
  /** Snapshot files kept on disk. Default 3. */
  keepSnapshots?: number;
  /** Default for propose/read/conf-change timeouts, in ms. Default 10,000. */
  requestTimeoutMs?: number;
  /** Extra raft configuration (preVote and checkQuorum default to true here). */
  raft?: Partial<Omit<Config, 'id' | 'storage' | 'applied' | 'electionTick' | 'heartbeatTick'>>;
  logger?: Logger;
}
