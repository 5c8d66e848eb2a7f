// Backup files: what `GET /backup` serves and `x-kv backup` saves is one snapshot file in @x/wal's format
// (`SnapshotStore`: metadata, the enveloped state, CRC-32C; `SnapshotStore.readFile` and `x-wal snap verify FILE`
// check it), and what `x-kv restore` makes a new member's data directory from.
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { restoreBackup } from '@x/raft/node';
import { SnapshotStore, Wal, type Snapshot } from '@x/wal';

/** Temporary directories of backups being served start with this, under the node's data directory. */
export const BACKUP_DIR_PREFIX = 'backup-';

/** A data directory a restore refuses (not empty). */
export class RestoreError extends Error {
  override readonly name = 'RestoreError';
  readonly code = 'ERR_RESTORE_TARGET';
}

/** Deletes backup directories a crash left behind in `dataDir` (a backup being served when the node died). */
export async function removeStaleBackups(dataDir: string): Promise<void> {
  for (const name of await readdir(dataDir)) {
    if (name.startsWith(BACKUP_DIR_PREFIX)) await rm(join(dataDir, name), { recursive: true, force: true });
  }
}

/** What {@link restoreDataDir} takes. */
export interface RestoreDataDirOptions {
  /** The backup file. */
  file: string;
  /** The new member's data directory: absent or empty. */
  dataDir: string;
  id: number;
  /** Every member of the new cluster: id → peer and client addresses. */
  peers: ReadonlyMap<number, { peer: string; client: string }>;
  /** Recorded in the WAL's metadata, as a new node does. */
  clusterId: string;
}

/**
 * Makes the data directory of member `id` of a new cluster from a backup (`etcdutl snapshot restore`): a WAL and a
 * snapshot store holding the backup's state as their first snapshot, with `peers` as the members (see
 * `restoreBackup` in @x/raft). `x-kv node` with the same `--id`, `--peers` and `--data` then starts from it.
 */
export async function restoreDataDir(o: RestoreDataDirOptions): Promise<Snapshot> {
  await mkdir(o.dataDir, { recursive: true });
  const held = await readdir(o.dataDir);
  if (held.length > 0) {
    throw new RestoreError(
      `${o.dataDir} is not empty (${held.slice(0, 3).join(', ')}): restore into a new data directory`,
    );
  }
  // Checked whole (layout, metadata, CRC) before anything is written; its data is checked again as it is read.
  const backup = await SnapshotStore.readFile(o.file);
  const snapshots = await SnapshotStore.open(join(o.dataDir, 'snap'));
  const wal = await Wal.create(join(o.dataDir, 'wal'), new TextEncoder().encode(o.clusterId));
  try {
    return await restoreBackup({
      id: o.id,
      peers: [...o.peers].map(([id, a]) => ({ id, address: a.peer, metadata: { client: a.client } })),
      backup,
      storage: wal,
      snapshots,
    });
  } finally {
    await wal.close();
  }
}
