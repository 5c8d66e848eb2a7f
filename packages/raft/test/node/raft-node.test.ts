import { afterEach, describe, expect, it } from 'vitest';
import { RaftNode } from '../../src/node/raft-node.js';
import { MemoryNetwork } from '../../src/transport/memory-transport.js';
import { MessageType, type Message } from '../../src/raftpb/types.js';
import { StateType } from '../../src/raft/state-type.js';
import { isRaftError } from '../../src/errors.js';
import type { Transport } from '../../src/node/types.js';
import { FakeSnapshots, FakeWal, ListMachine } from './fakes.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

interface Member {
  id: number;
  node: RaftNode<number>;
  wal: FakeWal;
  snaps: FakeSnapshots;
  sm: ListMachine;
}

let running: Member[] = [];
afterEach(async () => {
  await Promise.all(running.map((m) => m.node.stop().catch(() => undefined)));
  running = [];
});

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function startMember(
  net: MemoryNetwork,
  id: number,
  peers: number[],
  opts: {
    snapshotCount?: number;
    catchUp?: number;
    wal?: FakeWal;
    snaps?: FakeSnapshots;
    join?: boolean;
    transport?: Transport;
  } = {},
): Promise<Member> {
  const wal = opts.wal ?? new FakeWal();
  const snaps = opts.snaps ?? new FakeSnapshots(wal);
  const sm = new ListMachine();
  const node = await RaftNode.start<number>({
    id,
    peers: peers.map((p) => ({ id: p })),
    mode: opts.join === true ? 'join' : 'auto',
    storage: wal,
    snapshots: snaps,
    snapshot: await snaps.load(),
    stateMachine: sm,
    transport: opts.transport ?? net.transport(id),
    tickMs: 5,
    electionTick: 10,
    heartbeatTick: 1,
    snapshotCount: opts.snapshotCount ?? 10_000,
    snapshotCatchUpEntries: opts.catchUp ?? 5_000,
    requestTimeoutMs: 5_000,
  });
  const m = { id, node, wal, snaps, sm };
  running.push(m);
  return m;
}

async function cluster(
  n: number,
  opts: { snapshotCount?: number; catchUp?: number } = {},
): Promise<{ net: MemoryNetwork; members: Member[] }> {
  const net = new MemoryNetwork();
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const members = await Promise.all(ids.map((id) => startMember(net, id, ids, opts)));
  await until(
    () => members.some((m) => m.node.status().softState.raftState === StateType.Leader),
    'a leader',
  );
  return { net, members };
}

/**
 * A 3-member cluster whose transports show every outgoing batch of messages to `onSend` first; resolves once a
 * leader is elected.
 */
async function watchedCluster(
  onSend: (id: number, msgs: readonly Message[]) => void,
  walOf: (id: number) => FakeWal = () => new FakeWal(),
): Promise<Member[]> {
  const net = new MemoryNetwork();
  const ids = [1, 2, 3];
  const members = await Promise.all(
    ids.map((id) => {
      const inner = net.transport(id);
      const watched: Transport = {
        start: (h) => inner.start(h),
        send: (msgs: readonly Message[]) => {
          onSend(id, msgs);
          inner.send(msgs);
        },
        sendSnapshot: (m, d) => inner.sendSnapshot(m, d),
        addPeer: () => undefined,
        removePeer: () => undefined,
        stop: () => inner.stop(),
      };
      return startMember(net, id, ids, { wal: walOf(id), transport: watched });
    }),
  );
  await until(
    () => members.some((m) => m.node.status().softState.raftState === StateType.Leader),
    'a leader',
  );
  return members;
}

const leaderOf = (members: Member[]): Member => {
  const l = members.find((m) => m.node.status().softState.raftState === StateType.Leader);
  if (l === undefined) throw new Error('no leader');
  return l;
};

describe('RaftNode', () => {
  it('replicates proposals from the leader and from followers to every state machine, in order', async () => {
    const { members } = await cluster(3);
    const leader = leaderOf(members);
    const follower = members.find((m) => m !== leader)!;
    const i1 = await leader.node.propose(enc('a'));
    const i2 = await follower.node.propose(enc('b')); // forwarded to the leader (MsgProp)
    expect(i2).toBeGreaterThan(i1);
    await until(() => members.every((m) => m.sm.applied.length === 2), 'all applied');
    for (const m of members) expect(m.sm.applied).toEqual(['a', 'b']);
  });

  it('batches proposals that arrive during one fsync into one save (group commit)', async () => {
    const { members } = await cluster(3);
    const leader = leaderOf(members);
    const before = leader.wal.events.filter((e) => e.kind === 'save').length;
    const indexes = await Promise.all(
      Array.from({ length: 200 }, (_, i) => leader.node.propose(enc(`p${i}`))),
    );
    expect(new Set(indexes).size).toBe(200);
    const saves = leader.wal.events.filter((e) => e.kind === 'save' && e.entries > 0).length - before;
    // Without batching this would be 200 saves.
    expect(saves).toBeLessThan(40);
  });

  it('a follower acknowledges entries only after they are durable (Ready contract)', async () => {
    const violations: string[] = [];
    const wals = new Map<number, FakeWal>([1, 2, 3].map((id) => [id, new FakeWal(4)]));
    // Check every outgoing MsgAppResp against what this node's storage has acknowledged.
    const members = await watchedCluster(
      (id, msgs) => {
        const wal = wals.get(id)!;
        for (const m of msgs)
          if (m.type === MessageType.MsgAppResp && !m.reject && m.index > wal.durableIndex)
            violations.push(`node ${id} acked ${m.index} with ${wal.durableIndex} durable`);
      },
      (id) => wals.get(id)!,
    );
    await Promise.all(Array.from({ length: 50 }, (_, i) => leaderOf(members).node.propose(enc(`x${i}`))));
    expect(violations).toEqual([]);
  });

  it('read() is a linearizable barrier: after it, a follower has applied every earlier acknowledged write', async () => {
    const { members } = await cluster(3);
    const leader = leaderOf(members);
    const follower = members.find((m) => m !== leader)!;
    for (let i = 0; i < 20; i++) {
      await leader.node.propose(enc(`w${i}`));
      const barrier = await follower.node.read();
      expect(follower.sm.applied).toContain(`w${i}`);
      expect(follower.node.status().appliedIndex).toBeGreaterThanOrEqual(barrier.index);
    }
  });

  it('the leader applies while its own write runs, and no member applies an entry before its own write of it', async () => {
    // Thesis §10.2.1 lets the leader write in parallel with replication; etcd's raftNode also applies committed
    // entries while the leader's next write runs. Safety needs every applied entry to be on the applier's own disk.
    class TrackingWal extends FakeWal {
      inFlight = 0;
      override async save(...args: Parameters<FakeWal['save']>): Promise<void> {
        this.inFlight++;
        try {
          await super.save(...args);
        } finally {
          this.inFlight--;
        }
      }
    }
    const net = new MemoryNetwork();
    const ids = [1, 2, 3];
    const members = await Promise.all(
      ids.map((id) => startMember(net, id, ids, { wal: new TrackingWal(3) })),
    );
    await until(
      () => members.some((m) => m.node.status().softState.raftState === StateType.Leader),
      'a leader',
    );
    const violations: string[] = [];
    let overlapped = 0;
    for (const m of members) {
      const wal = m.wal as TrackingWal;
      m.sm.onApply = (index) => {
        if (index > wal.durableIndex)
          violations.push(`node ${m.id} applied ${index} with ${wal.durableIndex} durable`);
        if (m === leaderOf(members) && wal.inFlight > 0) overlapped++;
      };
    }
    const leader = leaderOf(members);
    const lagging = members.find((m) => m !== leader)!;
    // The lagging follower misses the first waves; when it is back, one append carries entries it lacks together
    // with a commit index covering them (so it must save them before applying them).
    net.isolate(lagging.id);
    // Waves of proposals keep a write in flight while earlier ones commit.
    for (let wave = 0; wave < 10; wave++) {
      if (wave === 5) net.heal();
      await Promise.all(Array.from({ length: 30 }, (_, i) => leader.node.propose(enc(`w${wave}-${i}`))));
    }
    await until(() => members.every((m) => m.sm.applied.length === 300), 'all applied');
    expect(violations).toEqual([]);
    expect(overlapped).toBeGreaterThan(0);
  });

  it('reads invoked in one turn of the event loop share one ReadIndex round, and each still sees earlier writes', async () => {
    // Each ReadIndex round has its own context, carried by heartbeats (periodic heartbeats may repeat it).
    const rounds = new Set<string>();
    const members = await watchedCluster((_, msgs) => {
      for (const m of msgs)
        if (m.type === MessageType.MsgHeartbeat && m.context !== undefined && m.context.byteLength > 0)
          rounds.add(Buffer.from(m.context).toString('hex'));
    });
    const leader = leaderOf(members);
    const index = await leader.node.propose(enc('before'));
    rounds.clear();
    const barriers = await Promise.all(Array.from({ length: 64 }, () => leader.node.read()));
    expect(rounds.size).toBe(1); // not 64
    rounds.clear();
    for (const b of barriers) expect(b.index).toBeGreaterThanOrEqual(index);
    // A read invoked after the round was submitted gets a round of its own, which sees a write acknowledged since.
    const later = await leader.node.propose(enc('after'));
    expect((await leader.node.read()).index).toBeGreaterThanOrEqual(later);
    expect(rounds.size).toBe(1);
  });

  it('proposals made in one turn are stepped as one MsgProp: a few appends per follower, not one per proposal', async () => {
    const appends = new Map<number, number>();
    const members = await watchedCluster((_, msgs) => {
      for (const m of msgs)
        if (m.type === MessageType.MsgApp && m.entries.length > 0)
          appends.set(m.from, (appends.get(m.from) ?? 0) + 1);
    });
    const leader = leaderOf(members);
    await leader.node.propose(enc('warm-up'));
    appends.clear();
    const indexes = await Promise.all(
      Array.from({ length: 100 }, (_, i) => leader.node.propose(enc(`b${i}`))),
    );
    // Call order is log order.
    expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
    expect(new Set(indexes).size).toBe(100);
    // One MsgApp per follower for the batch (one per proposal would be 200).
    expect(appends.get(leader.id)).toBe(2);
    await until(() => members.every((m) => m.sm.applied.length === 101), 'all applied');
    for (const m of members)
      expect(m.sm.applied.slice(1)).toEqual(Array.from({ length: 100 }, (_, i) => `b${i}`));
  });

  it('rejects pending requests with ERR_TIMEOUT (outcome unknown) when no quorum answers', async () => {
    const { net, members } = await cluster(3);
    const leader = leaderOf(members);
    for (const m of members) if (m !== leader) net.isolate(m.id);
    await expect(leader.node.propose(enc('stuck'), 200)).rejects.toSatisfy(
      (e: unknown) =>
        isRaftError(e, 'ERR_TIMEOUT') ||
        isRaftError(e, 'ERR_LEADERSHIP_LOST') ||
        isRaftError(e, 'ERR_PROPOSAL_DROPPED'),
    );
  });

  it('a failed save is fatal: the node stops and rejects later requests', async () => {
    const { members } = await cluster(3);
    const leader = leaderOf(members);
    const errors: Error[] = [];
    leader.node.on('error', (e) => errors.push(e));
    leader.wal.failNextSave = true;
    await expect(leader.node.propose(enc('doomed'))).rejects.toSatisfy((e: unknown) =>
      isRaftError(e, 'ERR_STOPPED'),
    );
    expect(errors[0]?.message).toContain('EIO');
    await expect(leader.node.propose(enc('after'))).rejects.toThrow(/failed/);
  });

  it('snapshots then releases: snapshot file, then WAL record, then release; restart restores without re-applying', async () => {
    const { net, members } = await cluster(3, { snapshotCount: 40, catchUp: 10 });
    const leader = leaderOf(members);
    for (let i = 0; i < 100; i++) await leader.node.propose(enc(`s${i}`));
    await until(() => members.every((m) => m.snaps.files.length > 0), 'snapshots everywhere');
    const order = leader.wal.events
      .filter((e) => e.kind !== 'save')
      .map((e) => `${e.kind}@${'index' in e ? e.index : ''}`);
    const first = leader.snaps.files[0]!.metadata.index;
    expect(order.slice(0, 3)).toEqual([`snapFile@${first}`, `saveSnap@${first}`, `release@${first}`]);

    // Restart a follower from what its storage acknowledged: state restored from the snapshot plus the WAL tail.
    const f = members.find((m) => m !== leader)!;
    const appliedBefore = [...f.sm.applied];
    await f.node.stop();
    running = running.filter((m) => m !== f);
    const again = await startMember(net, f.id, [1, 2, 3], { wal: f.wal, snaps: f.snaps });
    await until(() => again.sm.applied.length >= appliedBefore.length, 'restarted follower caught up');
    expect(again.sm.restores).toBe(1);
    expect(again.sm.applied.slice(0, appliedBefore.length)).toEqual(appliedBefore);
  });

  it('a member whose data was wiped, restarted with its old id, stops with a clear error; the rest keeps serving', async () => {
    const { net, members } = await cluster(3);
    const leader = leaderOf(members);
    for (let i = 0; i < 10; i++) await leader.node.propose(enc(`w${i}`));
    const victim = members.find((m) => m !== leader)!;
    await victim.node.stop();
    running = running.filter((m) => m !== victim);
    // Same id, empty storage: it bootstraps as if new, then hears a commit index beyond its log.
    const wiped = await startMember(net, victim.id, [1, 2, 3], { wal: new FakeWal() });
    const errors: Error[] = [];
    wiped.node.on('error', (e) => errors.push(e));
    await until(() => errors.length > 0, 'the wiped member to stop');
    expect(errors[0]).toMatchObject({ code: 'ERR_LOG_CORRUPT' });
    expect(errors[0]!.message).toMatch(/wiped.*new member/);
    await expect(wiped.node.propose(enc('x'))).rejects.toMatchObject({ code: 'ERR_STOPPED' });
    expect(await leader.node.propose(enc('still serving'))).toBeGreaterThan(10);
  });

  it('a custom snapshot policy decides when to snapshot', async () => {
    const net = new MemoryNetwork();
    const calls: number[] = [];
    const wal = new FakeWal();
    const snaps = new FakeSnapshots(wal);
    const node = await RaftNode.start<number>({
      id: 1,
      peers: [{ id: 1 }],
      storage: wal,
      snapshots: snaps,
      stateMachine: new ListMachine(),
      transport: net.transport(1),
      tickMs: 5,
      snapshotPolicy: ({ appliedIndex }) => {
        calls.push(appliedIndex);
        return appliedIndex >= 7;
      },
    });
    running.push({ id: 1, node, wal, snaps, sm: new ListMachine() });
    await until(() => node.status().softState.raftState === StateType.Leader, 'leader');
    for (let i = 0; i < 8; i++) await node.propose(enc(`p${i}`));
    await until(() => snaps.files.length > 0, 'a snapshot');
    expect(calls.length).toBeGreaterThan(0);
    expect(snaps.files[0]!.metadata.index).toBeGreaterThanOrEqual(7);
  });

  it('a member added after compaction catches up by snapshot over the transport', async () => {
    const { net, members } = await cluster(3, { snapshotCount: 30, catchUp: 5 });
    const leader = leaderOf(members);
    for (let i = 0; i < 80; i++) await leader.node.propose(enc(`c${i}`));
    await until(() => leader.snaps.files.length > 0, 'leader snapshot');
    await leader.node.proposeConfChange({ type: 0, nodeId: 4 });
    const newcomer = await startMember(net, 4, [], { join: true });
    await until(() => newcomer.sm.applied.length === leader.sm.applied.length, 'newcomer caught up', 15_000);
    expect(newcomer.sm.restores).toBe(1);
    expect(newcomer.sm.applied).toEqual(leader.sm.applied);
    expect(newcomer.node.membership().voters).toEqual([1, 2, 3, 4]);
  });
});
