import { EventEmitter } from 'eventemitter3';
import { RaftError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { RawNode } from '../raw-node.js';
import type { ConfChange, ConfChangeV2, ConfState, SnapshotMetadata } from '../raftpb/types.js';
import { StateType } from '../raft/state-type.js';
import type { MemoryStorage } from '../storage/memory-storage.js';
import { ProposalIds, incarnation } from './proposal-id.js';
import { checkOptions, type RaftNodeEvents, type RaftNodeOptions } from './options.js';
import { recover, type Recovery, type StartedAs } from './recovery.js';
import { LeaderWatch, type LeaderInfo } from './leader-watch.js';
import { LocalSnapshots } from './local-snapshots.js';
import { Applier, type ApplierHost } from './applier.js';
import { systemClock, type Clock } from './clock.js';
import { ReadyLoop } from './ready-loop.js';
import type { ReadBarrier } from './read-barriers.js';
import { Requests } from './requests.js';
import { NodeMetrics, type RaftNodeMetrics } from './metrics.js';
import { healthThresholds, judgeHealth, type HealthOptions, type RaftNodeHealth } from './health.js';
import { MemberBook, type MemberStatus } from './member-book.js';
import { bootstrapPeers } from './member-codec.js';
import * as membership from './membership.js';
import { ConfChangeGate } from './conf-change-gate.js';
import { saveBackup, type SavedBackup } from './backup.js';
import type { SnapshotFiles, SnapshotPayload } from './types.js';

/**
 * Runs a {@link RawNode} for a real service: it drives each `Ready` through durable storage, a transport and the
 * application's state machine in the order etcd's contract requires, ticks on a timer, turns proposals into
 * promises, batches everything that arrives during one fsync into the next one (group commit), takes snapshots
 * and releases WAL segments behind them.
 *
 * It is a facade over one Ready loop (`ready-loop.ts`: persist → send → apply → advance, in etcd-raft's order)
 * that reaches the world only through ports: `storage`, `snapshots`, `transport`, `stateMachine` and `clock`.
 * `@x/raft/testing`'s `simulate` runs this same class over simulated ports. The applier applies committed entries
 * in log order off the loop, so a slow `apply` delays no heartbeat; `maxApplyBacklog` bounds its queue by
 * refusing proposals.
 *
 * Starting reads what the storage holds and restarts from it, or bootstraps a new cluster when it is empty (see
 * {@link RaftNodeOptions.mode}); it never bootstraps over existing state.
 *
 * @example
 * ```ts
 * const node = await RaftNode.start({ id: 1, peers: [{ id: 1 }, { id: 2 }, { id: 3 }], storage: wal,
 *   snapshot, snapshots, stateMachine: kv, transport });
 * await node.waitForLeader();
 * const index = await node.propose(new TextEncoder().encode('x=1'));
 * await node.read(); // linearizable: local state now reflects every write acknowledged before the call
 * ```
 */
export class RaftNode<R = unknown> extends EventEmitter<RaftNodeEvents> {
  private readonly rawNode: RawNode;
  private readonly memory: MemoryStorage;
  private readonly requests: Requests<R>;
  private readonly leaders: LeaderWatch;
  private readonly logger: Logger;
  private readonly timeoutMs: number;
  private readonly waitForLeaderMs: number;
  /** Every timer, deferral and latency measurement goes through it (a simulator passes a virtual one). */
  private readonly clock: Clock;
  private stopped = false;
  /** Set once stop() ran (the transport is shut down and storage closed). */
  private closed = false;
  private failed: Error | undefined;
  /** Applies committed entries off the Ready loop; owns the applied index and the applied configuration. */
  private readonly applier: Applier<R>;
  /** Persist → send → apply → advance; owns the role, leader and term as of the last Ready. */
  private readonly loop: ReadyLoop<R>;
  private readonly maxApplyBacklog: number;
  private readonly snapshots: LocalSnapshots<R>;
  /** Counters and histograms behind {@link metrics}; the hooks below only bump them. */
  private readonly stats: NodeMetrics;
  private readonly healthLimits: Required<HealthOptions>;
  /** Keeps conf-change promises in step with raft's applied index (see conf-change-gate.ts). */
  private readonly confGate: ConfChangeGate;
  /** The replicated member addresses (carried in conf-change contexts and snapshot envelopes). */
  private readonly book: MemberBook;

  /** How this node started: a new cluster, a restart from storage, or an empty member joining one. */
  readonly startedAs: StartedAs;

  private constructor(
    private readonly opts: RaftNodeOptions<R>,
    recovery: Recovery,
    book: MemberBook,
  ) {
    super();
    this.book = book;
    this.clock = opts.clock ?? systemClock;
    this.leaders = new LeaderWatch(this.clock);
    this.confGate = new ConfChangeGate({
      raftApplied: () => this.rawNode.basicStatus().applied,
      isLeader: () => this.loop.role === StateType.Leader,
      resolve: (seq, cs) => this.requests.confApplied(seq, cs),
    });
    const { memory, applied } = recovery;
    this.memory = memory;
    this.startedAs = recovery.startedAs;
    this.logger = opts.logger ?? silentLogger;
    this.timeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.waitForLeaderMs = opts.waitForLeaderMs ?? 0;
    this.maxApplyBacklog = opts.maxApplyBacklog ?? 5_000;
    this.stats = new NodeMetrics(applied);
    this.healthLimits = healthThresholds(opts.health, opts.electionTick ?? 10);
    this.applier = new Applier<R>(
      this.applierHost(),
      applied,
      recovery.confState,
      opts.applyConcurrency ?? 1,
    );
    this.snapshots = new LocalSnapshots(
      opts,
      memory,
      {
        clock: this.clock,
        capture: () => this.capture(),
        stopped: () => this.stopped,
        taken: (metadata) => {
          this.stats.snapshotsTaken++;
          this.emit('snapshot', metadata, 'local');
        },
        warn: (message, fields) => this.logger.warn(message, fields),
      },
      applied,
    );
    const random = opts.random;
    this.rawNode = new RawNode({
      preVote: true,
      checkQuorum: true,
      stepDownOnRemoval: true,
      ...(random !== undefined ? { random } : {}),
      ...opts.raft,
      id: opts.id,
      electionTick: opts.electionTick ?? 10,
      heartbeatTick: opts.heartbeatTick ?? 1,
      storage: memory,
      applied,
      logger: this.logger,
    });
    this.requests = new Requests<R>(
      {
        id: opts.id,
        rawNode: this.rawNode,
        clock: this.clock,
        // etcd's readIndexRetryTime is 500 ms, five of its default 100 ms ticks.
        readRetryMs: 5 * (opts.tickMs ?? 100),
        kick: () => this.loop.kick(),
        stopped: () => this.stopped,
      },
      new ProposalIds(incarnation(random)),
    );
    this.loop = new ReadyLoop<R>(
      {
        rawNode: this.rawNode,
        memory,
        storage: opts.storage,
        transport: opts.transport,
        snapshots: this.snapshots,
        applier: this.applier,
        clock: this.clock,
        tickMs: opts.tickMs ?? 100,
        logger: this.logger,
      },
      {
        requests: this.requests,
        confGate: this.confGate,
        book: this.book,
        stats: this.stats,
        stopped: () => this.stopped,
        failed: () => this.failed !== undefined,
        fail: (err) => this.fail(err),
        roleChanged: (role, term) => this.emit('role', role, term),
        leaderChanged: (leader, term) => {
          this.emit('leader', leader, term);
          if (leader !== 0) this.leaders.elected({ leader, term });
        },
      },
      { term: recovery.term, applied },
    );
  }

  /**
   * Starts a node. It reads what `opts.storage` holds and, per `opts.mode` (default `'auto'`), restarts from it or,
   * when it is empty, bootstraps a new cluster of `opts.peers` (or waits to be added, `'join'`). It refuses with
   * `ERR_STORAGE_NOT_EMPTY` to bootstrap over stored state and with `ERR_STORAGE_EMPTY` to restart from nothing.
   * On a restart the state machine is restored from `opts.snapshot` first and `applied` set to its index, so no
   * entry is applied twice; {@link startedAs} tells which start it was.
   */
  static async start<R>(opts: RaftNodeOptions<R>): Promise<RaftNode<R>> {
    checkOptions(opts);
    const peers = opts.peers ?? [];
    const book = new MemberBook(
      opts.id,
      opts.transport,
      new Set(peers.filter((p) => p.address !== undefined).map((p) => p.id)),
    );
    // Snapshots carry the member table in an envelope around the state machine's data (see member-codec.ts).
    const wrapped: RaftNodeOptions<R> = { ...opts, stateMachine: book.wrap(opts.stateMachine) };
    const recovery = await recover(wrapped);
    const node = new RaftNode<R>(wrapped, recovery, book);
    // The first members' addresses go into their conf-change entries, so nodes added later learn them too.
    if (node.startedAs === 'bootstrap') node.rawNode.bootstrap(bootstrapPeers(peers));
    for (const p of peers) {
      if (p.id !== opts.id && p.address !== undefined) opts.transport.addPeer(p.id, p.address);
    }
    // The addresses the restored snapshot carried (entries after it follow as they replay); removed ids refused.
    book.connectAll(recovery.log, recovery.commit);
    await opts.transport.start(node.loop.transportHandler());
    node.loop.start();
    return node;
  }

  /** This node's id. */
  get id(): number {
    return this.opts.id;
  }

  /**
   * Proposes `data` and resolves with its log index once it is applied on this node. Rejects with `ERR_NO_LEADER`
   * when this node knows no leader (at once, or after `waitForLeaderMs`; nothing was proposed, so a retry is safe),
   * `ERR_PROPOSAL_DROPPED` when raft refuses it otherwise (leader transfer, too many uncommitted bytes),
   * `ERR_LEADERSHIP_LOST` when the leader changed while it was pending, and `ERR_TIMEOUT` after `timeoutMs`. The
   * last two mean the outcome is unknown: the entry may still be committed later.
   */
  propose(data: Uint8Array, timeoutMs = this.timeoutMs): Promise<number> {
    return this.withLeader(timeoutMs, (left) => this.proposeNow(data, left, false));
  }

  /** As {@link propose}, and also resolves with what the state machine's `apply` returned for the entry. */
  proposeForResult(data: Uint8Array, timeoutMs = this.timeoutMs): Promise<{ index: number; result: R }> {
    return this.withLeader(timeoutMs, (left) => this.proposeNow(data, left, true));
  }

  private proposeNow(data: Uint8Array, timeoutMs: number, withResult: false): Promise<number>;
  private proposeNow(
    data: Uint8Array,
    timeoutMs: number,
    withResult: true,
  ): Promise<{ index: number; result: R }>;
  private proposeNow(
    data: Uint8Array,
    timeoutMs: number,
    withResult: boolean,
  ): Promise<number | { index: number; result: R }> {
    const backlog = this.applier.backlog + this.requests.unstepped;
    if (backlog >= this.maxApplyBacklog) {
      this.stats.proposalsRefusedBacklog++;
      return Promise.reject(
        new RaftError(
          'ERR_APPLY_BACKLOG',
          `node ${this.opts.id} has ${backlog} entries waiting to be applied (maxApplyBacklog ${this.maxApplyBacklog}); retry later`,
        ),
      );
    }
    this.stats.proposals++;
    return withResult
      ? this.requests.proposeForResult(data, timeoutMs)
      : this.requests.propose(data, timeoutMs);
  }

  /**
   * Runs `request` with the time left of `timeoutMs` once a leader is known: at once when one is, else after
   * waiting up to `waitForLeaderMs`; rejects with ERR_NO_LEADER if none is by then.
   */
  private withLeader<T>(timeoutMs: number, request: (timeLeftMs: number) => Promise<T>): Promise<T> {
    // The common case (serving, a leader known) goes straight in: this runs once per request.
    if (!this.stopped && this.rawNode.leader !== 0) return request(timeoutMs);
    const stopped = this.stoppedError();
    if (stopped !== undefined) return Promise.reject(stopped);
    return this.leaders.whenLeader(this.rawNode.leader, Math.min(this.waitForLeaderMs, timeoutMs), {
      timeoutMs,
      request,
      stopped: () => this.stoppedError(),
      noLeader: () => {
        const { term } = this.rawNode.basicStatus().hardState;
        return new RaftError(
          'ERR_NO_LEADER',
          `node ${this.opts.id} knows no leader (term ${term}); retry later`,
        );
      },
    });
  }

  /**
   * Resolves with the leader and its term once this node knows one (at once if it does); rejects with
   * `ERR_NO_LEADER` after `timeoutMs` (default `requestTimeoutMs`), or `ERR_STOPPED` if the node stops first.
   *
   * @example
   * ```ts
   * const node = await RaftNode.start(opts);
   * const { leader, term } = await node.waitForLeader(5_000);
   * ```
   */
  waitForLeader(timeoutMs = this.timeoutMs): Promise<LeaderInfo> {
    const stopped = this.stoppedError();
    if (stopped !== undefined) return Promise.reject(stopped);
    const leader = this.rawNode.leader;
    if (leader !== 0) return Promise.resolve({ leader, term: this.rawNode.basicStatus().hardState.term });
    return this.leaders.wait(timeoutMs);
  }

  /**
   * Proposes a membership change; resolves with the new configuration once it is applied here. Rejects as
   * {@link propose} does.
   */
  proposeConfChange(cc: ConfChange | ConfChangeV2, timeoutMs = this.timeoutMs): Promise<ConfState> {
    return this.withLeader(timeoutMs, async (left) => {
      const started = this.clock.now();
      await this.confGate.ready();
      const stopped = this.stoppedError();
      if (stopped !== undefined) throw stopped;
      this.stats.proposals++;
      return this.requests.proposeConfChange(cc, Math.max(1, left - (this.clock.now() - started)));
    });
  }

  /**
   * A linearizable read barrier (ReadIndex): resolves once this node has applied everything that was committed
   * when the read was confirmed by a quorum, so reading local state afterwards is linearizable. Rejects with
   * `ERR_NO_LEADER` when this node knows no leader (at once, or after `waitForLeaderMs`): raft would drop the
   * request, and it would only time out.
   */
  read(timeoutMs = this.timeoutMs): Promise<ReadBarrier> {
    return this.withLeader(timeoutMs, (left) => this.requests.read(left));
  }

  /**
   * Adds a member, as a voter or (`asLearner`) a learner, with its address (and optional `metadata`) carried in
   * the conf change: every node gives it to its transport when raft applies the change, and the address is part
   * of the replicated configuration from then on (log and snapshots), so a restarted node knows it without
   * application code. Resolves with the new configuration once applied here. Rejects with ERR_CONFIG_INVALID when
   * the id is already a member or the address is empty, and otherwise as {@link proposeConfChange}.
   *
   * @example
   * ```ts
   * await leader.addMember({ id: 4, address: '10.0.0.4:7000', asLearner: true });
   * await leader.promote(4); // once it is within maxLagEntries of the leader
   * ```
   */
  addMember(member: membership.NewMember, timeoutMs = this.timeoutMs): Promise<ConfState> {
    return this.guard(() => membership.addMember(this.membershipHost(), member, timeoutMs));
  }

  /**
   * Makes learner `id` a voter once it has acknowledged the leader's appends and its log is within `maxLagEntries`
   * (default 1,000) of the leader's (a learner that never answered is never caught up): polls raft's
   * progress every tick, then proposes the change. Call it on the leader (else ERR_NOT_LEADER, naming it).
   * Rejects with ERR_LEARNER_NOT_CAUGHT_UP if the learner is still behind at `timeoutMs` (nothing was proposed),
   * ERR_CONFIG_INVALID if `id` is not a learner; resolves at once if it is a voter already.
   */
  promote(id: number, opts: membership.PromoteOptions = {}): Promise<ConfState> {
    return this.guard(() => membership.promote(this.membershipHost(), id, opts));
  }

  /**
   * Removes member `id`; resolves with the new configuration once applied here. A leader that removes itself
   * steps down once the change is applied (`stepDownOnRemoval`, on by default here). Rejects with
   * ERR_CONFIG_INVALID if `id` is not a member, otherwise as {@link proposeConfChange}.
   */
  removeMember(id: number, timeoutMs = this.timeoutMs): Promise<ConfState> {
    return this.guard(() => membership.removeMember(this.membershipHost(), id, timeoutMs));
  }

  /**
   * Hands leadership to voter `to` (from any node: a follower forwards it to the leader), or, without `to` and on
   * the leader, to the voter whose log is most up to date (highest match). Resolves when this node sees the
   * target lead; rejects with ERR_LEADER_TRANSFER_TIMEOUT if it does not within `timeoutMs` (default
   * `requestTimeoutMs`), ERR_NOT_LEADER without a target on a follower, ERR_CONFIG_INVALID if `to` is not a voter.
   * Proposals are refused while the transfer runs (raft drops them).
   *
   * @example
   * ```ts
   * const { leader } = await node.transferLeadership(); // e.g. before taking the leader down for maintenance
   * ```
   */
  transferLeadership(to?: number, timeoutMs = this.timeoutMs): Promise<LeaderInfo> {
    return this.guard(() => membership.transferLeadership(this.membershipHost(), to, timeoutMs));
  }

  /** The members as applied here (voters, then learners), with the addresses the configuration replicates. */
  members(): MemberStatus[] {
    return this.book.list(this.applier.confState);
  }

  /** Ids removed from the configuration as applied here (replicated: refused by the transport, never reused). */
  removedMembers(): number[] {
    return this.book.removedIds();
  }

  private guard<T>(op: () => Promise<T>): Promise<T> {
    const stopped = this.stoppedError();
    if (stopped !== undefined) return Promise.reject(stopped);
    return op();
  }

  private membershipHost(): membership.MembershipHost {
    return {
      id: this.opts.id,
      clock: this.clock,
      pollMs: this.opts.tickMs ?? 100,
      timeoutMs: this.timeoutMs,
      stoppedError: () => this.stoppedError(),
      status: () => this.rawNode.status(),
      membership: () => this.applier.confState,
      isRemoved: (id) => this.book.isRemoved(id),
      proposeConfChange: (cc, timeoutMs) => this.proposeConfChange(cc, timeoutMs),
      transferLeader: (to) => {
        this.rawNode.transferLeader(to);
        this.loop.kick();
      },
    };
  }

  /** Raft status: role, term, leader, commit, applied and (on the leader) every follower's progress. */
  status(): ReturnType<RawNode['status']> & {
    appliedIndex: number;
    snapshotIndex: number;
    applyBacklog: number;
  } {
    return {
      ...this.rawNode.status(),
      appliedIndex: this.applier.applied,
      snapshotIndex: this.snapshots.index,
      applyBacklog: this.applier.backlog,
    };
  }

  /**
   * Counters, gauges and latency histograms of this node, as a plain-data copy (see {@link RaftNodeMetrics});
   * `renderPrometheus` turns it into Prometheus text.
   *
   * @example
   * ```ts
   * const m = node.metrics();
   * console.log(m.commitIndex - m.appliedIndex, m.storageSaveSeconds.count, m.peers);
   * ```
   */
  metrics(): RaftNodeMetrics {
    const { hardState } = this.rawNode.basicStatus();
    return this.stats.snapshot({
      id: this.opts.id,
      role: this.loop.role,
      term: this.loop.term,
      leader: this.loop.leader,
      commitIndex: hardState.commit,
      appliedIndex: this.applier.applied,
      snapshotIndex: this.snapshots.index,
      applyBacklog: this.applier.backlog,
      maxApplyBacklog: this.maxApplyBacklog,
    });
  }

  /**
   * Whether this node is serving well, with a reason per problem: failed or stopped, no leader for longer than
   * `health.maxLeaderlessTicks`, the apply backlog near `maxApplyBacklog`, a slow last `storage.save`.
   *
   * @example
   * ```ts
   * const { ok, reasons } = node.health();
   * if (!ok) logger.warn('raft unhealthy', { reasons });
   * ```
   */
  health(): RaftNodeHealth {
    return judgeHealth(this.metrics(), this.healthLimits, { failed: this.failed, stopped: this.stopped });
  }

  /** The current configuration as last applied. */
  membership(): ConfState {
    return this.applier.confState;
  }

  /**
   * Stops ticking, rejects pending requests, waits for the Ready loop and for the `apply` running now (the rest of
   * the apply queue is dropped: it is durable and is applied again on the next start), waits for a snapshot being
   * written, stops the transport, closes storage.
   */
  async stop(): Promise<void> {
    // After a failure the node is already stopped, but its transport still has to be shut down here.
    if (this.closed) return;
    this.closed = true;
    this.stopped = true;
    this.loop.stopTicking();
    const err = new RaftError('ERR_STOPPED', 'the raft node was stopped');
    this.rejectAll(err);
    await this.loop.settled();
    // The apply running now finishes (the state machine never sees a call cut short); the rest is dropped: it is
    // committed and durable, and replays from the log on the next start.
    await this.applier.stop(err);
    await this.snapshots.settled(); // its WAL record is written before the WAL closes; received data is deleted
    await this.opts.transport.stop();
    if (this.failed === undefined) await this.opts.storage.close();
  }

  private stoppedError(): RaftError | undefined {
    if (this.failed !== undefined)
      return new RaftError('ERR_STOPPED', `the raft node failed: ${this.failed.message}`);
    if (this.stopped) return new RaftError('ERR_STOPPED', 'the raft node was stopped');
    return undefined;
  }

  private rejectAll(err: Error): void {
    this.confGate.releaseAll(); // their requests see the node stopped and reject
    this.requests.rejectAll(err);
    this.leaders.rejectAll(err);
  }

  private fail(err: Error): void {
    if (this.failed !== undefined) return;
    this.failed = err;
    this.stopped = true;
    this.loop.stopTicking();
    this.logger.error('raft node failed; stopping', { err: err.message });
    const stopped = new RaftError('ERR_STOPPED', `the raft node failed: ${err.message}`);
    this.rejectAll(stopped);
    void this.applier.stop(stopped);
    this.emit('error', err);
  }

  /** How the applier reports back: resolve proposers, emit events, serve reads, snapshot when due. */
  private applierHost(): ApplierHost<R> {
    return {
      stateMachine: this.opts.stateMachine,
      ownSeq: (data) => this.requests.ids.ownSeq(data),
      appliedProposal: (index, seq, result) => this.requests.applied(seq, index, result),
      appliedConf: (e) => {
        this.book.applied(e.changes, e.context, e.index); // before listeners look at members()
        this.emit('confChange', e.confState, e.changes, e.context);
        if (e.seq !== undefined) {
          this.confGate.applied(e.index, e.seq, e.confState);
        }
      },
      restored: (metadata) => {
        this.stats.restored(metadata.index);
        this.snapshots.index = metadata.index;
        this.emit('snapshot', metadata, 'leader');
      },
      progressed: (applied) => {
        this.stats.applied(applied);
        this.emit('applied', applied);
        this.requests.serveReads(applied);
        this.snapshots.incoming.passed(applied);
        this.maybeSnapshot();
      },
      failed: (err) => this.fail(err),
    };
  }

  /** The state machine's snapshot, between two applies: its view matches the applied index and configuration. */
  private capture(): Promise<{ index: number; term: number; confState: ConfState; data: SnapshotPayload }> {
    return this.applier.between(async () => ({
      index: this.applier.applied,
      term: this.memory.term(this.applier.applied),
      confState: this.applier.confState,
      data: await this.opts.stateMachine.snapshot(),
    }));
  }

  /**
   * Saves a backup into `to` (e.g. `await SnapshotStore.open(dir)`): after a linearizable read barrier, so it holds
   * every write acknowledged before the call, a snapshot of the state applied here with the member table (see
   * `restoreBackup`). Rejects as {@link read} does.
   */
  backup(to: SnapshotFiles, timeoutMs = this.timeoutMs): Promise<SavedBackup> {
    return this.guard(() =>
      saveBackup({ read: (ms) => this.read(ms), capture: () => this.capture() }, to, timeoutMs),
    );
  }

  /** Snapshot-then-release when the policy says so. */
  private maybeSnapshot(): void {
    if (this.stopped || !this.snapshots.due(this.applier.applied)) return;
    this.snapshotNow().catch((err: unknown) => {
      if (this.stopped) return; // stop() cancels a snapshot waiting for its turn between applies
      this.fail(err instanceof Error ? err : new Error(String(err)));
    });
  }

  /**
   * Takes a snapshot at the applied index now: 1. the snapshot file, 2. the WAL's snapshot record, 3. compact the
   * in-memory log (keeping `snapshotCatchUpEntries`), 4. release WAL segments, 5. purge old snapshot files. Runs
   * beside the Ready loop; a second call while one runs returns the same promise.
   */
  snapshotNow(): Promise<SnapshotMetadata> {
    const stopped = this.stoppedError();
    if (stopped !== undefined) return Promise.reject(stopped);
    if (this.opts.snapshots === undefined)
      return Promise.reject(new RaftError('ERR_CONFIG_INVALID', 'no snapshot store configured'));
    return this.snapshots.take();
  }
}
