// ProgressTracker: the configuration plus what the leader knows about every peer (etcd's tracker.go).
import type { ConfState } from '../raftpb/types.js';
import { VoteResult, jointCommittedIndex, jointIds, jointVoteResult, sortedIds } from '../quorum/index.js';
import type { AckedIndexer } from '../quorum/index.js';
import { emptyTrackerConfig } from './config.js';
import type { TrackerConfig } from './config.js';
import type { Progress, ProgressMap } from './progress.js';

/** The result of {@link ProgressTracker.tallyVotes}. */
export interface VoteTally {
  /** Voters (in either half of the config) that granted their vote. */
  granted: number;
  /** Voters that refused. */
  rejected: number;
  /** The outcome under the (possibly joint) configuration. */
  result: VoteResult;
}

/**
 * Tracks the active configuration and each peer's {@link Progress}; computes the commit index, election
 * outcomes and quorum liveness from them.
 *
 * Invariant: `progress` has an entry for every id in `config` (both voter halves, learners, learnersNext) and
 * none other. `config` and `progress` are replaced wholesale by the result of a confchange Changer.
 *
 * @example
 * const trk = new ProgressTracker(256, 0);
 * const [cfg, prs] = restore(new Changer(trk, lastIndex), confState);
 * trk.config = cfg; trk.progress = prs;
 * trk.committed(); // largest index acked by a (joint) quorum of voters
 */
export class ProgressTracker {
  /** The active membership configuration. */
  config: TrackerConfig = emptyTrackerConfig();
  /** Progress of every peer in `config`, by id. */
  progress: ProgressMap = new Map();
  /** Votes received in the current election: id -> granted. Only the first vote from each id counts. */
  votes = new Map<number, boolean>();

  /** Sorted ids of `progress` as of the last {@link visit}; reused while the key set is unchanged. */
  private visitIds: number[] = [];
  /** The map `visitIds` was computed from (identity), to notice a wholesale replacement. */
  private visitMap: ProgressMap | undefined;

  /** Acked index of a voter: its `match`. Built once so `committed()` allocates no closure per call. */
  private readonly matchIndexer: AckedIndexer = (id) => this.progress.get(id)?.match;

  /**
   * @param maxInflight the inflight window size for each new Progress (Config.maxInflightMsgs).
   * @param maxInflightBytes the inflight byte limit for each new Progress, 0 for none.
   */
  constructor(
    public maxInflight: number,
    public maxInflightBytes: number,
  ) {}

  /** The active configuration as a ConfState, every id list sorted ascending. */
  confState(): ConfState {
    return {
      voters: sortedIds(this.config.voters[0]),
      learners: sortedIds(this.config.learners),
      votersOutgoing: sortedIds(this.config.voters[1]),
      learnersNext: sortedIds(this.config.learnersNext),
      autoLeave: this.config.autoLeave,
    };
  }

  /** Whether the configuration has exactly one voter (and is not joint). */
  isSingleton(): boolean {
    return this.config.voters[0].size === 1 && this.config.voters[1].size === 0;
  }

  /**
   * The largest index acknowledged by a quorum of voters (both majorities when joint). Learners never count.
   * The leader's own `match` counts as its ack; it rises only when the leader's self-addressed MsgAppResp is
   * stepped in `advance`, i.e. once its entries are durable (§10.2.1). Raft only commits the index if the entry
   * is of the leader's term (Raft paper section 5.4.2); that check is the caller's.
   */
  committed(): number {
    return jointCommittedIndex(this.config.voters, this.matchIndexer);
  }

  /** Calls `f` for every tracked peer, in ascending id order (deterministic). */
  visit(f: (id: number, pr: Progress) => void): void {
    const ids = this.sortedProgressIds();
    for (const id of ids) {
      const pr = this.progress.get(id);
      if (pr !== undefined) f(id, pr);
    }
  }

  /** Sorted progress ids, recomputed only when the map or its key set changed. */
  private sortedProgressIds(): number[] {
    const m = this.progress;
    let same = this.visitMap === m && this.visitIds.length === m.size;
    if (same) {
      for (const id of this.visitIds) {
        if (!m.has(id)) {
          same = false;
          break;
        }
      }
    }
    if (!same) {
      this.visitIds = sortedIds(m.keys());
      this.visitMap = m;
    }
    // Copy-free: callers only iterate. A visitor that changes the key set gets a fresh array next time.
    return this.visitIds;
  }

  /**
   * Whether a quorum of voters was recently active (CheckQuorum, Raft dissertation section 6.2): the leader
   * steps down when this is false after an election timeout. The leader counts itself: its own `recentActive`
   * is set when it becomes leader and never cleared.
   */
  quorumActive(): boolean {
    const votes = new Map<number, boolean>();
    for (const [id, pr] of this.progress) {
      if (!pr.isLearner) votes.set(id, pr.recentActive);
    }
    return jointVoteResult(this.config.voters, votes) === VoteResult.Won;
  }

  /** Every voter id (either half of a joint config), sorted ascending. */
  voterNodes(): number[] {
    return sortedIds(jointIds(this.config.voters));
  }

  /** Every learner id, sorted ascending (learnersNext are still voters and are not included). */
  learnerNodes(): number[] {
    return sortedIds(this.config.learners);
  }

  /** Forgets all votes, before a new election. */
  resetVotes(): void {
    this.votes = new Map();
  }

  /** Records `id`'s vote; a second vote from the same id in one election is ignored. */
  recordVote(id: number, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  /**
   * Counts the votes of tracked voters and decides the election under the active (possibly joint)
   * configuration. Votes from learners or from ids no longer tracked do not count toward `granted`/`rejected`.
   */
  tallyVotes(): VoteTally {
    let granted = 0;
    let rejected = 0;
    for (const [id, pr] of this.progress) {
      if (pr.isLearner) continue;
      const v = this.votes.get(id);
      if (v === undefined) continue;
      if (v) granted++;
      else rejected++;
    }
    return { granted, rejected, result: jointVoteResult(this.config.voters, this.votes) };
  }
}
