import { decodeConfChange, decodeConfChangeV2 } from '../codec/conf-change-codec.js';
import { ReadOnlyOption, validateConfig, type Config } from '../config.js';
import { Changer, restore as restoreConfig } from '../confchange/index.js';
import { RaftError } from '../errors.js';
import { RaftLog } from '../log/raft-log.js';
import { payloadsSize } from '../log/limit-size.js';
import { silentLogger, type Logger } from '../logger.js';
import { jointVoteResult, type VoteResult } from '../quorum/index.js';
import { seededRandom, type RandomSource } from '../random.js';
import {
  EntryType,
  MessageType,
  isEmptyHardState,
  type ConfChangeI,
  type ConfChangeV2,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type Snapshot,
} from '../raftpb/types.js';
import {
  Inflights,
  Progress,
  ProgressTracker,
  type ProgressMap,
  type TrackerConfig,
} from '../tracker/index.js';
import { ReadOnly } from './read-only.js';
import type { CampaignType } from './state-type.js';
import { StateType } from './state-type.js';
import {
  stepCandidate,
  stepFollower,
  handleAppendEntries,
  handleHeartbeat,
  handleSnapshot,
} from './follower.js';
import { stepLeader } from './leader.js';
import { bcastAppend, bcastHeartbeatWithCtx, maybeSendAppend, sendHeartbeat } from './replication.js';
import { applyConfChange, restoreSnapshot, switchToConfig } from './configuration.js';
import { campaign, hasUnappliedConfChanges } from './election.js';
import { stepMessage } from './step.js';

/** A read request confirmed at `index`: once applied up to it, the read may be served (etcd's ReadState). */
export interface ReadState {
  index: number;
  requestCtx: Uint8Array;
}

/** Leader and role as they change; in `Ready.softState` (not persisted). */
export interface SoftState {
  lead: number;
  raftState: StateType;
}

export { CampaignType } from './state-type.js';

const EMPTY = new Uint8Array(0);

/** A partial message: raft fills `from`, and `term` as etcd's send() does. */
export type Outgoing = Partial<Message> & { to: number; type: MessageType };

/** Decodes a conf change entry's data (empty data is an empty ConfChangeV2: leave the joint config). */
export function confChangeOfEntry(e: Entry): ConfChangeI | undefined {
  if (e.type === EntryType.ConfChange)
    return e.data.byteLength === 0 ? { type: 0, nodeId: 0 } : decodeConfChange(e.data);
  if (e.type === EntryType.ConfChangeV2)
    return e.data.byteLength === 0 ? { transition: 0, changes: [] } : decodeConfChangeV2(e.data);
  return undefined;
}

/**
 * The Raft state machine (etcd's `raft` struct). Pure: no I/O, no clock (time is `tick()`), randomness only from
 * `config.random`. Internal to the package; applications drive it through {@link RawNode}.
 */
export class Raft {
  readonly id: number;
  /** Current term (persisted in HardState). Never decreases. */
  term = 0;
  /** Vote in `term`, 0 for none (persisted). At most one per term (§5.2). */
  vote = 0;
  /** Reads confirmed since the last Ready; the application serves each once it has applied up to its index. */
  readStates: ReadState[] = [];
  readonly raftLog: RaftLog;
  readonly maxMsgSize: number;
  readonly maxUncommittedSize: number;
  trk: ProgressTracker;
  state: StateType = StateType.Follower;
  /** True when this node is a learner in the current configuration. */
  isLearner = false;
  /** Messages to send once the current Ready's state is persisted (or in parallel, on the leader, §10.2.1). */
  msgs: Message[] = [];
  /**
   * Messages that may only go out after the Ready's entries and hard state are durable: votes, vote responses and
   * append acknowledgements; those addressed to this node are stepped in `advance`.
   */
  msgsAfterAppend: Message[] = [];
  /** The known leader of `term`, 0 when unknown. Every role change sets it anew: it never names an older leader. */
  lead = 0;
  /** The transfer target (thesis §3.10), 0 when none. While set, proposals are refused: the log stops growing. */
  leadTransferee = 0;
  /**
   * Index of the last conf change entry this leader appended; a new one is refused until `applied` reaches it.
   * A new leader sets it to its term's first (empty) entry, so it commits an entry of its own term before any
   * conf change (the dissertation's fix, §4.1 erratum).
   */
  pendingConfIndex = 0;
  readonly disableConfChangeValidation: boolean;
  /**
   * Payload bytes of entries appended in this term and not yet handed out as committed (leader only). An
   * estimate: reset to 0 on every role change, and lowered as committed entries are handed out in a Ready.
   */
  uncommittedSize = 0;
  readOnly: ReadOnly;
  /**
   * Followers: ticks since the leader was last heard (or a vote granted), which is also the CheckQuorum lease
   * (step.ts); the leader: ticks since its last CheckQuorum round, one every `electionTimeout` ticks.
   */
  electionElapsed = 0;
  /** Ticks since the leader's last heartbeat round (leader only). */
  heartbeatElapsed = 0;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly heartbeatTimeout: number;
  readonly electionTimeout: number;
  /** In [electionTimeout, 2 * electionTimeout), redrawn at every reset. */
  randomizedElectionTimeout = 0;
  readonly disableProposalForwarding: boolean;
  readonly stepDownOnRemoval: boolean;
  readonly logger: Logger;
  readonly random: RandomSource;
  /** ReadIndex requests held until this leader commits an entry of its own term. */
  pendingReadIndexMessages: Message[] = [];
  private stepFn: (r: Raft, m: Message) => void = stepFollower;
  private tickFn: () => void = () => this.tickElection();

  constructor(c: Config) {
    validateConfig(c);
    this.id = c.id;
    this.logger = c.logger ?? silentLogger;
    const maxSizePerMsg = c.maxSizePerMsg ?? 1 << 20;
    this.raftLog = new RaftLog(
      c.storage,
      this.logger,
      c.maxCommittedSizePerReady || maxSizePerMsg || Infinity,
    );
    const { hardState, confState } = c.storage.initialState();
    this.maxMsgSize = maxSizePerMsg;
    this.maxUncommittedSize = c.maxUncommittedEntriesSize || Infinity;
    this.trk = new ProgressTracker(c.maxInflightMsgs ?? 256, c.maxInflightBytes || Infinity);
    this.electionTimeout = c.electionTick;
    this.heartbeatTimeout = c.heartbeatTick;
    this.checkQuorum = c.checkQuorum ?? false;
    this.preVote = c.preVote ?? false;
    this.readOnly = new ReadOnly(c.readOnlyOption ?? ReadOnlyOption.Safe);
    this.disableProposalForwarding = c.disableProposalForwarding ?? false;
    this.disableConfChangeValidation = c.disableConfChangeValidation ?? false;
    this.stepDownOnRemoval = c.stepDownOnRemoval ?? false;
    this.random = c.random ?? seededRandom(c.id);
    const [cfg, prs] = restoreConfig(new Changer(this.trk, this.raftLog.lastIndex()), confState);
    this.switchToConfig(cfg, prs);
    if (!isEmptyHardState(hardState)) this.loadState(hardState);
    if (c.applied !== undefined && c.applied > 0) this.raftLog.appliedTo(c.applied, 0);
    this.becomeFollower(this.term, 0);
    this.logger.info('newRaft', {
      id: this.id,
      term: this.term,
      commit: this.raftLog.committed,
      applied: this.raftLog.applied,
      lastIndex: this.raftLog.lastIndex(),
    });
  }

  hasLeader(): boolean {
    return this.lead !== 0;
  }

  softState(): SoftState {
    return { lead: this.lead, raftState: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  /**
   * Queues a message, filling `from` and `term` (not on MsgProp/MsgReadIndex: forwarded, the leader treats them as
   * local). Vote, pre-vote and append responses vouch for state that must be durable first (thesis §3.8: no second
   * vote in a term, no entry counted toward commitment before it is on disk), so they wait for persistence, even
   * rejections (etcd: not proven safe to send early, and rare).
   */
  send(partial: Outgoing): void {
    const m: Message = {
      type: partial.type,
      to: partial.to,
      from: partial.from ?? this.id,
      term: partial.term ?? 0,
      logTerm: partial.logTerm ?? 0,
      index: partial.index ?? 0,
      entries: partial.entries ?? [],
      commit: partial.commit ?? 0,
      reject: partial.reject ?? false,
      rejectHint: partial.rejectHint ?? 0,
    };
    if (partial.snapshot !== undefined) m.snapshot = partial.snapshot;
    if (partial.context !== undefined) m.context = partial.context;
    const t = m.type;
    if (
      t === MessageType.MsgVote ||
      t === MessageType.MsgVoteResp ||
      t === MessageType.MsgPreVote ||
      t === MessageType.MsgPreVoteResp
    ) {
      if (m.term === 0) throw new Error(`term should be set when sending ${t}`);
    } else if (t !== MessageType.MsgProp && t !== MessageType.MsgReadIndex) {
      m.term = this.term;
    }
    if (t === MessageType.MsgAppResp || t === MessageType.MsgVoteResp || t === MessageType.MsgPreVoteResp) {
      this.msgsAfterAppend.push(m);
    } else {
      if (m.to === this.id) throw new Error('message should not be self-addressed when sending');
      this.msgs.push(m);
    }
  }

  /** Sends an append (or a snapshot) to `to` if its progress allows; returns whether a message was sent. */
  maybeSendAppend(to: number, sendIfEmpty: boolean): boolean {
    return maybeSendAppend(this, to, sendIfEmpty);
  }

  sendAppend(to: number): void {
    maybeSendAppend(this, to, true);
  }

  sendHeartbeat(to: number, ctx: Uint8Array | undefined): void {
    sendHeartbeat(this, to, ctx);
  }

  bcastAppend(): void {
    bcastAppend(this);
  }

  bcastHeartbeat(): void {
    bcastHeartbeatWithCtx(this, this.readOnly.lastPendingRequestCtx());
  }

  bcastHeartbeatWithCtx(ctx: Uint8Array | undefined): void {
    bcastHeartbeatWithCtx(this, ctx);
  }

  /** Applies a committed conf change (when the application applies its entry); returns the new configuration. */
  applyConfChange(cc: ConfChangeV2): ConfState {
    return applyConfChange(this, cc);
  }

  /** Installs a configuration and its progress map; a removed leader may step down; new members get probed. */
  switchToConfig(cfg: TrackerConfig, prs: ProgressMap): ConfState {
    return switchToConfig(this, cfg, prs);
  }

  /** Restores from a snapshot sent by the leader; false when it is stale or already covered by the log. */
  restore(s: Snapshot): boolean {
    return restoreSnapshot(this, s);
  }

  /** Advances the commit index to the quorum's match if that entry is of the current term (§5.4.2). */
  maybeCommit(): boolean {
    return this.raftLog.maybeCommit(this.trk.committed(), this.term);
  }

  /** State common to every role change: a new term forgets the vote; all leader and election state starts over. */
  reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = 0;
    }
    this.lead = 0;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.trk.resetVotes();
    // Every peer's progress starts over: match unknown (0), next just past our last index, in Probe. Our own
    // match is our last index.
    const last = this.raftLog.lastIndex();
    this.trk.visit((id, pr) => {
      const fresh = new Progress({
        next: last + 1,
        inflights: new Inflights(this.trk.maxInflight, this.trk.maxInflightBytes),
        isLearner: pr.isLearner,
      });
      if (id === this.id) fresh.match = last;
      this.trk.progress.set(id, fresh);
    });
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readOnly = new ReadOnly(this.readOnly.option);
  }

  /** Appends entries of the current term to the leader's log; false when the uncommitted-size limit drops them. */
  appendEntry(es: Entry[]): boolean {
    let li = this.raftLog.lastIndex();
    for (let i = 0; i < es.length; i++) {
      es[i]!.term = this.term;
      es[i]!.index = li + 1 + i;
    }
    if (!this.increaseUncommittedSize(es)) {
      this.logger.warn(
        'appending new entries would exceed the uncommitted entry size limit; dropping proposal',
        { id: this.id },
      );
      return false;
    }
    li = this.raftLog.append(es);
    // The leader acknowledges its own entries once they are durable: this reaches it in advance().
    this.send({ to: this.id, type: MessageType.MsgAppResp, index: li });
    return true;
  }

  tick(): void {
    this.tickFn();
  }

  /** Followers and candidates: campaign after a randomized election timeout without a leader. */
  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      this.step(this.localMsg(MessageType.MsgHup));
    }
  }

  /** Leaders: heartbeats, CheckQuorum, and aborting a leader transfer that took an election timeout. */
  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(this.localMsg(MessageType.MsgCheckQuorum));
      if (this.state === StateType.Leader && this.leadTransferee !== 0) this.abortLeaderTransfer();
    }
    if (this.state !== StateType.Leader) return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(this.localMsg(MessageType.MsgBeat));
    }
  }

  localMsg(type: MessageType, over: Partial<Message> = {}): Message {
    return {
      type,
      to: 0,
      from: this.id,
      term: 0,
      logTerm: 0,
      index: 0,
      entries: [],
      commit: 0,
      reject: false,
      rejectHint: 0,
      ...over,
    };
  }

  becomeFollower(term: number, lead: number): void {
    this.stepFn = stepFollower;
    this.reset(term);
    this.tickFn = () => this.tickElection();
    this.lead = lead;
    this.state = StateType.Follower;
    this.logger.info('became follower', { id: this.id, term: this.term, lead });
  }

  becomeCandidate(): void {
    if (this.state === StateType.Leader) throw new Error('invalid transition [leader -> candidate]');
    this.stepFn = stepCandidate;
    this.reset(this.term + 1);
    this.tickFn = () => this.tickElection();
    this.vote = this.id;
    this.state = StateType.Candidate;
    this.logger.info('became candidate', { id: this.id, term: this.term });
  }

  becomePreCandidate(): void {
    if (this.state === StateType.Leader) throw new Error('invalid transition [leader -> pre-candidate]');
    // Neither the term nor the vote changes: a pre-vote disturbs nobody (dissertation §9.6).
    this.stepFn = stepCandidate;
    this.trk.resetVotes();
    this.tickFn = () => this.tickElection();
    this.lead = 0;
    this.state = StateType.PreCandidate;
    this.logger.info('became pre-candidate', { id: this.id, term: this.term });
  }

  becomeLeader(): void {
    if (this.state === StateType.Follower) throw new Error('invalid transition [follower -> leader]');
    this.stepFn = stepLeader;
    this.reset(this.term);
    this.tickFn = () => this.tickHeartbeat();
    this.lead = this.id;
    this.state = StateType.Leader;
    const pr = this.trk.progress.get(this.id);
    if (pr !== undefined) {
      pr.becomeReplicate();
      pr.recentActive = true;
    }
    // An empty entry of the new term: committing it commits all earlier ones (§5.4.2: only entries of its own
    // term commit by counting replicas) and gives reads the commit index (§6.4). Size 0: never refused.
    if (!this.appendEntry([{ term: 0, index: 0, type: EntryType.Normal, data: EMPTY }])) {
      throw new Error('empty entry was dropped');
    }
    // No conf change until the empty entry of this term is applied (hence committed): see pendingConfIndex.
    this.pendingConfIndex = this.raftLog.lastIndex();
    this.logger.info('became leader', { id: this.id, term: this.term });
  }

  /** Starts an election (or a pre-vote) unless this node cannot lead. */
  hup(t: CampaignType): void {
    if (this.state === StateType.Leader) return;
    if (!this.promotable()) {
      this.logger.warn('is unpromotable and can not campaign', { id: this.id });
      return;
    }
    if (this.hasUnappliedConfChanges()) {
      this.logger.warn('cannot campaign while configuration changes are committed but not applied', {
        id: this.id,
        term: this.term,
      });
      return;
    }
    this.logger.info('starting a new election', { id: this.id, term: this.term });
    this.campaign(t);
  }

  /** True when this node is a voter and not installing a snapshot. */
  promotable(): boolean {
    const pr = this.trk.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && !this.raftLog.hasNextOrInProgressSnapshot();
  }

  private hasUnappliedConfChanges(): boolean {
    return hasUnappliedConfChanges(this);
  }

  campaign(t: CampaignType): void {
    campaign(this, t);
  }

  poll(id: number, granted: boolean): { granted: number; rejected: number; result: VoteResult } {
    this.trk.recordVote(id, granted);
    return this.trk.tallyVotes();
  }

  /** Steps a message: term checks for every message (§5.1), votes, then the role's step function. */
  step(m: Message): void {
    stepMessage(this, m);
  }

  /** Hands a message to the current role's step function (after the term checks in {@link step}). */
  stepByRole(m: Message): void {
    this.stepFn(this, m);
  }

  /** Restores the persisted term, vote and commit; the commit must lie within the log the storage holds. */
  loadState(hs: HardState): void {
    if (hs.commit < this.raftLog.committed || hs.commit > this.raftLog.lastIndex()) {
      throw new RaftError(
        'ERR_LOG_CORRUPT',
        `node ${this.id}: saved commit index ${hs.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]: the log is missing committed entries`,
      );
    }
    this.raftLog.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  /** Randomized (§5.2) so that after a leader fails, one follower usually times out well before the others. */
  resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.electionTimeout + this.random.nextInt(this.electionTimeout);
  }

  sendTimeoutNow(to: number): void {
    this.send({ to, type: MessageType.MsgTimeoutNow });
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = 0;
  }

  /** True once this leader committed an entry of its own term (needed before serving reads, §6.4). */
  committedEntryInCurrentTerm(): boolean {
    return this.raftLog.termOrZero(this.raftLog.committed) === this.term;
  }

  /** The response for a read-index request confirmed at `readIndex`: a local ReadState, or a message back. */
  responseToReadIndexReq(req: Message, readIndex: number): Message | undefined {
    if (req.from === 0 || req.from === this.id) {
      this.readStates.push({ index: readIndex, requestCtx: req.entries[0]?.data ?? EMPTY });
      return undefined;
    }
    return {
      ...this.localMsg(MessageType.MsgReadIndexResp),
      to: req.from,
      from: this.id,
      index: readIndex,
      entries: req.entries,
    };
  }

  increaseUncommittedSize(ents: readonly Entry[]): boolean {
    const s = payloadsSize(ents);
    // An empty uncommitted tail admits any size; empty entries are always admitted.
    if (this.uncommittedSize > 0 && s > 0 && this.uncommittedSize + s > this.maxUncommittedSize) return false;
    this.uncommittedSize += s;
    return true;
  }

  reduceUncommittedSize(s: number): void {
    this.uncommittedSize = s > this.uncommittedSize ? 0 : this.uncommittedSize - s;
  }

  /** The application applied up to `index`; a leader in an auto-leave joint config proposes leaving it. */
  appliedTo(index: number, size: number): void {
    const newApplied = Math.max(index, this.raftLog.applied);
    this.raftLog.appliedTo(newApplied, size);
    // Once the entry that entered the joint config is applied (pendingConfIndex), no other change is pending and
    // the leader may propose leaving it; `autoLeave` is cleared by the leave itself, so this fires once per change.
    if (this.trk.config.autoLeave && newApplied >= this.pendingConfIndex && this.state === StateType.Leader) {
      // An empty ConfChangeV2 leaves the joint configuration; its size is zero, so it is never refused.
      const m = this.localMsg(MessageType.MsgProp, {
        entries: [{ term: 0, index: 0, type: EntryType.ConfChangeV2, data: EMPTY }],
      });
      try {
        this.step(m);
        this.logger.info('initiating automatic transition out of joint configuration', { id: this.id });
      } catch (err) {
        this.logger.debug('not initiating automatic transition out of joint configuration', {
          err: String(err),
        });
      }
    }
  }

  /** Handlers shared with the role files. */
  handleAppendEntries(m: Message): void {
    handleAppendEntries(this, m);
  }

  handleHeartbeat(m: Message): void {
    handleHeartbeat(this, m);
  }

  handleSnapshot(m: Message): void {
    handleSnapshot(this, m);
  }

  /** The leader's vote result over the current (possibly joint) configuration, for read-index acks. */
  voteResult(acks: ReadonlyMap<number, boolean>): VoteResult {
    return jointVoteResult(this.trk.config.voters, acks);
  }
}
