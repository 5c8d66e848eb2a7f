// Backup and restore of a cluster's state (etcd's `etcdctl snapshot save` / `etcdutl snapshot restore`): a backup
// is a snapshot (metadata and the enveloped state-machine data) saved through a SnapshotFiles (with @x/wal's
// SnapshotStore: one CRC-checked file, which `x-wal snap verify` checks); a restore writes it into a new member's
// empty storage as the first snapshot of a new cluster.
import { RaftError } from '../errors.js';
import { emptyConfState, isEmptyHardState, type ConfState, type SnapshotMetadata } from '../raftpb/types.js';
import { checkMemberInfo, unwrapSnapshot, wrapSnapshot, type MemberInfo } from './member-codec.js';
import type { DurableStorage, LoadedSnapshot, SnapshotFiles, SnapshotPayload } from './types.js';

/** What taking a backup uses of its RaftNode. */
export interface BackupHost {
  /** A linearizable read barrier (resolves once everything committed before it is applied here). */
  read(timeoutMs: number): Promise<unknown>;
  /** The state machine's snapshot (in its envelope) with the applied index, its term and the configuration. */
  capture(): Promise<{ index: number; term: number; confState: ConfState; data: SnapshotPayload }>;
}

/** A backup saved by {@link RaftNode.backup}. */
export interface SavedBackup {
  metadata: SnapshotMetadata;
  /** What `SnapshotFiles.save` returned (with a `SnapshotStore`, the file's path). */
  path: string;
}

/** Takes a backup: a read barrier, then a snapshot of the applied state saved into `to`. */
export async function saveBackup(
  host: BackupHost,
  to: SnapshotFiles,
  timeoutMs: number,
): Promise<SavedBackup> {
  await host.read(timeoutMs);
  const { index, term, confState, data } = await host.capture();
  const metadata: SnapshotMetadata = { index, term, confState };
  return { metadata, path: await to.save(metadata, data) };
}

/** Options of {@link restoreBackup}. */
export interface RestoreBackupOptions {
  /** The member whose storage this is. */
  id: number;
  /** Every member of the new cluster (voters), this one included, with the addresses peers reach them at. */
  peers: readonly ({ id: number } & MemberInfo)[];
  /** The backup (e.g. `SnapshotStore`'s `StoredSnapshot` of the backup file: its CRC is checked on reading). */
  backup: LoadedSnapshot;
  /** The member's durable log; it must hold nothing. */
  storage: DurableStorage;
  /** Where the member's snapshots go; it must hold none. */
  snapshots: SnapshotFiles;
}

/**
 * Makes the storage of member `id` of a new cluster from a backup, as `etcdutl snapshot restore` does: the backup's
 * state becomes the new cluster's first snapshot (same index and term, so revisions and log time go on from it)
 * whose configuration is `peers` (all voters; the backup's members and removed ids are dropped), saved to
 * `snapshots`, recorded in `storage`, with a hard state that commits it. Run it for every member with the same
 * `peers` and backup, then `RaftNode.start` each one (it restarts from the snapshot). Refuses with
 * `ERR_STORAGE_NOT_EMPTY` a storage or snapshot store that holds anything, and with `ERR_CONFIG_INVALID` peers
 * that do not include `id`, repeat an id or lack an address.
 *
 * @example
 * ```ts
 * const backup = await SnapshotStore.open(dir).then((s) => s.load()); // a directory holding the backup file
 * const wal = await Wal.create(`${data}/wal`, clusterId);
 * await restoreBackup({ id: 1, peers, backup: backup!, storage: wal, snapshots: await SnapshotStore.open(`${data}/snap`) });
 * await wal.close();
 * ```
 */
export async function restoreBackup(o: RestoreBackupOptions): Promise<SnapshotMetadata> {
  const ids = new Set<number>();
  for (const p of o.peers) {
    if (!Number.isSafeInteger(p.id) || p.id <= 0 || ids.has(p.id)) {
      throw new RaftError(
        'ERR_CONFIG_INVALID',
        `restoreBackup: peer id ${p.id} is not a new positive id`,
        'peers',
      );
    }
    checkMemberInfo(p, `restoreBackup: peers[${p.id}]`);
    ids.add(p.id);
  }
  if (!ids.has(o.id)) {
    throw new RaftError(
      'ERR_CONFIG_INVALID',
      `restoreBackup: peers do not include this member (${o.id})`,
      'peers',
    );
  }
  const held = await o.storage.readAll();
  const hasState = held.state !== undefined && !isEmptyHardState(held.state);
  if (hasState || held.entries.length > 0 || (await o.snapshots.load()) !== undefined) {
    throw new RaftError(
      'ERR_STORAGE_NOT_EMPTY',
      'restoreBackup: the storage already holds raft state; restore into an empty data directory',
      'storage',
    );
  }
  const { index, term } = o.backup.metadata;
  if (!(index > 0)) {
    throw new RaftError(
      'ERR_CONFIG_INVALID',
      `restoreBackup: the backup's index ${index} is not > 0`,
      'backup',
    );
  }
  // Streamed: the backup's data goes from its file to the new snapshot file without being held whole.
  const { data } = await unwrapSnapshot(o.backup.stream(), index);
  const members = new Map(
    o.peers.map((p): [number, MemberInfo] => [
      p.id,
      p.metadata === undefined ? { address: p.address } : { address: p.address, metadata: p.metadata },
    ]),
  );
  const voters = [...ids].sort((a, b) => a - b);
  const metadata: SnapshotMetadata = { index, term, confState: { ...emptyConfState(), voters } };
  await o.snapshots.save(metadata, wrapSnapshot({ members, removed: new Set() }, data));
  await o.storage.saveSnap(metadata);
  await o.storage.save({ term, vote: 0, commit: index }, []);
  return metadata;
}
