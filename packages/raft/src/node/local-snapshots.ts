import { RaftError } from '../errors.js';
import {
  MessageType,
  type ConfState,
  type Message,
  type Snapshot,
  type SnapshotMetadata,
} from '../raftpb/types.js';
import type { MemoryStorage } from '../storage/memory-storage.js';
import type { RaftNodeOptions } from './options.js';
import type { LoadedSnapshot, SnapshotPayload, SnapshotSource } from './types.js';
import type { Clock } from './clock.js';
import { IncomingSnapshots, bytesSource } from './incoming-snapshots.js';

const EMPTY = new Uint8Array(0);

/** What taking a snapshot reads from its node, and tells it. */
export interface SnapshotHost {
  readonly clock: Clock;
  /**
   * The state machine's snapshot with the applied index and the membership at it, taken between two applies (so
   * the three agree).
   */
  capture(): Promise<{ index: number; confState: ConfState; data: SnapshotPayload }>;
  /** Whether the node has stopped (a snapshot finishing then leaves memory and the WAL as they are). */
  stopped(): boolean;
  /** The snapshot is durable (file and WAL record) and the in-memory log compacted behind it. */
  taken(metadata: SnapshotMetadata): void;
  /** Something to log. */
  warn(message: string, fields: Record<string, unknown>): void;
}

/**
 * Snapshot-then-release for a RaftNode: when to snapshot (the policy), and taking one. One snapshot at a time;
 * it runs beside the Ready loop.
 */
export class LocalSnapshots<R> {
  /** Index of the newest snapshot taken or installed (invariant: <= the applied index). */
  index: number;
  /** The snapshot being taken, if any. */
  private running: Promise<SnapshotMetadata> | undefined;
  /** The snapshot file last loaded to send to a follower. */
  private sendable: LoadedSnapshot | undefined;
  /** Data of snapshots from the leader, between the transport and the Ready that persists them. */
  readonly incoming: IncomingSnapshots;

  constructor(
    private readonly opts: RaftNodeOptions<R>,
    private readonly memory: MemoryStorage,
    private readonly host: SnapshotHost,
    index: number,
  ) {
    this.index = index;
    this.incoming = new IncomingSnapshots((err) =>
      host.warn('could not delete a received snapshot file', { err: String(err) }),
    );
  }

  /**
   * Resolves once the snapshot being taken, if any, succeeded or failed. For a stopping node: releases the received
   * snapshot data waiting for raft.
   */
  settled(): Promise<void> {
    this.incoming.close();
    return (this.running ?? Promise.resolve()).then(
      () => undefined,
      () => undefined,
    );
  }

  /** Whether the policy (default: `snapshotCount` entries since the last snapshot) asks for one at `appliedIndex`. */
  due(appliedIndex: number): boolean {
    if (this.opts.snapshots === undefined || this.running !== undefined) return false;
    const at = { appliedIndex, snapshotIndex: this.index };
    const policy =
      this.opts.snapshotPolicy ??
      ((p) => p.appliedIndex - p.snapshotIndex >= (this.opts.snapshotCount ?? 10_000));
    return at.appliedIndex > at.snapshotIndex && policy(at);
  }

  /**
   * Takes a snapshot at the applied index now: 1. the snapshot file, 2. the WAL's snapshot record, 3. compact the
   * in-memory log (keeping `snapshotCatchUpEntries`), 4. release WAL segments, 5. purge old snapshot files. A call
   * while one runs returns the same promise. The caller checks that a snapshot store is configured.
   */
  take(): Promise<SnapshotMetadata> {
    this.running ??= this.takeNow().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /**
   * Sends a MsgSnap with the data of the snapshot file it names: raft's storage holds snapshot metadata only. A
   * snapshot that predates `m.to` joining is not sent (`reportFailure(m.to)`, later): a fresh one is taken.
   */
  send(m: Message, reportFailure: (to: number) => void): void {
    const want = m.snapshot?.metadata;
    const cs = want?.confState;
    if (cs !== undefined && ![...cs.voters, ...cs.learners, ...cs.votersOutgoing].includes(m.to)) {
      // A follower refuses a snapshot whose configuration lacks it. Raft retries with the fresh snapshot once this
      // attempt is reported failed.
      if (this.running === undefined && this.opts.snapshots !== undefined) {
        this.take().catch((err: unknown) =>
          this.host.warn('snapshot for a new member failed', { err: String(err) }),
        );
      }
      this.host.clock.defer(() => reportFailure(m.to));
      return;
    }
    this.opts.transport.sendSnapshot(m, async () => {
      // `load()` verifies the whole file; a retry of the same snapshot reuses what it found (its stream checks the
      // CRC again as it is read, and fails if the file went meanwhile: raft then retries with a newer one).
      const known = this.sendable;
      const stored =
        known !== undefined && known.metadata.index === want?.index
          ? known
          : await this.opts.snapshots?.load();
      this.sendable = stored;
      if (stored === undefined || want === undefined || stored.metadata.index !== want.index) {
        throw new RaftError(
          'ERR_SNAPSHOT_TEMPORARILY_UNAVAILABLE',
          `snapshot at index ${want?.index ?? 0} is not on disk`,
        );
      }
      return stored.stream();
    });
  }

  /**
   * An inbound message as raft is to see it: a MsgSnap's data (in `source`, else inline) goes to {@link incoming}
   * and raft gets the message with empty data, so raft's log never holds a snapshot's bytes. With `discard` (the
   * node stopped) the data is released instead.
   */
  receive(m: Message, source: SnapshotSource | undefined, discard = false): Message {
    const snap = m.snapshot;
    if (m.type !== MessageType.MsgSnap || snap === undefined) return m;
    const data = source ?? bytesSource(snap.data);
    if (discard) {
      data.release().catch(() => undefined);
      return m;
    }
    this.incoming.offer(snap.metadata, data);
    return { ...m, snapshot: { ...snap, data: EMPTY } };
  }

  /**
   * A snapshot from the leader, as raft hands it out (its data is in {@link incoming}): the file first (streamed
   * from the source), then the WAL record (then entries; release happens later). Returns the source; the caller
   * releases it once the state machine is restored.
   */
  async persistIncoming(snap: Snapshot): Promise<SnapshotSource> {
    const source = this.incoming.take(snap.metadata);
    if (source === undefined) {
      throw new RaftError(
        'ERR_SNAPSHOT_TEMPORARILY_UNAVAILABLE',
        `the data of the snapshot at index ${snap.metadata.index} (term ${snap.metadata.term}) was not received`,
        'snapshot',
      );
    }
    try {
      if (this.opts.snapshots !== undefined) await this.opts.snapshots.save(snap.metadata, source.stream());
      await this.opts.storage.saveSnap(snap.metadata);
    } catch (err) {
      await source.release().catch(() => undefined);
      throw err;
    }
    return source;
  }

  private async takeNow(): Promise<SnapshotMetadata> {
    const store = this.opts.snapshots;
    if (store === undefined) throw new RaftError('ERR_CONFIG_INVALID', 'no snapshot store configured');
    // The view is taken between applies; writing it may overlap with further applies.
    const { index, confState, data } = await this.host.capture();
    if (index <= this.index) {
      return { index: this.index, term: this.memory.term(this.index), confState };
    }
    const metadata: SnapshotMetadata = { index, term: this.memory.term(index), confState };
    await store.save(metadata, data);
    await this.opts.storage.saveSnap(metadata);
    if (this.host.stopped()) return metadata;
    this.memory.createSnapshot(index, metadata.confState, EMPTY);
    const compactTo = index - (this.opts.snapshotCatchUpEntries ?? 5_000);
    if (compactTo > this.memory.firstIndex()) this.memory.compact(compactTo);
    this.index = index;
    this.host.taken(metadata);
    await this.opts.storage.release(metadata);
    await store.purge(this.opts.keepSnapshots ?? 3);
    return metadata;
  }
}
