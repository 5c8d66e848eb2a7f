import type { Simulation } from './simulation.js';

// The end-of-run checks of a Simulation: Log Matching across stored logs, and convergence after faults heal.

/**
 * Log Matching (§5.3) across live nodes: where two logs have an entry with the same index and term, the logs are
 * identical up to there. Checked on the stored logs of every pair.
 */
export function checkLogMatching(sim: Simulation): void {
  const live = [...sim.nodes.values()].filter((n) => n.raw !== undefined);
  for (let i = 0; i < live.length; i++) {
    for (let j = i + 1; j < live.length; j++) {
      const a = live[i]!.disk;
      const b = live[j]!.disk;
      const lo = Math.max(a.firstIndex(), b.firstIndex());
      const hi = Math.min(a.lastIndex(), b.lastIndex());
      let matchedAbove = false;
      for (let k = hi; k >= lo; k--) {
        const same = a.term(k) === b.term(k);
        if (matchedAbove && !same) {
          throw sim.ledger.violation(
            'Log Matching',
            `nodes ${live[i]!.id} and ${live[j]!.id} agree above index ${k} but differ at it`,
          );
        }
        if (same) matchedAbove = true;
      }
    }
  }
}

/**
 * Liveness after faults heal: there is a leader, and every acknowledged proposal is applied on every live member
 * of the leader's configuration (their state hashes agree with the ledger at their applied index).
 */
export function checkConverged(sim: Simulation): void {
  const leader = sim.leader();
  if (leader === undefined) throw sim.ledger.violation('liveness', 'no leader after the faults healed');
  const cs = leader.confState;
  const members = [...cs.voters, ...cs.learners];
  let target = leader.appliedIndex;
  for (const p of sim.proposals.values()) if (p.acked) target = Math.max(target, p.index);
  for (const id of members) {
    const n = sim.nodes.get(id);
    if (n?.raw === undefined) continue; // refused to start (damaged), or down
    if (n.appliedIndex < target) {
      throw sim.ledger.violation(
        'liveness',
        `member ${id} applied ${n.appliedIndex} < leader's ${target} after healing`,
      );
    }
    if (sim.ledger.appliedHash.get(n.appliedIndex) !== n.stateHash) {
      throw sim.ledger.violation('State Machine Safety', `member ${id} state differs at ${n.appliedIndex}`);
    }
  }
  sim.checkLogMatching();
}
