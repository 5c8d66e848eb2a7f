import { describe, expect, it } from 'vitest';
import { checkLinearizable, kvModel, simulate } from '@x/raft/testing';
import { KvMachine, kvOperations } from './machines.js';
import { faultsFor } from './run-seeds.js';

const base = { nodes: 3, spareNodes: 2, operation: kvOperations(), durationMs: 3_000 } as const;

describe('simulate', () => {
  it('replays a seed exactly: the same trace hash and history twice; another seed differs', async () => {
    const run = (seed: number) =>
      simulate({
        ...base,
        seed,
        operation: kvOperations(),
        stateMachine: () => new KvMachine(),
        faults: faultsFor(seed),
      });
    const a = await run(7);
    const b = await run(7);
    const c = await run(8);
    expect(b.traceHash).toBe(a.traceHash);
    expect(b.events).toBe(a.events);
    expect(JSON.stringify(b.history)).toBe(JSON.stringify(a.history));
    expect(c.traceHash).not.toBe(a.traceHash);
  });

  it('injects every kind of fault over a few seeds, through the public RaftNode API', async () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 6; seed++) {
      const r = await simulate({
        ...base,
        seed,
        operation: kvOperations(),
        stateMachine: () => new KvMachine(),
        durationMs: 6_000,
      });
      for (const [name, n] of Object.entries(r.faults)) if (n > 0) seen.add(name);
      expect(r.acknowledgedWrites).toBeGreaterThan(0);
    }
    expect([...seen].sort()).toEqual(
      [
        'add learner',
        'crash',
        'fsync failure',
        'heal',
        'leader transfer',
        'partition',
        'promote',
        'remove member',
        'snapshot',
      ].sort(),
    );
  });

  it("finds a user's state machine bug: a restore that drops a key gives a history that is not linearizable", async () => {
    // The kind of bug simulate is for: snapshots lose data, which only shows after a restart or a snapshot install.
    class LossyKv extends KvMachine {
      override async restore(data: AsyncIterable<Uint8Array>): Promise<void> {
        await super.restore(data);
        this.map.delete('k0');
      }
    }
    let found: number | undefined;
    for (let seed = 1; seed <= 20 && found === undefined; seed++) {
      const r = await simulate({
        ...base,
        seed,
        operation: kvOperations(1),
        stateMachine: () => new LossyKv(),
      });
      if (!checkLinearizable(kvModel(), r.history).ok) found = seed;
    }
    expect(found).toBeDefined();
  });
});
