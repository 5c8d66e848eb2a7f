import { RaftError } from '../errors.js';
import type { SnapshotMetadata } from '../raftpb/types.js';
import type { LoadedSnapshot, SnapshotFiles, SnapshotPayload } from './types.js';
import { systemClock, type Clock } from './clock.js';

interface StoredFile {
  metadata: SnapshotMetadata;
  data: Uint8Array;
}

/**
 * A {@link SnapshotFiles} in memory, for tests, with `@x/wal`'s `SnapshotStore` semantics minus the disk: `save`
 * resolves once the whole snapshot is stored (a snapshot is there whole or not at all; one being saved when the
 * "machine" crashes is lost), `load` returns the newest, `purge(keep)` keeps the newest `keep`.
 *
 * @example
 * ```ts
 * const storage = new MemoryDurableStorage();
 * const snapshots = new MemorySnapshotStore();
 * // ... a node runs and snapshots; then the machine dies:
 * const [disk, snaps] = [storage.crash(), snapshots.crash()];
 * const snapshot = await snaps.loadNewestAvailable(disk.snapshotRecords());
 * ```
 */
export class MemorySnapshotStore implements SnapshotFiles {
  /** Oldest first. */
  private files: StoredFile[] = [];
  private dead = false;

  /** `clock` times the store's one deferral per save (default {@link systemClock}). */
  constructor(private readonly options: { clock?: Clock } = {}) {}

  /** Metadata of the snapshots held, oldest first. */
  list(): readonly SnapshotMetadata[] {
    return this.files.map((f) => f.metadata);
  }

  async save(metadata: SnapshotMetadata, data: SnapshotPayload): Promise<string> {
    this.assertAlive('save');
    const parts: Uint8Array[] = [];
    if (data instanceof Uint8Array) parts.push(data);
    else for await (const chunk of data) parts.push(chunk);
    const bytes = Buffer.concat(parts);
    // Stored only now, whole; a store that crashed meanwhile never gets it.
    await new Promise<void>((resolve) => (this.options.clock ?? systemClock).defer(resolve));
    this.assertAlive('save');
    const file: StoredFile = { metadata: { ...metadata }, data: new Uint8Array(bytes) };
    this.files = this.files.filter((f) => f.metadata.index !== metadata.index);
    this.files.push(file);
    this.files.sort((a, b) => a.metadata.index - b.metadata.index);
    return `memory:${metadata.term}-${metadata.index}`;
  }

  /** The newest snapshot, or undefined when there is none. */
  async load(): Promise<LoadedSnapshot | undefined> {
    this.assertAlive('load');
    const f = this.files[this.files.length - 1];
    return f === undefined ? undefined : loaded(f);
  }

  /**
   * The newest snapshot that `records` (a storage's snapshot records, e.g.
   * `MemoryDurableStorage.snapshotRecords()`) also lists: one saved just before a crash, whose record never made
   * it, is passed over (as `SnapshotStore.loadNewestAvailable` does).
   */
  async loadNewestAvailable(
    records: readonly { index: number; term: number }[],
  ): Promise<LoadedSnapshot | undefined> {
    this.assertAlive('loadNewestAvailable');
    const known = new Set(records.map((r) => `${r.term}-${r.index}`));
    for (let i = this.files.length - 1; i >= 0; i--) {
      const f = this.files[i]!;
      if (known.has(`${f.metadata.term}-${f.metadata.index}`)) return loaded(f);
    }
    return undefined;
  }

  async purge(keep: number): Promise<SnapshotMetadata[]> {
    this.assertAlive('purge');
    if (!Number.isInteger(keep) || keep < 0) {
      throw new RaftError('ERR_CONFIG_INVALID', `purge: keep must be an integer >= 0, got ${keep}`, 'keep');
    }
    const removed = this.files.slice(0, Math.max(0, this.files.length - keep));
    this.files = this.files.slice(removed.length);
    return removed.map((f) => f.metadata);
  }

  /** A crash: a new store holding the snapshots saved completely. This one rejects every later call. */
  crash(): MemorySnapshotStore {
    this.assertAlive('crash');
    this.dead = true;
    const next = new MemorySnapshotStore(this.options);
    next.files = [...this.files];
    return next;
  }

  private assertAlive(what: string): void {
    if (this.dead) throw new RaftError('ERR_STOPPED', `${what} on a MemorySnapshotStore that crashed`);
  }
}

function loaded(f: StoredFile): LoadedSnapshot {
  return {
    metadata: f.metadata,
    bytes: () => Promise.resolve(f.data),
    stream: async function* () {
      yield f.data;
    },
  };
}
