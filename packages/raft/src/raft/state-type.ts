/** A node's role (etcd's StateType). */
export const StateType = {
  Follower: 'StateFollower',
  Candidate: 'StateCandidate',
  Leader: 'StateLeader',
  PreCandidate: 'StatePreCandidate',
} as const;
export type StateType = (typeof StateType)[keyof typeof StateType];

/** How an election is run: pre-vote first, a plain election, or one forced by a leadership transfer. */
export const CampaignType = {
  PreElection: 'CampaignPreElection',
  Election: 'CampaignElection',
  Transfer: 'CampaignTransfer',
} as const;
export type CampaignType = (typeof CampaignType)[keyof typeof CampaignType];
