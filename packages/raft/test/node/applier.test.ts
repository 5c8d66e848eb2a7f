// Apply off the Ready loop: a slow state machine delays no heartbeat; the apply queue is bounded by refusing
// proposals; a crash with a full queue loses nothing acknowledged.
import { afterEach, describe, expect, it } from 'vitest';
import { isRaftError } from '../../src/errors.js';
import { readSnapshotBytes } from '../../src/codec/chunk-reader.js';
import { MemoryDurableStorage } from '../../src/node/memory-durable-storage.js';
import { MemorySnapshotStore } from '../../src/node/memory-snapshot-store.js';
import type { RaftNodeOptions } from '../../src/node/options.js';
import { RaftNode } from '../../src/node/raft-node.js';
import type { StateMachine } from '../../src/node/types.js';
import { StateType } from '../../src/raft/state-type.js';
import { MemoryNetwork } from '../../src/transport/memory-transport.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const ids = [1, 2, 3];

/** Applies after `delayMs`, or only while its gate is open; records what it applied. */
class SlowMachine implements StateMachine<number> {
  applied: string[] = [];
  private gate: Promise<void> = Promise.resolve();
  private open: () => void = () => undefined;
  constructor(private readonly delayMs = 0) {}

  close(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }
  release(): void {
    this.open();
  }

  async apply(data: Uint8Array): Promise<number> {
    await this.gate;
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    return this.applied.push(new TextDecoder().decode(data));
  }
  snapshot(): Uint8Array {
    return enc(JSON.stringify(this.applied));
  }
  async restore(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    this.applied = JSON.parse(new TextDecoder().decode(await readSnapshotBytes(chunks))) as string[];
  }
}

let running: RaftNode<number>[] = [];
afterEach(async () => {
  await Promise.all(running.map((n) => n.stop().catch(() => undefined)));
  running = [];
});

async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function startMember(
  net: MemoryNetwork,
  id: number,
  sm: StateMachine<number>,
  storage: MemoryDurableStorage,
  extra: Partial<RaftNodeOptions<number>> = {},
): Promise<RaftNode<number>> {
  const node = await RaftNode.start<number>({
    id,
    peers: ids.map((p) => ({ id: p })),
    storage,
    stateMachine: sm,
    transport: net.transport(id),
    tickMs: 10,
    electionTick: 10,
    heartbeatTick: 1,
    requestTimeoutMs: 30_000,
    ...extra,
  });
  running.push(node);
  return node;
}

describe('apply off the Ready loop', () => {
  it('an apply that takes twice the election timeout causes no election and loses no proposal', async () => {
    const net = new MemoryNetwork();
    const electionMs = 10 * 10;
    const machines = ids.map(() => new SlowMachine(2 * electionMs));
    const nodes = await Promise.all(
      ids.map((id) => startMember(net, id, machines[id - 1]!, new MemoryDurableStorage())),
    );
    const { leader, term } = await nodes[0]!.waitForLeader();
    await Promise.all(nodes.map((n) => n.waitForLeader()));
    const changes: string[] = [];
    for (const n of nodes) {
      n.on('leader', (l, t) => changes.push(`node ${n.id}: leader ${l} term ${t}`));
      n.on('role', (r, t) => changes.push(`node ${n.id}: role ${r} term ${t}`));
    }
    const leaderNode = nodes[leader - 1]!;
    const follower = nodes.find((n) => n.id !== leader)!;
    const indexes = await Promise.all([
      leaderNode.propose(enc('a')),
      leaderNode.propose(enc('b')),
      follower.propose(enc('c')),
      leaderNode.propose(enc('d')),
    ]);
    expect(new Set(indexes).size).toBe(4);
    await until(() => machines.every((m) => m.applied.length === 4), 'every node applied all four');
    expect(changes).toEqual([]);
    for (const n of nodes) expect(n.status().hardState.term).toBe(term);
    expect(leaderNode.status().softState.raftState).toBe(StateType.Leader);
    const inOrder = machines[leader - 1]!.applied;
    for (const m of machines) expect(m.applied).toEqual(inOrder);
  });

  it('while maxApplyBacklog entries wait to be applied, proposals are refused with ERR_APPLY_BACKLOG (nothing proposed)', async () => {
    const net = new MemoryNetwork();
    const machines = ids.map(() => new SlowMachine());
    const nodes = await Promise.all(
      ids.map((id) =>
        startMember(net, id, machines[id - 1]!, new MemoryDurableStorage(), { maxApplyBacklog: 4 }),
      ),
    );
    const { leader } = await nodes[0]!.waitForLeader();
    const leaderNode = nodes[leader - 1]!;
    const gated = machines[leader - 1]!;
    gated.close();
    // One apply runs (blocked at the gate); three more wait in the queue: four, the bound.
    const accepted = Array.from({ length: 4 }, (_, i) => leaderNode.propose(enc(`q${i}`)));
    await until(() => leaderNode.status().applyBacklog >= 4, 'a full apply queue');
    await expect(leaderNode.propose(enc('refused'))).rejects.toSatisfy((e: unknown) =>
      isRaftError(e, 'ERR_APPLY_BACKLOG'),
    );
    const commit = leaderNode.status().hardState.commit;
    gated.release();
    expect((await Promise.all(accepted)).length).toBe(4);
    await until(() => machines.every((m) => m.applied.length === 4), 'all applied');
    // The refused proposal never entered the log.
    expect(machines.flatMap((m) => m.applied)).not.toContain('refused');
    expect(leaderNode.status().hardState.commit).toBe(commit);
    await expect(leaderNode.propose(enc('after'))).resolves.toBeGreaterThan(commit);
  });

  it('a power loss while the apply queue is full loses nothing acknowledged', async () => {
    const net = new MemoryNetwork();
    const machines = ids.map(() => new SlowMachine());
    const disks = ids.map(() => new MemoryDurableStorage({ syncDelayMs: 1 }));
    const nodes = await Promise.all(
      ids.map((id) => startMember(net, id, machines[id - 1]!, disks[id - 1]!, { maxApplyBacklog: 8 })),
    );
    const { leader } = await nodes[0]!.waitForLeader();
    const leaderNode = nodes[leader - 1]!;
    const victim = ids.find((id) => id !== leader)!;
    machines[victim - 1]!.close(); // the victim's state machine stalls; its queue fills with committed entries
    const acknowledged: string[] = [];
    for (let i = 0; i < 30; i++) {
      const value = `v${i}`;
      await leaderNode.propose(enc(value)); // acknowledged once applied on the leader
      acknowledged.push(value);
    }
    const stalled = nodes[victim - 1]!;
    await until(() => stalled.status().applyBacklog >= 8, "the victim's full queue");
    const knownCommitted = stalled.status().hardState.commit;
    const disk = disks[victim - 1]!.crash();
    // stop() waits for the apply running now; the dead machine's state machine may finish it (it is discarded).
    const stopping = stalled.stop();
    machines[victim - 1]!.release();
    await stopping;
    // Every entry the victim had queued for apply was on its disk before it was queued.
    const kept = (await disk.readAll()).entries;
    expect(kept.at(-1)?.index ?? 0).toBeGreaterThanOrEqual(knownCommitted);

    const fresh = new SlowMachine();
    await startMember(net, victim, fresh, disk, { mode: 'restart', maxApplyBacklog: 8 });
    await until(() => fresh.applied.length >= acknowledged.length, 'the restarted victim caught up');
    expect(fresh.applied).toEqual(acknowledged);
  });

  it('stop() while a snapshot waits for its turn between applies emits no error and closes the storage', async () => {
    // Each apply waits for the test to let it finish.
    const turns: (() => void)[] = [];
    const machine = new SlowMachine();
    machine.apply = async (data: Uint8Array): Promise<number> => {
      await new Promise<void>((resolve) => turns.push(resolve));
      return machine.applied.push(new TextDecoder().decode(data));
    };
    const storage = new MemoryDurableStorage();
    const errors: Error[] = [];
    const node = await RaftNode.start<number>({
      id: 1,
      peers: [{ id: 1 }],
      storage,
      snapshots: new MemorySnapshotStore(),
      stateMachine: machine,
      transport: new MemoryNetwork().transport(1),
      tickMs: 5,
      snapshotCount: 1,
    });
    node.on('error', (e) => errors.push(e));
    await node.waitForLeader();
    const a = node.propose(enc('a'));
    await until(() => turns.length === 1, "a's apply");
    const b = node.propose(enc('b')).catch((e: unknown) => e);
    await until(() => node.status().applyBacklog === 2, 'b queued behind a');
    turns.shift()!(); // a is applied: a snapshot is due, and waits behind b
    await a;
    await until(() => turns.length === 1, "b's apply");
    const stopping = node.stop();
    turns.shift()!(); // b's apply may finish; the snapshot never runs
    await stopping;
    expect(await b).toSatisfy((e: unknown) => isRaftError(e, 'ERR_STOPPED'));
    expect(errors).toEqual([]);
    await expect(storage.readAll()).rejects.toThrow(/closed/);
  });
});
