import type { SnapshotMetadata } from '../raftpb/types.js';
import type { SnapshotSource } from './types.js';

/** A snapshot's data already in memory (a MsgSnap that carried it inline, e.g. over MemoryTransport). */
export function bytesSource(data: Uint8Array): SnapshotSource {
  return {
    size: data.byteLength,
    stream: async function* () {
      if (data.byteLength > 0) yield data;
    },
    release: () => Promise.resolve(),
  };
}

/**
 * The data of snapshots the leader sent, between the MsgSnap stepping into raft (which sees it with empty data, so
 * raft's log never holds it) and the Ready that hands the snapshot out for persisting.
 *
 * Invariant: at most one source waits here, the newest offered. Raft keeps at most one incoming snapshot pending
 * (a newer one replaces it, an older or equal one is refused), so an offer releases the one waiting unless that is
 * the same snapshot (then the duplicate goes). A source raft refused waits until the applied index passes it
 * ({@link passed}) or the node stops ({@link close}): nothing holds more than one extra temporary file.
 */
export class IncomingSnapshots {
  private waiting: { index: number; term: number; source: SnapshotSource } | undefined;

  constructor(private readonly onReleaseError: (err: unknown) => void) {}

  /** A MsgSnap carrying `metadata` is about to step into raft; `source` holds its data. */
  offer(metadata: SnapshotMetadata, source: SnapshotSource): void {
    const w = this.waiting;
    if (w !== undefined && w.index === metadata.index && w.term === metadata.term) {
      this.release(source);
      return;
    }
    if (w !== undefined && w.index > metadata.index) {
      this.release(source); // raft refuses a snapshot older than the one it holds
      return;
    }
    if (w !== undefined) this.release(w.source);
    this.waiting = { index: metadata.index, term: metadata.term, source };
  }

  /** The source of the snapshot raft handed out in a Ready (the caller releases it); undefined when none waits. */
  take(metadata: SnapshotMetadata): SnapshotSource | undefined {
    const w = this.waiting;
    if (w === undefined || w.index !== metadata.index || w.term !== metadata.term) return undefined;
    this.waiting = undefined;
    return w.source;
  }

  /** Everything up to `applied` is applied: a source waiting at or below it was refused by raft. */
  passed(applied: number): void {
    const w = this.waiting;
    if (w !== undefined && w.index <= applied) {
      this.waiting = undefined;
      this.release(w.source);
    }
  }

  /** The node stops: the waiting source goes. */
  close(): void {
    const w = this.waiting;
    this.waiting = undefined;
    if (w !== undefined) this.release(w.source);
  }

  private release(source: SnapshotSource): void {
    source.release().catch(this.onReleaseError);
  }
}
