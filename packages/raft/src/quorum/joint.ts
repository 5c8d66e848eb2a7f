// Joint quorums (Raft dissertation section 4.3, C_old,new): decisions need a majority of both halves. So while
// the configuration changes, neither C_old nor C_new can decide alone: no two leaders in one term (one per half)
// and no entry committed by one half only, whatever the two sets are.
import { majorityCommittedIndex, majorityVoteResult } from './majority.js';
import type { MajorityConfig } from './majority.js';
import { VoteResult, formatIds } from './vote-result.js';
import type { AckedIndexer } from './vote-result.js';

/**
 * Two majority configs, `[incoming, outgoing]` (etcd's quorum.JointConfig). Invariant: the config is joint iff
 * `outgoing` is non-empty; a non-joint config keeps `outgoing` empty and behaves as `incoming` alone.
 */
export type JointConfig = readonly [incoming: MajorityConfig, outgoing: MajorityConfig];

/** Whether `c` is a joint configuration (its outgoing half is non-empty). */
export function isJoint(c: JointConfig): boolean {
  return c[1].size > 0;
}

/** A new set of every voter in either half of `c` (etcd's JointConfig.IDs). */
export function jointIds(c: JointConfig): Set<number> {
  const ids = new Set<number>(c[0]);
  for (const id of c[1]) ids.add(id);
  return ids;
}

/**
 * The largest index committed in both halves of `c` (etcd's JointConfig.CommittedIndex): the minimum of the
 * two majority committed indexes. An empty half is neutral (it reports an infinite index).
 */
export function jointCommittedIndex(c: JointConfig, l: AckedIndexer): number {
  const i0 = majorityCommittedIndex(c[0], l);
  const i1 = majorityCommittedIndex(c[1], l);
  return i0 < i1 ? i0 : i1;
}

/**
 * Counts `votes` over a joint config (etcd's JointConfig.VoteResult): Won only if both halves won, Lost if
 * either half lost, Pending otherwise.
 */
export function jointVoteResult(c: JointConfig, votes: ReadonlyMap<number, boolean>): VoteResult {
  const r0 = majorityVoteResult(c[0], votes);
  const r1 = majorityVoteResult(c[1], votes);
  if (r0 === r1) return r0;
  if (r0 === VoteResult.Lost || r1 === VoteResult.Lost) return VoteResult.Lost;
  return VoteResult.Pending;
}

/** Formats `c` as etcd does: `(1 2 3)` or, when joint, `(1 2 3)&&(1 2 4)`. */
export function formatJointConfig(c: JointConfig): string {
  return c[1].size > 0 ? `${formatIds(c[0])}&&${formatIds(c[1])}` : formatIds(c[0]);
}
