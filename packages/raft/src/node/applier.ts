import { decodeConfChange, decodeConfChangeV2 } from '../codec/conf-change-codec.js';
import { RaftError } from '../errors.js';
import {
  EntryType,
  isConfChangeV2,
  type ConfChange,
  type ConfChangeSingle,
  type ConfChangeV2,
  type ConfState,
  type Entry,
  type SnapshotMetadata,
} from '../raftpb/types.js';
import { unframe, type ProposalIds } from './proposal-id.js';
import type { SnapshotSource, StateMachine } from './types.js';

const EMPTY = new Uint8Array(0);

/**
 * A committed conf change waiting to be applied: decoded, and already applied to raft when it was queued (raft
 * needs it before it may campaign or accept the next one).
 */
export interface QueuedConfChange {
  kind: 'conf';
  index: number;
  /** The configuration raft adopted when the entry was queued. */
  confState: ConfState;
  changes: readonly ConfChangeSingle[];
  /** The proposer's context bytes (without the proposal header). */
  context: Uint8Array;
  /** The proposal's sequence number when this node (this incarnation) proposed it. */
  seq: number | undefined;
}

/**
 * A committed entry waiting to be applied: a normal entry as raft handed it out (its proposal header is read when
 * it is applied, so a long queue holds no second object per entry), or a conf change already applied to raft.
 */
export type QueuedEntry = Entry | QueuedConfChange;

function isConf(e: QueuedEntry): e is QueuedConfChange {
  return (e as Partial<QueuedConfChange>).kind === 'conf';
}

/**
 * A committed entry as the applier queues it: a normal one (or an empty conf change, which is not the
 * application's) as it is; a conf change decoded and applied to raft by `applyConfChange` now (its result is queued).
 */
export function toQueued(
  e: Entry,
  ids: ProposalIds,
  applyConfChange: (cc: ConfChange | ConfChangeV2) => ConfState,
): QueuedEntry {
  if (e.type === EntryType.Normal || e.data.byteLength === 0) return e;
  const cc = e.type === EntryType.ConfChange ? decodeConfChange(e.data) : decodeConfChangeV2(e.data);
  const confState = applyConfChange(cc);
  const changes = isConfChangeV2(cc) ? cc.changes : [{ type: cc.type, nodeId: cc.nodeId }];
  const ctx = cc.context ?? EMPTY;
  return {
    kind: 'conf',
    index: e.index,
    confState,
    changes,
    context: unframe(ctx) ?? ctx,
    seq: ids.ownSeq(ctx),
  };
}

type Item =
  | { kind: 'entries'; entries: QueuedEntry[] }
  | { kind: 'restore'; metadata: SnapshotMetadata; source: SnapshotSource }
  | { kind: 'task'; run: () => Promise<void>; cancel: (err: Error) => void };

/** What the applier reports to its node. */
export interface ApplierHost<R> {
  readonly stateMachine: StateMachine<R>;
  /** The proposal's sequence number when this node (this incarnation) proposed the entry holding `data`. */
  ownSeq(data: Uint8Array): number | undefined;
  /** A normal entry was applied; `result` is what `apply` returned; `seq` is set when this node proposed it. */
  appliedNormal(index: number, seq: number | undefined, result: R): void;
  /** A conf change entry was reached in log order (the state machine's view now includes it). */
  appliedConf(entry: QueuedConfChange): void;
  /** The state machine was restored from a snapshot the leader sent. */
  restored(metadata: SnapshotMetadata): void;
  /** One queued batch is applied: everything up to `applied`. */
  progressed(applied: number): void;
  /** Applying threw: the node must stop. */
  failed(err: Error): void;
}

/**
 * Applies committed entries to the state machine off the Ready loop, in log order, one call at a time: the loop
 * queues each Ready's committed entries (once they are durable here) and goes on persisting, sending and
 * heartbeating while a slow `apply` runs. Snapshot restores and snapshot captures are queued too, so the state
 * machine never sees two calls at once.
 *
 * Invariants: `applied` only grows (a restore sets it to the snapshot's index); `backlog` counts queued entries not
 * yet applied (the node refuses proposals while it is at its bound).
 */
export class Applier<R> {
  /** Highest index applied to the state machine (invariant: <= commit). */
  applied: number;
  /** The configuration as of `applied`. */
  confState: ConfState;
  private readonly items: Item[] = [];
  private queued = 0;
  private draining: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly host: ApplierHost<R>,
    applied: number,
    confState: ConfState,
  ) {
    this.applied = applied;
    this.confState = confState;
  }

  /** Entries queued and not yet applied (the one being applied included). */
  get backlog(): number {
    return this.queued;
  }

  /** Queues committed entries (in log order, after those already queued). */
  enqueue(entries: QueuedEntry[]): void {
    if (entries.length === 0 || this.stopped) return;
    this.items.push({ kind: 'entries', entries });
    this.queued += entries.length;
    this.pump();
  }

  /**
   * Queues a restore of the leader's snapshot, streamed from `source`, after the entries already queued. The
   * applier owns the source: it releases it once restored, skipped or dropped.
   */
  enqueueRestore(metadata: SnapshotMetadata, source: SnapshotSource): void {
    if (this.stopped) {
      void source.release().catch(() => undefined);
      return;
    }
    this.items.push({ kind: 'restore', metadata, source });
    this.pump();
  }

  /**
   * Runs `fn` between two applies, after everything queued so far (e.g. taking a snapshot of the state machine:
   * no apply runs meanwhile). Rejects with ERR_STOPPED if the applier stops first.
   */
  between<T>(fn: () => Promise<T> | T): Promise<T> {
    if (this.stopped) return Promise.reject(new RaftError('ERR_STOPPED', 'the raft node was stopped'));
    return new Promise<T>((resolve, reject) => {
      this.items.push({
        kind: 'task',
        run: async () => resolve(await fn()),
        cancel: reject,
      });
      this.pump();
    });
  }

  /** Stops after the item being applied now; queued items are dropped (queued tasks reject with `err`). */
  stop(err: Error): Promise<void> {
    this.stopped = true;
    for (const item of this.items.splice(0)) {
      if (item.kind === 'task') item.cancel(err);
      if (item.kind === 'restore') void item.source.release().catch(() => undefined);
    }
    this.queued = 0;
    return this.draining ?? Promise.resolve();
  }

  private pump(): void {
    if (this.draining !== undefined || this.stopped) return;
    // Drained from a promise callback, not inline: the Ready loop that queued the entries goes on to start its
    // write first (its disk I/O then overlaps the applies).
    this.draining = Promise.resolve()
      .then(() => this.drain())
      .finally(() => {
        this.draining = undefined;
        // Items queued after drain() saw the queue empty, but before this ran, are still waiting.
        if (this.items.length > 0) this.pump();
      });
  }

  private async drain(): Promise<void> {
    for (let item = this.items.shift(); item !== undefined && !this.stopped; item = this.items.shift()) {
      try {
        await this.run(item);
      } catch (err) {
        if (item.kind === 'task') {
          item.cancel(err instanceof Error ? err : new Error(String(err)));
          continue;
        }
        this.stopped = true;
        this.host.failed(err instanceof Error ? err : new Error(String(err)));
        return;
      }
    }
  }

  private async run(item: Item): Promise<void> {
    switch (item.kind) {
      case 'task':
        await item.run();
        return;
      case 'restore': {
        const { source, metadata } = item;
        try {
          if (metadata.index <= this.applied) return; // every entry it covers is applied already
          await this.host.stateMachine.restore(source.stream(), metadata);
        } finally {
          await source.release().catch(() => undefined);
        }
        this.applied = metadata.index;
        this.confState = metadata.confState;
        this.host.restored(metadata);
        this.host.progressed(this.applied);
        return;
      }
      case 'entries':
        for (const e of item.entries) {
          if (this.stopped) return;
          if (e.index <= this.applied) {
            this.queued--; // covered by a restored snapshot
            continue;
          }
          if (!isConf(e)) {
            // An empty entry (a new leader's, or an empty conf change) is not the application's.
            if (e.data.byteLength > 0) {
              // A synchronous apply is not awaited: an await per entry is a promise hop per entry, and at 100,000
              // entries a second that was a visible share of the runtime's cost.
              const returned = this.host.stateMachine.apply(unframe(e.data) ?? e.data, e.index);
              const result = isPromiseLike(returned) ? await returned : returned;
              this.applied = e.index;
              this.host.appliedNormal(e.index, this.host.ownSeq(e.data), result);
            }
          } else {
            this.confState = e.confState;
            this.host.appliedConf(e);
          }
          this.applied = e.index;
          this.queued--;
        }
        this.host.progressed(this.applied);
        return;
    }
  }
}

function isPromiseLike<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}
