import { encodeConfChange, encodeConfChangeV2 } from './codec/conf-change-codec.js';
import type { Config } from './config.js';
import { RaftError } from './errors.js';
import { entriesSize, payloadsSize } from './log/limit-size.js';
import { Raft, type SoftState } from './raft/raft.js';
import { StateType } from './raft/state-type.js';
import {
  ConfChangeType,
  EntryType,
  MessageType,
  asV2,
  isConfChangeV2,
  isEmptyHardState,
  isHardStateEqual,
  type ConfChange,
  type ConfChangeV2,
  type ConfState,
  type HardState,
  type Message,
} from './raftpb/types.js';
import { mustSync, type Ready } from './ready.js';
import type { BasicStatus, ProgressStatus, Status } from './status.js';

/** The outcome of sending a snapshot, for {@link RawNode.reportSnapshot}. */
export const SnapshotStatus = { Finish: 'finish', Failure: 'failure' } as const;
export type SnapshotStatus = (typeof SnapshotStatus)[keyof typeof SnapshotStatus];

/** A member of a new cluster, for {@link RawNode.bootstrap}. */
export interface Peer {
  id: number;
  context?: Uint8Array;
}

/** Message types that only the local node may step (never accepted from the network). */
const LOCAL_MSGS = new Set<number>([
  MessageType.MsgHup,
  MessageType.MsgBeat,
  MessageType.MsgUnreachable,
  MessageType.MsgSnapStatus,
  MessageType.MsgCheckQuorum,
  MessageType.MsgStorageAppend,
  MessageType.MsgStorageAppendResp,
  MessageType.MsgStorageApply,
  MessageType.MsgStorageApplyResp,
]);
const RESPONSE_MSGS = new Set<number>([
  MessageType.MsgAppResp,
  MessageType.MsgVoteResp,
  MessageType.MsgHeartbeatResp,
  MessageType.MsgUnreachable,
  MessageType.MsgReadIndexResp,
  MessageType.MsgPreVoteResp,
]);
const EMPTY_HS: HardState = { term: 0, vote: 0, commit: 0 };

/**
 * A Raft node driven by the application (etcd's RawNode): feed it ticks, proposals and messages; take `ready()`,
 * carry it out per the {@link Ready} contract, then `advance()`. Not thread-safe and never does I/O.
 *
 * @example
 * ```ts
 * const storage = new MemoryStorage();
 * const node = new RawNode({ id: 1, electionTick: 10, heartbeatTick: 1, storage });
 * node.bootstrap([{ id: 1 }]);
 * node.campaign();
 * while (node.hasReady()) {
 *   const rd = node.ready();
 *   storage.append(rd.entries);                  // 1. persist (a real node writes its WAL here)
 *   if (rd.hardState) storage.setHardState(rd.hardState);
 *   send(rd.messages);                           // 2. send
 *   for (const e of rd.committedEntries) apply(e); // 3. apply
 *   node.advance(rd);                            // 4. advance
 * }
 * ```
 */
export class RawNode {
  private readonly raft: Raft;
  private prevSoftSt: SoftState;
  private prevHardSt: HardState;
  /** Messages to this node (self-acks, self-votes) held until the Ready that produced them is persisted. */
  private stepsOnAdvance: Message[] = [];
  /** Index and term of the last entry of the accepted Ready, to mark stable in advance(). */
  private pendingStable: { index: number; term: number } | undefined;
  private pendingSnapIndex = 0;
  /** Last committed entry index and total size of the accepted Ready, to mark applied in advance(). */
  private pendingApplied: { index: number; size: number } | undefined;

  constructor(config: Config) {
    this.raft = new Raft(config);
    this.prevSoftSt = this.raft.softState();
    this.prevHardSt = this.raft.hardState();
  }

  /** Advances the logical clock by one tick (election and heartbeat timeouts count ticks). */
  tick(): void {
    this.raft.tick();
  }

  /** Advances the election clock without triggering an election (for quiesced groups). */
  tickQuiesced(): void {
    this.raft.electionElapsed++;
  }

  /** Starts an election now (a pre-vote first when preVote is on). */
  campaign(): void {
    this.raft.step(this.raft.localMsg(MessageType.MsgHup));
  }

  /** Proposes data to be appended to the log. Throws RaftError ERR_PROPOSAL_DROPPED when raft refuses it. */
  propose(data: Uint8Array): void {
    this.proposeBatch([data]);
  }

  /**
   * Proposes several entries at once, in order, as one MsgProp: one append and one MsgApp per follower instead of
   * one per entry. All or none: a refusal (ERR_PROPOSAL_DROPPED) drops the whole batch.
   */
  proposeBatch(data: readonly Uint8Array[]): void {
    if (data.length === 0) return;
    this.raft.step(
      this.raft.localMsg(MessageType.MsgProp, {
        entries: data.map((d) => ({ term: 0, index: 0, type: EntryType.Normal, data: d })),
      }),
    );
  }

  /** Proposes a membership change (V1: single step; V2: possibly joint consensus). */
  proposeConfChange(cc: ConfChange | ConfChangeV2): void {
    const entry = isConfChangeV2(cc)
      ? { term: 0, index: 0, type: EntryType.ConfChangeV2, data: encodeConfChangeV2(cc) }
      : { term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(cc) };
    this.raft.step(this.raft.localMsg(MessageType.MsgProp, { entries: [entry] }));
  }

  /** Applies a committed conf change (call it when applying its entry); returns the new configuration. */
  applyConfChange(cc: ConfChange | ConfChangeV2): ConfState {
    return this.raft.applyConfChange(asV2(cc));
  }

  /**
   * Steps a message received from a peer. Throws RaftError ERR_STEP_LOCAL_MSG for local-only types and
   * ERR_STEP_PEER_NOT_FOUND for a response from a node that is not in the configuration.
   */
  step(m: Message): void {
    if (LOCAL_MSGS.has(m.type))
      throw new RaftError(
        'ERR_STEP_LOCAL_MSG',
        `cannot step a local message (type ${m.type}) from the network`,
      );
    // A response is only meaningful from a tracked peer (etcd's ErrStepPeerNotFound). This includes
    // MsgReadIndexResp: a node whose configuration does not yet include the leader (one that just joined and has
    // not applied the change adding it) drops the leader's answers to its reads until it has.
    if (RESPONSE_MSGS.has(m.type) && !this.raft.trk.progress.has(m.from)) {
      throw new RaftError('ERR_STEP_PEER_NOT_FOUND', `response from unknown peer ${m.from}`);
    }
    this.raft.step(m);
  }

  /** True when there is something in a Ready to handle. */
  hasReady(): boolean {
    const r = this.raft;
    if (r.lead !== this.prevSoftSt.lead || r.state !== this.prevSoftSt.raftState) return true;
    const hs = r.hardState();
    if (!isEmptyHardState(hs) && !isHardStateEqual(hs, this.prevHardSt)) return true;
    if (r.raftLog.hasNextUnstableSnapshot()) return true;
    if (r.msgs.length > 0 || r.msgsAfterAppend.length > 0) return true;
    if (r.raftLog.hasNextUnstableEnts() || r.raftLog.hasNextCommittedEnts(true)) return true;
    return r.readStates.length !== 0;
  }

  /** The current Ready; the node considers it handed out (call {@link advance} once it is carried out). */
  ready(): Ready {
    const r = this.raft;
    const entries = r.raftLog.nextUnstableEnts();
    const committedEntries = r.raftLog.nextCommittedEnts(true);
    const messages = r.msgs;
    let selfAck: Message | undefined;
    for (const m of r.msgsAfterAppend) {
      if (m.to !== r.id) messages.push(m);
      else if (m.type === MessageType.MsgAppResp && !m.reject) {
        // The leader's acknowledgements of its own appends are cumulative: only the highest one matters.
        if (selfAck === undefined || (m.term === selfAck.term && m.index > selfAck.index)) selfAck = m;
        else if (m.term !== selfAck.term) {
          this.stepsOnAdvance.push(selfAck);
          selfAck = m;
        }
      } else this.stepsOnAdvance.push(m);
    }
    if (selfAck !== undefined) this.stepsOnAdvance.push(selfAck);
    const hs = r.hardState();
    const rd: Ready = {
      readStates: r.readStates,
      entries,
      committedEntries,
      messages,
      mustSync: mustSync(hs, this.prevHardSt, entries.length),
    };
    const ss = r.softState();
    if (ss.lead !== this.prevSoftSt.lead || ss.raftState !== this.prevSoftSt.raftState) {
      rd.softState = ss;
      this.prevSoftSt = ss;
    }
    if (!isHardStateEqual(hs, this.prevHardSt)) {
      rd.hardState = hs;
      if (!isEmptyHardState(hs)) this.prevHardSt = hs;
    }
    const snap = r.raftLog.nextUnstableSnapshot();
    if (snap !== undefined) {
      rd.snapshot = snap;
      // The application applies a Ready's snapshot before its committed entries, so on advance() it counts as
      // applied up to the snapshot's index.
      this.pendingSnapIndex = snap.metadata.index;
    }
    // Accept: what this Ready hands out is now in progress and is never handed out again, so each Ready must be
    // carried out in full (or the node dropped and restarted from storage).
    r.readStates = [];
    r.msgs = [];
    r.msgsAfterAppend = [];
    const last = entries[entries.length - 1];
    if (last !== undefined) this.pendingStable = { index: last.index, term: last.term };
    r.raftLog.acceptUnstable();
    const lastCommitted = committedEntries[committedEntries.length - 1];
    if (lastCommitted !== undefined) {
      const size = entriesSize(committedEntries);
      r.raftLog.acceptApplying(lastCommitted.index, size, true);
      r.reduceUncommittedSize(payloadsSize(committedEntries));
      this.pendingApplied = { index: lastCommitted.index, size };
    }
    return rd;
  }

  /**
   * The last Ready was carried out: its entries and state are persisted and its committed entries applied.
   * Steps the messages this node sent itself (the leader's acknowledgement of its own entries, self-votes).
   */
  advance(_rd?: Ready): void {
    const r = this.raft;
    const steps = this.stepsOnAdvance;
    this.stepsOnAdvance = [];
    for (const m of steps) r.step(m);
    if (this.pendingStable !== undefined) {
      r.raftLog.stableTo(this.pendingStable.index, this.pendingStable.term);
      this.pendingStable = undefined;
    }
    if (this.pendingSnapIndex !== 0) {
      r.raftLog.stableSnapTo(this.pendingSnapIndex);
      r.appliedTo(this.pendingSnapIndex, 0);
      this.pendingSnapIndex = 0;
    }
    if (this.pendingApplied !== undefined) {
      r.appliedTo(this.pendingApplied.index, this.pendingApplied.size);
      this.pendingApplied = undefined;
    }
  }

  /**
   * Requests a linearizable read: once confirmed, a ReadState with `ctx` and the read index appears in a Ready.
   * `ctx` must be unique per request.
   */
  readIndex(ctx: Uint8Array): void {
    this.raft.step(
      this.raft.localMsg(MessageType.MsgReadIndex, {
        entries: [{ term: 0, index: 0, type: EntryType.Normal, data: ctx }],
      }),
    );
  }

  /** Asks the leader to transfer leadership to `to` (forwarded when called on a follower). */
  transferLeader(to: number): void {
    this.raft.step(this.raft.localMsg(MessageType.MsgTransferLeader, { from: to }));
  }

  /** Forgets the current leader (a follower that knows the leader is gone can then vote at once). */
  forgetLeader(): void {
    this.raft.step(this.raft.localMsg(MessageType.MsgForgetLeader));
  }

  /** A message to `id` could not be delivered: the leader probes it again instead of streaming appends. */
  reportUnreachable(id: number): void {
    this.raft.step(this.raft.localMsg(MessageType.MsgUnreachable, { from: id }));
  }

  /** The outcome of sending a snapshot to `id`. */
  reportSnapshot(id: number, status: SnapshotStatus): void {
    this.raft.step(
      this.raft.localMsg(MessageType.MsgSnapStatus, { from: id, reject: status === SnapshotStatus.Failure }),
    );
  }

  /** Bootstraps a new cluster's first configuration into an empty storage (etcd's RawNode.Bootstrap). */
  bootstrap(peers: readonly Peer[]): void {
    if (peers.length === 0)
      throw new RaftError('ERR_CONFIG_INVALID', 'bootstrap needs at least one peer', 'peers');
    const r = this.raft;
    if (r.raftLog.storage.lastIndex() !== 0)
      throw new RaftError('ERR_CONFIG_INVALID', "can't bootstrap a nonempty storage", 'storage');
    // The first Ready must carry the hard state: start from an empty previous one.
    this.prevHardSt = EMPTY_HS;
    r.becomeFollower(1, 0);
    const ents = peers.map((p, i) => ({
      term: 1,
      index: i + 1,
      type: EntryType.ConfChange,
      data: encodeConfChange({
        type: ConfChangeType.AddNode,
        nodeId: p.id,
        ...(p.context !== undefined ? { context: p.context } : {}),
      }),
    }));
    r.raftLog.append(ents);
    // Committed, and applied to the configuration now so the node can campaign at once; the application sees
    // them again in Ready.committedEntries and applies them (idempotently) through applyConfChange.
    r.raftLog.committed = ents.length;
    for (const p of peers) r.applyConfChange(asV2({ type: ConfChangeType.AddNode, nodeId: p.id }));
  }

  /** The leader this node knows now (0: none). Cheaper than {@link basicStatus} for a check on every request. */
  get leader(): number {
    return this.raft.lead;
  }

  /** State without per-follower progress. */
  basicStatus(): BasicStatus {
    const r = this.raft;
    return {
      id: r.id,
      hardState: r.hardState(),
      softState: r.softState(),
      applied: r.raftLog.applied,
      leadTransferee: r.leadTransferee,
    };
  }

  /** State with per-follower progress (on the leader) and the configuration. */
  status(): Status {
    const r = this.raft;
    const progress = new Map<number, ProgressStatus>();
    if (r.state === StateType.Leader) {
      r.trk.visit((id, pr) => {
        progress.set(id, {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          recentActive: pr.recentActive,
          isLearner: pr.isLearner,
          inflight: pr.inflights.count(),
          paused: pr.isPaused(),
          pendingSnapshot: pr.pendingSnapshot,
        });
      });
    }
    return { ...this.basicStatus(), config: r.trk.confState(), progress };
  }
}
