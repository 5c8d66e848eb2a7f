/**
 * How the leader replicates to one follower (etcd's tracker.StateType):
 *
 * - `Probe`: the follower's log position is unknown; send at most one append per heartbeat interval and learn
 *   where the logs match from its answers.
 * - `Replicate`: the logs match up to `match`; stream appends optimistically, limited by the inflight window.
 * - `Snapshot`: the follower needs entries the leader has compacted; a snapshot is on its way and appends pause.
 */
export const ProgressState = {
  Probe: 'StateProbe',
  Replicate: 'StateReplicate',
  Snapshot: 'StateSnapshot',
} as const;
/** One of {@link ProgressState}'s values. */
export type ProgressState = (typeof ProgressState)[keyof typeof ProgressState];
