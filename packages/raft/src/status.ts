import type { ConfState, HardState } from './raftpb/types.js';
import type { SoftState } from './raft/raft.js';
import type { ProgressState } from './tracker/index.js';

/** One follower's replication progress, as the leader sees it. */
export interface ProgressStatus {
  match: number;
  next: number;
  state: ProgressState;
  recentActive: boolean;
  isLearner: boolean;
  /** MsgApps in flight. */
  inflight: number;
  /** True when the leader is not sending it appends right now (flow control, snapshot, probe wait). */
  paused: boolean;
  pendingSnapshot: number;
}

/** A node's state without per-follower progress (etcd's BasicStatus). */
export interface BasicStatus {
  id: number;
  hardState: HardState;
  softState: SoftState;
  applied: number;
  leadTransferee: number;
}

/** A node's state; `progress` is filled on the leader only (etcd's Status). */
export interface Status extends BasicStatus {
  config: ConfState;
  progress: Map<number, ProgressStatus>;
}
