// The shipping Ready loop under the simulator (`simulate`): real RaftNodes on simulated ports, a seeded fault
// schedule, Raft's safety properties checked throughout (§5.2 Election Safety, §5.4.3 State Machine Safety),
// liveness after healing, and every client history checked for linearizability (§6.4: reads by ReadIndex).
// A failure names its seed; SIM_SEED=<seed> reruns exactly that one (e.g. `SIM_SEED=17 pnpm exec vitest run
// packages/raft/test/testing/sim`); SIM_SEEDS=<n> runs n seeds per file (a soak).
import { expect } from 'vitest';
import { checkLinearizable, kvModel, simulate, type SimFaults } from '@x/raft/testing';
import { CounterMachine, KvMachine, counterModel, counterOperations, kvOperations } from './machines.js';

/** Fault mixes vary by seed, so a few hundred seeds cover calm and hostile networks, rare and frequent faults. */
export function faultsFor(seed: number): Partial<SimFaults> {
  const drop = [0, 0.01, 0.05, 0.2][seed % 4]!;
  return {
    everyMs: [150, 300, 600][seed % 3]!,
    network: {
      dropRate: drop,
      duplicateRate: seed % 5 === 0 ? 0.05 : 0.01,
      minDelayMs: 1,
      maxDelayMs: 4 + (seed % 8),
    },
  };
}

/** Runs one seed; throws with the seed and a way to rerun it. */
export async function runSeed(seed: number): Promise<void> {
  try {
    // Every third seed runs I/O-like state machines whose applies overlap (applyConcurrency 4) and settle out of
    // order; the rest apply one at a time.
    const overlap = seed % 3 === 0;
    const shape = {
      seed,
      nodes: 3,
      spareNodes: 2,
      durationMs: 5_000,
      faults: faultsFor(seed),
      applyConcurrency: overlap ? 4 : 1,
    };
    // Odd seeds run a key-value map, even seeds a counter (not idempotent: an entry applied twice shows).
    let report: { history: unknown[]; acknowledgedWrites: number; reads: number };
    let result: { ok: boolean; explanation?: { text: string } };
    if (seed % 2 === 1) {
      const r = await simulate({
        ...shape,
        stateMachine: () => new KvMachine({ overlap }),
        operation: kvOperations(),
      });
      [report, result] = [r, checkLinearizable(kvModel(), r.history)];
    } else {
      const r = await simulate({
        ...shape,
        stateMachine: () => new CounterMachine({ overlap }),
        operation: counterOperations(),
      });
      [report, result] = [r, checkLinearizable(counterModel, r.history)];
    }
    if (!result.ok) throw new Error(`not linearizable:\n${result.explanation?.text ?? ''}`);
    // Every run does work: clients got answers, and writes were acknowledged (not everything refused).
    expect(report.acknowledgedWrites).toBeGreaterThan(0);
    expect(report.reads).toBeGreaterThan(0);
  } catch (err) {
    const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
    throw new Error(`simulation seed ${seed} failed (rerun: SIM_SEED=${seed}): ${detail}`);
  }
}

/** The seeds a file runs: `count` from `first`, or only SIM_SEED when it is set. */
export function seeds(first: number, count: number): number[] {
  const only = process.env.SIM_SEED;
  if (only !== undefined) return [Number(only)];
  const n = Number(process.env.SIM_SEEDS ?? count);
  return Array.from({ length: n }, (_, i) => first + i);
}
