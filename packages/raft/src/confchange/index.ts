// confchange/: validated membership changes (simple and joint) and restoring a config from a ConfState.
export { Changer, checkInvariants } from './changer.js';
export type { ChangerTracker, ConfigAndProgress } from './changer.js';
export { restore } from './restore.js';
export { enterJointOf, leavesJoint } from './joint-transition.js';
