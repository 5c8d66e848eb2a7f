// The membership configuration a ProgressTracker tracks (etcd's tracker.Config).
import { formatIds, formatJointConfig } from '../quorum/index.js';

/**
 * The active membership configuration.
 *
 * Invariants (checked by confchange/'s Changer on every change):
 * - `voters[1]` (outgoing) is non-empty iff the configuration is joint.
 * - `learners` is disjoint from both halves of `voters`: a peer is either a voter or a learner.
 * - `learnersNext` is empty unless joint, and each of its ids is in `voters[1]` but not in `learners`: a voter
 *   being demoted keeps voting in the outgoing half until the joint config is left, then becomes a learner.
 * - `autoLeave` is false unless joint.
 */
export interface TrackerConfig {
  /** `[incoming, outgoing]` majority configs; the outgoing one is empty unless joint. */
  voters: [incoming: Set<number>, outgoing: Set<number>];
  /** Whether raft leaves the joint configuration by itself once it is committed (ConfChangeV2 Auto/Implicit). */
  autoLeave: boolean;
  /** Non-voting members that receive the log. */
  learners: Set<number>;
  /** Outgoing voters that become learners when the joint configuration is left. */
  learnersNext: Set<number>;
}

/** An empty, non-joint configuration. */
export function emptyTrackerConfig(): TrackerConfig {
  return { voters: [new Set(), new Set()], autoLeave: false, learners: new Set(), learnersNext: new Set() };
}

/** A copy of `c` sharing no sets with it. */
export function cloneTrackerConfig(c: TrackerConfig): TrackerConfig {
  return {
    voters: [new Set(c.voters[0]), new Set(c.voters[1])],
    autoLeave: c.autoLeave,
    learners: new Set(c.learners),
    learnersNext: new Set(c.learnersNext),
  };
}

/** etcd's format: `voters=(1 2 3)&&(1 2) learners=(4) learners_next=(3) autoleave` (empty parts omitted). */
export function formatTrackerConfig(c: TrackerConfig): string {
  let s = `voters=${formatJointConfig(c.voters)}`;
  if (c.learners.size > 0) s += ` learners=${formatIds(c.learners)}`;
  if (c.learnersNext.size > 0) s += ` learners_next=${formatIds(c.learnersNext)}`;
  if (c.autoLeave) s += ' autoleave';
  return s;
}
