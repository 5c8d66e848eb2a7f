import { RaftError, isRaftError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RawNode } from '../raw-node.js';
import type { Ready } from '../ready.js';
import {
  MessageType,
  isEmptySnapshot,
  type ConfChange,
  type ConfChangeSingle,
  type ConfChangeV2,
  type ConfState,
  type Entry,
  type Message,
} from '../raftpb/types.js';
import { StateType } from '../raft/state-type.js';
import type { MemoryStorage } from '../storage/memory-storage.js';
import { toQueued, type Applier, type QueuedEntry } from './applier.js';
import { nextTurn, type Clock, type ClockTimer } from './clock.js';
import type { ConfChangeGate } from './conf-change-gate.js';
import type { LocalSnapshots } from './local-snapshots.js';
import type { MemberBook } from './member-book.js';
import type { NodeMetrics } from './metrics.js';
import type { Requests } from './requests.js';
import type { DurableStorage, SnapshotSource, Transport, TransportHandler } from './types.js';

const EMPTY = new Uint8Array(0);

/**
 * What the Ready loop drives. Every effect goes through one of these ports, so the same loop runs in a service
 * (WAL, TCP, Node's timers) and in `@x/raft/testing`'s simulator (memory disk that tears and loses unsynced
 * writes, simulated network, virtual clock).
 */
export interface ReadyLoopPorts<R> {
  readonly rawNode: RawNode;
  /** raft's in-memory view of the durable log: updated only after `storage` saved the same thing. */
  readonly memory: MemoryStorage;
  readonly storage: DurableStorage;
  readonly transport: Transport;
  readonly snapshots: LocalSnapshots<R>;
  readonly applier: Applier<R>;
  readonly clock: Clock;
  /** Milliseconds per raft tick. */
  readonly tickMs: number;
  readonly logger: Logger;
}

/** The node's bookkeeping the loop updates, and what it reports. */
export interface ReadyLoopHost<R> {
  readonly requests: Requests<R>;
  readonly confGate: ConfChangeGate;
  readonly book: MemberBook;
  readonly stats: NodeMetrics;
  /** True once the node stopped or failed: no new Ready is taken. */
  stopped(): boolean;
  /** True once the node failed (the loop still runs then, to let a Ready in progress finish). */
  failed(): boolean;
  fail(err: Error): void;
  roleChanged(role: StateType, term: number): void;
  leaderChanged(leader: number, term: number): void;
}

/**
 * The one Ready loop: persist → send → apply → advance, per etcd-raft's contract (see DESIGN.md). One loop runs at
 * a time; {@link kick} schedules it, and calls made while it runs make it go round again.
 *
 * Order per Ready: (leader) send messages while persisting, thesis §10.2.1; save the snapshot file, then the WAL
 * snapshot record; save entries and hard state (resolves after fdatasync); (followers) send messages only now;
 * queue the snapshot restore and committed entries for the applier (the leader queues them before its save:
 * they are on its disk already); `advance`. The applier applies them in log order off the loop, so a slow
 * `apply` delays no heartbeat.
 */
export class ReadyLoop<R> {
  /** True while the loop runs; a new trigger then only sets `again`. */
  private running = false;
  private again = false;
  private done: Promise<void> = Promise.resolve();
  private ticker: ClockTimer | undefined;
  private roleNow: StateType = StateType.Follower;
  private leaderNow = 0;
  /** The current term as of the last Ready handled (the stored one at start). */
  private termNow: number;
  /** Highest index handed to the applier (invariant: entries at or below it are never queued again). */
  private queuedIndex: number;

  constructor(
    private readonly ports: ReadyLoopPorts<R>,
    private readonly host: ReadyLoopHost<R>,
    start: { term: number; applied: number },
  ) {
    this.termNow = start.term;
    this.queuedIndex = start.applied;
  }

  get role(): StateType {
    return this.roleNow;
  }

  /** The leader as of the last Ready handled (0: none known). */
  get leader(): number {
    return this.leaderNow;
  }

  get term(): number {
    return this.termNow;
  }

  /** Resolves when the loop running now (if any) has finished its Ready. */
  settled(): Promise<void> {
    return this.done;
  }

  /** Starts ticking raft every `tickMs` and runs the loop once. */
  start(): void {
    const tick = (): void => {
      this.ticker = undefined;
      if (this.host.stopped()) return;
      this.host.stats.ticked(this.leaderNow);
      this.ports.rawNode.tick();
      this.kick();
      this.ticker = this.ports.clock.setTimeout(tick, this.ports.tickMs);
    };
    this.ticker = this.ports.clock.setTimeout(tick, this.ports.tickMs);
    this.kick();
  }

  /** What the transport calls back into: inbound messages and delivery reports, stepped into raft. */
  transportHandler(): TransportHandler {
    const { rawNode } = this.ports;
    const { stats } = this.host;
    return {
      onMessage: (m, snapshot) => this.step(m, snapshot),
      reportUnreachable: (id) => {
        stats.dropped(id);
        if (!this.host.stopped()) rawNode.reportUnreachable(id);
      },
      fatal: (err) => this.host.fail(err),
      reportSnapshot: (id, status) => {
        if (status === 'failure') stats.snapshotFailed(id);
        if (this.host.stopped()) return;
        rawNode.reportSnapshot(id, status);
        this.kick();
      },
    };
  }

  /**
   * An inbound message: stepped into raft, then the loop runs (it may have made a Ready). A snapshot's data stays
   * beside raft (in its file) until the loop persists and the applier restores it.
   */
  private step(m: Message, snapshot?: SnapshotSource): void {
    if (this.host.stopped()) return void this.ports.snapshots.receive(m, snapshot, true);
    try {
      this.ports.rawNode.step(this.ports.snapshots.receive(m, snapshot));
    } catch (err) {
      if (isRaftError(err, 'ERR_LOG_CORRUPT')) {
        // The cluster knows entries are committed that this node's log lacks: its data was lost or wiped. It must
        // not go on (it could vote with a log it no longer has); the error says how to rejoin as a new member.
        this.host.fail(err);
        return;
      }
      // A message for a peer that is gone, or a local message type from the network: drop it, keep serving.
      this.ports.logger.debug('dropped inbound message', { err: String(err), type: m.type, from: m.from });
    }
    this.kick();
  }

  stopTicking(): void {
    if (this.ticker !== undefined) this.ports.clock.clearTimeout(this.ticker);
    this.ticker = undefined;
  }

  /** Schedules the loop; cheap to call often (one loop runs at a time, and it re-checks before exiting). */
  kick(): void {
    if (this.host.stopped() && !this.host.failed() && !this.running) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.done = this.run();
  }

  private async run(): Promise<void> {
    const { rawNode } = this.ports;
    try {
      do {
        this.again = false;
        // Yield once so that proposals made in the same turn of the event loop join this Ready (batching).
        await nextTurn(this.ports.clock);
        while (!this.host.stopped() && (this.host.requests.flush(), rawNode.hasReady())) {
          await this.handle(rawNode.ready());
        }
      } while (this.again && !this.host.stopped());
    } catch (err) {
      this.host.fail(err instanceof Error ? err : new Error(String(err)));
    } finally {
      this.running = false;
    }
  }

  private async handle(rd: Ready): Promise<void> {
    const { clock, rawNode, memory, storage, snapshots, applier } = this.ports;
    const { requests, confGate, book, stats } = this.host;
    const began = clock.now();
    // Led without a break since the last Ready: same role, same term (a leader's term changes only if it stepped
    // down, and then it may have taken a new leader's entries into this Ready).
    const ledThroughout =
      this.roleNow === StateType.Leader && (rd.hardState === undefined || rd.hardState.term === this.termNow);
    // The term first: a Ready that elects a leader carries that leader's term in its hard state.
    if (rd.hardState !== undefined) this.termNow = rd.hardState.term;
    if (rd.softState !== undefined) this.onSoftState(rd.softState.raftState, rd.softState.lead);
    if (!ledThroughout && this.roleNow === StateType.Leader) {
      // Elected in this Ready: its entries end with (or go past) the term's first, empty entry.
      const last = rd.entries[rd.entries.length - 1];
      if (last !== undefined) confGate.elected(last.index);
    }
    for (const rs of rd.readStates) requests.confirmRead(rs.requestCtx, rs.index);

    const leading = this.roleNow === StateType.Leader;
    // Thesis §10.2.1: the leader may send its appends while its own write runs; it counts itself toward the
    // commit only after advance() (its self-acknowledgement is held until then).
    if (leading) this.send(rd.messages);

    const snap = rd.snapshot !== undefined && !isEmptySnapshot(rd.snapshot) ? rd.snapshot : undefined;
    const snapSource = snap !== undefined ? await snapshots.persistIncoming(snap) : undefined;
    // A leader's committed entries are already on its own disk: it counts itself toward a commit only after
    // advance() of the Ready that saved them, and every earlier Ready was saved before this one was taken. So it
    // queues them for apply now, while its write runs (as etcd's raftNode does). A follower's committed entries may
    // be in this very Ready (so may those of a node elected since the last Ready): it queues them after the save.
    const queueFirst = leading && ledThroughout && snap === undefined;
    if (queueFirst) this.queueCommitted(rd.committedEntries);
    if (rd.entries.length > 0 || rd.hardState !== undefined) {
      const saving = clock.now();
      await storage.save(rd.hardState, rd.entries);
      stats.saved((clock.now() - saving) / 1000);
    }
    if (snap !== undefined) memory.applySnapshot({ data: EMPTY, metadata: snap.metadata });
    if (rd.hardState !== undefined) memory.setHardState(rd.hardState);
    if (rd.entries.length > 0) memory.append(rd.entries);

    // Followers: only now, with entries and hard state on disk, may acknowledgements and votes go out.
    if (!leading) this.send(rd.messages);

    if (snap !== undefined && snapSource !== undefined) {
      // Before the entries after it update the transport (reads the member table off the front of the data).
      await book.raftRestored(snapSource.stream(), snap.metadata);
      // Restored in log order by the applier (which releases the source); entries queued before it that it covers
      // are skipped.
      this.queuedIndex = Math.max(this.queuedIndex, snap.metadata.index);
      applier.enqueueRestore(snap.metadata, snapSource);
    }
    if (!queueFirst) this.queueCommitted(rd.committedEntries);
    // The loop does not wait for apply: a slow state machine delays no heartbeat, vote or acknowledgement.
    rawNode.advance(rd);
    requests.serveReads(applier.applied);
    confGate.advanced();
    stats.readyLoop.observe((clock.now() - began) / 1000);
  }

  private onSoftState(role: StateType, lead: number): void {
    if (role !== this.roleNow) {
      this.roleNow = role;
      this.host.stats.roleChanged(role);
      this.host.roleChanged(role, this.termNow);
    }
    if (lead !== this.leaderNow) {
      const hadLeader = this.leaderNow !== 0;
      this.leaderNow = lead;
      this.host.stats.leaderChanged(lead);
      this.host.leaderChanged(lead, this.termNow);
      if (hadLeader) {
        // Entries proposed under the old leader may or may not commit under the new one.
        const err = new RaftError(
          'ERR_LEADERSHIP_LOST',
          'the leader changed while the request was pending; its outcome is unknown',
        );
        this.host.requests.rejectAll(err);
      }
    }
  }

  private send(messages: readonly Message[]): void {
    if (messages.length === 0) return;
    const { stats } = this.host;
    let plain: Message[] | undefined;
    for (const m of messages) {
      stats.sent(m.to);
      if (m.type === MessageType.MsgSnap) {
        plain ??= messages.filter((x) => x.type !== MessageType.MsgSnap);
        stats.snapshotsSent++;
        this.ports.snapshots.send(m, (to) => {
          stats.snapshotFailed(to);
          if (this.host.stopped()) return;
          this.ports.rawNode.reportSnapshot(to, 'failure');
          this.kick();
        });
      }
    }
    this.ports.transport.send(plain ?? messages);
  }

  /** A conf change reaching the apply queue takes effect in raft now, and in the member book (addresses). */
  private readonly applyConfChange = (
    cc: ConfChange | ConfChangeV2,
    changes: readonly ConfChangeSingle[],
    context: Uint8Array,
    index: number,
  ): ConfState => {
    const cs = this.ports.rawNode.applyConfChange(cc);
    this.host.book.raftApplied(changes, context, index);
    return cs;
  };

  /**
   * Hands committed entries to the applier, in log order. A conf change is applied to raft here, in the loop (raft
   * needs it before it may campaign or accept the next one, and the loop must not wait for the state machine);
   * the applier reports it to the application when the state machine reaches it.
   */
  private queueCommitted(entries: readonly Entry[]): void {
    const queued: QueuedEntry[] = [];
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.index > this.queuedIndex) queued.push(toQueued(e, this.host.requests.ids, this.applyConfChange));
    }
    if (queued.length === 0) return;
    this.queuedIndex = queued[queued.length - 1]!.index;
    this.host.stats.entriesCommitted += queued.length;
    this.ports.applier.enqueue(queued);
  }
}
