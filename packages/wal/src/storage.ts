/**
 * The durable storage contract the project was specified with (a TypeScript rendering of etcd's
 * `etcdserver.Storage`). Every method's promise resolves only once what it wrote is durable (fdatasync
 * returned), except that `saveState` / `save` of a commit-only change may be left unsynced, as etcd's MustSync
 * decides; `sync()` forces it. Promises resolve in call order.
 */
export interface Storage<E, S, N> {
  /** Appends entries, then the state (skipped when empty). Resolves once durable. */
  save(state: S | undefined, entries: readonly E[]): Promise<void>;
  saveState(state: S): Promise<void>;
  saveEntry(entries: readonly E[]): Promise<void>;
  /** Records a snapshot's index and term. Always synced. */
  saveSnap(snap: N): Promise<void>;
  /** Segments holding only entries at or below `snap`'s index are no longer needed and may be deleted. */
  release(snap: N): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}
