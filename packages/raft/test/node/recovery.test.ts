// How RaftNode.start decides to bootstrap, restart or join from what its storage holds, and what it refuses.
import { afterEach, describe, expect, it } from 'vitest';
import { isRaftError, type RaftErrorCode } from '../../src/errors.js';
import { MemoryDurableStorage } from '../../src/node/memory-durable-storage.js';
import { MemorySnapshotStore } from '../../src/node/memory-snapshot-store.js';
import type { RaftNodeOptions } from '../../src/node/options.js';
import { RaftNode } from '../../src/node/raft-node.js';
import { MemoryNetwork } from '../../src/transport/memory-transport.js';
import { MessageType } from '../../src/raftpb/types.js';
import type { Transport } from '../../src/node/types.js';
import { ListMachine } from './fakes.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const code = (c: RaftErrorCode) => (e: unknown) => isRaftError(e, c);

let running: RaftNode<number>[] = [];
afterEach(async () => {
  await Promise.all(running.map((n) => n.stop().catch(() => undefined)));
  running = [];
});

type Opts = Partial<RaftNodeOptions<number>> &
  Pick<RaftNodeOptions<number>, 'storage' | 'stateMachine' | 'transport'>;

async function start(opts: Opts): Promise<RaftNode<number>> {
  const node = await RaftNode.start<number>({
    id: 1,
    tickMs: 5,
    electionTick: 10,
    heartbeatTick: 1,
    requestTimeoutMs: 5_000,
    ...opts,
  });
  running.push(node);
  return node;
}

/** A single-node cluster with `writes` acknowledged, stopped cleanly; returns its storage reopened. */
async function usedStorage(writes: number): Promise<MemoryDurableStorage> {
  const storage = new MemoryDurableStorage();
  const node = await start({
    peers: [{ id: 1 }],
    storage,
    stateMachine: new ListMachine(),
    transport: new MemoryNetwork().transport(1),
  });
  await node.waitForLeader();
  for (let i = 0; i < writes; i++) await node.propose(enc(`w${i}`));
  await node.stop();
  return storage.reopen();
}

describe('RaftNode.start', () => {
  it("bootstraps a new cluster on empty storage ('auto'), and restarts from storage that holds state", async () => {
    const storage = new MemoryDurableStorage();
    const sm = new ListMachine();
    const node = await start({
      peers: [{ id: 1 }],
      storage,
      stateMachine: sm,
      transport: new MemoryNetwork().transport(1),
    });
    expect(node.startedAs).toBe('bootstrap');
    await node.waitForLeader();
    for (let i = 0; i < 5; i++) await node.propose(enc(`w${i}`));
    const { term, vote } = node.status().hardState;
    await node.stop();

    // The scenario: restarted with the same options (peers given, nothing about recovery).
    const sm2 = new ListMachine();
    const again = await start({
      peers: [{ id: 1 }],
      storage: storage.reopen(),
      stateMachine: sm2,
      transport: new MemoryNetwork().transport(1),
    });
    expect(again.startedAs).toBe('restart');
    expect(again.status().hardState).toMatchObject({ term, vote }); // the vote is remembered
    await again.waitForLeader();
    await again.read();
    expect(sm2.applied).toEqual(['w0', 'w1', 'w2', 'w3', 'w4']);
  });

  it("refuses to bootstrap ('bootstrap') over storage that holds state, and writes nothing", async () => {
    const storage = await usedStorage(3);
    const before = await storage.readAll();
    await expect(
      start({
        mode: 'bootstrap',
        peers: [{ id: 1 }],
        storage,
        stateMachine: new ListMachine(),
        transport: new MemoryNetwork().transport(1),
      }),
    ).rejects.toSatisfy(code('ERR_STORAGE_NOT_EMPTY'));
    expect(await storage.crash().readAll()).toEqual(before);
  });

  it("refuses to restart ('restart') from empty storage", async () => {
    await expect(
      start({
        mode: 'restart',
        peers: [{ id: 1 }],
        storage: new MemoryDurableStorage(),
        stateMachine: new ListMachine(),
        transport: new MemoryNetwork().transport(1),
      }),
    ).rejects.toSatisfy(code('ERR_STORAGE_EMPTY'));
  });

  it("'restart' resumes from storage that holds state", async () => {
    const sm = new ListMachine();
    const node = await start({
      mode: 'restart',
      storage: await usedStorage(2),
      stateMachine: sm,
      transport: new MemoryNetwork().transport(1),
    });
    expect(node.startedAs).toBe('restart');
    await node.waitForLeader();
    await node.read();
    expect(sm.applied).toEqual(['w0', 'w1']);
  });

  it("'join' starts empty without bootstrapping (no members, never campaigns), and restarts when storage holds state", async () => {
    const empty = new MemoryDurableStorage();
    const joining = await start({
      mode: 'join',
      peers: [{ id: 1 }],
      storage: empty,
      stateMachine: new ListMachine(),
      transport: new MemoryNetwork().transport(1),
    });
    expect(joining.startedAs).toBe('join');
    // With no configuration it can never campaign; only a leader adding it brings it in.
    await expect(joining.waitForLeader(50)).rejects.toSatisfy(code('ERR_NO_LEADER'));
    expect(joining.membership().voters).toEqual([]);
    expect((await empty.readAll()).entries).toEqual([]);

    const rejoined = await start({
      mode: 'join',
      storage: await usedStorage(1),
      stateMachine: new ListMachine(),
      transport: new MemoryNetwork().transport(1),
    });
    expect(rejoined.startedAs).toBe('restart');
  });

  it('without peers, empty storage and no join is a config error naming `peers`', async () => {
    await expect(
      start({
        storage: new MemoryDurableStorage(),
        stateMachine: new ListMachine(),
        transport: new MemoryNetwork().transport(1),
      }),
    ).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID', field: 'peers' });
  });

  it('an unknown mode, a negative waitForLeaderMs and a maxApplyBacklog below 1 are config errors naming the field', async () => {
    const base = {
      storage: new MemoryDurableStorage(),
      stateMachine: new ListMachine(),
      transport: new MemoryNetwork().transport(1),
      peers: [{ id: 1 }],
    };
    await expect(start({ ...base, mode: 'fresh' as 'auto' })).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      field: 'mode',
    });
    await expect(start({ ...base, waitForLeaderMs: -1 })).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      field: 'waitForLeaderMs',
    });
    await expect(start({ ...base, maxApplyBacklog: 0 })).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      field: 'maxApplyBacklog',
    });
    // Options of earlier versions are refused, not ignored.
    const legacy = { ...base, recovered: { state: undefined, entries: [] } } as Opts;
    await expect(start(legacy)).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID', field: 'recovered' });
    await expect(start({ ...base, join: true } as Opts)).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      field: 'join',
    });
  });

  it('storage whose entries continue past the snapshot given (the wrong one, or none) is refused, naming `snapshot`', async () => {
    const storage = new MemoryDurableStorage();
    const snapshots = new MemorySnapshotStore();
    const node = await start({
      peers: [{ id: 1 }],
      storage,
      snapshots,
      stateMachine: new ListMachine(),
      transport: new MemoryNetwork().transport(1),
      snapshotCatchUpEntries: 0,
    });
    await node.waitForLeader();
    for (let i = 0; i < 5; i++) await node.propose(enc(`w${i}`));
    await node.snapshotNow(); // releases the entries it covers
    for (let i = 5; i < 8; i++) await node.propose(enc(`w${i}`));
    await node.stop();
    const disk = storage.reopen();
    expect((await disk.readAll()).entries[0]!.index).toBeGreaterThan(1);
    await expect(
      start({
        storage: disk,
        snapshots,
        stateMachine: new ListMachine(),
        transport: new MemoryNetwork().transport(1),
      }),
    ).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID', field: 'snapshot' });

    // With the snapshot it restores, then replays only the entries after it.
    const sm = new ListMachine();
    const again = await start({
      storage: disk,
      snapshots,
      snapshot: await snapshots.loadNewestAvailable(disk.snapshotRecords()),
      stateMachine: sm,
      transport: new MemoryNetwork().transport(1),
    });
    expect(sm.restores).toBe(1);
    await again.waitForLeader();
    await again.read();
    expect(sm.applied).toEqual(['w0', 'w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'w7']);
  });

  it('a power loss loses nothing acknowledged: a follower restarts with its log and its vote', async () => {
    const net = new MemoryNetwork();
    const ids = [1, 2, 3];
    const disks = new Map(ids.map((id) => [id, new MemoryDurableStorage({ syncDelayMs: 1 })]));
    const machines = new Map(ids.map((id) => [id, new ListMachine()]));
    // The highest index each node acknowledged to the leader (a MsgAppResp that did not reject).
    const acked = new Map<number, number>(ids.map((id) => [id, 0]));
    const nodes = await Promise.all(
      ids.map((id) => {
        const inner = net.transport(id);
        const watched: Transport = {
          start: (h) => inner.start(h),
          send: (msgs) => {
            for (const m of msgs)
              if (m.type === MessageType.MsgAppResp && !m.reject)
                acked.set(id, Math.max(acked.get(id)!, m.index));
            inner.send(msgs);
          },
          sendSnapshot: (m, d) => inner.sendSnapshot(m, d),
          addPeer: () => undefined,
          removePeer: () => undefined,
          stop: () => inner.stop(),
        };
        return start({
          id,
          peers: ids.map((p) => ({ id: p })),
          storage: disks.get(id)!,
          stateMachine: machines.get(id)!,
          transport: watched,
        });
      }),
    );
    const { leader } = await nodes[0]!.waitForLeader();
    const leaderNode = nodes[leader - 1]!;
    await Promise.all(Array.from({ length: 50 }, (_, i) => leaderNode.propose(enc(`a${i}`))));
    const victim = ids.find((id) => id !== leader)!;
    const before = nodes[victim - 1]!.status().hardState;
    // Power loss on the follower while proposals keep coming (some of its saves are in flight).
    const more = Array.from({ length: 20 }, (_, i) => leaderNode.propose(enc(`b${i}`)));
    const disk = disks.get(victim)!.crash();
    await nodes[victim - 1]!.stop();
    await Promise.all(more);
    // Everything the follower acknowledged is on its crashed disk (it acked only after its save resolved).
    const kept = (await disk.readAll()).entries;
    expect(kept.at(-1)?.index ?? 0).toBeGreaterThanOrEqual(acked.get(victim)!);
    expect(acked.get(victim)).toBeGreaterThan(0);

    const sm = new ListMachine();
    const again = await start({
      id: victim,
      mode: 'restart',
      storage: disk,
      stateMachine: sm,
      transport: net.transport(victim),
    });
    expect(again.status().hardState.term).toBeGreaterThanOrEqual(before.term);
    if (again.status().hardState.term === before.term)
      expect(again.status().hardState.vote).toBe(before.vote);
    await again.waitForLeader();
    await again.read();
    const all = [
      ...Array.from({ length: 50 }, (_, i) => `a${i}`),
      ...Array.from({ length: 20 }, (_, i) => `b${i}`),
    ];
    expect(sm.applied).toEqual(all);
  });
});
