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

/**
 * Calls recorded in order; each apply settles after a delay that shrinks with the call number (later calls settle
 * first), so taking results in log order is what the node must do itself. Counts applies running at once and
 * checks that snapshot() never runs beside one.
 */
class OverlappingMachine implements StateMachine<string> {
  calls: number[] = [];
  running = 0;
  maxRunning = 0;
  snapshotsBesideApply = 0;
  snapshots = 0;
  failAt: number | undefined;

  apply(data: Uint8Array, index: number): Promise<string> {
    this.calls.push(index);
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    const delay = 1 + ((100 - this.calls.length) % 7);
    return new Promise((resolve, reject) =>
      setTimeout(() => {
        this.running--;
        if (index === this.failAt) reject(new Error(`disk full at ${index}`));
        else resolve(`${index}:${new TextDecoder().decode(data)}`);
      }, delay),
    );
  }
  snapshot(): Uint8Array {
    this.snapshots++;
    if (this.running > 0) this.snapshotsBesideApply++;
    return new Uint8Array(0);
  }
  restore(): void {}
}

/** A one-node cluster running `sm`, its leader known. */
async function single(sm: StateMachine<string>, extra: Partial<RaftNodeOptions<string>> = {}) {
  const node = await RaftNode.start<string>({
    id: 1,
    peers: [{ id: 1 }],
    storage: new MemoryDurableStorage(),
    stateMachine: sm,
    transport: new MemoryNetwork().transport(1),
    tickMs: 10,
    electionTick: 10,
    heartbeatTick: 1,
    ...extra,
  });
  running.push(node as unknown as RaftNode<number>);
  await node.waitForLeader();
  return node;
}

describe('applyConcurrency', () => {
  it('calls apply in log order with up to n running, and takes the results in log order', async () => {
    const sm = new OverlappingMachine();
    const node = await single(sm, {
      applyConcurrency: 8,
      snapshots: new MemorySnapshotStore(),
      snapshotCount: 10,
    });
    const appliedEvents: number[] = [];
    node.on('applied', (i) => appliedEvents.push(i));
    const outs = await Promise.all(Array.from({ length: 60 }, (_, i) => node.proposeForResult(enc(`w${i}`))));
    // Each proposal got its own entry's result, even though later applies settled first.
    for (const [i, out] of outs.entries()) expect(out.result).toBe(`${out.index}:w${i}`);
    expect(sm.calls).toEqual([...sm.calls].sort((a, b) => a - b));
    expect(sm.maxRunning).toBeGreaterThan(1); // they did overlap
    expect(sm.maxRunning).toBeLessThanOrEqual(8);
    expect(appliedEvents).toEqual([...appliedEvents].sort((a, b) => a - b));
    // Snapshots were taken (every 10 entries) and never while an apply was running.
    await until(() => sm.snapshots > 0, 'a snapshot');
    expect(sm.snapshotsBesideApply).toBe(0);
  });

  it('one at a time by default', async () => {
    const sm = new OverlappingMachine();
    const node = await single(sm);
    await Promise.all(Array.from({ length: 20 }, (_, i) => node.propose(enc(`w${i}`))));
    expect(sm.maxRunning).toBe(1);
  });

  it('a rejected apply stops the node; no later entry is reported applied', async () => {
    const sm = new OverlappingMachine();
    const node = await single(sm, { applyConcurrency: 4 });
    const errors: Error[] = [];
    node.on('error', (e) => errors.push(e));
    const first = await node.propose(enc('ok'));
    sm.failAt = first + 3;
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => node.propose(enc(`w${i}`), 5_000)),
    );
    const resolved = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    // Only entries before the failed one resolved; the rest were refused as the node stopped.
    expect(resolved.every((i) => i < first + 3)).toBe(true);
    expect(resolved.length).toBe(2);
    expect(errors.map((e) => e.message).join()).toMatch(/disk full at/);
    expect(node.status().appliedIndex).toBeLessThan(first + 3);
  });

  it('refuses a value that is not a positive integer', async () => {
    await expect(single(new OverlappingMachine(), { applyConcurrency: 0 })).rejects.toSatisfy(
      (e: unknown) => isRaftError(e, 'ERR_CONFIG_INVALID') && /applyConcurrency/.test(String(e)),
    );
  });
});

/** Acknowledges its writes in groups: every apply of one turn returns the same promise (a group commit). */
class GroupCommitMachine implements StateMachine<string> {
  calls: number[] = [];
  groups = 0;
  failGroup: number | undefined;
  private current: Promise<string> | undefined;

  apply(_data: Uint8Array, index: number): Promise<string> {
    this.calls.push(index);
    if (this.current === undefined) {
      const group = ++this.groups;
      this.current = new Promise((resolve, reject) =>
        setTimeout(
          () =>
            group === this.failGroup ? reject(new Error(`group ${group} failed`)) : resolve(`group ${group}`),
          2,
        ),
      );
      setImmediate(() => (this.current = undefined));
    }
    return this.current;
  }
  snapshot(): Uint8Array {
    return new Uint8Array(0);
  }
  restore(): void {}
}

describe('applyConcurrency with a state machine that acknowledges groups of applies with one promise', () => {
  const group = (sm: StateMachine<string>) => single(sm, { applyConcurrency: 64 });

  it('resolves every proposal of a group with the group result, in log order', async () => {
    const sm = new GroupCommitMachine();
    const node = await group(sm);
    const first = await Promise.all(
      Array.from({ length: 30 }, (_, i) => node.proposeForResult(enc(`a${i}`))),
    );
    const second = await Promise.all(
      Array.from({ length: 30 }, (_, i) => node.proposeForResult(enc(`b${i}`))),
    );
    const all = [...first, ...second];
    expect(all.map((o) => o.index)).toEqual([...all.map((o) => o.index)].sort((a, b) => a - b));
    for (const o of all) expect(o.result).toMatch(/^group \d+$/);
    expect(new Set(all.map((o) => o.result)).size).toBeGreaterThan(1); // more than one group
    expect(sm.groups).toBeLessThan(all.length); // and groups, not a promise per apply
  });

  it('a group that fails stops the node; the groups before it resolved', async () => {
    const sm = new GroupCommitMachine();
    const node = await group(sm);
    const errors: Error[] = [];
    node.on('error', (e) => errors.push(e));
    const before = await node.proposeForResult(enc('ok'));
    sm.failGroup = sm.groups + 1;
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => node.propose(enc(`w${i}`), 5_000)),
    );
    expect(before.result).toMatch(/^group \d+$/);
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(errors.map((e) => e.message).join()).toMatch(/group \d+ failed/);
    expect(node.status().appliedIndex).toBe(before.index);
  });
});
