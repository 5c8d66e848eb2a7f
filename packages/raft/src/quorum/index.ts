// quorum/: pure functions deciding commit indexes and elections over majority and joint configurations.
export { VoteResult, INFINITE_INDEX, formatIds, sortedIds } from './vote-result.js';
export type { AckedIndexer } from './vote-result.js';
export { majorityCommittedIndex, majorityVoteResult } from './majority.js';
export type { MajorityConfig } from './majority.js';
export { isJoint, jointIds, jointCommittedIndex, jointVoteResult, formatJointConfig } from './joint.js';
export type { JointConfig } from './joint.js';
