// RaftNode's membership API: addMember (address replicated in the change), promote after catch-up, removeMember,
// transferLeadership, and the address book surviving restarts of every node, across compacting snapshots.
import { afterEach, describe, expect, it } from 'vitest';
import { isRaftError, type RaftErrorCode } from '../../src/errors.js';
import { MemoryDurableStorage } from '../../src/node/memory-durable-storage.js';
import { MemorySnapshotStore } from '../../src/node/memory-snapshot-store.js';
import type { RaftNodeEvents } from '../../src/node/options.js';
import { RaftNode } from '../../src/node/raft-node.js';
import type { Transport, TransportHandler, SnapshotPayload } from '../../src/node/types.js';
import { StateType } from '../../src/raft/state-type.js';
import { MessageType, type Message } from '../../src/raftpb/types.js';
import { MemoryNetwork } from '../../src/transport/memory-transport.js';
import { ListMachine } from './fakes.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const code = (c: RaftErrorCode) => (e: unknown) => isRaftError(e, c);

/** A memory transport that remembers the address book RaftNode gave it (MemoryTransport itself ignores it). */
class RecordingTransport implements Transport {
  readonly addresses = new Map<number, string>();
  /** Ids removed and not added again: what TcpTransport refuses in its handshake. */
  readonly refused = new Set<number>();
  /** Holds back matching outbound messages by the returned milliseconds (0: sent at once). */
  delay: (m: Message) => number = () => 0;
  constructor(private readonly inner: Transport) {}
  start(h: TransportHandler): void | Promise<void> {
    return this.inner.start(h);
  }
  send(ms: readonly Message[]): void {
    const now = ms.filter((m) => this.delay(m) === 0);
    this.inner.send(now);
    for (const m of ms) if (!now.includes(m)) setTimeout(() => this.inner.send([m]), this.delay(m));
  }
  sendSnapshot(m: Message, data: () => Promise<SnapshotPayload>): void {
    this.inner.sendSnapshot(m, data);
  }
  addPeer(id: number, address: string): void {
    this.refused.delete(id);
    this.addresses.set(id, address);
  }
  removePeer(id: number): void {
    this.refused.add(id);
    this.addresses.delete(id);
  }
  stop(): Promise<void> {
    return this.inner.stop();
  }
}

interface Member {
  id: number;
  node: RaftNode<number>;
  storage: MemoryDurableStorage;
  snaps: MemorySnapshotStore;
  transport: RecordingTransport;
}

let running: RaftNode<number>[] = [];
afterEach(async () => {
  await Promise.all(running.map((n) => n.stop().catch(() => undefined)));
  running = [];
});

const addr = (id: number) => `host${id}:7000`;

interface StartOpts {
  peers?: { id: number; address?: string }[];
  mode?: 'auto' | 'restart' | 'join';
  storage?: MemoryDurableStorage;
  snaps?: MemorySnapshotStore;
  snapshotCount?: number;
}

async function startMember(net: MemoryNetwork, id: number, o: StartOpts = {}): Promise<Member> {
  const storage = o.storage ?? new MemoryDurableStorage();
  const snaps = o.snaps ?? new MemorySnapshotStore();
  const transport = new RecordingTransport(net.transport(id));
  const node = await RaftNode.start<number>({
    id,
    peers: o.peers ?? [],
    mode: o.mode ?? 'auto',
    storage,
    snapshots: snaps,
    snapshot: await snaps.loadNewestAvailable(storage.snapshotRecords()),
    stateMachine: new ListMachine(),
    transport,
    tickMs: 5,
    electionTick: 10,
    heartbeatTick: 1,
    requestTimeoutMs: 5_000,
    ...(o.snapshotCount !== undefined ? { snapshotCount: o.snapshotCount, snapshotCatchUpEntries: 0 } : {}),
  });
  running.push(node);
  return { id, node, storage, snaps, transport };
}

/** Resolves once `cond` holds, checking it now and on each of the node's events; fails after `ms`. */
function when(node: RaftNode<number>, cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const events: (keyof RaftNodeEvents)[] = ['applied', 'leader', 'role', 'confChange', 'snapshot'];
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (!cond()) return;
      done();
      resolve();
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`timed out waiting for ${what}`));
    }, ms);
    const done = (): void => {
      clearTimeout(timer);
      for (const e of events) node.off(e, check);
    };
    for (const e of events) node.on(e, check);
    check();
  });
}

async function leaderOf(members: Member[]): Promise<Member> {
  const { leader } = await members[0]!.node.waitForLeader();
  const m = members.find((x) => x.id === leader)!;
  await when(m.node, () => m.node.status().softState.raftState === StateType.Leader, 'leader role');
  return m;
}

/** Three voters bootstrapped with addresses; resolves once a leader is elected. */
async function cluster(net: MemoryNetwork, o: StartOpts = {}): Promise<Member[]> {
  const peers = [1, 2, 3].map((id) => ({ id, address: addr(id) }));
  return Promise.all([1, 2, 3].map((id) => startMember(net, id, { ...o, peers })));
}

describe('RaftNode membership', () => {
  it('adds a learner with its address, promotes it once caught up, and removes a member', async () => {
    const net = new MemoryNetwork();
    const members = await cluster(net);
    const leader = await leaderOf(members);
    for (let i = 0; i < 10; i++) await leader.node.propose(enc(`w${i}`));

    const learner = await startMember(net, 4, { mode: 'join' });
    const cs = await leader.node.addMember({
      id: 4,
      address: addr(4),
      asLearner: true,
      metadata: { client: 'http://host4:8000' },
    });
    expect(cs.learners).toEqual([4]);
    expect(cs.voters).not.toContain(4);
    expect(leader.transport.addresses.get(4)).toBe(addr(4));
    expect(leader.node.members()).toContainEqual({
      id: 4,
      role: 'learner',
      address: addr(4),
      metadata: { client: 'http://host4:8000' },
    });

    // The learner learns every address from the log (the bootstrap entries carry the first members').
    const caughtUp = leader.node.status().hardState.commit;
    await when(learner.node, () => learner.node.status().appliedIndex >= caughtUp, 'learner catch-up');
    expect(Object.fromEntries(learner.transport.addresses)).toEqual({ 1: addr(1), 2: addr(2), 3: addr(3) });

    const promoted = await leader.node.promote(4, { maxLagEntries: 0 });
    expect(promoted.voters).toEqual([1, 2, 3, 4]);
    expect(promoted.learners).toEqual([]);
    expect(leader.node.members().find((m) => m.id === 4)).toMatchObject({ role: 'voter', address: addr(4) });
    // Promoting a voter again changes nothing.
    expect((await leader.node.promote(4)).voters).toEqual([1, 2, 3, 4]);

    const follower = members.find((m) => m !== leader)!;
    const removed = await leader.node.removeMember(follower.id);
    expect(removed.voters).toEqual([1, 2, 3, 4].filter((id) => id !== follower.id));
    expect(leader.transport.addresses.has(follower.id)).toBe(false);
    expect(leader.node.members().map((m) => m.id)).not.toContain(follower.id);
    expect(await leader.node.propose(enc('after removal'))).toBeGreaterThan(0);
  });

  it('a read on a member that just joined succeeds (its ReadIndex is stepped again until raft answers it)', async () => {
    // A node added a moment ago knows the leader (heartbeats) before it has applied the configuration that holds
    // the leader, and until then raft drops the leader's answer to its ReadIndex (etcd-raft does too). Without a
    // resend the read only timed out (found writing the README's TCP walkthrough).
    const net = new MemoryNetwork();
    const members = await cluster(net);
    const leader = await leaderOf(members);
    for (let i = 0; i < 5; i++) await leader.node.propose(enc(`w${i}`));
    const joined = await startMember(net, 4, { mode: 'join' });
    // The log (and any snapshot) reaches node 4 late, as over a slow link; heartbeats and read answers do not.
    leader.transport.delay = (m) =>
      m.to === 4 && (m.type === MessageType.MsgApp || m.type === MessageType.MsgSnap) ? 300 : 0;
    await leader.node.addMember({ id: 4, address: addr(4), asLearner: true });
    await joined.node.waitForLeader();
    const committed = leader.node.status().hardState.commit;
    const barrier = await joined.node.read(3_000);
    expect(barrier.index).toBeGreaterThanOrEqual(committed);
    expect(joined.node.status().appliedIndex).toBeGreaterThanOrEqual(committed);
  });

  it('refuses misuse at once with typed errors', async () => {
    const net = new MemoryNetwork();
    const members = await cluster(net);
    const leader = await leaderOf(members);
    const follower = members.find((m) => m !== leader)!;
    await expect(leader.node.addMember({ id: 2, address: addr(2) })).rejects.toSatisfy(
      code('ERR_CONFIG_INVALID'),
    );
    await expect(leader.node.addMember({ id: 5, address: '' })).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      field: 'address',
    });
    await expect(leader.node.addMember({ id: 0, address: addr(0) })).rejects.toMatchObject({ field: 'id' });
    await expect(leader.node.removeMember(9)).rejects.toSatisfy(code('ERR_CONFIG_INVALID'));
    await expect(leader.node.promote(9)).rejects.toSatisfy(code('ERR_CONFIG_INVALID'));
    await expect(leader.node.transferLeadership(9)).rejects.toMatchObject({ field: 'to' });

    await leader.node.addMember({ id: 4, address: addr(4), asLearner: true });
    await when(
      follower.node,
      () => follower.node.status().config.learners.includes(4),
      'learner on follower',
    );
    const err = await follower.node.promote(4).catch((e: unknown) => e);
    expect(err).toSatisfy(code('ERR_NOT_LEADER'));
    expect((err as Error).message).toContain(`node ${leader.id}`);
    await expect(follower.node.transferLeadership()).rejects.toSatisfy(code('ERR_NOT_LEADER'));
    // A learner cannot lead.
    await expect(leader.node.transferLeadership(4)).rejects.toSatisfy(code('ERR_CONFIG_INVALID'));
  });

  it('promote waits for the learner and gives up with ERR_LEARNER_NOT_CAUGHT_UP, proposing nothing', async () => {
    const net = new MemoryNetwork();
    const members = await cluster(net);
    const leader = await leaderOf(members);
    // Learner 4 is added but never started: its match stays 0 while the log grows past the threshold.
    await leader.node.addMember({ id: 4, address: addr(4), asLearner: true });
    for (let i = 0; i < 5; i++) await leader.node.propose(enc(`w${i}`));
    const err = await leader.node.promote(4, { maxLagEntries: 2, timeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toSatisfy(code('ERR_LEARNER_NOT_CAUGHT_UP'));
    expect((err as Error).message).toMatch(/learner 4 is still \d+ entries behind/);
    expect(leader.node.status().config.learners).toEqual([4]);
    // However generous the threshold: a learner that never acknowledged anything is not caught up (it may not be
    // running at all, and as a voter it would count toward quorums it cannot join).
    const never = await leader.node
      .promote(4, { maxLagEntries: 1_000, timeoutMs: 100 })
      .catch((e: unknown) => e);
    expect(never).toSatisfy(code('ERR_LEARNER_NOT_CAUGHT_UP'));
    expect(leader.node.status().config.learners).toEqual([4]);

    // Once it runs and catches up, the same call succeeds.
    const learner = await startMember(net, 4, { mode: 'join' });
    const cs = await leader.node.promote(4, { maxLagEntries: 2 });
    expect(cs.voters).toEqual([1, 2, 3, 4]);
    await when(
      learner.node,
      () => learner.node.membership().voters.includes(4),
      'learner sees itself a voter',
    );
  });

  it('addresses survive a full restart of every node, across snapshots that compacted the conf changes', async () => {
    const net = new MemoryNetwork();
    const members = await cluster(net, { snapshotCount: 5 });
    let leader = await leaderOf(members);
    members.push(await startMember(net, 4, { mode: 'join', snapshotCount: 5 }));
    const added = await leader.node.addMember({ id: 4, address: addr(4), metadata: { zone: 'b' } });
    expect(added.voters).toEqual([1, 2, 3, 4]);
    for (let i = 0; i < 30; i++) await leader.node.propose(enc(`w${i}`));
    const last = leader.node.status().hardState.commit;
    await Promise.all(
      members.map((m) => when(m.node, () => m.node.status().appliedIndex >= last, 'applied')),
    );
    await Promise.all(
      members.map((m) => when(m.node, () => m.node.status().snapshotIndex > 20, `snapshot on ${m.id}`)),
    );
    await Promise.all(members.map((m) => m.node.stop()));

    const reopened = members.map((m) => ({ id: m.id, storage: m.storage.reopen(), snaps: m.snaps }));
    for (const r of reopened) {
      // The entries that added the members (1-3 at bootstrap, 4 later) are gone from the log: only the snapshot
      // can tell the addresses.
      const { entries } = await r.storage.readAll();
      expect(entries[0]!.index).toBeGreaterThan(20);
    }
    // No addresses given on restart.
    const restarted = await Promise.all(
      reopened.map((r) =>
        startMember(net, r.id, { mode: 'restart', storage: r.storage, snaps: r.snaps, snapshotCount: 5 }),
      ),
    );
    for (const m of restarted) {
      const others = Object.fromEntries([1, 2, 3, 4].filter((id) => id !== m.id).map((id) => [id, addr(id)]));
      expect(Object.fromEntries(m.transport.addresses)).toEqual(others);
      expect(m.node.members()).toEqual([
        { id: 1, role: 'voter', address: addr(1) },
        { id: 2, role: 'voter', address: addr(2) },
        { id: 3, role: 'voter', address: addr(3) },
        { id: 4, role: 'voter', address: addr(4), metadata: { zone: 'b' } },
      ]);
    }
    leader = await leaderOf(restarted);
    expect(await leader.node.propose(enc('after restart'))).toBeGreaterThan(last);
  });

  it("a member that catches up by the leader's snapshot learns every address from it", async () => {
    const net = new MemoryNetwork();
    const members = await cluster(net, { snapshotCount: 5 });
    const leader = await leaderOf(members);
    for (let i = 0; i < 20; i++) await leader.node.propose(enc(`w${i}`));
    await when(leader.node, () => leader.node.status().snapshotIndex > 15, 'leader snapshot');
    const joiner = await startMember(net, 4, { mode: 'join', snapshotCount: 5 });
    const installed = new Promise<string>((resolve) =>
      joiner.node.once('snapshot', (_m, origin) => resolve(origin)),
    );
    await leader.node.addMember({ id: 4, address: addr(4), asLearner: true });
    expect(await installed).toBe('leader');
    expect(Object.fromEntries(joiner.transport.addresses)).toEqual({ 1: addr(1), 2: addr(2), 3: addr(3) });
    await when(joiner.node, () => joiner.node.members().length === 4, 'joiner applies its own addition');
    expect(joiner.node.members().map((m) => [m.id, m.address])).toEqual([
      [1, addr(1)],
      [2, addr(2)],
      [3, addr(3)],
      [4, addr(4)],
    ]);
  });

  it("a member that catches up by the leader's snapshot learns the removed ids from it, and refuses them", async () => {
    const net = new MemoryNetwork();
    const members = await cluster(net, { snapshotCount: 5 });
    const leader = await leaderOf(members);
    const gone = members.find((m) => m !== leader)!.id;
    await leader.node.removeMember(gone);
    const removedAt = leader.node.status().hardState.commit;
    for (let i = 0; i < 20; i++) await leader.node.propose(enc(`w${i}`));
    await when(leader.node, () => leader.node.status().snapshotIndex > removedAt + 5, 'leader snapshot');
    const joiner = await startMember(net, 4, { mode: 'join', snapshotCount: 5 });
    const installed = new Promise<string>((resolve) =>
      joiner.node.once('snapshot', (_m, origin) => resolve(origin)),
    );
    await leader.node.addMember({ id: 4, address: addr(4), asLearner: true });
    expect(await installed).toBe('leader');
    expect(joiner.transport.refused).toEqual(new Set([gone]));
    expect(joiner.transport.addresses.has(gone)).toBe(false);
    await when(joiner.node, () => joiner.node.members().length === 3, 'joiner applies its own addition');
    expect(joiner.node.removedMembers()).toEqual([gone]);
  });

  it('transferLeadership hands over to the target, or to the most up-to-date voter, and resolves then', async () => {
    const net = new MemoryNetwork();
    const members = await cluster(net);
    const leader = await leaderOf(members);
    const [a, b] = members.filter((m) => m !== leader).map((m) => m.id) as [number, number];

    const to = await leader.node.transferLeadership(a);
    expect(to.leader).toBe(a);
    expect(leader.node.status().softState.lead).toBe(a);
    const newLeader = members.find((m) => m.id === a)!;
    await when(
      newLeader.node,
      () => newLeader.node.status().softState.raftState === StateType.Leader,
      'a leads',
    );

    // Without a target: `b` is cut off from the leader, so its log falls behind; the old leader is up to date.
    net.cutLink(a, b, true);
    for (let i = 0; i < 5; i++) await newLeader.node.propose(enc(`w${i}`));
    const picked = await newLeader.node.transferLeadership();
    expect(picked.leader).toBe(leader.id);
    net.heal();
  });

  it('transferLeadership rejects with ERR_LEADER_TRANSFER_TIMEOUT when the target cannot take over', async () => {
    const net = new MemoryNetwork();
    const members = await cluster(net);
    const leader = await leaderOf(members);
    const target = members.find((m) => m !== leader)!;
    net.isolate(target.id);
    const err = await leader.node.transferLeadership(target.id, 150).catch((e: unknown) => e);
    expect(err).toSatisfy(code('ERR_LEADER_TRANSFER_TIMEOUT'));
    expect((err as Error).message).toContain(`${target.id} did not become leader`);
    expect(leader.node.status().softState.lead).not.toBe(target.id);
  });

  it('a leader that removes itself steps down (stepDownOnRemoval is on by default)', async () => {
    const net = new MemoryNetwork();
    const members = await cluster(net);
    const leader = await leaderOf(members);
    const cs = await leader.node.removeMember(leader.id);
    expect(cs.voters).not.toContain(leader.id);
    await when(leader.node, () => leader.node.status().softState.raftState !== StateType.Leader, 'step down');
    const rest = members.filter((m) => m !== leader);
    const watcher = rest[0]!.node;
    const inRest = () => rest.some((m) => m.id === watcher.status().softState.lead);
    await when(watcher, inRest, 'a new leader among the remaining members');
    expect(await watcher.propose(enc('after the old leader left'))).toBeGreaterThan(0);
  });

  it.each([
    ['replayed from the log', undefined],
    ['carried by snapshots that compacted the removal', 5],
  ])(
    'a removed id stays removed after every remaining member restarted (%s)',
    async (_how, snapshotCount) => {
      const net = new MemoryNetwork();
      const members = await cluster(net, snapshotCount === undefined ? {} : { snapshotCount });
      let leader = await leaderOf(members);
      const gone = members.find((m) => m !== leader)!;
      await leader.node.removeMember(gone.id);
      const removalIndex = leader.node.status().hardState.commit;
      expect(leader.node.removedMembers()).toEqual([gone.id]);
      for (let i = 0; i < 20; i++) await leader.node.propose(enc(`w${i}`));
      const rest = members.filter((m) => m !== gone);
      const last = leader.node.status().hardState.commit;
      await Promise.all(rest.map((m) => when(m.node, () => m.node.status().appliedIndex >= last, 'applied')));
      if (snapshotCount !== undefined) {
        await Promise.all(
          rest.map((m) => when(m.node, () => m.node.status().snapshotIndex > removalIndex + 5, 'snapshot')),
        );
      }
      await Promise.all(members.map((m) => m.node.stop()));

      // Restarted with every original member's address given, as an operator's unchanged command line does.
      const peers = [1, 2, 3].map((id) => ({ id, address: addr(id) }));
      const restarted = await Promise.all(
        rest.map((m) =>
          startMember(net, m.id, {
            peers,
            mode: 'restart',
            storage: m.storage.reopen(),
            snaps: m.snaps,
            ...(snapshotCount === undefined ? {} : { snapshotCount }),
          }),
        ),
      );
      for (const m of restarted) {
        if (snapshotCount !== undefined) {
          // The entry that removed it is compacted away: only the snapshot can tell.
          expect((await m.storage.readAll()).entries[0]!.index).toBeGreaterThan(removalIndex);
        }
        // Refused from the start (before the log replays), and the address given in `peers` taken away.
        expect(m.transport.refused).toEqual(new Set([gone.id]));
        expect(m.transport.addresses.has(gone.id)).toBe(false);
        await when(m.node, () => m.node.status().appliedIndex >= last, 'replayed');
        expect(m.node.removedMembers()).toEqual([gone.id]);
        expect(m.node.members().map((x) => x.id)).toEqual(rest.map((x) => x.id));
      }
      leader = await leaderOf(restarted);
      await expect(leader.node.addMember({ id: gone.id, address: addr(gone.id) })).rejects.toSatisfy(
        code('ERR_CONFIG_INVALID'),
      );
      expect(await leader.node.propose(enc('after restart'))).toBeGreaterThan(last);
    },
  );
});
