import { isRaftError, type RaftErrorCode } from '../../errors.js';
import type { StateMachine } from '../../node/types.js';
import type { RandomSource } from '../../random.js';
import { UNKNOWN, type Operation } from '../linearizability/model.js';
import { SimCluster, isExpectedFailure, type SimClusterOptions } from './sim-cluster.js';
import { calmNetwork, simAddress, type NetworkFaults } from './sim-network.js';

/** Refusals of a write before anything was proposed: it certainly had no effect. */
const REFUSED_UNPROPOSED: ReadonlySet<RaftErrorCode> = new Set([
  'ERR_NO_LEADER',
  'ERR_PROPOSAL_DROPPED',
  'ERR_APPLY_BACKLOG',
]);

/** What a simulated client does next: a write goes through `proposeForResult`, a read through `read()`. */
export type SimOperation<R, S, I, O> =
  | {
      kind: 'write';
      /** What the history records as the operation's input. */
      input: I;
      /** The bytes proposed (the state machine's `apply` gets them). */
      command: Uint8Array;
      /** The history's output from what `apply` returned. */
      output: (result: R) => O;
    }
  | {
      kind: 'read';
      input: I;
      /** Reads the node's state machine once the linearizable read barrier resolved. */
      query: (stateMachine: S) => O;
    };

/** Which faults {@link simulate} injects during its fault phase, and how often. */
export interface SimFaults {
  /** Mean virtual ms between two fault actions. Default 300. */
  everyMs: number;
  partitions: boolean;
  /** Power losses (with torn unsynced writes) and restarts. */
  crashes: boolean;
  /** fdatasync failures (fatal for the node, which then reboots). */
  fsyncFailures: boolean;
  /** `transferLeadership()`, to a named voter or the most up-to-date one. */
  leaderTransfers: boolean;
  /** `addMember` (as learner), `promote`, `removeMember`, with spare nodes. */
  membership: boolean;
  /** `snapshotNow()` on a random node. */
  snapshots: boolean;
  /** The network during the fault phase (calm afterwards). */
  network: NetworkFaults;
}

export const defaultSimFaults: SimFaults = {
  everyMs: 300,
  partitions: true,
  crashes: true,
  fsyncFailures: true,
  leaderTransfers: true,
  membership: true,
  snapshots: true,
  network: { dropRate: 0.03, duplicateRate: 0.02, minDelayMs: 1, maxDelayMs: 8 },
};

/** Options of {@link simulate}. */
export interface SimulateOptions<R, S extends StateMachine<R>, I, O> extends SimClusterOptions<R, S> {
  /** The next operation of client `clientId`. */
  operation: (rng: RandomSource, clientId: number) => SimOperation<R, S, I, O>;
  /** Concurrent clients. Default 3. */
  clients?: number;
  /** Virtual ms of faults and load. Default 6,000. */
  durationMs?: number;
  /** Virtual ms after healing before checking that the cluster converged. Default 3,000. */
  quietMs?: number;
  faults?: Partial<SimFaults>;
}

/** What {@link simulate} returns: the history to check, and figures of the run. */
export interface SimulationReport<I, O> {
  seed: number;
  /**
   * Every client operation with a known or unknown outcome (those that certainly did nothing, e.g. refused with
   * ERR_NO_LEADER, are left out): give it to `checkLinearizable` with your model. Times are a logical clock.
   */
  history: Operation<I, O>[];
  /** Equal for two runs of the same seed and options: a run replays exactly. */
  traceHash: number;
  events: number;
  acknowledgedWrites: number;
  unknownWrites: number;
  reads: number;
  faults: Record<string, number>;
}

/**
 * Runs real `RaftNode`s carrying your state machine through a seeded fault schedule on simulated ports (virtual
 * clock, lossy network with partitions, disks that lose unsynced writes, tear them and fail fsyncs), with clients
 * writing and reading through the public API; then heals everything and checks the cluster converged. Raft's
 * safety properties are checked throughout (an {@link InvariantViolation} names the seed); the history it returns
 * is for `checkLinearizable`. The same seed and options replay exactly (compare `traceHash`).
 *
 * @example
 * ```ts
 * const report = await simulate({
 *   seed: 42,
 *   stateMachine: () => new Counter(),
 *   operation: (rng) =>
 *     rng.nextInt(2) === 0
 *       ? { kind: 'write', input: { op: 'add' }, command: Uint8Array.of(1), output: (r: number) => r }
 *       : { kind: 'read', input: { op: 'read' }, query: (c: Counter) => c.value },
 * });
 * expect(checkLinearizable(counterModel, report.history).ok).toBe(true);
 * ```
 */
export async function simulate<R, S extends StateMachine<R>, I, O>(
  opts: SimulateOptions<R, S, I, O>,
): Promise<SimulationReport<I, O>> {
  const sim = new SimCluster<R, S>(opts);
  const faults: SimFaults = { ...defaultSimFaults, ...opts.faults };
  const history: Operation<I, O>[] = [];
  const counts: Record<string, number> = {};
  const stats = { acknowledgedWrites: 0, unknownWrites: 0, reads: 0, highestAcked: 0 };
  let stamp = 0;
  let load = true;
  const rng = sim.rng;

  await sim.start();
  await sim.runFor(500);

  const client = async (clientId: number): Promise<void> => {
    while (load) {
      await new Promise<void>((resolve) => sim.clock.setTimeout(resolve, 1 + rng.nextInt(20)));
      if (!load) return;
      const live = sim.liveIds();
      const target = live.length === 0 ? undefined : sim.process(live[rng.nextInt(live.length)]!);
      if (target === undefined) continue;
      const op = opts.operation(rng, clientId);
      const call = stamp++;
      if (op.kind === 'write') {
        try {
          const { index, result } = await target.node.proposeForResult(op.command);
          // Resolved only once applied on this node: its entry at `index` must be the one proposed.
          const seen = target.appliedHere.get(index);
          if (seen === undefined) {
            sim.violate(
              'proposal resolved unapplied',
              `node ${target.node.id} resolved index ${index} before applying it`,
            );
          }
          stats.acknowledgedWrites++;
          stats.highestAcked = Math.max(stats.highestAcked, index);
          history.push({ clientId, input: op.input, call, output: op.output(result), return: stamp++ });
        } catch (err) {
          if (!isExpectedFailure(err)) sim.violate('typed errors', `propose threw ${String(err)}`);
          // Refused before anything was proposed: it certainly had no effect, so the history leaves it out.
          if (isRaftError(err) && REFUSED_UNPROPOSED.has(err.code)) continue;
          stats.unknownWrites++;
          history.push({ clientId, input: op.input, call, output: UNKNOWN, return: Infinity });
        }
      } else {
        try {
          await target.node.read();
          const output = op.query(target.stateMachine);
          stats.reads++;
          history.push({ clientId, input: op.input, call, output, return: stamp++ });
        } catch (err) {
          if (!isExpectedFailure(err)) sim.violate('typed errors', `read threw ${String(err)}`);
        }
      }
    }
  };
  let clientsDone = 0;
  const clients = Array.from({ length: opts.clients ?? 3 }, (_, i) =>
    client(i + 1).finally(() => clientsDone++),
  );

  sim.net.faults = faults.network;
  const end = sim.clock.now() + (opts.durationMs ?? 6_000);
  while (sim.clock.now() < end) {
    await sim.runFor(1 + rng.nextInt(faults.everyMs * 2));
    const did = injectFault(sim, faults, rng);
    if (did !== undefined) counts[did] = (counts[did] ?? 0) + 1;
  }

  // Heal: the network is whole and calm, every server runs; clients stop after their operation in flight.
  load = false;
  sim.net.heal();
  sim.net.faults = calmNetwork;
  sim.restartAll();
  await sim.runFor(opts.quietMs ?? 3_000);
  // Every client's last operation has settled by now (its timeout is requestTimeoutMs).
  await sim.runFor((opts.requestTimeoutMs ?? 2_000) + 500);
  if (clientsDone < clients.length) {
    throw sim.ledger.violation('liveness', `${clients.length - clientsDone} client operations never settled`);
  }

  // Liveness: once everything healed, a write through the leader succeeds (a client retries a few times: a disk
  // whose injected fsync failure no write has met yet fails the first one), and every member gets it.
  let finalIndex = 0;
  const errors: string[] = [];
  for (let attempt = 0; attempt < 5 && finalIndex === 0; attempt++) {
    const leader = sim.leader();
    if (leader === undefined) {
      await sim.runFor(1_000);
      continue;
    }
    const final = leader.node.propose(new Uint8Array(0)).then(
      (i) => (finalIndex = i),
      (err: unknown) => errors.push(String(err)),
    );
    await sim.runFor(opts.requestTimeoutMs ?? 2_000);
    await final;
  }
  if (finalIndex === 0) {
    throw sim.ledger.violation(
      'liveness',
      `no write succeeded after healing: ${errors.join('; ') || 'no leader'}`,
    );
  }
  await sim.runFor(1_000);
  await sim.checkConverged(Math.max(stats.highestAcked, finalIndex));
  await sim.stop();
  return {
    seed: sim.seed,
    history,
    traceHash: sim.clock.traceHash,
    events: sim.clock.events,
    acknowledgedWrites: stats.acknowledgedWrites,
    unknownWrites: stats.unknownWrites,
    reads: stats.reads,
    faults: counts,
  };
}

/** One fault action, chosen by the seeded RNG; returns its name (undefined when none applied). */
function injectFault<R, S extends StateMachine<R>>(
  sim: SimCluster<R, S>,
  f: SimFaults,
  rng: RandomSource,
): string | undefined {
  const live = sim.liveIds();
  const pick = (xs: readonly number[]): number | undefined =>
    xs.length === 0 ? undefined : xs[rng.nextInt(xs.length)];
  const leader = sim.leader();
  const expect = (what: string) => (err: unknown) => {
    if (!isExpectedFailure(err)) sim.violate('typed errors', `${what} threw ${String(err)}`);
  };
  switch (rng.nextInt(9)) {
    case 0: {
      if (!f.partitions) return undefined;
      sim.net.heal();
      const ids = [...sim.servers.keys()];
      for (let i = ids.length - 1; i > 0; i--) {
        const j = rng.nextInt(i + 1);
        [ids[i], ids[j]] = [ids[j]!, ids[i]!];
      }
      const cut = 1 + rng.nextInt(ids.length - 1);
      sim.log(`partition ${ids.slice(0, cut).join(',')} | ${ids.slice(cut).join(',')}`);
      sim.net.partition(ids.slice(0, cut), ids.slice(cut));
      return 'partition';
    }
    case 1:
      if (!f.partitions) return undefined;
      sim.log('heal');
      sim.net.heal();
      return 'heal';
    case 2:
    case 3: {
      if (!f.crashes) return undefined;
      const victim = rng.nextInt(2) === 0 ? leader?.node.id : pick(live);
      if (victim === undefined) return undefined;
      sim.crash(victim, { tear: rng.nextInt(2) === 0, restartAfterMs: 20 + rng.nextInt(600) });
      return 'crash';
    }
    case 4: {
      if (!f.fsyncFailures) return undefined;
      const victim = pick(live);
      if (victim === undefined) return undefined;
      sim.failFsync(victim);
      return 'fsync failure';
    }
    case 5: {
      if (!f.leaderTransfers || leader === undefined) return undefined;
      const voters = leader.node.membership().voters.filter((v) => v !== leader.node.id);
      const to = rng.nextInt(2) === 0 ? undefined : pick(voters);
      sim.log(`transfer leadership from ${leader.node.id} to ${to ?? 'the most up-to-date voter'}`);
      leader.node.transferLeadership(to, 1_000).catch(expect('transferLeadership'));
      return 'leader transfer';
    }
    case 6:
    case 7: {
      if (!f.membership || leader === undefined) return undefined;
      const cs = leader.node.membership();
      const members = new Set([...cs.voters, ...cs.learners]);
      const outsiders = [...sim.servers.keys()].filter((id) => !members.has(id) && !sim.retired.has(id));
      const op = rng.nextInt(3);
      if (op === 0 && outsiders.length > 0) {
        const id = pick(outsiders)!;
        sim.log(`addMember ${id} as learner via ${leader.node.id}`);
        leader.node.addMember({ id, address: simAddress(id), asLearner: true }).catch(expect('addMember'));
        return 'add learner';
      }
      if (op === 1 && cs.learners.length > 0) {
        const id = pick(cs.learners)!;
        sim.log(`promote ${id} via ${leader.node.id}`);
        leader.node.promote(id, { timeoutMs: 1_500 }).catch(expect('promote'));
        return 'promote';
      }
      if (op === 2 && cs.voters.length > 3) {
        const id = pick(cs.voters)!;
        sim.log(`removeMember ${id} via ${leader.node.id}`);
        sim.retired.add(id); // never added back, even if the removal does not commit
        leader.node.removeMember(id).catch(expect('removeMember'));
        return 'remove member';
      }
      return undefined;
    }
    default: {
      if (!f.snapshots) return undefined;
      const id = pick(live);
      const p = id === undefined ? undefined : sim.process(id);
      if (p === undefined) return undefined;
      p.node.snapshotNow().catch(expect('snapshotNow'));
      return 'snapshot';
    }
  }
}
