// Recovery from a lost quorum: restart a surviving member as the only voter of its cluster, keeping its data
// (etcd's --force-new-cluster, server/etcdserver/raft.go restartAsStandaloneNode).
import { encodeConfChange, encodeConfChangeV2 } from '../codec/conf-change-codec.js';
import { Changer, enterJointOf, leavesJoint, restore } from '../confchange/index.js';
import { confChangeOfEntry } from '../raft/raft.js';
import {
  ConfChangeTransition,
  ConfChangeType,
  EntryType,
  asV2,
  type ConfState,
  type Entry,
  type HardState,
} from '../raftpb/types.js';
import { ProgressTracker } from '../tracker/index.js';

const FORCED = new TextEncoder().encode('force-new-cluster');

/** What {@link forceNewCluster} appends to the log, and the hard state that commits it. */
export interface ForcedCluster {
  /** Conf-change entries after the last one held: leave a joint config, add this node, remove every other member. */
  entries: Entry[];
  /** The stored term and vote, with commit at the last of `entries`. */
  state: HardState;
  /** The configuration before, as the log held it (voters and learners). */
  before: ConfState;
}

/**
 * The conf-change entries that make `selfId` the only voter of the configuration that the snapshot's and every
 * entry of `log` (the entries after it, in order) yield, and the hard state that commits them and everything before them.
 * Undefined when `selfId` is the only member already.
 *
 * Unlike etcd, which discards the entries after its stored commit index, every entry this node holds is kept and
 * committed: one of them may have been acknowledged by a leader that counted this node, and the others are gone
 * for good; an entry that never committed is applied too (its client saw an unknown outcome, never a failure).
 */
export function forceNewCluster(
  selfId: number,
  snapshot: { index: number; confState: ConfState },
  log: readonly Entry[],
  state: HardState,
): ForcedCluster | undefined {
  const trk = new ProgressTracker(256, 0);
  [trk.config, trk.progress] = restore(new Changer(trk, 1), snapshot.confState);
  for (const e of log) {
    const cc = confChangeOfEntry(e);
    if (cc === undefined) continue;
    const v2 = asV2(cc);
    const changer = new Changer(trk, e.index);
    const joint = enterJointOf(v2);
    [trk.config, trk.progress] = leavesJoint(v2)
      ? changer.leaveJoint()
      : joint !== undefined
        ? changer.enterJoint(joint.autoLeave, ...v2.changes)
        : changer.simple(...v2.changes);
  }
  const before = trk.confState();
  const datas: { type: EntryType; data: Uint8Array }[] = [];
  if (before.votersOutgoing.length > 0) {
    // Leave the joint configuration first (a simple change is refused in one). The context keeps the entry's data
    // non-empty: an empty conf-change entry reads as a new leader's empty entry.
    const leave = { transition: ConfChangeTransition.Auto, changes: [], context: FORCED };
    datas.push({ type: EntryType.ConfChangeV2, data: encodeConfChangeV2(leave) });
  }
  const change = (type: ConfChangeType, nodeId: number) =>
    datas.push({ type: EntryType.ConfChange, data: encodeConfChange({ type, nodeId, context: FORCED }) });
  // This node becomes a voter first (a simple change may not remove the last voter), then the others go.
  if (!before.voters.includes(selfId)) change(ConfChangeType.AddNode, selfId);
  for (const id of new Set([...before.voters, ...before.learners, ...before.learnersNext])) {
    if (id !== selfId) change(ConfChangeType.RemoveNode, id);
  }
  if (datas.length === 0) return undefined;
  const last = log[log.length - 1];
  const term = Math.max(state.term, last?.term ?? 0);
  const first = (last?.index ?? snapshot.index) + 1;
  const entries = datas.map((d, i) => ({ index: first + i, term, type: d.type, data: d.data }));
  return { entries, state: { term, vote: state.vote, commit: first + entries.length - 1 }, before };
}
