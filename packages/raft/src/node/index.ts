// @x/raft/node: the runtime that runs the pure core (`@x/raft`) on Node.js: `RaftNode` (the Ready loop with
// timers, durable storage, snapshots and a transport), the transports, and in-memory ports for tests.
// Everything not listed here is internal.
export { RaftNode } from './raft-node.js';
export { systemClock, type Clock, type ClockTimer } from './clock.js';
export type { RaftNodeEvents, RaftNodeOptions } from './options.js';
export type { StartedAs } from './recovery.js';
export { restoreBackup, type RestoreBackupOptions, type SavedBackup } from './backup.js';
export type { LeaderInfo } from './leader-watch.js';
export type { ReadBarrier } from './read-barriers.js';
export type { NewMember, PromoteOptions } from './membership.js';
export type { MemberStatus } from './member-book.js';
export type { MemberInfo } from './member-codec.js';
export {
  Histogram,
  LATENCY_BUCKETS_SECONDS,
  type HistogramSnapshot,
  type PeerTraffic,
  type RaftNodeMetrics,
} from './metrics.js';
export type { HealthOptions, RaftNodeHealth } from './health.js';
export { PrometheusText, renderRaftMetrics, type PrometheusLabels } from './prometheus.js';
export { MemoryDurableStorage, type MemoryDurableStorageOptions } from './memory-durable-storage.js';
export { MemorySnapshotStore } from './memory-snapshot-store.js';
export type {
  DurableContents,
  DurableStorage,
  LoadedSnapshot,
  SnapshotFiles,
  SnapshotPayload,
  SnapshotSource,
  StateMachine,
  StoredEntry,
  Transport,
  TransportHandler,
} from './types.js';
export { TcpTransport, type PeerTlsOptions, type TcpTransportOptions } from '../transport/tcp-transport.js';
export { watchTlsRefusals, type TlsRefusal } from '../transport/tls-refusals.js';
export { MemoryNetwork, MemoryTransport } from '../transport/memory-transport.js';
