// How a ConfChangeV2 uses joint consensus (etcd's ConfChangeV2.EnterJoint / LeaveJoint).
import type { ConfChangeV2 } from '../raftpb/types.js';
import { ConfChangeTransition } from '../raftpb/types.js';

/**
 * Whether applying `cc` enters a joint configuration, and if so whether it is left automatically. Joint
 * consensus is used when the transition is explicit/implicit joint or when there is more than one change
 * (etcd uses it liberally rather than proving a multi-change set safe). Returns undefined for a simple change.
 *
 * @example
 * enterJointOf({ transition: ConfChangeTransition.Auto, changes: [a, b] }); // { autoLeave: true }
 */
export function enterJointOf(cc: ConfChangeV2): { autoLeave: boolean } | undefined {
  if (cc.transition === ConfChangeTransition.Auto && cc.changes.length <= 1) return undefined;
  return { autoLeave: cc.transition !== ConfChangeTransition.JointExplicit };
}

/** Whether `cc` leaves a joint configuration: an Auto transition with no changes (context aside). */
export function leavesJoint(cc: ConfChangeV2): boolean {
  return cc.transition === ConfChangeTransition.Auto && cc.changes.length === 0;
}
