import type { Entry, HardState, Snapshot } from './codec/msgpack.js';
import { WalError } from './errors.js';
import { RecordType } from './record/record-type.js';
import { fileIo } from './fs/file-io.js';
import { DirLock } from './segment/lock.js';
import { listSegments, selectSegments } from './segment/names.js';
import type { Storage } from './storage.js';
import { repairWal, validSnapshotsOf, type RepairReport } from './wal/maintenance.js';
import { normalizeDir, resolveOptions, type ResolvedOptions, type WalOptions } from './wal/options.js';
import { readSegments, type ReadMode, type ReadResult, type SnapPosition } from './wal/reader.js';
import { createWal, openWriter } from './wal/setup.js';
import type { SegmentWriter } from './wal/writer.js';

/**
 * What {@link Wal.readAll} returns.
 *
 * @example
 * ```ts
 * const { metadata, state, entries }: WalContents<Entry, HardState> = await wal.readAll();
 * ```
 */
export interface WalContents<E, S> {
  /** The metadata given to {@link Wal.create}. */
  metadata: Uint8Array;
  /** The last hard state saved, if any. */
  state: S | undefined;
  /** The entries after the snapshot the WAL was opened at, in index order. */
  entries: E[];
}

/**
 * A segmented, CRC-chained write-ahead log in etcd's on-disk format.
 *
 * - {@link Wal.create} makes a new WAL; {@link Wal.open} reopens one for appending (one writer per directory,
 *   across processes); {@link Wal.openForRead} reads beside a live writer.
 * - Opening reads and checks every record from the segment holding the snapshot on; {@link readAll} returns them.
 * - Every `save*` promise resolves only after its bytes are written and fdatasync'd (a commit-only state change
 *   may stay unsynced until the next sync, as etcd's MustSync), in call order; concurrent calls share one write,
 *   one fdatasync and one promise (group commit).
 * - A failed write or fdatasync fails the WAL: that call and every later one reject with ERR_WAL_FAILED.
 *
 * @example
 * ```ts
 * const wal = (await Wal.exist(dir)) ? await Wal.open(dir) : await Wal.create(dir, new TextEncoder().encode('app'));
 * const { entries } = await wal.readAll();
 * const next = (entries.at(-1)?.index ?? 0) + 1;
 * await wal.saveEntry([{ index: next, term: 1, data: new TextEncoder().encode('hello') }]); // durable now
 * await wal.close();
 * ```
 */
export class Wal<E = Entry, S = HardState, N = Snapshot> implements Storage<E, S, N> {
  private contents: WalContents<E, S> | undefined;
  private closed = false;
  /** The last hard state staged (for MustSync: a term or vote change must be synced). */
  private prevState: S | undefined;
  /** The log's last index as staged: the last entry's, raised by snapshots. */
  private lastIndex: number;
  /**
   * The highest snapshot index this WAL was opened at or saved. Invariant: every entry staged has an index above
   * it (a reader opened at that snapshot skips entries at or below it, so writing one would lose it silently).
   */
  private snapFloor: number;

  private constructor(
    /** The WAL directory. */
    readonly dir: string,
    private readonly options: ResolvedOptions<E, S, N>,
    private readonly snap: SnapPosition,
    read: ReadResult<E, S> | undefined,
    private readonly writer: SegmentWriter | undefined,
    private readonly lock: DirLock | undefined,
  ) {
    if (read !== undefined) {
      this.contents = { metadata: read.metadata, state: read.state, entries: read.entries };
      this.prevState = read.state;
    }
    this.lastIndex = read?.lastIndex ?? 0;
    this.snapFloor = snap.index;
  }

  /**
   * Creates a WAL in `dir` (which must not exist or be empty; a WAL there is ERR_WAL_EXISTS), atomically, and
   * opens it for appending. It holds Crc(0), `metadata` and the zero snapshot record.
   */
  static async create<E = Entry, S = HardState, N = Snapshot>(
    dir: string,
    metadata: Uint8Array,
    options?: WalOptions<E, S, N>,
  ): Promise<Wal<E, S, N>> {
    dir = normalizeDir(dir, 'Wal.create');
    if (!(metadata instanceof Uint8Array)) {
      throw new WalError('ERR_WAL_INVALID_ARGUMENT', 'Wal.create: metadata must be a Uint8Array');
    }
    const o = resolveOptions(options);
    const { writer, lock } = await createWal(dir, metadata, o);
    const wal = new Wal<E, S, N>(dir, o, { index: 0, term: 0 }, undefined, writer, lock);
    wal.contents = { metadata: metadata.slice(), state: undefined, entries: [] };
    return wal;
  }

  /**
   * Opens a WAL for appending at snapshot `snap` (default the zero snapshot): takes the directory's writer lock
   * (ERR_WAL_LOCKED if a live process holds it), reads every record from the segment holding `snap` on, and zeroes
   * anything after the last valid record. A torn tail is ERR_WAL_UNEXPECTED_EOF: {@link Wal.repair} can cut it.
   */
  static async open<E = Entry, S = HardState, N = Snapshot>(
    dir: string,
    snap?: NoInfer<N>,
    options?: WalOptions<E, S, N>,
  ): Promise<Wal<E, S, N>> {
    dir = normalizeDir(dir, 'Wal.open');
    const o = resolveOptions(options);
    const pos = position(o, snap);
    selectSegments(dir, await listSegments(dir), pos.index); // fail fast before locking
    const lock = await DirLock.acquire(dir);
    try {
      const read = await readAt(dir, pos, o, 'write');
      const writer = await openWriter(dir, read, o);
      return new Wal<E, S, N>(dir, o, pos, read, writer, lock);
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  /**
   * Opens a WAL for reading only: no lock, so it works beside a live writer; a torn tail (e.g. a record being
   * written) ends the read there. Its `save*` methods reject with ERR_WAL_INVALID_ARGUMENT.
   */
  static async openForRead<E = Entry, S = HardState, N = Snapshot>(
    dir: string,
    snap?: NoInfer<N>,
    options?: WalOptions<E, S, N>,
  ): Promise<Wal<E, S, N>> {
    dir = normalizeDir(dir, 'Wal.openForRead');
    const o = resolveOptions(options);
    const pos = position(o, snap);
    const read = await readAt(dir, pos, o, 'read');
    return new Wal<E, S, N>(dir, o, pos, read, undefined, undefined);
  }

  /** Whether `dir` holds any WAL segment file. */
  static async exist(dir: string): Promise<boolean> {
    dir = normalizeDir(dir, 'Wal.exist');
    return (await listSegments(dir)).length > 0;
  }

  /**
   * Cuts a torn tail of the last segment (keeping a `<name>.broken` copy), then checks that the WAL reads cleanly
   * from its newest valid snapshot. True when it does (also when nothing needed repair); false when it does not:
   * damage other than a torn tail (changed nothing: corruption must not be truncated away), or a problem a cut
   * cannot fix, such as an index gap. {@link Wal.repairReport} says which, and why.
   */
  static async repair<E = Entry, S = HardState, N = Snapshot>(
    dir: string,
    options?: Pick<WalOptions<E, S, N>, 'logger' | 'codecs'>,
  ): Promise<boolean> {
    return (await Wal.repairReport(dir, options)).readable;
  }

  /**
   * {@link Wal.repair}, reporting what it cut and, when the WAL is still not readable, the error a read meets.
   *
   * @example
   * ```ts
   * const report = await Wal.repairReport(dir);
   * if (!report.readable) throw report.problem; // e.g. ERR_WAL_CRC_MISMATCH naming the file and offset
   * ```
   */
  static async repairReport<E = Entry, S = HardState, N = Snapshot>(
    dir: string,
    options?: Pick<WalOptions<E, S, N>, 'logger' | 'codecs'>,
  ): Promise<RepairReport> {
    dir = normalizeDir(dir, 'Wal.repair');
    return repairWal(dir, resolveOptions(options).codecs, options?.logger);
  }

  /**
   * Reads and checks every record from the segment holding `snap` on, like {@link Wal.open} but without locking or
   * changing anything; a torn tail is an error here. Returns the last hard state.
   */
  static async verify<E = Entry, S = HardState, N = Snapshot>(
    dir: string,
    snap?: NoInfer<N>,
    options?: WalOptions<E, S, N>,
  ): Promise<S | undefined> {
    dir = normalizeDir(dir, 'Wal.verify');
    const o = resolveOptions(options);
    return (await readAt(dir, position(o, snap), o, 'verify')).state;
  }

  /** The snapshot records at or below the last saved commit index: snapshots a restart may start from. */
  static async validSnapshots<E = Entry, S = HardState, N = Snapshot>(
    dir: string,
    options?: WalOptions<E, S, N>,
  ): Promise<N[]> {
    dir = normalizeDir(dir, 'Wal.validSnapshots');
    return validSnapshotsOf(dir, resolveOptions(options).codecs);
  }

  /**
   * The metadata, the last hard state, and the entries after the snapshot the WAL was opened at, as read when it
   * was opened. A later call reads the directory again (read-mode semantics).
   */
  async readAll(): Promise<WalContents<E, S>> {
    if (this.closed) throw new WalError('ERR_WAL_CLOSED', 'readAll on a closed WAL', { file: this.dir });
    const cached = this.contents;
    if (cached !== undefined) {
      this.contents = undefined;
      return cached;
    }
    const read = await readAt(this.dir, this.snap, this.options, 'read');
    return { metadata: read.metadata, state: read.state, entries: read.entries };
  }

  /**
   * Appends `entries`, then `state` (skipped when empty). Resolves once durable: fdatasync'd when there are
   * entries or the term or vote changed (a commit-only change is written but synced later).
   */
  save(state: S | undefined, entries: readonly E[]): Promise<void> {
    const w = this.writable('save');
    if (w instanceof WalError) return Promise.reject(w);
    const given: unknown = entries;
    if (!Array.isArray(given)) {
      return Promise.reject(new WalError('ERR_WAL_INVALID_ARGUMENT', 'save: entries must be an array'));
    }
    const codecs = this.options.codecs;
    w.mark();
    let lastIndex = this.lastIndex;
    let mustSync = entries.length > 0;
    let newState: S | undefined;
    try {
      for (const e of entries) {
        const idx = codecs.entry.index(e);
        if (!Number.isSafeInteger(idx) || idx < 1) {
          throw new WalError(
            'ERR_WAL_INVALID_ARGUMENT',
            `save: entry index ${String(idx)} is not an integer >= 1`,
          );
        }
        // What a reader could not give back is refused before anything is written (the batch is rolled back):
        // an index past last + 1 leaves a gap every later open would stop at; one at or below the snapshot is
        // skipped by a reader opened at that snapshot. At or below last + 1 is the overwrite of a suffix.
        if (idx > lastIndex + 1) {
          throw new WalError(
            'ERR_WAL_INDEX_GAP',
            `save: entry index ${idx} would leave a gap: the log's last index is ${lastIndex}, so the next entry is at most ${lastIndex + 1}`,
          );
        }
        if (idx <= this.snapFloor) {
          throw new WalError(
            'ERR_WAL_INVALID_ARGUMENT',
            `save: entry index ${idx} is at or below the snapshot at index ${this.snapFloor}; a reader would skip it`,
          );
        }
        w.append(RecordType.Entry, codecs.entry, e, 'entry');
        lastIndex = idx;
      }
      if (state !== undefined && !codecs.state.isEmpty(state)) {
        const prev = this.prevState;
        if (
          prev === undefined ||
          codecs.state.term(prev) !== codecs.state.term(state) ||
          codecs.state.vote(prev) !== codecs.state.vote(state)
        ) {
          mustSync = true;
        }
        w.append(RecordType.State, codecs.state, state, 'state');
        newState = state;
      }
    } catch (err) {
      w.rollback();
      return rejectWith(err);
    }
    if (newState !== undefined) this.prevState = newState;
    const changed = lastIndex !== this.lastIndex || entries.length > 0;
    this.lastIndex = lastIndex;
    return w.commit(mustSync, changed ? lastIndex : undefined);
  }

  /** Appends a hard state (see {@link save}). */
  saveState(state: S): Promise<void> {
    return this.save(state, []);
  }

  /** Appends entries; resolves once they are fdatasync'd. */
  saveEntry(entries: readonly E[]): Promise<void> {
    return this.save(undefined, entries);
  }

  /** Appends a snapshot record; always fdatasync'd before it resolves. */
  saveSnap(snap: N): Promise<void> {
    const w = this.writable('saveSnap');
    if (w instanceof WalError) return Promise.reject(w);
    let idx: number;
    w.mark();
    try {
      idx = this.options.codecs.snapshot.index(snap);
      w.append(RecordType.Snapshot, this.options.codecs.snapshot, snap, 'snapshot');
    } catch (err) {
      w.rollback();
      return rejectWith(err);
    }
    if (idx > this.lastIndex) this.lastIndex = idx;
    if (idx > this.snapFloor) this.snapFloor = idx;
    return w.commit(true, this.lastIndex);
  }

  /**
   * Deletes the segments that hold only entries at or below `snap`'s index: every segment before the one the
   * snapshot's index falls in (minus `keepExtraSegments`), oldest first, after everything saved before this call
   * is written; the directory is fsynced after each, so the segments left are always consecutive. Call it only
   * once the snapshot (file and record) is durable.
   */
  async release(snap: N): Promise<void> {
    const w = this.writable('release');
    if (w instanceof WalError) throw w;
    const index = this.options.codecs.snapshot.index(snap);
    await w.commit(false, undefined);
    const segments = await listSegments(this.dir);
    let holding = -1;
    for (let i = 0; i < segments.length; i++) if ((segments[i]?.index ?? Infinity) <= index) holding = i;
    const upTo = holding - this.options.keepExtraSegments;
    if (upTo <= 0) return;
    // Oldest first, each unlink made durable before the next: a crash mid-release then leaves the segments on
    // disk consecutive (a later unlink persisted without an earlier one would leave a sequence gap that readers
    // reject; found by the crash explorer, test/crash/).
    for (const seg of segments.slice(0, upTo)) {
      await fileIo.unlink(seg.path);
      await fileIo.fsyncDir(this.dir);
    }
  }

  /** fdatasyncs everything written so far (including commit-only states); resolves once durable. */
  sync(): Promise<void> {
    const w = this.writable('sync');
    return w instanceof WalError ? Promise.reject(w) : w.commit(true, undefined);
  }

  /**
   * Waits for pending saves, fdatasyncs what is unsynced (unless the WAL failed), closes the files and releases
   * the lock. Later calls reject with ERR_WAL_CLOSED. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.contents = undefined;
    try {
      await this.writer?.close();
    } finally {
      await this.lock?.release();
    }
  }

  /** The writer, or the error a write call must reject with. */
  private writable(what: string): SegmentWriter | WalError {
    if (this.closed) return new WalError('ERR_WAL_CLOSED', `${what} on a closed WAL`, { file: this.dir });
    if (this.writer === undefined) {
      return new WalError('ERR_WAL_INVALID_ARGUMENT', `${what}: the WAL was opened for reading`, {
        file: this.dir,
      });
    }
    return this.writer.failed ?? this.writer;
  }
}

function position<E, S, N>(o: ResolvedOptions<E, S, N>, snap: N | undefined): SnapPosition {
  if (snap === undefined) return { index: 0, term: 0 };
  const index = o.codecs.snapshot.index(snap);
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new WalError('ERR_WAL_INVALID_ARGUMENT', `snapshot index ${String(index)} is not an integer >= 0`);
  }
  return { index, term: o.codecs.snapshot.term(snap) };
}

async function readAt<E, S, N>(
  dir: string,
  pos: SnapPosition,
  o: ResolvedOptions<E, S, N>,
  mode: ReadMode,
): Promise<ReadResult<E, S>> {
  const segments = selectSegments(dir, await listSegments(dir), pos.index);
  return readSegments(segments, pos, o.codecs, mode, o.crcWorker);
}

function rejectWith(err: unknown): Promise<never> {
  return Promise.reject(err instanceof Error ? err : new Error(String(err)));
}
