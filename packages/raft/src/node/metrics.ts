import { StateType } from '../raft/state-type.js';

/**
 * Upper bounds (seconds) of the latency buckets RaftNode records: 100 µs doubling to ~6.5 s, so a Ready loop over
 * memory storage (tens of µs) and a WAL fdatasync on a slow disk (seconds) both land inside the range.
 */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = Object.freeze(
  Array.from({ length: 17 }, (_, i) => 0.0001 * 2 ** i),
);

/** A histogram as plain data: `counts[i]` observations were <= `buckets[i]` (cumulative, Prometheus style). */
export interface HistogramSnapshot {
  /** Upper bounds in seconds, ascending; the implicit last bucket is +Inf (its count is `count`). */
  buckets: readonly number[];
  /** Cumulative counts per bucket, same length as `buckets`. */
  counts: readonly number[];
  /** Sum of all observations, in seconds. */
  sum: number;
  /** Number of observations. */
  count: number;
}

/**
 * A fixed-bucket histogram of durations. `observe` allocates nothing (one typed-array increment), so it is cheap
 * on the hot path; buckets are cumulated only when a snapshot is taken.
 *
 * @example
 * ```ts
 * const fsync = new Histogram();
 * const wal = await Wal.create(dir, meta, { onFsync: (ms) => fsync.observe(ms / 1000) });
 * fsync.snapshot(); // { buckets, counts, sum, count }
 * ```
 */
export class Histogram {
  private readonly bounds: readonly number[];
  /** Observations per bucket (not cumulative); the last slot is the +Inf bucket. */
  private readonly perBucket: Float64Array;
  private sum = 0;
  private count = 0;

  /** `buckets`: ascending upper bounds in seconds; default {@link LATENCY_BUCKETS_SECONDS}. */
  constructor(buckets: readonly number[] = LATENCY_BUCKETS_SECONDS) {
    for (let i = 0; i < buckets.length; i++) {
      const b = buckets[i]!;
      if (!Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]!))
        throw new RangeError(`histogram buckets must be finite and strictly ascending; bucket ${i} is ${b}`);
    }
    this.bounds = Object.freeze([...buckets]);
    this.perBucket = new Float64Array(buckets.length + 1);
  }

  /** Records one observation, in seconds. */
  observe(seconds: number): void {
    let i = 0;
    while (i < this.bounds.length && seconds > this.bounds[i]!) i++;
    this.perBucket[i]!++;
    this.sum += seconds;
    this.count++;
  }

  snapshot(): HistogramSnapshot {
    const counts: number[] = [];
    let running = 0;
    for (let i = 0; i < this.bounds.length; i++) counts.push((running += this.perBucket[i]!));
    return { buckets: this.bounds, counts, sum: this.sum, count: this.count };
  }
}

/** Traffic to one peer as seen at the transport boundary. */
export interface PeerTraffic {
  id: number;
  /** Messages RaftNode handed to `transport.send` / `sendSnapshot` for this peer. */
  sent: number;
  /**
   * Messages the transport reported undeliverable (`reportUnreachable`) plus snapshot sends that failed. The
   * memory transport and TcpTransport's full-queue path report once per message; a TCP link that breaks with
   * messages queued reports once for the whole queue, so this can undercount drops on a broken link.
   */
  dropped: number;
}

/**
 * What {@link RaftNode.metrics} returns: plain data, a copy taken at the call. Counters count since this process
 * started the node (they restart at 0 after a restart); the index and state fields are gauges.
 */
export interface RaftNodeMetrics {
  id: number;
  role: StateType;
  term: number;
  /** The leader this node knows, 0 when none. */
  leader: number;
  commitIndex: number;
  appliedIndex: number;
  snapshotIndex: number;
  /** Committed entries queued for the applier and not yet applied (the bound is `maxApplyBacklog`). */
  applyBacklog: number;
  maxApplyBacklog: number;
  /** Proposals (entries and conf changes) handed to raft by this node. Refused ones (no leader, backlog) are not. */
  proposals: number;
  /** Proposals refused at once because the apply backlog was full (`ERR_APPLY_BACKLOG`). */
  proposalsRefusedBacklog: number;
  /** Committed entries handed to the applier (entries covered by an installed snapshot are not). */
  entriesCommitted: number;
  /** Entries applied to the state machine (a restored snapshot counts as none). */
  entriesApplied: number;
  /** Times this node started an election (became candidate; pre-votes that did not become one are not counted). */
  elections: number;
  /** Times this node became leader. */
  electionsWon: number;
  /** Times the known leader changed to a new, non-zero leader (etcd's `leader_changes_seen_total`). */
  leaderChanges: number;
  /** Ticks since this node last knew a leader (0 while it knows one). */
  leaderlessTicks: number;
  snapshots: {
    /** Snapshots this node took of its own state machine. */
    taken: number;
    /** Snapshots received from a leader and restored. */
    installed: number;
    /** Snapshots sent to followers (handed to the transport). */
    sent: number;
    /** Snapshot sends that failed. */
    failed: number;
  };
  /** Duration of each Ready handled by the loop (persist, send, queue for apply, advance). */
  readyLoopSeconds: HistogramSnapshot;
  /**
   * Duration of each `storage.save` the loop waited for (write and fdatasync of entries and hard state; the WAL
   * skips the sync for a commit-only hard state, which is then counted too, and fast).
   */
  storageSaveSeconds: HistogramSnapshot;
  /** Duration of the last `storage.save`, in seconds (0 before the first). */
  lastStorageSaveSeconds: number;
  /** Per peer, ascending by id; a peer appears once a message was sent to or dropped for it. */
  peers: PeerTraffic[];
}

/** The gauges RaftNode reads at snapshot time (not kept here, so there is one source of truth). */
export type NodeGauges = Pick<
  RaftNodeMetrics,
  | 'id'
  | 'role'
  | 'term'
  | 'leader'
  | 'commitIndex'
  | 'appliedIndex'
  | 'snapshotIndex'
  | 'applyBacklog'
  | 'maxApplyBacklog'
>;

/**
 * The mutable counters behind {@link RaftNodeMetrics}, updated by RaftNode's hooks. Every hook is O(1) and allocates
 * nothing except the first time a peer is seen.
 */
export class NodeMetrics {
  proposals = 0;
  proposalsRefusedBacklog = 0;
  entriesCommitted = 0;
  entriesApplied = 0;
  elections = 0;
  electionsWon = 0;
  leaderChanges = 0;
  leaderlessTicks = 0;
  snapshotsTaken = 0;
  snapshotsInstalled = 0;
  snapshotsSent = 0;
  snapshotsFailed = 0;
  readonly readyLoop = new Histogram();
  readonly storageSave = new Histogram();
  /** Duration of the last storage save, in seconds (health's slow-disk check). */
  lastSaveSeconds = 0;
  private readonly traffic = new Map<number, PeerTraffic>();
  private lastApplied: number;

  constructor(applied: number) {
    this.lastApplied = applied;
  }

  private peer(id: number): PeerTraffic {
    let p = this.traffic.get(id);
    if (p === undefined) this.traffic.set(id, (p = { id, sent: 0, dropped: 0 }));
    return p;
  }

  sent(to: number): void {
    this.peer(to).sent++;
  }

  dropped(to: number): void {
    this.peer(to).dropped++;
  }

  snapshotFailed(to: number): void {
    this.snapshotsFailed++;
    this.peer(to).dropped++;
  }

  saved(seconds: number): void {
    this.lastSaveSeconds = seconds;
    this.storageSave.observe(seconds);
  }

  applied(index: number): void {
    if (index > this.lastApplied) this.entriesApplied += index - this.lastApplied;
    this.lastApplied = index;
  }

  /** A snapshot restore moves the applied index without applying entries. */
  restored(index: number): void {
    this.snapshotsInstalled++;
    this.lastApplied = Math.max(this.lastApplied, index);
  }

  roleChanged(role: StateType): void {
    if (role === StateType.Candidate) this.elections++;
    else if (role === StateType.Leader) this.electionsWon++;
  }

  leaderChanged(lead: number): void {
    if (lead !== 0) {
      this.leaderChanges++;
      this.leaderlessTicks = 0;
    }
  }

  ticked(leader: number): void {
    this.leaderlessTicks = leader === 0 ? this.leaderlessTicks + 1 : 0;
  }

  snapshot(g: NodeGauges): RaftNodeMetrics {
    return {
      ...g,
      proposals: this.proposals,
      proposalsRefusedBacklog: this.proposalsRefusedBacklog,
      entriesCommitted: this.entriesCommitted,
      entriesApplied: this.entriesApplied,
      elections: this.elections,
      electionsWon: this.electionsWon,
      leaderChanges: this.leaderChanges,
      leaderlessTicks: this.leaderlessTicks,
      snapshots: {
        taken: this.snapshotsTaken,
        installed: this.snapshotsInstalled,
        sent: this.snapshotsSent,
        failed: this.snapshotsFailed,
      },
      readyLoopSeconds: this.readyLoop.snapshot(),
      storageSaveSeconds: this.storageSave.snapshot(),
      lastStorageSaveSeconds: this.lastSaveSeconds,
      peers: [...this.traffic.values()].map((p) => ({ ...p })).sort((a, b) => a.id - b.id),
    };
  }
}
