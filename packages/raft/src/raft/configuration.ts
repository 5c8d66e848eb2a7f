import { Changer, enterJointOf, leavesJoint, restore as restoreConfig } from '../confchange/index.js';
import type { ConfChangeV2, ConfState, Snapshot } from '../raftpb/types.js';
import { ProgressTracker, type ProgressMap, type TrackerConfig } from '../tracker/index.js';
import type { Raft } from './raft.js';
import { StateType } from './state-type.js';

// Membership: applying conf changes, switching configurations, and restoring one from a snapshot.

/**
 * Applies a committed conf change (when the application applies its entry); returns the new configuration. A
 * change takes effect when applied, not when appended as in the dissertation (§4.1): safe because only one is
 * pending at a time (leader.ts) and a node with committed, unapplied changes does not campaign (election.ts).
 */
export function applyConfChange(r: Raft, cc: ConfChangeV2): ConfState {
  const changer = new Changer(r.trk, r.raftLog.lastIndex());
  let next: [TrackerConfig, ProgressMap];
  if (leavesJoint(cc)) next = changer.leaveJoint();
  else {
    const joint = enterJointOf(cc);
    next =
      joint !== undefined
        ? changer.enterJoint(joint.autoLeave, ...cc.changes)
        : changer.simple(...cc.changes);
  }
  return r.switchToConfig(next[0], next[1]);
}

/** Installs a configuration and its progress map; a removed leader may step down; new members get probed. */
export function switchToConfig(r: Raft, cfg: TrackerConfig, prs: ProgressMap): ConfState {
  r.trk.config = cfg;
  r.trk.progress = prs;
  r.logger.info('switched to configuration', {
    id: r.id,
    voters: [...cfg.voters[0]],
    outgoing: [...cfg.voters[1]],
    learners: [...cfg.learners],
  });
  const cs = r.trk.confState();
  const pr = r.trk.progress.get(r.id);
  r.isLearner = pr !== undefined && pr.isLearner;
  if ((pr === undefined || r.isLearner) && r.state === StateType.Leader) {
    // This leader was removed or demoted.
    if (r.stepDownOnRemoval) r.becomeFollower(r.term, 0);
    return cs;
  }
  if (r.state !== StateType.Leader || cs.voters.length === 0) return cs;
  // The quorum changed (it may be smaller now): entries it already holds may be committed.
  if (r.maybeCommit()) {
    r.bcastAppend();
  } else {
    r.trk.visit((id) => {
      if (id !== r.id) r.maybeSendAppend(id, false);
    });
  }
  const voters = r.trk.config.voters;
  if (r.leadTransferee !== 0 && !voters[0].has(r.leadTransferee) && !voters[1].has(r.leadTransferee)) {
    r.abortLeaderTransfer();
  }
  return cs;
}

/** Restores from a snapshot sent by the leader; false when it is stale or already covered by the log. */
export function restoreSnapshot(r: Raft, s: Snapshot): boolean {
  // Our committed prefix already holds everything a snapshot at or below it covers.
  if (s.metadata.index <= r.raftLog.committed) return false;
  if (r.state !== StateType.Follower) {
    r.logger.warn('attempted to restore a snapshot as non-follower; should never happen', { id: r.id });
    r.becomeFollower(r.term + 1, 0);
    return false;
  }
  const cs = s.metadata.confState;
  if (![cs.voters, cs.learners, cs.votersOutgoing].some((ids) => ids.includes(r.id))) {
    r.logger.warn('attempted to restore a snapshot that does not include this node; should never happen', {
      id: r.id,
    });
    return false;
  }
  if (r.raftLog.matchTerm(s.metadata.index, s.metadata.term)) {
    // The log already has the snapshot's last entry, so (Log Matching, §5.3) everything before it too: keep the
    // log, with any entries after it, and just fast-forward the commit index.
    r.raftLog.commitTo(s.metadata.index);
    return false;
  }
  r.raftLog.restore(s);
  // The configuration comes from the snapshot alone: it is the one in force at its index.
  r.trk = new ProgressTracker(r.trk.maxInflight, r.trk.maxInflightBytes);
  const [cfg, prs] = restoreConfig(new Changer(r.trk, r.raftLog.lastIndex()), cs);
  r.switchToConfig(cfg, prs);
  r.logger.info('restored snapshot', { id: r.id, index: s.metadata.index, term: s.metadata.term });
  return true;
}
