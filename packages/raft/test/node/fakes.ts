// Test doubles for RaftNode's edges: a durable storage that records what reached "disk" and in which order, a
// snapshot store in memory, and a counting state machine.
import type { Entry, HardState, SnapshotMetadata } from '../../src/raftpb/types.js';
import { readSnapshotBytes } from '../../src/codec/chunk-reader.js';
import { MemoryDurableStorage } from '../../src/node/memory-durable-storage.js';
import { MemorySnapshotStore } from '../../src/node/memory-snapshot-store.js';
import type { RaftNodeOptions } from '../../src/node/options.js';
import { RaftNode } from '../../src/node/raft-node.js';
import type { MemoryNetwork } from '../../src/transport/memory-transport.js';
import type {
  DurableContents,
  DurableStorage,
  LoadedSnapshot,
  SnapshotFiles,
  SnapshotPayload,
  StateMachine,
} from '../../src/node/types.js';

export type StorageEvent =
  | { kind: 'save'; entries: number; lastIndex: number; state: HardState | undefined }
  | { kind: 'saveSnap'; index: number }
  | { kind: 'release'; index: number }
  | { kind: 'snapFile'; index: number };

/** A log whose saves take a few ms, as an fsync would, and which remembers everything acknowledged. */
export class FakeWal implements DurableStorage {
  readonly events: StorageEvent[] = [];
  /** Entries acknowledged durable, by index (a later write at index i replaces i and beyond). */
  entries: Entry[] = [];
  state: HardState | undefined;
  snaps: SnapshotMetadata[] = [];
  /** Highest entry index whose save promise has resolved. */
  durableIndex = 0;
  failNextSave = false;
  closed = false;

  constructor(private readonly delayMs = 2) {}

  async save(state: HardState | undefined, entries: readonly Entry[]): Promise<void> {
    if (this.failNextSave) throw new Error('injected fdatasync EIO');
    await new Promise((r) => setTimeout(r, this.delayMs));
    const first = entries[0];
    if (first !== undefined) {
      this.entries = this.entries.filter((e) => e.index < first.index).concat(entries.map((e) => ({ ...e })));
      this.durableIndex = entries[entries.length - 1]?.index ?? this.durableIndex;
    }
    if (state !== undefined) this.state = { ...state };
    this.events.push({ kind: 'save', entries: entries.length, lastIndex: this.durableIndex, state });
  }

  async saveSnap(snap: SnapshotMetadata): Promise<void> {
    this.snaps.push(snap);
    this.events.push({ kind: 'saveSnap', index: snap.index });
  }

  async release(snap: SnapshotMetadata): Promise<void> {
    this.events.push({ kind: 'release', index: snap.index });
  }

  async sync(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
  }

  /** What a reopened WAL gives: everything acknowledged (the node skips entries its snapshot covers). */
  async readAll(): Promise<DurableContents> {
    return { state: this.state, entries: this.entries.map((e) => ({ ...e })) };
  }
}

export class FakeSnapshots implements SnapshotFiles {
  readonly files: { metadata: SnapshotMetadata; data: Uint8Array }[] = [];

  constructor(private readonly wal?: FakeWal) {}

  async save(metadata: SnapshotMetadata, data: SnapshotPayload): Promise<string> {
    const parts: Uint8Array[] = [];
    if (data instanceof Uint8Array) parts.push(data);
    else for await (const c of data) parts.push(c);
    this.files.push({ metadata, data: Buffer.concat(parts) });
    this.wal?.events.push({ kind: 'snapFile', index: metadata.index });
    return `mem:${metadata.index}`;
  }

  async load(): Promise<LoadedSnapshot | undefined> {
    const f = this.files[this.files.length - 1];
    if (f === undefined) return undefined;
    return {
      metadata: f.metadata,
      bytes: async () => f.data,
      stream: async function* () {
        yield f.data;
      },
    };
  }

  async purge(keep: number): Promise<unknown> {
    this.files.splice(0, Math.max(0, this.files.length - keep));
    return undefined;
  }
}

/** Appends every applied payload as text; snapshot = the whole list. */
export class ListMachine implements StateMachine<number> {
  applied: string[] = [];
  lastIndex = 0;
  restores = 0;
  /** Called before each apply (tests check what is durable at that moment). */
  onApply: ((index: number) => void) | undefined;

  apply(data: Uint8Array, index: number): number {
    if (index <= this.lastIndex) throw new Error(`entry ${index} applied twice (last ${this.lastIndex})`);
    this.onApply?.(index);
    this.lastIndex = index;
    this.applied.push(new TextDecoder().decode(data));
    return this.applied.length;
  }

  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({ applied: this.applied, lastIndex: this.lastIndex }));
  }

  async restore(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const s = JSON.parse(new TextDecoder().decode(await readSnapshotBytes(chunks))) as {
      applied: string[];
      lastIndex: number;
    };
    this.applied = s.applied;
    this.lastIndex = s.lastIndex;
    this.restores++;
  }
}

/** A RaftNode on memory storage and a memory snapshot store, with its disks (to crash or reopen) and its machine. */
export interface MemoryMember {
  id: number;
  node: RaftNode<number>;
  storage: MemoryDurableStorage;
  snaps: MemorySnapshotStore;
  machine: ListMachine;
}

/**
 * Starts a member on `net` with fast ticks (5 ms, election after 10), restoring from what `storage`/`snaps` hold;
 * `o` overrides any option. The node is pushed onto `running` (the test file stops them after each test).
 */
export async function startMemoryMember(
  net: MemoryNetwork,
  id: number,
  running: RaftNode<number>[],
  o: Partial<RaftNodeOptions<number>> & { storage?: MemoryDurableStorage; snaps?: MemorySnapshotStore } = {},
): Promise<MemoryMember> {
  const { storage = new MemoryDurableStorage(), snaps = new MemorySnapshotStore(), ...options } = o;
  const machine = new ListMachine();
  const node = await RaftNode.start<number>({
    id,
    storage,
    snapshots: snaps,
    snapshot: await snaps.loadNewestAvailable(storage.snapshotRecords()),
    stateMachine: machine,
    transport: net.transport(id),
    tickMs: 5,
    electionTick: 10,
    requestTimeoutMs: 5_000,
    ...options,
  });
  running.push(node);
  return { id, node, storage, snaps, machine };
}
