import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'eventemitter3';
import { decodeConfChange, decodeConfChangeV2 } from '../codec/conf-change-codec.js';
import { RaftError, isRaftError } from '../errors.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { RawNode } from '../raw-node.js';
import type { Ready } from '../ready.js';
import {
  ConfChangeType,
  EntryType,
  MessageType,
  isConfChangeV2,
  isEmptySnapshot,
  type ConfChange,
  type ConfChangeV2,
  type ConfState,
  type Entry,
  type Message,
  type Snapshot,
  type SnapshotMetadata,
} from '../raftpb/types.js';
import { StateType } from '../raft/state-type.js';
import type { MemoryStorage } from '../storage/memory-storage.js';
import { ProposalIds, unframe } from './proposal-id.js';
import type { RaftNodeEvents, RaftNodeOptions } from './options.js';
import { recover, type Recovery, type StartedAs } from './recovery.js';
import { LeaderWatch, type LeaderInfo } from './leader-watch.js';
import { LocalSnapshots } from './local-snapshots.js';
import { Waiters } from './waiters.js';
import { ProposalBatch } from './proposal-batch.js';
import { ReadBarriers, type ReadBarrier } from './read-barriers.js';

const EMPTY = new Uint8Array(0);

/**
 * Runs a {@link RawNode} for a real service: it drives each `Ready` through durable storage, a transport and the
 * application's state machine in the order etcd's contract requires, ticks on a timer, turns proposals into
 * promises, batches everything that arrives during one fsync into the next one (group commit), takes snapshots
 * and releases WAL segments behind them.
 *
 * Order per Ready: (leader) send messages while persisting, thesis §10.2.1; save the snapshot file, then the WAL
 * snapshot record; save entries and hard state (resolves after fdatasync); (followers) send messages only now;
 * restore the snapshot / apply committed entries; `advance`.
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
  private readonly ids: ProposalIds;
  private readonly proposals = new Waiters<number, { index: number; result: R }>();
  private readonly pending = new ProposalBatch();
  private readonly confChanges = new Waiters<number, ConfState>();
  private readonly reads = new ReadBarriers();
  /** The read round that reads invoked in this turn of the event loop join; submitted on the next setImmediate. */
  private pendingRead: Promise<ReadBarrier> | undefined;
  private readonly leaders = new LeaderWatch();
  private readonly logger: Logger;
  private readonly timeoutMs: number;
  private readonly waitForLeaderMs: number;
  private ticker: ReturnType<typeof setInterval> | undefined;
  /** True while the Ready loop runs; a new trigger then only sets `again`. */
  private running = false;
  private again = false;
  private loopDone: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Set once stop() ran (the transport is shut down and storage closed). */
  private closed = false;
  private failed: Error | undefined;
  private role: StateType = StateType.Follower;
  private leader = 0;
  /** The current term as of the last Ready handled (the stored one at start). */
  private term: number;
  /** Highest index applied to the state machine (invariant: <= commit). */
  private appliedIndex: number;
  private confState: ConfState;
  private readonly snapshots: LocalSnapshots<R>;
  private readSeq = 0;

  /** How this node started: a new cluster, a restart from storage, or an empty member joining one. */
  readonly startedAs: StartedAs;

  private constructor(
    private readonly opts: RaftNodeOptions<R>,
    recovery: Recovery,
  ) {
    super();
    const { memory, applied } = recovery;
    this.memory = memory;
    this.startedAs = recovery.startedAs;
    this.term = recovery.term;
    this.logger = opts.logger ?? silentLogger;
    this.timeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.waitForLeaderMs = opts.waitForLeaderMs ?? 0;
    this.appliedIndex = applied;
    this.confState = recovery.confState;
    this.snapshots = new LocalSnapshots(
      opts,
      memory,
      {
        applied: () => ({ index: this.appliedIndex, confState: this.confState }),
        stopped: () => this.stopped,
        taken: (metadata) => this.emit('snapshot', metadata, 'local'),
      },
      applied,
    );
    this.ids = new ProposalIds(randomBytes(8));
    this.rawNode = new RawNode({
      preVote: true,
      checkQuorum: true,
      ...opts.raft,
      id: opts.id,
      electionTick: opts.electionTick ?? 10,
      heartbeatTick: opts.heartbeatTick ?? 1,
      storage: memory,
      applied,
      logger: this.logger,
    });
  }

  /**
   * Starts a node. It reads what `opts.storage` holds and, per `opts.mode` (default `'auto'`), restarts from it or,
   * when it is empty, bootstraps a new cluster of `opts.peers` (or waits to be added, `'join'`). It refuses with
   * `ERR_STORAGE_NOT_EMPTY` to bootstrap over stored state and with `ERR_STORAGE_EMPTY` to restart from nothing.
   * On a restart the state machine is restored from `opts.snapshot` first and `applied` set to its index, so no
   * entry is applied twice; {@link startedAs} tells which start it was.
   */
  static async start<R>(opts: RaftNodeOptions<R>): Promise<RaftNode<R>> {
    const wait = opts.waitForLeaderMs;
    if (wait !== undefined && !(wait >= 0)) {
      throw new RaftError(
        'ERR_CONFIG_INVALID',
        `waitForLeaderMs must be >= 0, not ${wait}`,
        'waitForLeaderMs',
      );
    }
    const node = new RaftNode<R>(opts, await recover(opts));
    if (node.startedAs === 'bootstrap') node.rawNode.bootstrap((opts.peers ?? []).map((p) => ({ id: p.id })));
    for (const p of opts.peers ?? []) {
      if (p.id !== opts.id && p.address !== undefined) opts.transport.addPeer(p.id, p.address);
    }
    await opts.transport.start({
      onMessage: (m) => node.onMessage(m),
      reportUnreachable: (id) => {
        if (!node.stopped) node.rawNode.reportUnreachable(id);
      },
      fatal: (err) => node.fail(err),
      reportSnapshot: (id, status) => {
        if (node.stopped) return;
        node.rawNode.reportSnapshot(id, status);
        node.kick();
      },
    });
    node.ticker = setInterval(() => node.tick(), opts.tickMs ?? 100);
    node.kick();
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
  async propose(data: Uint8Array, timeoutMs = this.timeoutMs): Promise<number> {
    return (await this.proposeForResult(data, timeoutMs)).index;
  }

  /** As {@link propose}, and also resolves with what the state machine's `apply` returned for the entry. */
  proposeForResult(data: Uint8Array, timeoutMs = this.timeoutMs): Promise<{ index: number; result: R }> {
    return this.withLeader(timeoutMs, (left) => this.proposeNow(data, left));
  }

  private proposeNow(data: Uint8Array, timeoutMs: number): Promise<{ index: number; result: R }> {
    const seq = this.ids.next();
    const done = this.proposals.wait(seq, timeoutMs, 'proposal');
    // Stepped with the others of this turn by the Ready loop (flushProposals), before it takes the next Ready.
    this.pending.add(seq, this.ids.frame(seq, data));
    this.kick();
    return done;
  }

  /** Steps the proposals gathered since the last flush as one MsgProp; a refusal rejects each of them. */
  private flushProposals(): void {
    const { data, seqs } = this.pending.take();
    if (data.length === 0) return;
    try {
      this.rawNode.proposeBatch(data);
    } catch (err) {
      const e = this.refusal(err);
      for (const seq of seqs) this.proposals.reject(seq, e);
    }
  }

  /** Raft's refusal of a request, as ERR_NO_LEADER when the reason is that no leader is known. */
  private refusal(err: unknown): Error {
    if (isRaftError(err, 'ERR_PROPOSAL_DROPPED') && this.currentLeader() === 0)
      return new RaftError('ERR_NO_LEADER', err.message);
    return err instanceof Error ? err : new Error(String(err));
  }

  /** The leader raft knows now (0 = none); may be ahead of the last `leader` event by one Ready. */
  private currentLeader(): number {
    return this.rawNode.basicStatus().softState.lead;
  }

  /**
   * Runs `request` with the time left of `timeoutMs` once a leader is known: at once when one is, else after
   * waiting up to `waitForLeaderMs`; rejects with ERR_NO_LEADER if none is by then.
   */
  private withLeader<T>(timeoutMs: number, request: (timeLeftMs: number) => Promise<T>): Promise<T> {
    const stopped = this.stoppedError();
    if (stopped !== undefined) return Promise.reject(stopped);
    if (this.currentLeader() !== 0) return request(timeoutMs);
    const waitMs = Math.min(this.waitForLeaderMs, timeoutMs);
    if (waitMs <= 0) {
      return Promise.reject(
        new RaftError(
          'ERR_NO_LEADER',
          `node ${this.opts.id} knows no leader (term ${this.rawNode.basicStatus().hardState.term}); retry later`,
        ),
      );
    }
    const began = Date.now();
    return this.leaders.wait(waitMs).then(() => {
      const stoppedNow = this.stoppedError();
      if (stoppedNow !== undefined) throw stoppedNow;
      return request(Math.max(0, timeoutMs - (Date.now() - began)));
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
    const leader = this.currentLeader();
    if (leader !== 0) return Promise.resolve({ leader, term: this.rawNode.basicStatus().hardState.term });
    return this.leaders.wait(timeoutMs);
  }

  /**
   * Proposes a membership change; resolves with the new configuration once it is applied here. Rejects as
   * {@link propose} does.
   */
  proposeConfChange(cc: ConfChange | ConfChangeV2, timeoutMs = this.timeoutMs): Promise<ConfState> {
    return this.withLeader(timeoutMs, (left) => this.proposeConfChangeNow(cc, left));
  }

  private proposeConfChangeNow(cc: ConfChange | ConfChangeV2, timeoutMs: number): Promise<ConfState> {
    const seq = this.ids.next();
    const done = this.confChanges.wait(seq, timeoutMs, 'conf change');
    const framed = { ...cc, context: this.ids.frame(seq, cc.context ?? EMPTY) };
    this.flushProposals(); // entries keep call order
    try {
      this.rawNode.proposeConfChange(framed);
    } catch (err) {
      this.confChanges.reject(seq, this.refusal(err));
    }
    this.kick();
    return done;
  }

  /**
   * A linearizable read barrier (ReadIndex): resolves once this node has applied everything that was committed
   * when the read was confirmed by a quorum, so reading local state afterwards is linearizable. Rejects with
   * `ERR_NO_LEADER` when this node knows no leader (at once, or after `waitForLeaderMs`): raft would drop the
   * request, and it would only time out.
   */
  read(timeoutMs = this.timeoutMs): Promise<ReadBarrier> {
    return this.withLeader(timeoutMs, (left) => this.readNow(left));
  }

  private readNow(timeoutMs: number): Promise<ReadBarrier> {
    // Reads invoked before the round below is submitted share it (one ReadIndex, one heartbeat round for all of
    // them). That stays linearizable: the round's read index is taken after every one of them was invoked, so each
    // sees every write acknowledged before it began. The round's timeout is its first read's.
    if (this.pendingRead !== undefined) return this.pendingRead;
    this.readSeq = (this.readSeq + 1) >>> 0;
    const ctx = this.ids.frame(this.readSeq, EMPTY);
    const done = this.reads.wait(ctx, timeoutMs);
    this.pendingRead = done;
    setImmediate(() => {
      this.pendingRead = undefined;
      if (this.stopped) return; // stop() rejected the round already
      if (this.currentLeader() === 0) {
        // A follower or candidate without a leader drops a ReadIndex request silently (etcd-raft does too).
        this.reads.reject(
          ctx,
          new RaftError('ERR_NO_LEADER', `node ${this.opts.id} lost its leader; retry later`),
        );
        return;
      }
      try {
        this.rawNode.readIndex(ctx);
      } catch (err) {
        this.reads.reject(ctx, this.refusal(err));
      }
      this.kick();
    });
    return done;
  }

  /** Asks the leader to hand leadership to `to` (raft's leader transfer). */
  transferLeadership(to: number): void {
    this.assertRunning();
    this.rawNode.transferLeader(to);
    this.kick();
  }

  /** Raft status: role, term, leader, commit, applied and (on the leader) every follower's progress. */
  status(): ReturnType<RawNode['status']> & { appliedIndex: number; snapshotIndex: number } {
    return {
      ...this.rawNode.status(),
      appliedIndex: this.appliedIndex,
      snapshotIndex: this.snapshots.index,
    };
  }

  /** The current configuration as last applied. */
  membership(): ConfState {
    return this.confState;
  }

  /** Stops ticking, rejects pending requests, waits for the Ready loop, stops the transport, closes storage. */
  async stop(): Promise<void> {
    // After a failure the node is already stopped, but its transport still has to be shut down here.
    if (this.closed) return;
    this.closed = true;
    this.stopped = true;
    if (this.ticker !== undefined) clearInterval(this.ticker);
    const err = new RaftError('ERR_STOPPED', 'the raft node was stopped');
    this.rejectAll(err);
    await this.loopDone;
    await this.opts.transport.stop();
    if (this.failed === undefined) await this.opts.storage.close();
  }

  private stoppedError(): RaftError | undefined {
    if (this.failed !== undefined)
      return new RaftError('ERR_STOPPED', `the raft node failed: ${this.failed.message}`);
    if (this.stopped) return new RaftError('ERR_STOPPED', 'the raft node was stopped');
    return undefined;
  }

  private assertRunning(): void {
    const err = this.stoppedError();
    if (err !== undefined) throw err;
  }

  private rejectAll(err: Error): void {
    this.proposals.rejectAll(err);
    this.confChanges.rejectAll(err);
    this.reads.rejectAll(err);
    this.leaders.rejectAll(err);
  }

  private tick(): void {
    if (this.stopped) return;
    this.rawNode.tick();
    this.kick();
  }

  private onMessage(m: Message): void {
    if (this.stopped) return;
    try {
      this.rawNode.step(m);
    } catch (err) {
      if (isRaftError(err, 'ERR_LOG_CORRUPT')) {
        // The cluster knows entries are committed that this node's log lacks: its data was lost or wiped. It must
        // not go on (it could vote with a log it no longer has); the error says how to rejoin as a new member.
        this.fail(err);
        return;
      }
      // A message for a peer that is gone, or a local message type from the network: drop it, keep serving.
      this.logger.debug('dropped inbound message', { err: String(err), type: m.type, from: m.from });
    }
    this.kick();
  }

  /** Schedules the Ready loop; cheap to call often (one loop runs at a time, and it re-checks before exiting). */
  private kick(): void {
    if (this.stopped && this.failed === undefined && !this.running) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.loopDone = this.loop();
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        // Yield once so that proposals made in the same turn of the event loop join this Ready (batching).
        await new Promise<void>((resolve) => setImmediate(resolve));
        while (!this.stopped && (this.flushProposals(), this.rawNode.hasReady())) {
          await this.handleReady(this.rawNode.ready());
        }
      } while (this.again && !this.stopped);
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
    } finally {
      this.running = false;
    }
  }

  private fail(err: Error): void {
    if (this.failed !== undefined) return;
    this.failed = err;
    this.stopped = true;
    if (this.ticker !== undefined) clearInterval(this.ticker);
    this.logger.error('raft node failed; stopping', { err: err.message });
    this.rejectAll(new RaftError('ERR_STOPPED', `the raft node failed: ${err.message}`));
    this.emit('error', err);
  }

  private async handleReady(rd: Ready): Promise<void> {
    // The term first: a Ready that elects a leader carries that leader's term in its hard state.
    if (rd.hardState !== undefined) this.term = rd.hardState.term;
    if (rd.softState !== undefined) this.onSoftState(rd.softState.raftState, rd.softState.lead);
    for (const rs of rd.readStates) this.reads.confirm(rs.requestCtx, rs.index);

    const leaderNow = this.role === StateType.Leader;
    // Thesis §10.2.1: the leader may send its appends while its own write runs; it counts itself toward the
    // commit only after advance() (its self-acknowledgement is held until then).
    if (leaderNow) this.send(rd.messages);

    const snap = rd.snapshot !== undefined && !isEmptySnapshot(rd.snapshot) ? rd.snapshot : undefined;
    if (snap !== undefined) await this.persistIncomingSnapshot(snap);
    let applied = false;
    if (rd.entries.length > 0 || rd.hardState !== undefined) {
      const saving = this.opts.storage.save(rd.hardState, rd.entries);
      if (leaderNow && snap === undefined && rd.committedEntries.length > 0) {
        // The leader applies while its write runs (as etcd's raftNode does): its committed entries are already on
        // its own disk, because it counts itself toward a commit only after advance() of the Ready that saved them,
        // and every earlier Ready was saved before this one was taken. A follower's committed entries may be in
        // this very Ready, so a follower applies only after the save.
        const applying = this.applyEntries(rd.committedEntries);
        const [saved, appliedResult] = await Promise.allSettled([saving, applying]);
        if (saved.status === 'rejected') throw saved.reason;
        if (appliedResult.status === 'rejected') throw appliedResult.reason;
        applied = true;
      } else await saving;
    }
    if (snap !== undefined) this.memory.applySnapshot({ data: EMPTY, metadata: snap.metadata });
    if (rd.hardState !== undefined) this.memory.setHardState(rd.hardState);
    if (rd.entries.length > 0) this.memory.append(rd.entries);

    // Followers: only now, with entries and hard state on disk, may acknowledgements and votes go out.
    if (!leaderNow) this.send(rd.messages);

    if (snap !== undefined) {
      await this.opts.stateMachine.restore(snap.data, snap.metadata);
      this.appliedIndex = snap.metadata.index;
      this.snapshots.index = snap.metadata.index;
      this.confState = snap.metadata.confState;
      this.emit('snapshot', snap.metadata, 'leader');
    }
    if (!applied) await this.applyEntries(rd.committedEntries);
    this.rawNode.advance(rd);
    this.reads.serve(this.appliedIndex);
    this.maybeSnapshot();
  }

  private onSoftState(role: StateType, lead: number): void {
    const leaderChanged = lead !== this.leader;
    if (role !== this.role) {
      this.role = role;
      this.emit('role', role, this.term);
    }
    if (leaderChanged) {
      const hadLeader = this.leader !== 0;
      this.leader = lead;
      this.emit('leader', lead, this.term);
      if (lead !== 0) this.leaders.elected({ leader: lead, term: this.term });
      if (hadLeader) {
        // Entries proposed under the old leader may or may not commit under the new one.
        const err = new RaftError(
          'ERR_LEADERSHIP_LOST',
          'the leader changed while the request was pending; its outcome is unknown',
        );
        this.proposals.rejectAll(err);
        this.confChanges.rejectAll(err);
        this.reads.rejectAll(err);
      }
    }
  }

  private send(messages: readonly Message[]): void {
    if (messages.length === 0) return;
    let plain: Message[] | undefined;
    for (const m of messages) {
      if (m.type === MessageType.MsgSnap) {
        plain ??= messages.filter((x) => x.type !== MessageType.MsgSnap);
        this.sendSnapshot(m);
      }
    }
    this.opts.transport.send(plain ?? messages);
  }

  /** Raft's storage holds snapshot metadata only; the data is read from the snapshot file when it is sent. */
  private sendSnapshot(m: Message): void {
    const want = m.snapshot?.metadata;
    const cs = want?.confState;
    if (cs !== undefined && ![...cs.voters, ...cs.learners, ...cs.votersOutgoing].includes(m.to)) {
      // The newest snapshot predates the member (it was added after it): a follower refuses a snapshot whose
      // configuration lacks it. Take a fresh one; raft retries with it once this attempt is reported failed.
      if (!this.snapshots.busy) {
        this.snapshotNow().catch((err: unknown) =>
          this.logger.warn('snapshot for a new member failed', { err: String(err) }),
        );
      }
      setImmediate(() => {
        if (this.stopped) return;
        this.rawNode.reportSnapshot(m.to, 'failure');
        this.kick();
      });
      return;
    }
    this.opts.transport.sendSnapshot(m, async () => {
      const stored = await this.opts.snapshots?.load();
      if (stored === undefined || want === undefined || stored.metadata.index !== want.index) {
        throw new RaftError(
          'ERR_SNAPSHOT_TEMPORARILY_UNAVAILABLE',
          `snapshot at index ${want?.index ?? 0} is not on disk`,
        );
      }
      return stored.bytes();
    });
  }

  /** A snapshot from the leader: the file first, then the WAL record (then entries; release happens later). */
  private async persistIncomingSnapshot(snap: Snapshot): Promise<void> {
    if (this.opts.snapshots !== undefined) await this.opts.snapshots.save(snap.metadata, snap.data);
    await this.opts.storage.saveSnap(snap.metadata);
  }

  private async applyEntries(entries: readonly Entry[]): Promise<void> {
    if (entries.length === 0) return;
    for (const e of entries) {
      if (e.index <= this.appliedIndex) continue;
      switch (e.type) {
        case EntryType.Normal:
          await this.applyNormal(e);
          break;
        case EntryType.ConfChange:
          this.applyConf(e.data.byteLength === 0 ? undefined : decodeConfChange(e.data));
          break;
        case EntryType.ConfChangeV2:
          this.applyConf(e.data.byteLength === 0 ? undefined : decodeConfChangeV2(e.data));
          break;
      }
      this.appliedIndex = e.index;
    }
    this.emit('applied', this.appliedIndex);
  }

  private async applyNormal(e: Entry): Promise<void> {
    if (e.data.byteLength === 0) return; // a new leader's empty entry
    const payload = unframe(e.data) ?? e.data;
    const result = await this.opts.stateMachine.apply(payload, e.index);
    const seq = this.ids.ownSeq(e.data);
    if (seq !== undefined) this.proposals.resolve(seq, { index: e.index, result });
  }

  private applyConf(cc: ConfChange | ConfChangeV2 | undefined): void {
    if (cc === undefined) return;
    const cs = this.rawNode.applyConfChange(cc);
    this.confState = cs;
    const ctx = cc.context ?? EMPTY;
    const changes = isConfChangeV2(cc) ? cc.changes : [{ type: cc.type, nodeId: cc.nodeId }];
    for (const ch of changes) {
      if (ch.type === ConfChangeType.RemoveNode && ch.nodeId !== this.opts.id)
        this.opts.transport.removePeer(ch.nodeId);
    }
    // Peer addresses are the application's to know (it keeps them in its state machine); it adds them to the
    // transport when it sees this event.
    this.emit('confChange', cs, changes, unframe(ctx) ?? ctx);
    const seq = this.ids.ownSeq(ctx);
    if (seq !== undefined) this.confChanges.resolve(seq, cs);
  }

  /** Snapshot-then-release when the policy says so. */
  private maybeSnapshot(): void {
    if (!this.snapshots.due(this.appliedIndex)) return;
    this.snapshotNow().catch((err: unknown) =>
      this.fail(err instanceof Error ? err : new Error(String(err))),
    );
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
