// The simulator's property test: Raft's safety properties hold under random faults, and the cluster converges
// once they heal (Raft paper §5.2-§5.4, Figure 3). A failure prints fast-check's seed and path and the simulation
// seed; FC_SEED=<seed> FC_PATH=<path> reruns exactly that case, RAFT_SIM_SEEDS=<n> runs n cases (a soak).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfChangeType } from '../../src/raftpb/types.js';
import { defaultFaultPlan, runScenario, type FaultPlan } from '../../src/testing/faults.js';
import { InvariantViolation, SafetyLedger } from '../../src/testing/invariants.js';
import { Simulation } from '../../src/testing/simulation.js';

const SEEDS = Number(process.env.RAFT_SIM_SEEDS ?? 400);

function run(seed: number, plan: FaultPlan, nodes = 3, spare = 2): Simulation {
  const sim = new Simulation({ seed, nodes, spareNodes: spare });
  try {
    runScenario(sim, plan);
  } catch (err) {
    if (err instanceof InvariantViolation) throw err;
    throw new Error(
      `simulation seed ${seed} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
  }
  return sim;
}

const planArb: fc.Arbitrary<FaultPlan> = fc.record({
  faultTime: fc.integer({ min: 1_000, max: 3_000 }),
  quietTime: fc.constant(3_000),
  faultEvery: fc.integer({ min: 100, max: 600 }),
  partitions: fc.boolean(),
  crashes: fc.boolean(),
  membership: fc.boolean(),
  diskFaults: fc.boolean(),
  dropRate: fc.constantFrom(0, 0.01, 0.05, 0.2),
  duplicateRate: fc.constantFrom(0, 0.05),
  proposalRate: fc.integer({ min: 1, max: 10 }),
});

describe('Simulation (deterministic cluster)', () => {
  it(`keeps Election Safety, Log Matching, Leader Completeness and State Machine Safety over ${SEEDS} seeds of faults, and converges after healing`, () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), planArb, (seed, plan) => {
        const sim = run(seed, plan);
        // Progress happened: proposals were acknowledged.
        return sim.ledger.appliedHash.size > 0;
      }),
      {
        numRuns: SEEDS,
        seed: Number(process.env.FC_SEED ?? 20261122),
        ...(process.env.FC_PATH !== undefined ? { path: process.env.FC_PATH } : {}),
      },
    );
  });

  it('replays a seed exactly (same trace hash twice), and different seeds differ', () => {
    const hashes = [11, 11, 12].map((seed) => run(seed, defaultFaultPlan).traceHash);
    expect(hashes[0]).toBe(hashes[1]);
    expect(hashes[0]).not.toBe(hashes[2]);
  });

  it('elects a leader in each term at most once, and commits client proposals, with no faults', () => {
    const sim = new Simulation({ seed: 5, nodes: 5 });
    sim.runFor(1_000);
    const leader = sim.leader();
    expect(leader).toBeDefined();
    for (let i = 0; i < 30; i++) sim.propose();
    sim.runFor(1_000);
    const acked = [...sim.proposals.values()].filter((p) => p.acked).length;
    expect(acked).toBe(sim.proposals.size);
    sim.checkConverged();
  });

  it('moves a cluster through membership changes: add a learner, promote it, remove a voter', () => {
    const sim = new Simulation({ seed: 9, nodes: 3, spareNodes: 1 });
    sim.runFor(1_000);
    expect(sim.changeMembership(ConfChangeType.AddLearnerNode, 4)).toBe(true);
    sim.runFor(500);
    expect(sim.leader()!.confState.learners).toEqual([4]);
    expect(sim.changeMembership(ConfChangeType.AddNode, 4)).toBe(true);
    sim.runFor(500);
    expect(sim.leader()!.confState.voters).toEqual([1, 2, 3, 4]);
    const victim = [1, 2, 3].find((id) => id !== sim.leader()!.id)!;
    expect(sim.changeMembership(ConfChangeType.RemoveNode, victim)).toBe(true);
    sim.runFor(500);
    expect(sim.leader()!.confState.voters).not.toContain(victim);
    for (let i = 0; i < 10; i++) sim.propose(sim.leader()!.id);
    sim.runFor(1_000);
    sim.checkConverged();
  });

  it('survives torn writes and lost unsynced state; a node with a damaged log refuses to start, the rest stays live', () => {
    const sim = new Simulation({ seed: 21, nodes: 3 });
    sim.runFor(1_000);
    for (let i = 0; i < 20; i++) sim.propose(sim.leader()!.id);
    sim.runFor(500);
    const victim = [1, 2, 3].find((id) => id !== sim.leader()!.id)!;
    sim.tearNextWrite(victim);
    for (let i = 0; i < 20; i++) sim.propose(sim.leader()!.id);
    sim.runFor(1_000);
    sim.restartAll();
    sim.runFor(1_000);
    const damaged = [1, 2, 3].find((id) => id !== sim.leader()!.id)!;
    sim.damage(damaged);
    sim.runFor(500);
    expect(sim.refusedIds()).toEqual([damaged]);
    expect(sim.nodes.get(damaged)!.refused).toMatch(/ERR_WAL_CRC_MISMATCH.*refusing to start/);
    for (let i = 0; i < 20; i++) sim.propose(sim.leader()?.id);
    sim.runFor(2_000);
    const acked = [...sim.proposals.values()].filter((p) => p.acked).length;
    expect(acked).toBeGreaterThan(40);
    sim.checkConverged();
  });

  it('the checks catch violations: two leaders in a term, diverging applied histories', () => {
    const ledger = new SafetyLedger(1, () => ['(trace)']);
    ledger.recordLeader(3, 1);
    expect(() => ledger.recordLeader(3, 2)).toThrow(/Election Safety violated \(seed 1\)/);
    ledger.recordApplied(1, 5, 2, 0xabc);
    expect(() => ledger.recordApplied(2, 5, 3, 0xdef)).toThrow(/State Machine Safety/);
  });
});
