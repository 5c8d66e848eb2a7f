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
import { NO_SEQ, RunningApplies, type Outcome } from './running-applies.js';
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
  applyConfChange: (
    cc: ConfChange | ConfChangeV2,
    changes: readonly ConfChangeSingle[],
    context: Uint8Array,
    index: number,
  ) => ConfState,
): QueuedEntry {
  if (e.type === EntryType.Normal || e.data.byteLength === 0) return e;
  const cc = e.type === EntryType.ConfChange ? decodeConfChange(e.data) : decodeConfChangeV2(e.data);
  const changes = isConfChangeV2(cc) ? cc.changes : [{ type: cc.type, nodeId: cc.nodeId }];
  const ctx = cc.context ?? EMPTY;
  const context = unframe(ctx) ?? ctx;
  const confState = applyConfChange(cc, changes, context, e.index);
  return { kind: 'conf', index: e.index, confState, changes, context, seq: ids.ownSeq(ctx) };
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
  /** A normal entry this node proposed (as `seq`) was applied; `result` is what `apply` returned. */
  appliedProposal(index: number, seq: number, result: R): void;
  /** A conf change entry was reached in log order (the state machine's view now includes it). */
  appliedConf(entry: QueuedConfChange): void;
  /** The state machine was restored from a snapshot the leader sent. */
  restored(metadata: SnapshotMetadata): void;
  /** One queued batch is applied: everything up to `applied`. */
  progressed(applied: number): void;
  /** Applying threw: the node must stop. */
  failed(err: Error): void;
}

const SKIPPED = Symbol('skipped');

/**
 * Applies committed entries to the state machine off the Ready loop, in log order: the loop queues each Ready's
 * committed entries (once they are durable here) and goes on persisting, sending and heartbeating while a slow
 * `apply` runs. Snapshot restores and snapshot captures are queued too.
 *
 * With `concurrency` 1 (the default) the state machine never sees two calls at once. With more, `apply` is still
 * called in log order, but up to `concurrency` calls may be running at once (an I/O-bound state machine then
 * overlaps its writes); their results are taken in log order, `applied` moves in order, and a conf change, a
 * restore or a task (a snapshot capture) waits until every running apply has settled.
 *
 * Invariants: `applied` only grows (a restore sets it to the snapshot's index) and is the highest index whose apply
 * has settled with every earlier one; `started` >= `applied` is the highest index whose apply was called (or that
 * needed none); `window` holds the applies between them, oldest first; `backlog` counts queued entries whose apply
 * has not settled (the node refuses proposals while it is at its bound).
 */
export class Applier<R> {
  /** Highest index applied to the state machine (invariant: <= commit). */
  applied: number;
  /** The configuration as of `applied`. */
  confState: ConfState;
  private started: number;
  /** The applies running at once (with `concurrency` > 1), oldest first. */
  private readonly window = new RunningApplies<R | typeof SKIPPED>();
  /** The highest `applied` reported to the host through `progressed`. */
  private reported: number;
  private readonly items: Item[] = [];
  private queued = 0;
  private draining: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly host: ApplierHost<R>,
    applied: number,
    confState: ConfState,
    private readonly concurrency = 1,
  ) {
    this.applied = applied;
    this.started = applied;
    this.reported = applied;
    this.confState = confState;
  }

  /** Applies started whose results are not taken yet. */
  private get running(): number {
    return this.window.size;
  }

  /** Entries queued and not yet applied (those being applied included). */
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

  /**
   * Stops after the applies running now have settled (the state machine never sees a call cut short); queued items
   * are dropped (queued tasks reject with `err`).
   */
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
    if (this.wakeOnEnqueue) this.wakeUp();
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
    try {
      while (!this.stopped) {
        const item = this.items.shift();
        if (item === undefined) {
          if (this.running === 0) return;
          // Nothing new queued: take the running applies that settle next, or start what is queued meanwhile
          // (whichever comes first: the next entries' applies should not wait for an earlier one's latency).
          this.wakeOnEnqueue = true;
          try {
            await this.takeSettled();
          } finally {
            this.wakeOnEnqueue = false;
          }
          this.report();
          continue;
        }
        if (item.kind === 'entries') {
          await this.applyEntries(item.entries);
          continue;
        }
        await this.takeAll(); // a restore or a task sees every earlier entry applied, and no apply running
        if (item.kind === 'task') {
          await item.run().catch((err: unknown) => item.cancel(toError(err)));
          continue;
        }
        await this.restore(item.metadata, item.source);
      }
    } catch (err) {
      // An apply or a restore failed: the node must stop.
      this.stopped = true;
      this.host.failed(toError(err));
    } finally {
      // Stopped (or failed) with applies still running: they finish before stop() resolves.
      const running = this.window.clear();
      if (running.length > 0) await Promise.allSettled(running);
    }
  }

  private async restore(metadata: SnapshotMetadata, source: SnapshotSource): Promise<void> {
    try {
      if (metadata.index <= this.applied) return; // every entry it covers is applied already
      await this.host.stateMachine.restore(source.stream(), metadata);
    } finally {
      await source.release().catch(() => undefined);
    }
    this.applied = this.started = metadata.index;
    this.confState = metadata.confState;
    this.host.restored(metadata);
    this.report();
  }

  private async applyEntries(entries: readonly QueuedEntry[]): Promise<void> {
    // An index loop: `for...of` here (an async function) allocated an iterator result per entry.
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (this.stopped) return;
      if (e.index <= this.started) {
        this.queued--; // covered by a restored snapshot
        continue;
      }
      if (isConf(e)) {
        await this.takeAll();
        this.confState = e.confState;
        this.host.appliedConf(e);
        this.applied = this.started = e.index;
        this.queued--;
        continue;
      }
      this.started = e.index;
      // An empty entry (a new leader's, or an empty conf change) is not the application's.
      const returned =
        e.data.byteLength === 0 ? SKIPPED : this.host.stateMachine.apply(unframe(e.data) ?? e.data, e.index);
      if (this.running === 0 && !isPromiseLike(returned)) {
        // Settled already and nothing before it running: taken at once. A synchronous apply is not awaited: an
        // await per entry is a promise hop per entry, and at 100,000 entries a second that was a visible cost.
        this.takeRun(e.index, 1, this.seqOf(e.data), returned);
        continue;
      }
      if (this.concurrency === 1) {
        // One at a time: wait for this one (nothing else is running).
        this.takeRun(e.index, 1, this.seqOf(e.data), await returned);
        continue;
      }
      this.window.push(e.index, this.seqOf(e.data), this.outcomeOf(returned));
      if (this.running >= this.concurrency) await this.takeSettled();
    }
    this.report();
  }

  /** Resolves the applier's wait (see {@link takeSettled}) when set. */
  private wake: (() => void) | undefined;
  /** True while the applier waits with nothing queued: a new item then wakes it too. */
  private wakeOnEnqueue = false;
  /** The outcome of the last apply that returned a promise (applies returning the same promise share it). */
  private lastOutcome: Outcome<R | typeof SKIPPED> | undefined;

  private outcomeOf(returned: R | PromiseLike<R> | typeof SKIPPED): Outcome<R | typeof SKIPPED> {
    // The same promise as the apply before it (checked first: in a group commit, nearly every apply) joins its run.
    // No closure in this function: V8 allocates a function's closure context on every call, before any early return
    // (80 bytes per apply, which at three replicas' applies per commit was a tenth of all the runtime allocated).
    const last = this.lastOutcome;
    if (last !== undefined && last.promise === returned && !last.settled) return last;
    if (!isPromiseLike(returned))
      return { promise: undefined, settled: true, value: returned, error: undefined };
    return this.track(returned);
  }

  /**
   * A new outcome for `returned`: one reaction per promise records it (so a rejection is never unhandled) and wakes
   * the applier when the oldest running apply settles (no await per entry).
   */
  private track(returned: PromiseLike<R>): Outcome<R | typeof SKIPPED> {
    const o: Outcome<R | typeof SKIPPED> = {
      promise: returned,
      settled: false,
      value: undefined,
      error: undefined,
    };
    this.lastOutcome = o;
    returned.then(
      (v) => this.settle(o, v, undefined),
      (reason: unknown) => this.settle(o, undefined, { reason }),
    );
    return o;
  }

  private settle(
    o: Outcome<R | typeof SKIPPED>,
    value: R | undefined,
    error: { reason: unknown } | undefined,
  ): void {
    o.settled = true;
    o.value = value;
    o.error = error;
    if (this.window.oldest()?.settled === true) this.wakeUp();
  }

  /** Ends the applier's wait (see {@link takeSettled}), if it is waiting. */
  private wakeUp(): void {
    const wake = this.wake;
    if (wake === undefined) return;
    this.wake = undefined;
    wake();
  }

  /**
   * Waits until the oldest running apply has settled, then takes it and every settled one after it, in log order.
   * A rejected apply is thrown (the node stops); the entries before it are taken.
   */
  private async takeSettled(): Promise<void> {
    const head = this.window.oldest();
    if (head !== undefined && !head.settled) await new Promise<void>((resolve) => (this.wake = resolve));
    this.window.takeSettled(this.takeRun);
  }

  private async takeAll(): Promise<void> {
    while (this.running > 0) await this.takeSettled();
    this.report();
  }

  /** The sequence number of this node's proposal in `data`, or NO_SEQ. */
  private seqOf(data: Uint8Array): number {
    return this.host.ownSeq(data) ?? NO_SEQ;
  }

  /**
   * A run of applies settled with `result`, every earlier one too (an arrow: the ring calls it; a single apply is a
   * run of 1): entries `first .. first + count - 1`, proposed here as `seq0 + k` or (NO_SEQ) by other nodes, whose
   * applies need nothing more.
   */
  private readonly takeRun = (
    first: number,
    count: number,
    seq0: number,
    result: R | typeof SKIPPED,
  ): void => {
    this.applied = first + count - 1;
    this.queued -= count;
    if (seq0 === NO_SEQ || result === SKIPPED) return;
    for (let k = 0; k < count; k++) this.host.appliedProposal(first + k, (seq0 + k) >>> 0, result);
  };

  /** Tells the host how far applying got (once per step forward, not per entry of a batch). */
  private report(): void {
    if (this.applied <= this.reported) return;
    this.reported = this.applied;
    this.host.progressed(this.applied);
  }
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function isPromiseLike<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}
