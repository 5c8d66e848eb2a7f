import type { ConfState, Entry, HardState, Message, SnapshotMetadata } from '../raftpb/types.js';

/** An entry as a durable log returns it (the WAL's `type` is optional; absent means a normal entry). */
export interface StoredEntry {
  index: number;
  term: number;
  type?: number | undefined;
  data: Uint8Array;
}

/** What a {@link DurableStorage} holds when it is opened: the last hard state and the entries after its snapshot. */
export interface DurableContents {
  /** The last hard state saved; undefined when none was. */
  state: HardState | undefined;
  /** The entries after the snapshot the storage was opened at, in index order. */
  entries: readonly StoredEntry[];
}

/**
 * The durable log a {@link RaftNode} persists through: the project's `Storage` contract plus `readAll`, which
 * `@x/wal`'s `Wal` implements structurally (`@x/raft` takes no runtime dependency on `@x/wal`);
 * `MemoryDurableStorage` is the in-memory one for tests. Every promise must resolve only once what it wrote
 * is on disk, except a commit-only hard-state change, which may stay unsynced (etcd's MustSync).
 */
export interface DurableStorage {
  /**
   * What the storage held when it was opened. `RaftNode.start` calls it once, before any write, and decides
   * from it whether the node starts fresh or restarts (so a restart can never bootstrap over existing state).
   */
  readAll(): Promise<DurableContents>;
  save(state: HardState | undefined, entries: readonly Entry[]): Promise<void>;
  saveSnap(snap: SnapshotMetadata): Promise<void>;
  release(snap: SnapshotMetadata): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** Snapshot data as bytes, or as chunks so a large snapshot need not sit in memory whole. */
export type SnapshotPayload = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/** A snapshot found on disk: metadata plus on-demand access to the data (`@x/wal`'s `StoredSnapshot`). */
export interface LoadedSnapshot {
  /** `confState` may be absent in records written by other tools; RaftNode's own snapshots always carry it. */
  metadata: { index: number; term: number; confState?: ConfState | undefined };
  bytes(): Promise<Uint8Array>;
  stream(): AsyncIterable<Uint8Array>;
}

/** Where snapshot files live (`@x/wal`'s `SnapshotStore` fits structurally). */
export interface SnapshotFiles {
  save(metadata: SnapshotMetadata, data: SnapshotPayload): Promise<string>;
  /** The newest intact snapshot. */
  load(): Promise<LoadedSnapshot | undefined>;
  /** Deletes all but the newest `keep` snapshots. */
  purge(keep: number): Promise<unknown>;
}

/**
 * The application's replicated state machine. Calls are serialized: never two at once, and in log order.
 * Applying must be deterministic: every node applies the same entries in the same order and must end in the same
 * state.
 */
export interface StateMachine<R = unknown> {
  /**
   * Applies one committed entry's payload. The value returned resolves the proposer's promise on this node. It may
   * be async and slow (e.g. do I/O): RaftNode applies off its Ready loop, so heartbeats and writes go on meanwhile
   * (`maxApplyBacklog` bounds how much waits). Called in log order, one call at a time unless the node's
   * `applyConcurrency` allows more to run at once.
   */
  apply(data: Uint8Array, index: number): R | Promise<R>;
  /**
   * A snapshot of the state after the last applied entry (called between two applies). Take the view synchronously
   * (or before the promise settles); the node keeps applying while the returned chunks are written.
   */
  snapshot(): SnapshotPayload | Promise<SnapshotPayload>;
  /**
   * Replaces the whole state with a snapshot's data, read from a stream of chunks (a snapshot from the leader is
   * streamed from a file, never held in memory whole; a state machine should decode it chunk by chunk, or call
   * `readSnapshotBytes(data)` when its state is small). Consume the stream to its end: a stream that fails (e.g. a
   * CRC mismatch at the end of a file) throws from the iteration.
   */
  restore(data: AsyncIterable<Uint8Array>, metadata: SnapshotMetadata): void | Promise<void>;
}

/**
 * The data of a snapshot that arrived from the leader, kept outside memory (a transport's temporary file): raft sees
 * the MsgSnap with empty data, the node streams it from here to its snapshot store and to `restore`.
 */
export interface SnapshotSource {
  /** Byte length of the data. */
  readonly size: number;
  /** The data, from its beginning (may be called more than once until `release`). */
  stream(): AsyncIterable<Uint8Array>;
  /** Deletes what holds the data; called once, when the node no longer needs it. */
  release(): Promise<void>;
}

/** What a transport calls back into. */
export interface TransportHandler {
  /**
   * An inbound message, already decoded and validated. A MsgSnap carries its data either in `snapshot.data` or,
   * when it was received to a file, in `snapshot` (then `snapshot.data` is empty and the node owns the source: it
   * releases it).
   */
  onMessage(message: Message, snapshot?: SnapshotSource): void;
  /** A peer could not be reached (queue full, connection down): raft probes it again later. */
  reportUnreachable(id: number): void;
  /** The outcome of sending a snapshot. */
  reportSnapshot(id: number, status: 'finish' | 'failure'): void;
  /** The transport learned something that means this node must stop (e.g. peers refuse its wiped data). */
  fatal?(err: Error): void;
}

/**
 * Moves raft messages between nodes. `send` never throws and never waits: what cannot be delivered is dropped and
 * reported through {@link TransportHandler.reportUnreachable} (raft retransmits).
 */
export interface Transport {
  start(handler: TransportHandler): void | Promise<void>;
  send(messages: readonly Message[]): void;
  /**
   * Sends a MsgSnap whose data comes from `data` (opened when the transfer starts, read chunk by chunk); calls
   * `reportSnapshot` when done.
   */
  sendSnapshot(message: Message, data: () => Promise<SnapshotPayload>): void;
  addPeer(id: number, address: string): void;
  removePeer(id: number): void;
  stop(): Promise<void>;
}
