// RaftNode.backup (a consistent snapshot saved to a store of its own) and restoreBackup (a new cluster's storage
// made from it), in memory.
import { afterEach, describe, expect, it } from 'vitest';
import { isRaftError } from '../../src/errors.js';
import { restoreBackup } from '../../src/node/backup.js';
import { MemoryDurableStorage } from '../../src/node/memory-durable-storage.js';
import { MemorySnapshotStore } from '../../src/node/memory-snapshot-store.js';
import type { RaftNode } from '../../src/node/raft-node.js';
import type { LoadedSnapshot } from '../../src/node/types.js';
import { MemoryNetwork } from '../../src/transport/memory-transport.js';
import { startMemoryMember } from './fakes.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

let running: RaftNode<number>[] = [];
afterEach(async () => {
  await Promise.all(running.map((n) => n.stop().catch(() => undefined)));
  running = [];
});

const start = (
  net: MemoryNetwork,
  id: number,
  peers: { id: number; address: string }[],
  storage?: MemoryDurableStorage,
  snaps?: MemorySnapshotStore,
) => startMemoryMember(net, id, running, { peers, ...(storage && { storage }), ...(snaps && { snaps }) });

const peersOf = (ids: number[]) => ids.map((id) => ({ id, address: `h${id}:1` }));

describe('backup and restoreBackup', () => {
  it('a backup from a follower holds every acknowledged write; a new cluster restored from it serves them', async () => {
    const net = new MemoryNetwork();
    const old = await Promise.all([1, 2, 3].map((id) => start(net, id, peersOf([1, 2, 3]))));
    const { leader } = await old[0]!.node.waitForLeader();
    const lead = old[leader - 1]!;
    for (let i = 0; i < 12; i++) await lead.node.propose(enc(`w${i}`));
    const removed = leader === 3 ? 2 : 3;
    await lead.node.removeMember(removed);
    const follower = old.find((_m, i) => i + 1 !== leader && i + 1 !== removed)!;
    // The follower may not have applied the last writes yet: the read barrier inside backup() waits for them.
    const store = new MemorySnapshotStore();
    const saved = await follower.node.backup(store);
    expect(saved.metadata.index).toBeGreaterThanOrEqual(lead.node.status().appliedIndex);
    const backup = (await store.load()) as LoadedSnapshot;
    expect(backup.metadata.index).toBe(saved.metadata.index);
    await Promise.all(old.map((m) => m.node.stop()));

    // A new cluster of other ids, in fresh storage.
    const ids = [11, 12, 13];
    const net2 = new MemoryNetwork();
    const disks = ids.map(() => ({ storage: new MemoryDurableStorage(), snaps: new MemorySnapshotStore() }));
    for (const [i, id] of ids.entries()) {
      const { storage, snaps } = disks[i]!;
      const meta = await restoreBackup({ id, peers: peersOf(ids), backup, storage, snapshots: snaps });
      expect(meta).toMatchObject({ index: saved.metadata.index, term: saved.metadata.term });
      expect(meta.confState.voters).toEqual(ids);
    }
    const fresh = await Promise.all(
      ids.map((id, i) => start(net2, id, [], disks[i]!.storage.reopen(), disks[i]!.snaps)),
    );
    for (const m of fresh) {
      expect(m.node.startedAs).toBe('restart');
      expect(m.machine.applied).toEqual(Array.from({ length: 12 }, (_, i) => `w${i}`));
      expect(m.node.members()).toEqual(ids.map((id) => ({ id, role: 'voter', address: `h${id}:1` })));
      expect(m.node.removedMembers()).toEqual([]); // a new cluster: the old one's removals do not apply
    }
    const { leader: newLeader } = await fresh[0]!.node.waitForLeader();
    const index = await fresh[ids.indexOf(newLeader)]!.node.propose(enc('after restore'));
    expect(index).toBeGreaterThan(saved.metadata.index);
  });

  it('restoreBackup refuses storage that holds state and peers that do not include the member', async () => {
    const net = new MemoryNetwork();
    const { node } = await start(net, 1, peersOf([1]));
    await node.waitForLeader();
    await node.propose(enc('x'));
    const store = new MemorySnapshotStore();
    await node.backup(store);
    const backup = (await store.load()) as LoadedSnapshot;
    const used = new MemoryDurableStorage();
    await used.save({ term: 1, vote: 1, commit: 0 }, []);
    const notEmpty = await restoreBackup({
      id: 1,
      peers: peersOf([1]),
      backup,
      storage: used,
      snapshots: new MemorySnapshotStore(),
    }).catch((e: unknown) => e);
    expect(isRaftError(notEmpty, 'ERR_STORAGE_NOT_EMPTY')).toBe(true);
    const notListed = await restoreBackup({
      id: 4,
      peers: peersOf([1, 2]),
      backup,
      storage: new MemoryDurableStorage(),
      snapshots: new MemorySnapshotStore(),
    }).catch((e: unknown) => e);
    expect(isRaftError(notListed, 'ERR_CONFIG_INVALID')).toBe(true);
  });
});
