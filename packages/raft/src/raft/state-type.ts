/** A node's role (etcd's StateType). */
export const StateType = {
  Follower: 'StateFollower',
  Candidate: 'StateCandidate',
  Leader: 'StateLeader',
  PreCandidate: 'StatePreCandidate',
} as const;
export type StateType = (typeof StateType)[keyof typeof StateType];
