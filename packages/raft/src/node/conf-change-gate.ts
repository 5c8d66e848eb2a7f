import type { ConfState } from '../raftpb/types.js';

/** What the gate reads from its node, and how it resolves a proposer. */
export interface ConfChangeGateHost {
  /** Raft's own applied index (advanced by `advance()`, not by the applier). */
  raftApplied(): number;
  isLeader(): boolean;
  /** Resolves the proposer of the conf change `seq` with the configuration `cs`. */
  resolve(seq: number, cs: ConfState): void;
}

/**
 * Keeps RaftNode's conf-change promises in step with raft's rule that a leader ignores a conf change (turns it
 * into an empty entry, so its promise would only time out) while an earlier one, or its term's first entry, is
 * not applied in raft's own view. RaftNode's applier runs ahead of that view (a leader queues committed entries
 * before the save whose `advance()` marks them applied), so:
 *
 * - a conf change this node proposed resolves only once raft counts it applied, so the caller's next change is
 *   accepted ({@link applied}, {@link advanced});
 * - a conf change proposed on a new leader waits until raft applied its term's first entry ({@link ready}).
 *
 * A change proposed on a follower, or forwarded from one while another is pending, can still be ignored by the
 * leader; its promise then times out (ERR_TIMEOUT), as etcd's would.
 */
export class ConfChangeGate {
  /** While this node leads: the index of its term's first entry (or later: an upper bound is safe). */
  private leaderSince = 0;
  private waiters: (() => void)[] = [];
  /** Applied by the applier, not yet by raft; in index order. */
  private readonly pending: { index: number; seq: number; cs: ConfState }[] = [];

  constructor(private readonly host: ConfChangeGateHost) {}

  /** This node was elected in a Ready whose entries end at `lastIndex` (at or after its term's first entry). */
  elected(lastIndex: number): void {
    this.leaderSince = lastIndex;
  }

  /** Resolves when a conf change proposed now would not be ignored for the term-start rule. */
  ready(): Promise<void> {
    if (!this.host.isLeader() || this.host.raftApplied() >= this.leaderSince) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The applier reached conf change `seq` (proposed here) at `index`. */
  applied(index: number, seq: number, cs: ConfState): void {
    this.pending.push({ index, seq, cs });
    this.advanced();
  }

  /** Raft's applied index may have moved (after `advance()`, or a role change). */
  advanced(): void {
    const applied = this.host.raftApplied();
    while (this.pending.length > 0 && this.pending[0]!.index <= applied) {
      const { seq, cs } = this.pending.shift()!;
      this.host.resolve(seq, cs);
    }
    if (this.waiters.length === 0) return;
    if (this.host.isLeader() && applied < this.leaderSince) return;
    for (const w of this.waiters.splice(0)) w();
  }

  /** Lets every waiter go (the node stops: their requests then see it stopped). */
  releaseAll(): void {
    for (const w of this.waiters.splice(0)) w();
    this.pending.length = 0;
  }
}
