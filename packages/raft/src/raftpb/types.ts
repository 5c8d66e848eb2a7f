// The data types that cross the RawNode boundary: etcd's raftpb, in TypeScript. Indexes, terms and node ids
// are plain numbers (safe integers); byte fields are Uint8Array. These objects are what `step()` takes straight
// off the wire (see codec/), so nothing here may require a class instance.

/** Kinds of log entries (etcd's raftpb.EntryType). */
export const EntryType = {
  Normal: 0,
  ConfChange: 1,
  ConfChangeV2: 2,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

/**
 * One log entry. Invariant: `index >= 1` and `term >= 1` for any entry in a log (index 0 / term 0 is the
 * empty-log sentinel and never appears in an entry).
 */
export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

/** The persistent per-node state that must be on disk before messages go out (Raft paper Figure 2). */
export interface HardState {
  term: number;
  /** Node voted for in `term`; 0 means none. */
  vote: number;
  /** Highest index known committed. Never decreases. */
  commit: number;
}

/** A membership configuration. `votersOutgoing` non-empty means the configuration is joint. */
export interface ConfState {
  voters: number[];
  learners: number[];
  /** Voters of the outgoing majority while in a joint configuration. */
  votersOutgoing: number[];
  /** Voters of the outgoing config that become learners when the joint config is left. */
  learnersNext: number[];
  /** Whether the joint configuration is left automatically once it is committed (ConfChangeV2 Auto/Implicit). */
  autoLeave: boolean;
}

/** Metadata of a snapshot; the same shape `@x/wal`'s default codecs persist as a snapshot record. */
export interface SnapshotMetadata {
  confState: ConfState;
  index: number;
  term: number;
}

/** A snapshot: the application's data up to and including `metadata.index`. */
export interface Snapshot {
  data: Uint8Array;
  metadata: SnapshotMetadata;
}

/** etcd's raftpb.MessageType, with etcd's numbers (they are also the wire values). */
export const MessageType = {
  MsgHup: 0,
  MsgBeat: 1,
  MsgProp: 2,
  MsgApp: 3,
  MsgAppResp: 4,
  MsgVote: 5,
  MsgVoteResp: 6,
  MsgSnap: 7,
  MsgHeartbeat: 8,
  MsgHeartbeatResp: 9,
  MsgUnreachable: 10,
  MsgSnapStatus: 11,
  MsgCheckQuorum: 12,
  MsgTransferLeader: 13,
  MsgTimeoutNow: 14,
  MsgReadIndex: 15,
  MsgReadIndexResp: 16,
  MsgPreVote: 17,
  MsgPreVoteResp: 18,
  MsgStorageAppend: 19,
  MsgStorageAppendResp: 20,
  MsgStorageApply: 21,
  MsgStorageApplyResp: 22,
  MsgForgetLeader: 23,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** Reverse lookup for logs and errors: `messageTypeName(3) === 'MsgApp'`. */
export function messageTypeName(t: number): string {
  for (const [k, v] of Object.entries(MessageType)) if (v === t) return k;
  return `MsgUnknown(${t})`;
}

/**
 * A Raft message (etcd's raftpb.Message). Field meanings depend on `type`, exactly as in etcd. Optional fields
 * are absent rather than zero-filled so that a message decoded off the wire can be stepped as is.
 */
export interface Message {
  type: MessageType;
  to: number;
  from: number;
  term: number;
  /** Term of the entry at `index` (MsgApp), or of the candidate's last entry (MsgVote/MsgPreVote). */
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
  snapshot?: Snapshot | undefined;
  reject: boolean;
  rejectHint: number;
  context?: Uint8Array | undefined;
}

/** etcd's raftpb.ConfChangeType. */
export const ConfChangeType = {
  AddNode: 0,
  RemoveNode: 1,
  UpdateNode: 2,
  AddLearnerNode: 3,
} as const;
export type ConfChangeType = (typeof ConfChangeType)[keyof typeof ConfChangeType];

/** etcd's raftpb.ConfChangeTransition: how a ConfChangeV2 uses joint consensus. */
export const ConfChangeTransition = {
  /** Joint consensus if more than one change (or it is required), with automatic leave; otherwise simple. */
  Auto: 0,
  /** Always joint consensus, left automatically. */
  JointImplicit: 1,
  /** Always joint consensus, left only by an explicit empty ConfChangeV2. */
  JointExplicit: 2,
} as const;
export type ConfChangeTransition = (typeof ConfChangeTransition)[keyof typeof ConfChangeTransition];

/** A single-step membership change (etcd's raftpb.ConfChange, "V1"). */
export interface ConfChange {
  type: ConfChangeType;
  nodeId: number;
  context?: Uint8Array | undefined;
}

/** One change inside a ConfChangeV2. */
export interface ConfChangeSingle {
  type: ConfChangeType;
  nodeId: number;
}

/** A membership change that may use joint consensus (etcd's raftpb.ConfChangeV2). No changes = leave joint. */
export interface ConfChangeV2 {
  transition: ConfChangeTransition;
  changes: ConfChangeSingle[];
  context?: Uint8Array | undefined;
}

/** Either kind of conf change; V1 is told apart by its `nodeId` field. */
export type ConfChangeI = ConfChange | ConfChangeV2;

/** True for a ConfChangeV2 (it has `changes`), false for a V1 ConfChange. */
export function isConfChangeV2(cc: ConfChangeI): cc is ConfChangeV2 {
  return (cc as ConfChangeV2).changes !== undefined;
}

/** Converts any conf change to its V2 form (etcd's AsV2). */
export function asV2(cc: ConfChangeI): ConfChangeV2 {
  if (isConfChangeV2(cc)) return cc;
  const v2: ConfChangeV2 = {
    transition: ConfChangeTransition.Auto,
    changes: [{ type: cc.type, nodeId: cc.nodeId }],
  };
  if (cc.context !== undefined) v2.context = cc.context;
  return v2;
}

/** An empty hard state (term 0, no vote, commit 0). */
export const emptyHardState: Readonly<HardState> = Object.freeze({ term: 0, vote: 0, commit: 0 });

/** True when term, vote and commit are all 0 (such a state is never persisted). */
export function isEmptyHardState(hs: HardState): boolean {
  return hs.term === 0 && hs.vote === 0 && hs.commit === 0;
}

/** Field-by-field equality of two hard states. */
export function isHardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** A fresh configuration with no members. */
export function emptyConfState(): ConfState {
  return { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
}

/** True for an absent snapshot or one at index 0 (nothing to install). */
export function isEmptySnapshot(s: Snapshot | undefined): boolean {
  return s === undefined || s.metadata.index === 0;
}

/**
 * Bytes an entry counts for in size limits (maxSizePerMsg, maxInflightBytes, maxUncommittedEntriesSize):
 * the payload's byte length. Never computed by serializing the entry (hot path).
 */
export function entryPayloadSize(e: Entry): number {
  return e.data.byteLength;
}

/** Approximate encoded size of an entry for maxSizePerMsg/maxCommittedSizePerReady: payload + fixed header. */
export function entrySize(e: Entry): number {
  return e.data.byteLength + 24;
}
