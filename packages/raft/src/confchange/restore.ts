// Rebuilds a tracker configuration from a ConfState (a snapshot's or the storage's initial state).
import type { ConfChangeSingle, ConfState } from '../raftpb/types.js';
import { ConfChangeType } from '../raftpb/types.js';
import { Changer } from './changer.js';
import type { ConfigAndProgress } from './changer.js';
import { cloneTrackerConfig, formatTrackerConfig } from '../tracker/index.js';
import { RaftError } from '../errors.js';

/**
 * Translates `cs` into (1) changes building the config that becomes the outgoing half and (2) changes that,
 * applied on top of it, enter the joint state described by `cs`. Example: voters=(1 2 3) learners=(5)
 * outgoing=(1 2 4 6) learners_next=(4) gives out = add 1,2,4,6 and in = remove 1,2,4,6; add 1,2,3;
 * add-learner 5; add-learner 4.
 */
function toConfChangeSingles(cs: ConfState): { out: ConfChangeSingle[]; in: ConfChangeSingle[] } {
  const out: ConfChangeSingle[] = [];
  const inc: ConfChangeSingle[] = [];
  for (const id of cs.votersOutgoing) out.push({ type: ConfChangeType.AddNode, nodeId: id });
  for (const id of cs.votersOutgoing) inc.push({ type: ConfChangeType.RemoveNode, nodeId: id });
  for (const id of cs.voters) inc.push({ type: ConfChangeType.AddNode, nodeId: id });
  for (const id of cs.learners) inc.push({ type: ConfChangeType.AddLearnerNode, nodeId: id });
  // Staged learners are outgoing voters now; adding them as learners in the joint step stages them again.
  for (const id of cs.learnersNext) inc.push({ type: ConfChangeType.AddLearnerNode, nodeId: id });
  return { out, in: inc };
}

/**
 * Builds the configuration described by `cs`, starting from `chg` (which must hold an empty configuration),
 * by a sequence of validated single changes and, if `cs` is joint, one enterJoint (etcd's confchange.Restore).
 *
 * @throws RaftError ERR_CONF_CHANGE_INVALID if `cs` is not a valid configuration or does not restore to exactly
 *   itself (a learner that is also a voter, learners without voters, duplicate ids, ids that are not positive integers, autoLeave or
 *   learnersNext outside a joint config).
 * @example
 * const [cfg, prs] = restore(new Changer(tracker, lastIndex), snapshot.metadata.confState);
 */
export function restore(chg: Changer, cs: ConfState): ConfigAndProgress {
  const { out, in: inc } = toConfChangeSingles(cs);
  let cur = chg;
  // An empty ConfState yields (a copy of) the starting config.
  let result: ConfigAndProgress = [
    cloneTrackerConfig(chg.tracker.config),
    new Map(Array.from(chg.tracker.progress, ([id, pr]) => [id, pr.clone()])),
  ];
  const step = (f: (c: Changer) => ConfigAndProgress): void => {
    result = f(cur);
    cur = new Changer(
      {
        config: result[0],
        progress: result[1],
        maxInflight: chg.tracker.maxInflight,
        maxInflightBytes: chg.tracker.maxInflightBytes,
      },
      chg.lastIndex,
    );
  };
  if (out.length === 0) {
    for (const cc of inc) step((c) => c.simple(cc));
  } else {
    // Establish the outgoing config as the sole config first, then rotate it out by entering the joint state.
    for (const cc of out) step((c) => c.simple(cc));
    step((c) => c.enterJoint(cs.autoLeave, ...inc));
  }
  // Like etcd's assertConfStatesEquivalent: a ConfState that does not describe itself exactly (overlapping
  // lists, duplicates, id 0, autoLeave or learnersNext outside a joint config) is refused, never silently
  // turned into a different configuration.
  const [cfg] = result;
  if (
    !sameIds(cs.voters, cfg.voters[0]) ||
    !sameIds(cs.votersOutgoing, cfg.voters[1]) ||
    !sameIds(cs.learners, cfg.learners) ||
    !sameIds(cs.learnersNext, cfg.learnersNext) ||
    cs.autoLeave !== cfg.autoLeave
  ) {
    throw new RaftError(
      'ERR_CONF_CHANGE_INVALID',
      `ConfState ${formatConfState(cs)} is not a valid configuration (it restores as ${formatTrackerConfig(cfg)})`,
    );
  }
  return result;
}

/** Whether the list holds exactly the ids of the set, each once, all of them valid node ids (>= 1). */
function sameIds(list: readonly number[], set: ReadonlySet<number>): boolean {
  if (list.length !== set.size) return false;
  const seen = new Set<number>();
  for (const id of list) {
    if (!Number.isSafeInteger(id) || id <= 0 || !set.has(id) || seen.has(id)) return false;
    seen.add(id);
  }
  return true;
}

function formatConfState(cs: ConfState): string {
  return (
    `voters=[${cs.voters.join(' ')}] learners=[${cs.learners.join(' ')}] ` +
    `voters_outgoing=[${cs.votersOutgoing.join(' ')}] learners_next=[${cs.learnersNext.join(' ')}] ` +
    `auto_leave=${String(cs.autoLeave)}`
  );
}
