/**
 * The outcome of a vote count (etcd's quorum.VoteResult).
 *
 * - `Pending`: neither a quorum of "yes" nor a quorum of "no" has been reached yet; more votes may decide it.
 * - `Lost`: a quorum voted "no" (or too few voters remain to reach a "yes" quorum).
 * - `Won`: a quorum voted "yes".
 */
export const VoteResult = {
  Pending: 'pending',
  Lost: 'lost',
  Won: 'won',
} as const;
/** One of {@link VoteResult}'s values. */
export type VoteResult = (typeof VoteResult)[keyof typeof VoteResult];

/**
 * Looks up the log index a voter has acknowledged (its `match` index on the leader), or `undefined` if the
 * voter has not reported in (etcd's AckedIndexer). Such voters count as having acknowledged index 0.
 */
export type AckedIndexer = (voterId: number) => number | undefined;

/**
 * The committed index of an empty majority config: etcd returns MaxUint64 so that an empty half of a joint
 * config never lowers the minimum taken over both halves.
 */
export const INFINITE_INDEX = Number.MAX_SAFE_INTEGER;

/** Formats a set of ids as etcd does, sorted and in parentheses: `(1 2 3)`. */
export function formatIds(ids: Iterable<number>): string {
  return `(${sortedIds(ids).join(' ')})`;
}

/** The ids as a new ascending array (numeric order, never string order). */
export function sortedIds(ids: Iterable<number>): number[] {
  return Array.from(ids).sort((a, b) => a - b);
}
