import { afterEach, describe, expect, it } from 'vitest';
import { RaftNode } from '../../src/node/raft-node.js';
import { Histogram, LATENCY_BUCKETS_SECONDS, type RaftNodeMetrics } from '../../src/node/metrics.js';
import { MemoryDurableStorage } from '../../src/node/memory-durable-storage.js';
import { MemorySnapshotStore } from '../../src/node/memory-snapshot-store.js';
import { MemoryNetwork } from '../../src/transport/memory-transport.js';
import { StateType } from '../../src/raft/state-type.js';
import { ConfChangeType, type Entry, type HardState, type Message } from '../../src/raftpb/types.js';
import type { Transport } from '../../src/node/types.js';
import type { HealthOptions } from '../../src/node/health.js';
import { ListMachine } from './fakes.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Storage that counts the saves RaftNode waits for (each is one histogram observation). */
class CountingStorage extends MemoryDurableStorage {
  saves = 0;
  override async save(state: HardState | undefined, entries: readonly Entry[]): Promise<void> {
    this.saves++;
    return super.save(state, entries);
  }
}

/** What the transport boundary saw: messages handed over per peer and unreachable reports per peer. */
interface Seen {
  sent: Map<number, number>;
  unreachable: Map<number, number>;
  snapshotFailures: Map<number, number>;
}

interface Member {
  id: number;
  node: RaftNode<number>;
  storage: CountingStorage;
  seen: Seen;
}

let running: Member[] = [];
afterEach(async () => {
  await Promise.all(running.map((m) => m.node.stop().catch(() => undefined)));
  running = [];
});

async function until(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const bump = (m: Map<number, number>, id: number, by = 1) => m.set(id, (m.get(id) ?? 0) + by);

/** The memory transport, with what crosses its boundary counted independently of RaftNode's metrics. */
function watched(net: MemoryNetwork, id: number, seen: Seen): Transport {
  const inner = net.transport(id);
  return {
    start: (h) =>
      inner.start({
        ...h,
        reportUnreachable: (to) => {
          bump(seen.unreachable, to);
          h.reportUnreachable(to);
        },
        reportSnapshot: (to, status) => {
          if (status === 'failure') bump(seen.snapshotFailures, to);
          h.reportSnapshot(to, status);
        },
      }),
    send: (msgs: readonly Message[]) => {
      for (const m of msgs) bump(seen.sent, m.to);
      inner.send(msgs);
    },
    sendSnapshot: (m, d) => {
      bump(seen.sent, m.to);
      inner.sendSnapshot(m, d);
    },
    addPeer: () => undefined,
    removePeer: () => undefined,
    stop: () => inner.stop(),
  };
}

async function startMember(
  net: MemoryNetwork,
  id: number,
  peers: number[],
  opts: { join?: boolean; health?: HealthOptions } = {},
): Promise<Member> {
  const storage = new CountingStorage({ syncDelayMs: 1 });
  const seen: Seen = { sent: new Map(), unreachable: new Map(), snapshotFailures: new Map() };
  const node = await RaftNode.start<number>({
    id,
    peers: peers.map((p) => ({ id: p })),
    mode: opts.join === true ? 'join' : 'auto',
    storage,
    snapshots: new MemorySnapshotStore(),
    stateMachine: new ListMachine(),
    transport: watched(net, id, seen),
    tickMs: 10,
    electionTick: 20,
    snapshotCount: 20,
    snapshotCatchUpEntries: 5,
    requestTimeoutMs: 10_000,
    ...(opts.health === undefined ? {} : { health: opts.health }),
  });
  const m = { id, node, storage, seen };
  running.push(m);
  return m;
}

async function cluster(health?: HealthOptions): Promise<{ net: MemoryNetwork; members: Member[] }> {
  const net = new MemoryNetwork();
  const ids = [1, 2, 3];
  const members = await Promise.all(ids.map((id) => startMember(net, id, ids, health ? { health } : {})));
  await until(() => members.some((m) => m.node.metrics().role === StateType.Leader), 'a leader');
  return { net, members };
}

const leaderOf = (members: Member[]): Member => {
  const l = members.find((m) => m.node.metrics().role === StateType.Leader);
  if (l === undefined) throw new Error('no leader');
  return l;
};

const peerCounts = (m: RaftNodeMetrics, field: 'sent' | 'dropped') =>
  new Map(m.peers.filter((p) => p[field] > 0).map((p) => [p.id, p[field]]));

describe('Histogram', () => {
  it('puts each observation in the first bucket whose bound it does not exceed; snapshots are cumulative', () => {
    const h = new Histogram([0.001, 0.01, 0.1]);
    for (const s of [0.0005, 0.001, 0.005, 0.05, 3]) h.observe(s);
    const snap = h.snapshot();
    expect(snap.counts).toEqual([2, 3, 4]);
    expect(snap.count).toBe(5);
    expect(snap.sum).toBeCloseTo(3.0565, 10);
    expect(snap.buckets).toEqual([0.001, 0.01, 0.1]);
  });

  it('refuses buckets that are not strictly ascending and finite', () => {
    expect(() => new Histogram([0.1, 0.1])).toThrow(/bucket 1/);
    expect(() => new Histogram([0.1, Infinity])).toThrow(/bucket 1/);
  });

  it('the default buckets span 100 µs to over 6 s', () => {
    expect(LATENCY_BUCKETS_SECONDS[0]).toBe(0.0001);
    expect(LATENCY_BUCKETS_SECONDS[LATENCY_BUCKETS_SECONDS.length - 1]).toBeGreaterThan(6);
  });
});

describe('RaftNode.metrics()', () => {
  it('counts elections, leader changes, proposals, commits, applies, saves and per-peer traffic in a 3-node cluster', async () => {
    const { members } = await cluster();
    const leader = leaderOf(members);
    await until(
      () => members.every((m) => m.node.metrics().leader === leader.id),
      'every member knows the leader',
    );
    const before = leader.node.metrics();
    expect(before.electionsWon).toBeGreaterThanOrEqual(1);
    expect(before.elections).toBeGreaterThanOrEqual(before.electionsWon);
    for (const m of members) expect(m.node.metrics().leaderChanges).toBeGreaterThanOrEqual(1);

    for (let i = 0; i < 30; i++) await leader.node.propose(enc(`p${i}`));
    const commit = leader.node.metrics().commitIndex;
    await until(() => members.every((m) => m.node.metrics().appliedIndex >= commit), 'every member applied');

    const lm = leader.node.metrics();
    expect(lm.proposals - before.proposals).toBe(30);
    expect(lm.proposalsRefusedBacklog).toBe(0);
    expect(lm.leader).toBe(leader.id);
    for (const m of members) {
      const x = m.node.metrics();
      // A fresh start with no snapshot restored: every index up to the applied one was applied here, one by one.
      expect(x.entriesApplied).toBe(x.appliedIndex);
      expect(x.appliedIndex).toBeGreaterThanOrEqual(31);
      expect(x.entriesCommitted).toBeGreaterThanOrEqual(x.entriesApplied);
      expect(x.entriesCommitted - x.entriesApplied).toBe(x.applyBacklog);
      expect(x.maxApplyBacklog).toBe(5_000);
      expect(x.snapshots.taken).toBeGreaterThanOrEqual(1); // snapshotCount 20
      expect(x.snapshotIndex).toBeGreaterThanOrEqual(20);
      // Every save the loop waited for is one observation; each Ready handled is one loop observation.
      expect(x.storageSaveSeconds.count).toBe(m.storage.saves);
      expect(x.readyLoopSeconds.count).toBeGreaterThanOrEqual(x.storageSaveSeconds.count);
      expect(x.storageSaveSeconds.sum).toBeGreaterThan(0);
      // Per peer: exactly what the transport was handed, and what it reported unreachable (nothing here).
      expect(peerCounts(x, 'sent')).toEqual(m.seen.sent);
      expect(peerCounts(x, 'dropped')).toEqual(m.seen.unreachable);
    }
    expect([...peerCounts(lm, 'sent').keys()].sort()).toEqual(
      members.filter((m) => m !== leader).map((m) => m.id),
    );
  });

  it('counts messages the transport drops for a cut-off peer, and snapshots sent and installed', async () => {
    const { net, members } = await cluster();
    const leader = leaderOf(members);
    for (let i = 0; i < 40; i++) await leader.node.propose(enc(`a${i}`));
    await until(() => leader.node.metrics().snapshots.taken > 0, 'a leader snapshot');
    // A member added after compaction can only catch up by snapshot.
    await leader.node.proposeConfChange({ type: ConfChangeType.AddLearnerNode, nodeId: 4 });
    const newcomer = await startMember(net, 4, [], { join: true });
    await until(() => newcomer.node.metrics().snapshots.installed === 1, 'the newcomer installed a snapshot');
    const lm = leader.node.metrics();
    expect(lm.snapshots.sent).toBeGreaterThanOrEqual(1);
    expect(lm.peers.find((p) => p.id === 4)?.sent).toBeGreaterThanOrEqual(1);
    const nm = newcomer.node.metrics();
    // Restoring moved the applied index without applying: only entries after the snapshot count as applied.
    await until(() => newcomer.node.metrics().applyBacklog === 0, 'the newcomer drained its queue');
    const drained = newcomer.node.metrics();
    expect(drained.entriesApplied).toBe(drained.appliedIndex - nm.snapshotIndex);

    const follower = members.find((m) => m !== leader)!;
    net.isolate(follower.id);
    for (let i = 0; i < 5; i++) await leader.node.propose(enc(`b${i}`));
    await until(
      () => (leader.node.metrics().peers.find((p) => p.id === follower.id)?.dropped ?? 0) > 0,
      'drops',
    );
    // Per peer, drops are the transport's unreachable reports plus failed snapshot sends (reported by the
    // transport, or refused locally: the first snapshot predates the newcomer).
    const after = leader.node.metrics();
    const get = (m: Map<number, number>, id: number) => m.get(id) ?? 0;
    const dropped = (id: number) => after.peers.find((p) => p.id === id)?.dropped ?? 0;
    expect(dropped(follower.id)).toBe(
      get(leader.seen.unreachable, follower.id) + get(leader.seen.snapshotFailures, follower.id),
    );
    expect(dropped(follower.id)).toBeGreaterThan(0);
    const snapshotDrops = after.peers.reduce((n, p) => n + p.dropped - get(leader.seen.unreachable, p.id), 0);
    expect(snapshotDrops).toBe(after.snapshots.failed);
  });
});

describe('RaftNode.health()', () => {
  it('is ok with a leader, reports no leader once a member is cut off for the threshold, and recovers', async () => {
    const { net, members } = await cluster({ maxLeaderlessTicks: 40 });
    const leader = leaderOf(members);
    await until(() => members.every((m) => m.node.metrics().leader !== 0), 'every member knows the leader');
    for (const m of members) expect(m.node.health()).toEqual({ ok: true, reasons: [] });

    const follower = members.find((m) => m !== leader)!;
    net.isolate(follower.id);
    await until(() => !follower.node.health().ok, 'the cut-off member to turn unhealthy');
    const h = follower.node.health();
    expect(h.reasons).toHaveLength(1);
    expect(h.reasons[0]).toMatch(/^no leader for \d+ ticks \(threshold 40\)$/);
    expect(follower.node.metrics().leaderlessTicks).toBeGreaterThanOrEqual(40);

    net.heal();
    await until(() => follower.node.health().ok, 'the member to recover');
    expect(follower.node.metrics().leaderlessTicks).toBe(0);
  });

  it('reports a stopped node, and refuses bad thresholds with ERR_CONFIG_INVALID naming the field', async () => {
    const { members } = await cluster();
    const m = members[0]!;
    await m.node.stop();
    expect(m.node.health()).toMatchObject({ ok: false, reasons: ['node is stopped'] });
    const net = new MemoryNetwork();
    await expect(startMember(net, 9, [9], { health: { maxApplyBacklogRatio: 0 } })).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      field: 'health.maxApplyBacklogRatio',
    });
  });
});
