// Requests with no leader known fail fast (ERR_NO_LEADER), waitForLeader, and the terms events carry.
import { afterEach, describe, expect, it } from 'vitest';
import { isRaftError, type RaftErrorCode } from '../../src/errors.js';
import { MemoryDurableStorage } from '../../src/node/memory-durable-storage.js';
import type { RaftNodeOptions } from '../../src/node/options.js';
import { RaftNode } from '../../src/node/raft-node.js';
import { StateType } from '../../src/raft/state-type.js';
import { MemoryNetwork } from '../../src/transport/memory-transport.js';
import { ListMachine } from './fakes.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const code = (c: RaftErrorCode) => (e: unknown) => isRaftError(e, c);
const ids = [1, 2, 3];

let running: RaftNode<number>[] = [];
afterEach(async () => {
  await Promise.all(running.map((n) => n.stop().catch(() => undefined)));
  running = [];
});

async function startMember(
  net: MemoryNetwork,
  id: number,
  storage: MemoryDurableStorage,
  extra: Partial<RaftNodeOptions<number>> = {},
): Promise<RaftNode<number>> {
  const node = await RaftNode.start<number>({
    id,
    peers: ids.map((p) => ({ id: p })),
    storage,
    stateMachine: new ListMachine(),
    transport: net.transport(id),
    tickMs: 5,
    electionTick: 10,
    heartbeatTick: 1,
    // Long enough that a request which waited for its timeout would fail with ERR_TIMEOUT, not ERR_NO_LEADER.
    requestTimeoutMs: 30_000,
    ...extra,
  });
  running.push(node);
  return node;
}

describe('no leader known', () => {
  it('propose, proposeConfChange and read reject at once with ERR_NO_LEADER, not after their timeout', async () => {
    const node = await startMember(new MemoryNetwork(), 1, new MemoryDurableStorage()); // 2 and 3 never start
    await expect(node.propose(enc('lost'))).rejects.toSatisfy(code('ERR_NO_LEADER'));
    await expect(node.read()).rejects.toSatisfy(code('ERR_NO_LEADER'));
    await expect(node.proposeConfChange({ type: 0, nodeId: 4 })).rejects.toSatisfy(code('ERR_NO_LEADER'));
    // Also later, after it campaigned in vain for a while (a pre-candidate / candidate, still no leader).
    await new Promise((r) => setTimeout(r, 200));
    await expect(node.read()).rejects.toSatisfy(code('ERR_NO_LEADER'));
    await expect(node.propose(enc('lost'))).rejects.toSatisfy(code('ERR_NO_LEADER'));
  });

  it('with waitForLeaderMs, requests wait for a leader and then go through', async () => {
    const net = new MemoryNetwork();
    const storages = ids.map(() => new MemoryDurableStorage());
    const first = await startMember(net, 1, storages[0]!, { waitForLeaderMs: 30_000 });
    const proposed = first.propose(enc('early'));
    const read = first.read();
    // Only now can a leader be elected.
    await Promise.all([startMember(net, 2, storages[1]!), startMember(net, 3, storages[2]!)]);
    expect(await proposed).toBeGreaterThan(0);
    expect((await read).index).toBeGreaterThan(0);
  });

  it('with waitForLeaderMs, a request that sees no leader in time rejects with ERR_NO_LEADER', async () => {
    const node = await startMember(new MemoryNetwork(), 1, new MemoryDurableStorage(), {
      waitForLeaderMs: 30,
    });
    await expect(node.propose(enc('lost'))).rejects.toSatisfy(code('ERR_NO_LEADER'));
    await expect(node.read()).rejects.toSatisfy(code('ERR_NO_LEADER'));
  });

  it('waitForLeader resolves with the leader and its term; rejects with ERR_NO_LEADER or, on stop, ERR_STOPPED', async () => {
    const net = new MemoryNetwork();
    const alone = await startMember(net, 1, new MemoryDurableStorage());
    await expect(alone.waitForLeader(30)).rejects.toSatisfy(code('ERR_NO_LEADER'));
    const waiting = expect(alone.waitForLeader(30_000)).rejects.toSatisfy(code('ERR_STOPPED'));
    await alone.stop();
    await waiting;
    await expect(alone.waitForLeader()).rejects.toSatisfy(code('ERR_STOPPED'));

    const net2 = new MemoryNetwork();
    const nodes = await Promise.all(ids.map((id) => startMember(net2, id, new MemoryDurableStorage())));
    const info = await nodes[0]!.waitForLeader();
    const leader = nodes[info.leader - 1]!;
    expect(leader.status().softState.raftState).toBe(StateType.Leader);
    expect(info.term).toBe(leader.status().hardState.term);
    expect(await nodes[1]!.waitForLeader()).toEqual(await nodes[2]!.waitForLeader());
  });
});

describe('terms in events', () => {
  it("after a restart of the whole cluster, 'leader' and 'role' events carry the current term, never 0", async () => {
    let net = new MemoryNetwork();
    const disks = ids.map(() => new MemoryDurableStorage());
    let nodes = await Promise.all(ids.map((id) => startMember(net, id, disks[id - 1]!)));
    const { leader } = await nodes[0]!.waitForLeader();
    await nodes[leader - 1]!.propose(enc('x'));
    const termBefore = Math.max(...nodes.map((n) => n.status().hardState.term));
    await Promise.all(nodes.map((n) => n.stop()));
    running = [];

    net = new MemoryNetwork();
    const events: { id: number; kind: string; who: number; term: number }[] = [];
    nodes = [];
    for (const id of ids) {
      const node = await startMember(net, id, disks[id - 1]!.reopen());
      node.on('leader', (who, term) => events.push({ id, kind: 'leader', who, term }));
      node.on('role', (role, term) => events.push({ id, kind: 'role', who: Number(role), term }));
      nodes.push(node);
    }
    const info = await nodes[0]!.waitForLeader();
    await Promise.all(nodes.map((n) => n.waitForLeader()));
    await nodes[info.leader - 1]!.propose(enc('y')); // every node has handled the leader's term by now
    await Promise.all(nodes.map((n) => n.read()));
    expect(events.length).toBeGreaterThan(0);
    for (const e of events) expect(e.term, JSON.stringify(e)).toBeGreaterThanOrEqual(termBefore);
    for (const n of nodes) {
      const last = events.filter((e) => e.id === n.id && e.kind === 'leader').at(-1);
      expect(last).toEqual({ id: n.id, kind: 'leader', who: info.leader, term: n.status().hardState.term });
    }
  });
});
