// A follower's replication progress as the leader sees it (etcd v3.6 tracker/progress.go).
import type { Inflights } from './inflights.js';
import { ProgressState } from './progress-state.js';

/** Initial values for a {@link Progress}; everything but `next` and `inflights` defaults to etcd's zero value. */
export interface ProgressInit {
  /** Next log index to send; must be > `match` (defaults: `match` 0). */
  next: number;
  match?: number;
  inflights: Inflights;
  isLearner?: boolean;
  recentActive?: boolean;
}

/**
 * The leader's view of one follower (or learner): how far its log matches, what to send next, and in which
 * {@link ProgressState} replication is. The transitions are driven by the leader's step functions; this class
 * keeps each transition's bookkeeping in one place.
 *
 * @example
 * const pr = new Progress({ next: 6, inflights: new Inflights(256, 0) });
 * pr.maybeUpdate(5); // follower acked index 5: match=5, next=6
 * pr.becomeReplicate();
 */
export class Progress {
  /** Highest index known to match the leader's log. Invariant: `0 <= match < next`. */
  match: number;
  /**
   * Next index to send. Entries in (match, next) are in flight. Invariant: `next >= 1`; in Snapshot state,
   * `next === pendingSnapshot + 1`.
   */
  next: number;
  /**
   * Highest commit index in flight to the follower. Mostly monotonic, but regresses on becomeProbe and on
   * rejections. In Snapshot state, `sentCommit === pendingSnapshot === next - 1`.
   */
  sentCommit = 0;
  /** How the leader currently replicates to this follower. */
  state: ProgressState = ProgressState.Probe;
  /**
   * In Snapshot state: the leader's snapshot index when it decided a snapshot was needed (the index in the
   * MsgSnap). 0 otherwise. Any MsgAppResp reconnecting the follower ends Snapshot state, even one for a
   * different snapshot index (snapshots may come from elsewhere).
   */
  pendingSnapshot = 0;
  /**
   * Whether the follower was heard from since the last CheckQuorum round: set by its MsgAppResp and
   * MsgHeartbeatResp, cleared for every peer but the leader at each round (one per election timeout).
   */
  recentActive: boolean;
  /**
   * Whether the append flow is throttled: in Probe after one probe was sent, in Replicate when the inflight
   * window is full. Cleared by a heartbeat response or an ack, so the leader keeps sending once in a while.
   */
  msgAppFlowPaused = false;
  /** The window of unacknowledged appends (count and bytes). */
  inflights: Inflights;
  /** Whether this progress tracks a learner (non-voting member). */
  isLearner: boolean;

  constructor(init: ProgressInit) {
    this.match = init.match ?? 0;
    this.next = init.next;
    this.inflights = init.inflights;
    this.isLearner = init.isLearner ?? false;
    this.recentActive = init.recentActive ?? false;
  }

  /** A deep copy (including the inflight window) sharing no memory with this one. */
  clone(): Progress {
    const p = new Progress({
      match: this.match,
      next: this.next,
      inflights: this.inflights.clone(),
      isLearner: this.isLearner,
      recentActive: this.recentActive,
    });
    p.sentCommit = this.sentCommit;
    p.state = this.state;
    p.pendingSnapshot = this.pendingSnapshot;
    p.msgAppFlowPaused = this.msgAppFlowPaused;
    return p;
  }

  /** Moves to `state`, clearing the pause flag, the pending snapshot and the inflight window. */
  resetState(state: ProgressState): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  /**
   * Moves to Probe. `next` becomes `match + 1` or, coming from Snapshot, `max(match, pendingSnapshot) + 1`:
   * the snapshot was delivered, so probing resumes after it.
   */
  becomeProbe(): void {
    if (this.state === ProgressState.Snapshot) {
      const pendingSnapshot = this.pendingSnapshot;
      this.resetState(ProgressState.Probe);
      this.next = Math.max(this.match + 1, pendingSnapshot + 1);
    } else {
      this.resetState(ProgressState.Probe);
      this.next = this.match + 1;
    }
    this.sentCommit = Math.min(this.sentCommit, this.next - 1);
  }

  /** Moves to Replicate with `next = match + 1`. */
  becomeReplicate(): void {
    this.resetState(ProgressState.Replicate);
    this.next = this.match + 1;
  }

  /** Moves to Snapshot, waiting for the snapshot at `snapshotIndex` to be applied by the follower. */
  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snapshotIndex;
    this.next = snapshotIndex + 1;
    this.sentCommit = snapshotIndex;
  }

  /**
   * Records that a MsgApp carrying `entries` consecutive entries (`bytes` of payload) starting at `next` was
   * sent. In Replicate, advances `next` and fills the window (pausing when full); in Probe, a non-empty
   * append is a probe and pauses the flow.
   *
   * @throws Error in Snapshot state (a caller bug; etcd panics).
   */
  sentEntries(entries: number, bytes: number): void {
    switch (this.state) {
      case ProgressState.Replicate:
        if (entries > 0) {
          this.next += entries;
          this.inflights.add(this.next - 1, bytes);
        }
        // A message that fills (or found full) the window counts as a probe: pause the flow.
        this.msgAppFlowPaused = this.inflights.full();
        return;
      case ProgressState.Probe:
        if (entries > 0) this.msgAppFlowPaused = true;
        return;
      default:
        throw new Error(`sending append in unhandled state ${this.state}`);
    }
  }

  /**
   * Whether sending commit index `index` may advance the follower's commit: it is above what was sent and
   * what was sent does not already bring the follower's commit up to `next - 1`.
   */
  canBumpCommit(index: number): boolean {
    return index > this.sentCommit && this.sentCommit < this.next - 1;
  }

  /** Records that commit index `commit` was sent to the follower (etcd's Progress.SentCommit). */
  noteSentCommit(commit: number): void {
    this.sentCommit = commit;
  }

  /**
   * Handles a MsgAppResp acknowledging index `n`. Returns false if `n` is stale (<= match); otherwise raises
   * `match` (and `next` if needed), unpauses the flow, and returns true.
   */
  maybeUpdate(n: number): boolean {
    if (n <= this.match) return false;
    this.match = n;
    this.next = Math.max(this.next, n + 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  /**
   * Handles a rejected MsgApp whose previous index was `rejected`, with the follower's hint `matchHint` (the
   * highest index it may share with the leader). Returns false for a stale rejection: in Replicate one at or
   * below `match`, in Probe one that is not for `next - 1` (probes go one at a time). Otherwise lowers `next`
   * (in Replicate to `match + 1`; in Probe to `max(min(rejected, matchHint + 1), match + 1)`), regresses
   * `sentCommit`, unpauses the flow and returns true.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      if (rejected <= this.match) return false;
      // The follower lost or refused an optimistic append: the logs are known to agree only up to `match`, so
      // everything after it is sent again (the hint is not needed).
      this.next = this.match + 1;
      this.sentCommit = Math.min(this.sentCommit, this.next - 1);
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.sentCommit = Math.min(this.sentCommit, this.next - 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  /**
   * Whether appends to this follower are throttled: always in Snapshot state, and in Probe/Replicate while the
   * flow is paused (a probe is outstanding or the inflight window is full).
   */
  isPaused(): boolean {
    return this.state === ProgressState.Snapshot ? true : this.msgAppFlowPaused;
  }

  /** etcd's format, e.g. `StateReplicate match=5 next=8 inflight=2[full]`. */
  toString(): string {
    let s = `${this.state} match=${this.match} next=${this.next}`;
    if (this.isLearner) s += ' learner';
    if (this.isPaused()) s += ' paused';
    if (this.pendingSnapshot > 0) s += ` pendingSnap=${this.pendingSnapshot}`;
    if (!this.recentActive) s += ' inactive';
    const n = this.inflights.count();
    if (n > 0) {
      s += ` inflight=${n}`;
      if (this.inflights.full()) s += '[full]';
    }
    return s;
  }
}

/** Progress of every tracked peer (voters and learners) by node id. */
export type ProgressMap = Map<number, Progress>;

/** Formats a progress map as etcd does: one `id: progress` line per peer, in id order. */
export function formatProgressMap(m: ReadonlyMap<number, Progress>): string {
  const ids = Array.from(m.keys()).sort((a, b) => a - b);
  let s = '';
  for (const id of ids) s += `${id}: ${String(m.get(id))}\n`;
  return s;
}
