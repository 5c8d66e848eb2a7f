import { RaftError } from '../errors.js';
import type { Entry, HardState, SnapshotMetadata } from '../raftpb/types.js';
import type { DurableContents, DurableStorage } from './types.js';
import { systemClock, type Clock } from './clock.js';
import type { RandomSource } from '../random.js';

/** One write, in the order it was made; a sync makes a prefix of them durable. */
type Write =
  | { kind: 'entries'; entries: readonly Entry[] }
  | { kind: 'state'; state: HardState }
  | { kind: 'snap'; snap: SnapshotMetadata }
  | { kind: 'release'; index: number };

/** A log as the "disk" holds it. */
class Image {
  state: HardState | undefined;
  /** Contiguous by index; `release` drops a prefix. */
  entries: Entry[] = [];
  snaps: SnapshotMetadata[] = [];

  clone(): Image {
    const c = new Image();
    c.state = this.state;
    c.entries = [...this.entries];
    c.snaps = [...this.snaps];
    return c;
  }

  apply(w: Write): void {
    switch (w.kind) {
      case 'entries': {
        // Writing entry i replaces i and every later one (a new leader overwrote a conflicting suffix).
        const first = w.entries[0];
        if (first === undefined) return;
        const held = this.entries[this.entries.length - 1];
        if (held !== undefined && held.index >= first.index) {
          this.entries.length = this.entries.findIndex((e) => e.index >= first.index);
        }
        for (const e of w.entries) this.entries.push(e);
        return;
      }
      case 'state':
        this.state = w.state;
        return;
      case 'snap':
        this.snaps.push(w.snap);
        return;
      case 'release': {
        const drop = this.entries.findIndex((e) => e.index > w.index);
        this.entries = drop < 0 ? [] : this.entries.slice(drop);
        return;
      }
    }
  }
}

/** Options of {@link MemoryDurableStorage}. */
export interface MemoryDurableStorageOptions {
  /** How long each sync takes, in ms, as an fdatasync would (writes arriving meanwhile share the next one). 0 = one turn of the event loop. */
  syncDelayMs?: number;
  /** Whose timers time the syncs (default {@link systemClock}; a simulator passes its virtual clock). */
  clock?: Clock;
}

/**
 * A {@link DurableStorage} in memory, for tests: the WAL's durability semantics without the disk.
 *
 * - Every write lands in the "written" image at once (a killed process's page cache keeps it) and in the "synced"
 *   image only when a sync completes (what survives a power loss). Promises resolve in call order.
 * - `save` resolves once synced when it has entries or changes the term or vote; a commit-only hard state resolves
 *   once written and is synced by the next sync (etcd's MustSync). `saveSnap` always syncs.
 * - {@link crash} simulates a power loss: a new storage holding only the synced image. {@link reopen} simulates a
 *   process restart (killed or closed): a new storage holding everything written. Either way this instance is
 *   dead: pending and later calls reject with `ERR_STOPPED`, and `close()` does nothing (so a node can be stopped
 *   after its "machine" died without syncing anything).
 * - {@link failWrites} simulates a failed fdatasync: it is fatal, as in the WAL.
 *
 * @example
 * ```ts
 * const storage = new MemoryDurableStorage();
 * const node = await RaftNode.start({ id: 1, peers: [{ id: 1 }], storage, stateMachine, transport });
 * await node.propose(data);            // acknowledged: synced
 * const disk = storage.crash();       // power loss; then stop the old node (its close() is a no-op)
 * await node.stop();
 * const again = await RaftNode.start({ id: 1, storage: disk, stateMachine: fresh, transport, mode: 'restart' });
 * ```
 */
export class MemoryDurableStorage implements DurableStorage {
  private written = new Image();
  private synced = new Image();
  /** Writes made but not yet synced, oldest first. */
  private unsynced: Write[] = [];
  /** Writes ever moved from `unsynced` to `synced` (a sync covers writes up to a count of all ever made). */
  private syncedCount = 0;
  private madeCount = 0;
  /** Last hard state written (MustSync compares against it). */
  private prevState: HardState | undefined;
  /** Last index written (a gap after it is a caller bug). */
  private lastIndex = 0;
  /** Settles in call order: each call chains onto the previous one. */
  private tail: Promise<void> = Promise.resolve();
  private dead: string | undefined;
  private failure: Error | undefined;
  private closed = false;
  private readonly syncDelayMs: number;
  private readonly clock: Clock;

  /** An empty storage (a new node's). */
  constructor(options: MemoryDurableStorageOptions = {}) {
    this.syncDelayMs = options.syncDelayMs ?? 0;
    this.clock = options.clock ?? systemClock;
    if (!(this.syncDelayMs >= 0))
      throw new RaftError('ERR_CONFIG_INVALID', 'syncDelayMs must be >= 0', 'syncDelayMs');
  }

  /** A storage whose disk holds `image` (all of it synced). */
  private static holding(image: Image, options: MemoryDurableStorageOptions): MemoryDurableStorage {
    const s = new MemoryDurableStorage(options);
    s.synced = image;
    s.written = image.clone();
    s.prevState = image.state;
    s.lastIndex = Math.max(
      image.entries[image.entries.length - 1]?.index ?? 0,
      ...image.snaps.map((m) => m.index),
    );
    return s;
  }

  /** What the storage holds (as written): the last hard state and the entries not released. */
  readAll(): Promise<DurableContents> {
    const dead = this.deadError('readAll');
    if (dead !== undefined) return Promise.reject(dead);
    return Promise.resolve({ state: this.written.state, entries: [...this.written.entries] });
  }

  /** Snapshot records saved (synced), oldest first: what `Wal.validSnapshots` would list. */
  snapshotRecords(): readonly SnapshotMetadata[] {
    return [...this.written.snaps];
  }

  save(state: HardState | undefined, entries: readonly Entry[]): Promise<void> {
    const first = entries[0];
    if (first !== undefined && first.index > this.lastIndex + 1) {
      return Promise.reject(
        new RaftError(
          'ERR_LOG_CORRUPT',
          `MemoryDurableStorage.save: entry ${first.index} leaves a gap after the last index ${this.lastIndex}`,
        ),
      );
    }
    const writes: Write[] = [];
    // Entries are immutable once raft hands them out (the Ready contract), so the image keeps them as they are.
    if (entries.length > 0) writes.push({ kind: 'entries', entries });
    const prev = this.prevState;
    let mustSync = entries.length > 0;
    if (state !== undefined) {
      writes.push({ kind: 'state', state: { term: state.term, vote: state.vote, commit: state.commit } });
      mustSync ||= prev === undefined || state.term !== prev.term || state.vote !== prev.vote;
    }
    return this.write(writes, mustSync, 'save', () => {
      if (state !== undefined) this.prevState = state;
      const last = entries[entries.length - 1];
      if (last !== undefined) this.lastIndex = last.index;
    });
  }

  saveSnap(snap: SnapshotMetadata): Promise<void> {
    return this.write([{ kind: 'snap', snap }], true, 'saveSnap', () => {
      this.lastIndex = Math.max(this.lastIndex, snap.index);
    });
  }

  /** Drops entries at or below `snap.index` (the WAL deletes the segments holding only those). */
  release(snap: SnapshotMetadata): Promise<void> {
    return this.write([{ kind: 'release', index: snap.index }], true, 'release', () => undefined);
  }

  sync(): Promise<void> {
    return this.write([], true, 'sync', () => undefined);
  }

  /** Waits for pending writes and syncs them; later calls reject. Does nothing on a crashed or reopened storage. */
  async close(): Promise<void> {
    if (this.dead !== undefined || this.closed) return;
    if (this.failure === undefined) await this.sync().catch(() => undefined);
    this.closed = true;
  }

  /** Every later write rejects with `err` (a failed fdatasync is fatal for a WAL); pending ones still complete. */
  failWrites(err: Error): void {
    this.failure ??= err;
  }

  /**
   * A power loss: a new storage holding only what was synced. This one is dead from now on.
   *
   * With `tear`, the disk also kept a random prefix of the writes made since the last sync, the last of them
   * possibly cut inside its entries: what a log appended in order keeps when the page cache reached the disk in
   * part and recovery truncated the torn record (the WAL's rule). Nothing synced is ever lost.
   */
  crash(tear?: RandomSource): MemoryDurableStorage {
    this.kill('crashed');
    const image = this.synced.clone();
    if (tear !== undefined && this.unsynced.length > 0) {
      const kept = tear.nextInt(this.unsynced.length + 1);
      for (const w of this.unsynced.slice(0, kept)) image.apply(w);
      const cut = this.unsynced[kept];
      if (cut?.kind === 'entries' && cut.entries.length > 1) {
        image.apply({ kind: 'entries', entries: cut.entries.slice(0, tear.nextInt(cut.entries.length)) });
      }
    }
    return MemoryDurableStorage.holding(image, this.options());
  }

  private options(): MemoryDurableStorageOptions {
    return { syncDelayMs: this.syncDelayMs, clock: this.clock };
  }

  /** A process restart (the page cache survives): a new storage holding everything written. This one is dead. */
  reopen(): MemoryDurableStorage {
    this.kill('reopened');
    return MemoryDurableStorage.holding(this.written.clone(), this.options());
  }

  private kill(how: string): void {
    if (this.dead !== undefined) {
      throw new RaftError('ERR_STOPPED', `MemoryDurableStorage was already ${this.dead}`);
    }
    this.dead = how;
  }

  private deadError(what: string): RaftError | undefined {
    if (this.dead !== undefined) {
      return new RaftError('ERR_STOPPED', `${what} on a MemoryDurableStorage that was ${this.dead}`);
    }
    if (this.closed) return new RaftError('ERR_STOPPED', `${what} on a closed MemoryDurableStorage`);
    return undefined;
  }

  /**
   * Writes `writes` now (into the written image), then resolves in call order: after a sync that covers them when
   * `mustSync`, else once every earlier call settled.
   */
  private write(writes: Write[], mustSync: boolean, what: string, staged: () => void): Promise<void> {
    const refused = this.deadError(what) ?? this.failure;
    if (refused !== undefined) return Promise.reject(refused);
    for (const w of writes) {
      this.written.apply(w);
      this.unsynced.push(w);
    }
    this.madeCount += writes.length;
    staged();
    const upTo = this.madeCount;
    const done = this.tail.then(async () => {
      if (!mustSync) return;
      await new Promise<void>((resolve) =>
        this.syncDelayMs > 0 ? this.clock.setTimeout(resolve, this.syncDelayMs) : this.clock.defer(resolve),
      );
      const dead = this.deadError(what);
      if (dead !== undefined) throw dead; // the machine died before the sync returned: not durable
      // The sync covers everything written before it began (and maybe more; only this much is promised).
      const count = Math.max(0, upTo - this.syncedCount);
      for (const w of this.unsynced.splice(0, count)) this.synced.apply(w);
      this.syncedCount += count;
    });
    // A rejection belongs to this call only; the chain goes on.
    this.tail = done.catch(() => undefined);
    return done;
  }
}
