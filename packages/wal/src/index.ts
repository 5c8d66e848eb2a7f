// @x/wal: an etcd-format segmented write-ahead log. Named exports only; internals are not exported.
export { Wal, type WalContents } from './wal.js';
export type { RepairReport } from './wal/maintenance.js';
export { WalError, WalErrorCode, isWalError, type WalErrorDetails } from './errors.js';
export { RecordType } from './record/record-type.js';
export { msgpackCodecs, type Entry, type HardState, type Snapshot, type ConfState } from './codec/msgpack.js';
export {
  etcdCodecs,
  type EtcdEntry,
  type EtcdHardState,
  type EtcdSnapshot,
  type EtcdConfState,
  type Uint64,
} from './codec/etcd.js';
export type { Storage } from './storage.js';
export type { Codec, Codecs, EntryCodec, StateCodec, SnapshotCodec } from './codec/types.js';
export type { WalOptions, WalLogger, SyncMode, Preallocate } from './wal/options.js';
export type { CrcOffloadMode } from './segment/crc-offload.js';
export {
  SnapshotStore,
  type StoredSnapshot,
  type SnapshotStoreOptions,
  type SnapshotData,
} from './snap/snapshot-store.js';
