import { RaftError } from '../errors.js';
import type { Clock } from './clock.js';
import { ConfChangeType, type ConfChange, type ConfState } from '../raftpb/types.js';
import { StateType } from '../raft/state-type.js';
import type { Status } from '../status.js';
import { checkMemberInfo, encodeMemberContext } from './member-codec.js';
import type { LeaderInfo } from './leader-watch.js';

/** What {@link RaftNode.addMember} takes. */
export interface NewMember {
  /** The new member's id: non-zero, never used by an earlier member. */
  id: number;
  /** Where peers reach it; replicated with the change, so every node (and every restart) knows it. */
  address: string;
  /** Add it as a learner (receives the log, does not vote); promote it with {@link RaftNode.promote}. */
  asLearner?: boolean;
  /** Application data replicated with the address (e.g. its client URL). */
  metadata?: Readonly<Record<string, string>>;
}

/** Options of {@link RaftNode.promote}. */
export interface PromoteOptions {
  /**
   * The learner is promoted once its log is at most this many entries behind the leader's (raft's `match`); until
   * then the call waits. Default 1,000. (etcd promotes at 90% of the leader's match; hashicorp's autopilot at
   * `MaxTrailingLogs`, default 250.)
   */
  maxLagEntries?: number;
  /** How long to wait for the catch-up and the change to apply. Default `requestTimeoutMs`. */
  timeoutMs?: number;
}

/** What the membership operations use of their RaftNode. */
export interface MembershipHost {
  readonly id: number;
  readonly clock: Clock;
  /** How often a wait re-checks raft's state (one tick). */
  readonly pollMs: number;
  readonly timeoutMs: number;
  /** ERR_STOPPED when the node stopped or failed. */
  stoppedError(): RaftError | undefined;
  /** Raft's status now (progress only on the leader). */
  status(): Status;
  /** The configuration as applied here. */
  membership(): ConfState;
  /** Whether `id` was removed from the configuration (ids are never reused). */
  isRemoved(id: number): boolean;
  proposeConfChange(cc: ConfChange, timeoutMs: number): Promise<ConfState>;
  /** Steps a leader transfer into raft (forwarded to the leader by a follower). */
  transferLeader(to: number): void;
}

const DEFAULT_MAX_LAG = 1_000;

function isMember(cs: ConfState, id: number): boolean {
  return cs.voters.includes(id) || cs.learners.includes(id) || cs.votersOutgoing.includes(id);
}

function invalid(field: string, message: string): RaftError {
  return new RaftError('ERR_CONFIG_INVALID', message, field);
}

function checkId(id: number, field: string, where: string): void {
  if (!Number.isSafeInteger(id) || id <= 0)
    throw invalid(field, `${where}: ${field} must be a positive integer`);
}

/** Proposes adding `m` (with its address in the change's context); resolves once applied here. */
export async function addMember(host: MembershipHost, m: NewMember, timeoutMs: number): Promise<ConfState> {
  checkId(m.id, 'id', 'addMember');
  checkMemberInfo(m, 'addMember');
  const cs = host.status().config;
  if (isMember(cs, m.id)) throw invalid('id', `addMember: ${m.id} is already a member`);
  if (host.isRemoved(m.id)) {
    throw invalid(
      'id',
      `addMember: ${m.id} was removed from the cluster; ids are never reused, add it with a new id`,
    );
  }
  const info =
    m.metadata === undefined ? { address: m.address } : { address: m.address, metadata: m.metadata };
  return host.proposeConfChange(
    {
      type: m.asLearner === true ? ConfChangeType.AddLearnerNode : ConfChangeType.AddNode,
      nodeId: m.id,
      context: encodeMemberContext(info),
    },
    timeoutMs,
  );
}

/** Proposes removing member `id`; resolves once applied here. */
export async function removeMember(host: MembershipHost, id: number, timeoutMs: number): Promise<ConfState> {
  checkId(id, 'id', 'removeMember');
  if (!isMember(host.status().config, id)) throw invalid('id', `removeMember: ${id} is not a member`);
  return host.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: id }, timeoutMs);
}

/**
 * Waits (on the leader) until learner `id` is within `maxLagEntries` of the leader's log, then proposes making it
 * a voter; resolves with the configuration once applied here.
 */
export async function promote(
  host: MembershipHost,
  id: number,
  opts: PromoteOptions = {},
): Promise<ConfState> {
  checkId(id, 'id', 'promote');
  const maxLag = opts.maxLagEntries ?? DEFAULT_MAX_LAG;
  if (!Number.isSafeInteger(maxLag) || maxLag < 0) {
    throw invalid('maxLagEntries', `promote: maxLagEntries must be an integer >= 0, not ${maxLag}`);
  }
  const timeoutMs = opts.timeoutMs ?? host.timeoutMs;
  const started = host.clock.now();
  const first = host.status();
  if (first.config.voters.includes(id)) return host.membership(); // already a voter: nothing to do
  if (!first.config.learners.includes(id)) throw invalid('id', `promote: ${id} is not a learner`);
  await pollUntil(
    host,
    timeoutMs,
    () => {
      const s = host.status();
      const self = s.progress.get(host.id);
      const learner = s.progress.get(id);
      if (s.softState.raftState !== StateType.Leader || self === undefined) {
        throw notLeader(s, `promote(${id})`);
      }
      if (learner === undefined) throw invalid('id', `promote: ${id} is no longer a learner`);
      // A learner that never acknowledged an append (match 0) is not caught up, however short the log: it may not
      // be running at all, and as a voter it would count toward quorums it cannot join.
      return learner.match > 0 && self.match - learner.match <= maxLag ? true : undefined;
    },
    () => {
      const s = host.status();
      const lag = (s.progress.get(host.id)?.match ?? 0) - (s.progress.get(id)?.match ?? 0);
      return new RaftError(
        'ERR_LEARNER_NOT_CAUGHT_UP',
        `promote: learner ${id} is still ${lag} entries behind the leader (maxLagEntries ${maxLag}) after ${timeoutMs} ms`,
      );
    },
  );
  const left = Math.max(1, timeoutMs - (host.clock.now() - started));
  return host.proposeConfChange({ type: ConfChangeType.AddNode, nodeId: id }, left);
}

/**
 * Hands leadership to `to`, or (when omitted; on the leader) to the voter whose log is most up to date; resolves
 * when this node sees the target lead. Rejects with ERR_LEADER_TRANSFER_TIMEOUT if it does not by `timeoutMs`.
 */
export async function transferLeadership(
  host: MembershipHost,
  to: number | undefined,
  timeoutMs: number,
): Promise<LeaderInfo> {
  const s = host.status();
  let target: number;
  if (to === undefined) {
    target = mostUpToDateVoter(host, s);
  } else {
    checkId(to, 'to', 'transferLeadership');
    if (!s.config.voters.includes(to)) throw invalid('to', `transferLeadership: ${to} is not a voter`);
    target = to;
  }
  if (s.softState.lead === target) return { leader: target, term: s.hardState.term };
  host.transferLeader(target);
  return pollUntil(
    host,
    timeoutMs,
    () => {
      const now = host.status();
      if (now.softState.lead === target) return { leader: target, term: now.hardState.term };
      // Raft gives a transfer one election timeout, then aborts it (e.g. the target lagged or was unreachable):
      // ask again while time is left.
      if (now.softState.raftState === StateType.Leader && now.leadTransferee === 0)
        host.transferLeader(target);
      return undefined;
    },
    () =>
      new RaftError(
        'ERR_LEADER_TRANSFER_TIMEOUT',
        `transferLeadership: ${target} did not become leader within ${timeoutMs} ms ` +
          `(leader now ${host.status().softState.lead || 'unknown'})`,
      ),
  );
}

function mostUpToDateVoter(host: MembershipHost, s: Status): number {
  if (s.softState.raftState !== StateType.Leader) throw notLeader(s, 'transferLeadership() without a target');
  let best = 0;
  let bestMatch = -1;
  for (const id of [...s.config.voters].sort((a, b) => a - b)) {
    const pr = s.progress.get(id);
    if (id === host.id || pr === undefined || pr.isLearner) continue;
    if (pr.match > bestMatch) [best, bestMatch] = [id, pr.match];
  }
  if (best === 0) throw invalid('to', 'transferLeadership: there is no other voter to hand leadership to');
  return best;
}

function notLeader(s: Status, what: string): RaftError {
  const lead = s.softState.lead;
  return new RaftError(
    'ERR_NOT_LEADER',
    `${what} needs the leader's view of replication; this node is not the leader (` +
      `${lead === 0 ? 'no leader known' : `call it on node ${lead}`})`,
  );
}

/**
 * Calls `check` now and then every `pollMs` until it returns a value (resolve), throws (reject), the node stops
 * (ERR_STOPPED), or `timeoutMs` passes (reject with `timeout()`).
 */
function pollUntil<T>(
  host: MembershipHost,
  timeoutMs: number,
  check: () => T | undefined,
  timeout: () => Error,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const deadline = host.clock.now() + timeoutMs;
    const attempt = (): void => {
      try {
        const stopped = host.stoppedError();
        if (stopped !== undefined) throw stopped;
        const value = check();
        if (value !== undefined) return resolve(value);
        if (host.clock.now() >= deadline) throw timeout();
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      host.clock.setTimeout(attempt, Math.min(host.pollMs, Math.max(0, deadline - host.clock.now())));
    };
    attempt();
  });
}
