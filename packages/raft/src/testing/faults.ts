import { ConfChangeType } from '../raftpb/types.js';
import type { Simulation } from './simulation.js';

/** Which faults a {@link runScenario} schedule may inject. */
export interface FaultPlan {
  /** Virtual time of the fault phase. */
  faultTime: number;
  /** Quiet time after healing, before checking liveness. */
  quietTime: number;
  /** Mean time between fault actions. */
  faultEvery: number;
  partitions: boolean;
  crashes: boolean;
  membership: boolean;
  /**
   * Disk faults: writes torn by a crash (a prefix of a Ready's entries reaches the disk), unsynced commit-only
   * hard states lost, and at most one node whose log is damaged in the middle (it must refuse to start).
   */
  diskFaults: boolean;
  /** Message drop rate during the fault phase. */
  dropRate: number;
  duplicateRate: number;
  /** Client proposals per 100 time units. */
  proposalRate: number;
}

export const defaultFaultPlan: FaultPlan = {
  faultTime: 3_000,
  quietTime: 3_000,
  faultEvery: 300,
  partitions: true,
  crashes: true,
  membership: true,
  diskFaults: true,
  dropRate: 0.05,
  duplicateRate: 0.02,
  proposalRate: 5,
};

/**
 * Jepsen's schedule on the simulator: faults (partitions, crashes, membership changes, lossy network) with client
 * load, then heal everything and wait, then check that the cluster converged. Safety is checked throughout.
 *
 * @example
 * ```ts
 * const sim = new Simulation({ seed, nodes: 3, spareNodes: 2 });
 * runScenario(sim, { ...defaultFaultPlan, membership: false });
 * ```
 */
export function runScenario(sim: Simulation, plan: FaultPlan): void {
  const rng = sim.rng;
  sim.net = { ...sim.net, dropRate: plan.dropRate, duplicateRate: plan.duplicateRate };
  const end = sim.now + plan.faultTime;
  let nextFault = sim.now + 1 + rng.nextInt(plan.faultEvery * 2);
  while (sim.now < end) {
    const step = Math.min(end, sim.now + 20);
    sim.runUntil(step);
    for (let k = 0; k < plan.proposalRate / 5; k++) if (rng.nextInt(100) < 20) sim.propose();
    if (sim.now >= nextFault) {
      injectFault(sim, plan);
      nextFault = sim.now + 1 + rng.nextInt(plan.faultEvery * 2);
    }
  }
  sim.heal();
  sim.restartAll();
  sim.net = { ...sim.net, dropRate: 0, duplicateRate: 0 };
  sim.runFor(plan.quietTime);
  // A final write after healing must succeed (liveness), then everyone converges.
  for (let i = 0; i < 3; i++) {
    const leader = sim.leader();
    if (leader !== undefined) sim.propose(leader.id);
    sim.runFor(500);
  }
  sim.checkConverged();
}

function injectFault(sim: Simulation, plan: FaultPlan): void {
  const rng = sim.rng;
  const ids = [...sim.nodes.keys()];
  const choice = rng.nextInt(10);
  if (choice < 3 && plan.partitions) {
    sim.heal();
    const shuffled = [...ids];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = rng.nextInt(i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    const cut = 1 + rng.nextInt(Math.max(1, ids.length - 1));
    sim.partition(shuffled.slice(0, cut), shuffled.slice(cut));
  } else if (choice < 4 && plan.partitions) {
    sim.heal();
  } else if (choice < 6 && plan.crashes) {
    const live = sim.liveIds();
    const victim = rng.nextInt(2) === 0 ? sim.leader()?.id : live[rng.nextInt(live.length)];
    if (victim !== undefined) sim.crash(victim, 50 + rng.nextInt(400));
  } else if (choice === 6 && plan.diskFaults) {
    const live = sim.liveIds();
    const leader = sim.leader();
    const voters = leader?.confState.voters ?? [];
    const victim = live[rng.nextInt(live.length)];
    // Damage at most one node, and only while the rest of its configuration keeps a majority.
    if (
      rng.nextInt(3) === 0 &&
      sim.refusedIds().length === 0 &&
      voters.length >= 3 &&
      victim !== undefined &&
      voters.includes(victim)
    ) {
      sim.damage(victim);
    } else if (victim !== undefined) {
      sim.tearNextWrite(victim);
    }
  } else if (choice < 8 && plan.membership) {
    const leader = sim.leader();
    if (leader === undefined) return;
    const cs = leader.confState;
    const members = new Set([...cs.voters, ...cs.learners]);
    const outsiders = ids.filter((id) => !members.has(id));
    const op = rng.nextInt(3);
    if (op === 0 && outsiders.length > 0)
      sim.changeMembership(ConfChangeType.AddLearnerNode, outsiders[rng.nextInt(outsiders.length)]!);
    else if (op === 1 && cs.learners.length > 0)
      sim.changeMembership(ConfChangeType.AddNode, cs.learners[rng.nextInt(cs.learners.length)]!);
    else if (op === 2 && cs.voters.length > 3 + sim.refusedIds().length)
      sim.changeMembership(ConfChangeType.RemoveNode, cs.voters[rng.nextInt(cs.voters.length)]!);
  }
}
