// @x/raft: the pure Raft core's public API (no I/O, no clock, no timers). The Node.js runtime (RaftNode, the
// transports, the in-memory ports) is `@x/raft/node` (src/node/index.ts); the simulator is `@x/raft/testing`.
// Everything not listed here is internal.
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
export { ChunkReader, readSnapshotBytes, snapshotChunks } from './codec/chunk-reader.js';
export { silentLogger, type Logger } from './logger.js';
export {
  decodeSessionEntry,
  encodeCloseSession,
  encodeKeepAlive,
  encodeRegisterSession,
  encodeSessionCommand,
  encodeUntaggedCommand,
  type SessionEntry,
  type SessionTag,
} from './session/entry.js';
export { SessionTable, type CommandCheck, type SessionTableOptions } from './session/session-table.js';
export {
  sessionResultOrThrow,
  withSessions,
  type ResultCodec,
  type SessionAwareStateMachine,
  type SessionErrorCode,
  type SessionResult,
  type SessionStateMachine,
  type SnapshotChunks,
  type WithSessionsOptions,
} from './session/with-sessions.js';
