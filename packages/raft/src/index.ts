// @x/raft: the public API. Everything not listed here is internal.
export { RawNode, SnapshotStatus, type Peer } from './raw-node.js';
export { ReadOnlyOption, type Config } from './config.js';
export { StateType } from './raft/state-type.js';
export type { ReadState, SoftState } from './raft/raft.js';
export { mustSync, type Ready } from './ready.js';
export type { BasicStatus, ProgressStatus, Status } from './status.js';
export { ProgressState } from './tracker/index.js';
export {
  ConfChangeTransition,
  ConfChangeType,
  EntryType,
  MessageType,
  asV2,
  emptyConfState,
  entryPayloadSize,
  entrySize,
  isConfChangeV2,
  isEmptyHardState,
  isEmptySnapshot,
  isHardStateEqual,
  messageTypeName,
  type ConfChange,
  type ConfChangeI,
  type ConfChangeSingle,
  type ConfChangeV2,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type Snapshot,
  type SnapshotMetadata,
} from './raftpb/types.js';
export type { Storage } from './storage/storage.js';
export { MemoryStorage } from './storage/memory-storage.js';
export { RaftError, isRaftError, type RaftErrorCode } from './errors.js';
export { decodeMessage, encodeMessage } from './codec/message-codec.js';
export {
  decodeConfChange,
  decodeConfChangeV2,
  encodeConfChange,
  encodeConfChangeV2,
} from './codec/conf-change-codec.js';
export { seededRandom, type RandomSource } from './random.js';
export { silentLogger, type Logger } from './logger.js';
export { RaftNode } from './node/raft-node.js';
export type { RaftNodeEvents, RaftNodeOptions } from './node/options.js';
export type { StartedAs } from './node/recovery.js';
export type { LeaderInfo } from './node/leader-watch.js';
export type { ReadBarrier } from './node/read-barriers.js';
export type { NewMember, PromoteOptions } from './node/membership.js';
export type { MemberStatus } from './node/member-book.js';
export type { MemberInfo } from './node/member-codec.js';
export { MemoryDurableStorage, type MemoryDurableStorageOptions } from './node/memory-durable-storage.js';
export { MemorySnapshotStore } from './node/memory-snapshot-store.js';
export type {
  DurableContents,
  DurableStorage,
  LoadedSnapshot,
  SnapshotFiles,
  SnapshotPayload,
  StateMachine,
  StoredEntry,
  Transport,
  TransportHandler,
} from './node/types.js';
export { TcpTransport, type PeerTlsOptions, type TcpTransportOptions } from './transport/tcp-transport.js';
export { MemoryNetwork, MemoryTransport } from './transport/memory-transport.js';
