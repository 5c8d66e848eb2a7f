import type { Config } from '../config.js';
import { RaftError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RandomSource } from '../random.js';
import type { Clock } from './clock.js';
import type { StateType } from '../raft/state-type.js';
import type { ConfChangeSingle, ConfState, SnapshotMetadata } from '../raftpb/types.js';
import { healthThresholds, type HealthOptions } from './health.js';
import { checkMemberInfo } from './member-codec.js';
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

/** Options of {@link RaftNode.start}. */
export interface RaftNodeOptions<R> {
  /** This node's id (non-zero, never reused). */
  id: number;
  /**
   * How to start; default `'auto'`. The node first reads what `storage` holds (`readAll`), then:
   * - `'auto'`: storage holds raft state → restart from it; empty → bootstrap a new cluster of `peers`.
   * - `'bootstrap'`: a brand-new cluster of `peers`; refuses with `ERR_STORAGE_NOT_EMPTY` if storage holds state
   *   (bootstrapping would overwrite acknowledged entries and this node's vote).
   * - `'restart'`: resume from storage; refuses with `ERR_STORAGE_EMPTY` if it holds nothing (e.g. a wrong or
   *   wiped data directory), instead of coming back as a new, empty member.
   * - `'join'`: an empty member that waits for the leader to add it by a conf change (it gets the log or a snapshot
   *   from the leader); if storage already holds state (it joined before and restarts), it restarts from it.
   *
   * Which one it did is {@link RaftNode.startedAs}.
   */
  mode?: 'auto' | 'bootstrap' | 'restart' | 'join';
  /**
   * Unsafe; the last resort after a cluster lost its quorum for good (etcd's `--force-new-cluster`). On this
   * restart (the storage must hold state, else `ERR_STORAGE_EMPTY`), before raft starts, conf changes are
   * appended to the stored log and committed with everything before them: leave a joint configuration, make this
   * node a voter, remove every other member. It comes back as a one-member cluster with all of its data, elects
   * itself, and takes new members as usual ({@link RaftNode.addMember}); the removed ids stay refused. Every entry
   * it holds is committed, including ones the old cluster never committed (their clients saw an unknown outcome),
   * and writes that only the lost members had are gone. Start the node without it afterwards (the conf changes are
   * in its log then; with it again, it changes nothing while it is the only member). Never use it while another
   * member may still be running: two clusters would each accept writes.
   */
  forceNewCluster?: boolean;
  /**
   * Members and transport addresses. On every start, each peer with an `address` (other than this node) is added
   * to the transport; for these ids the address given here wins over the replicated one (a node may reach a peer
   * by its own route). When the node bootstraps (see `mode`), their ids are the new cluster's voters and their
   * addresses (and `metadata`) go into the replicated configuration; on a restart or join the membership and the
   * addresses come from the log and snapshots instead (see {@link RaftNode.members}), and the ids here are not used.
   */
  peers?: readonly { id: number; address?: string; metadata?: Readonly<Record<string, string>> }[];
  /** The durable log (an `@x/wal` `Wal` opened at `snapshot`, or a {@link MemoryDurableStorage}). */
  storage: DurableStorage;
  /**
   * The snapshot `storage` was opened at (`SnapshotStore.loadNewestAvailable(await Wal.validSnapshots(dir))`),
   * when there is one. The state machine is restored from it, and entries at or below its index are skipped. A
   * storage whose first entry is past `snapshot.index + 1` gets `ERR_CONFIG_INVALID` (field `snapshot`).
   */
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
  /**
   * Default for propose/read/conf-change timeouts, in ms. Default 10,000. A timeout counts from the start of the
   * synchronous stretch of code the request was made in (the clock is read once per stretch, not per request).
   */
  requestTimeoutMs?: number;
  /**
   * The bound of the apply queue. Committed entries are applied to the state machine off the Ready loop, so a slow
   * (e.g. I/O-bound, async) `apply` delays no heartbeat, vote or write; while this many entries wait to be applied
   * here, `propose` rejects with `ERR_APPLY_BACKLOG` (retryable: nothing was proposed). Entries other nodes
   * propose still queue beyond it (they are committed; they are also in raft's in-memory log until a snapshot).
   * Default 5,000 (etcd's maxGapBetweenApplyAndCommitIndex).
   */
  maxApplyBacklog?: number;
  /**
   * How many `apply` calls may be running at once. Default 1: each call starts after the previous one settled, and
   * the state machine never sees two calls at once. With n > 1, `apply` is still called in log order, but may be
   * called again before the promise of the previous call settled (up to n running): an I/O-bound state machine
   * that keeps its writes in call order (one connection, one ordered queue) then overlaps them, and applies at
   * up to n times the rate of one write's latency. Results are taken in log order, a proposal resolves only once
   * its own and every earlier apply settled, and `snapshot()`, `restore()` and conf changes wait until no apply is
   * running. A rejected apply stops the node, as with 1. A state machine that acknowledges its writes in groups
   * should return the group's one promise from each of its applies: consecutive applies returning the same promise
   * share one reaction (a promise per apply costs each replica a promise and a reaction per entry).
   *
   * @example
   * ```ts
   * // apply() queues the write on one ordered connection and resolves when the database acknowledged it
   * await RaftNode.start({ ...options, stateMachine: sqlMachine, applyConcurrency: 256 });
   * ```
   */
  applyConcurrency?: number;
  /**
   * How long `propose`, `proposeConfChange` and `read` wait for a leader when this node knows none, before
   * rejecting with `ERR_NO_LEADER` (retryable: nothing was proposed). Default 0: reject at once. The wait counts
   * toward the request's own timeout.
   */
  waitForLeaderMs?: number;
  /** When {@link RaftNode.health} reports a problem (defaults in {@link HealthOptions}). */
  health?: HealthOptions;
  /** Extra raft configuration (preVote, checkQuorum and stepDownOnRemoval default to true here). */
  raft?: Partial<Omit<Config, 'id' | 'storage' | 'applied' | 'electionTick' | 'heartbeatTick'>>;
  logger?: Logger;
  /**
   * Time for every timer, timeout, deferral and latency figure of the node. Default {@link systemClock} (Node's
   * timers). `@x/raft/testing`'s `simulate` passes a virtual clock so a run replays exactly; a service never sets it.
   */
  clock?: Clock;
  /**
   * Randomness for raft's election jitter (unless `raft.random` is given) and the proposal-id incarnation.
   * Default: unseeded (`Math.random` jitter, `crypto.getRandomValues`). A simulator passes a seeded source.
   */
  random?: RandomSource;
}

const MODES = new Set(['auto', 'bootstrap', 'restart', 'join']);

/** Rejects invalid {@link RaftNodeOptions} with ERR_CONFIG_INVALID naming the field (raft's own are checked by raft). */
export function checkOptions<R>(opts: RaftNodeOptions<R>): void {
  const bad = (field: string, why: string): never => {
    throw new RaftError('ERR_CONFIG_INVALID', `RaftNode.start: ${field} ${why}`, field);
  };
  // Options of earlier versions: ignoring them would silently change how the node starts.
  if ('recovered' in opts)
    bad('recovered', 'is no longer an option: RaftNode reads `storage.readAll()` itself');
  if ('join' in opts) bad('join', "is no longer an option: pass mode 'join'");
  if (opts.forceNewCluster === true && (opts.mode === 'bootstrap' || opts.mode === 'join')) {
    bad('forceNewCluster', `restarts from stored state; it cannot go with mode '${opts.mode}'`);
  }
  if (opts.mode !== undefined && !MODES.has(opts.mode)) {
    bad('mode', `must be 'auto', 'bootstrap', 'restart' or 'join', not ${JSON.stringify(opts.mode)}`);
  }
  for (const p of opts.peers ?? []) {
    if (p.address !== undefined || p.metadata !== undefined) {
      checkMemberInfo({ address: p.address ?? '', ...p }, `RaftNode.start: peers[${p.id}]`);
    }
  }
  const wait = opts.waitForLeaderMs;
  if (wait !== undefined && !(wait >= 0)) bad('waitForLeaderMs', `must be >= 0, not ${wait}`);
  const backlog = opts.maxApplyBacklog;
  if (backlog !== undefined && !(Number.isSafeInteger(backlog) && backlog >= 1)) {
    bad('maxApplyBacklog', `must be an integer >= 1, not ${backlog}`);
  }
  const concurrency = opts.applyConcurrency;
  if (concurrency !== undefined && !(Number.isSafeInteger(concurrency) && concurrency >= 1)) {
    bad('applyConcurrency', `must be an integer >= 1, not ${concurrency}`);
  }
  healthThresholds(opts.health, opts.electionTick ?? 10);
}
