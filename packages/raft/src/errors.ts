/**
 * Every error @x/raft throws is a `RaftError` with a `code`; compare codes, not messages.
 *
 * - `ERR_COMPACTED`: the requested index is behind the storage's first index (compacted away).
 * - `ERR_UNAVAILABLE`: the requested index is beyond what the storage holds.
 * - `ERR_SNAPSHOT_OUT_OF_DATE`: a snapshot older than the current one was applied.
 * - `ERR_SNAPSHOT_TEMPORARILY_UNAVAILABLE`: the storage cannot produce a snapshot right now; raft retries.
 * - `ERR_PROPOSAL_DROPPED`: raft refused a proposal (no leader, leader transfer, size limits, not a member).
 * - `ERR_STEP_LOCAL_MSG` / `ERR_STEP_PEER_NOT_FOUND`: `step()` got a local message type, or one from an unknown peer.
 * - `ERR_CONFIG_INVALID`: a Config (or option) is invalid; the message names the field.
 * - `ERR_DECODE`: bytes that do not decode to a valid message; the message names the field.
 * - `ERR_CONF_CHANGE_INVALID`: a membership change that would break the configuration's invariants.
 * - `ERR_LOG_CORRUPT`: the log contradicts what the leader knows is committed (data loss on this node).
 * - `ERR_TIMEOUT`, `ERR_LEADERSHIP_LOST`: a RaftNode request whose outcome is unknown.
 * - `ERR_STOPPED`: the RaftNode was stopped or failed.
 * - `ERR_NO_LEADER`: a RaftNode request found no leader (none elected yet, or an election is running). Nothing was
 *   proposed or read, so retrying (after `RaftNode.waitForLeader`, or on another node) is safe.
 * - `ERR_STORAGE_NOT_EMPTY`: `RaftNode.start` was told to bootstrap a new cluster but the durable storage
 *   already holds raft state: starting fresh would overwrite acknowledged entries and the node's vote.
 * - `ERR_APPLY_BACKLOG`: a RaftNode refused a proposal because `maxApplyBacklog` committed entries already wait to
 *   be applied to its state machine (backpressure for a slow `apply`). Nothing was proposed: retry later.
 * - `ERR_STORAGE_EMPTY`: `RaftNode.start` was told to restart but the durable storage holds no raft state (wrong
 *   directory, or the data was lost).
 * - `ERR_NOT_LEADER`: a RaftNode call that needs the leader's view of replication (`promote`, `transferLeadership`
 *   without a target) ran on a follower; the message names the leader to call instead.
 * - `ERR_LEARNER_NOT_CAUGHT_UP`: `RaftNode.promote` gave up: the learner stayed more than `maxLagEntries` behind
 *   the leader until the timeout. Nothing was proposed; retry later.
 * - `ERR_LEADER_TRANSFER_TIMEOUT`: `RaftNode.transferLeadership`'s target did not become leader in time (it may
 *   still: raft retries the transfer only while asked).
 * - `ERR_INVALID_ARGUMENT`: a function was called with an argument it cannot take (e.g. a session tag whose `seq` is
 *   not a positive integer); the message names the field.
 * - `ERR_SESSION_EXPIRED`: a session command (`withSessions`) named a session that is unknown, expired or closed; it
 *   was not applied. Register a new session.
 * - `ERR_SESSION_RESPONSE_DISCARDED`: a session command's `seq` is below the `firstUnacked` its client sent before;
 *   it was not applied and its result is gone (a client bug).
 *
 * @example
 * ```ts
 * try { rawNode.propose(data); } catch (err) {
 *   if (isRaftError(err, 'ERR_PROPOSAL_DROPPED')) retryLater();
 *   else throw err;
 * }
 * ```
 */
export type RaftErrorCode =
  | 'ERR_COMPACTED'
  | 'ERR_UNAVAILABLE'
  | 'ERR_SNAPSHOT_OUT_OF_DATE'
  | 'ERR_SNAPSHOT_TEMPORARILY_UNAVAILABLE'
  | 'ERR_PROPOSAL_DROPPED'
  | 'ERR_STEP_LOCAL_MSG'
  | 'ERR_STEP_PEER_NOT_FOUND'
  | 'ERR_CONFIG_INVALID'
  | 'ERR_DECODE'
  | 'ERR_CONF_CHANGE_INVALID'
  | 'ERR_LOG_CORRUPT'
  | 'ERR_TIMEOUT'
  | 'ERR_LEADERSHIP_LOST'
  | 'ERR_STOPPED'
  | 'ERR_NO_LEADER'
  | 'ERR_STORAGE_NOT_EMPTY'
  | 'ERR_STORAGE_EMPTY'
  | 'ERR_APPLY_BACKLOG'
  | 'ERR_NOT_LEADER'
  | 'ERR_LEARNER_NOT_CAUGHT_UP'
  | 'ERR_LEADER_TRANSFER_TIMEOUT'
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_SESSION_EXPIRED'
  | 'ERR_SESSION_RESPONSE_DISCARDED';

/** The one error class of @x/raft. `field` names the offending field for config and decode errors. */
export class RaftError extends Error {
  override readonly name = 'RaftError';

  constructor(
    readonly code: RaftErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** True when `err` is a RaftError (with `code`, when given). */
export function isRaftError(err: unknown, code?: RaftErrorCode): err is RaftError {
  return err instanceof RaftError && (code === undefined || err.code === code);
}
