import type { Entry, Snapshot } from '../raftpb/types.js';

/**
 * The part of the log not yet persisted by the application (etcd's `unstable`): entries (and possibly an incoming
 * snapshot) handed out in Readies and not yet acknowledged by `advance`.
 *
 * Invariants: `entries[i]` has index `offset + i`; if `snapshot` is set, its index is `offset - 1`;
 * `offset <= offsetInProgress <= offset + entries.length`; entries below `offsetInProgress` have been handed to the
 * application for persistence and must not be handed out again.
 */
export class Unstable {
  snapshot: Snapshot | undefined = undefined;
  entries: Entry[] = [];
  offset: number;
  /** True once `snapshot` was handed out for persistence. */
  snapshotInProgress = false;
  offsetInProgress: number;

  constructor(offset: number) {
    this.offset = offset;
    this.offsetInProgress = offset;
  }

  /** The first index of the log if this holds a snapshot. */
  maybeFirstIndex(): number | undefined {
    return this.snapshot === undefined ? undefined : this.snapshot.metadata.index + 1;
  }

  /** The last index if this holds entries or a snapshot. */
  maybeLastIndex(): number | undefined {
    if (this.entries.length !== 0) return this.offset + this.entries.length - 1;
    return this.snapshot?.metadata.index;
  }

  /** The term of entry `i` if this holds it (or it is the snapshot's index). */
  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      return this.snapshot !== undefined && this.snapshot.metadata.index === i
        ? this.snapshot.metadata.term
        : undefined;
    }
    const e = this.entries[i - this.offset];
    return e?.term;
  }

  /** Entries not yet handed out for persistence. */
  nextEntries(): Entry[] {
    const inProgress = this.offsetInProgress - this.offset;
    if (this.entries.length === inProgress) return [];
    return this.entries.slice(inProgress);
  }

  /** The snapshot, if not yet handed out for persistence. */
  nextSnapshot(): Snapshot | undefined {
    return this.snapshot === undefined || this.snapshotInProgress ? undefined : this.snapshot;
  }

  /** Marks everything now held as handed out for persistence. */
  acceptInProgress(): void {
    const last = this.entries[this.entries.length - 1];
    if (last !== undefined) this.offsetInProgress = last.index + 1;
    if (this.snapshot !== undefined) this.snapshotInProgress = true;
  }

  /**
   * Entries up to (index, term) are now durable: drop them. Ignored when the entry at `index` has another term
   * (it was overwritten by a newer leader meanwhile) or is not held here.
   */
  stableTo(index: number, term: number): void {
    const gt = this.maybeTerm(index);
    if (gt === undefined || index < this.offset || gt !== term) return;
    const num = index + 1 - this.offset;
    this.entries = this.entries.slice(num);
    this.offset = index + 1;
    // Keeps offset <= offsetInProgress: the durable prefix is no longer held, so it cannot be in flight here.
    this.offsetInProgress = Math.max(this.offsetInProgress, this.offset);
  }

  /** The snapshot at `i` is now durable. */
  stableSnapTo(i: number): void {
    if (this.snapshot !== undefined && this.snapshot.metadata.index === i) {
      this.snapshot = undefined;
      this.snapshotInProgress = false;
    }
  }

  /** Replaces everything with a snapshot (a follower installing the leader's). */
  restore(s: Snapshot): void {
    this.offset = s.metadata.index + 1;
    this.offsetInProgress = this.offset;
    this.entries = [];
    this.snapshot = s;
    this.snapshotInProgress = false;
  }

  /** Appends `ents`, truncating any held entries at or after the first new index. */
  truncateAndAppend(ents: readonly Entry[]): void {
    const first = ents[0];
    if (first === undefined) return;
    const fromIndex = first.index;
    if (fromIndex === this.offset + this.entries.length) {
      for (const e of ents) this.entries.push(e);
    } else if (fromIndex <= this.offset) {
      // Replaces everything held, and may start below `offset`, inside what storage already holds: the
      // application's write of these overwrites storage from `fromIndex` on (the Ready contract: writing entry i
      // discards what was persisted at i and above). Entries already handed out are overwritten the same way.
      this.entries = ents.slice();
      this.offset = fromIndex;
      this.offsetInProgress = this.offset;
    } else {
      this.entries = this.slice(this.offset, fromIndex);
      for (const e of ents) this.entries.push(e);
      // A write in flight may cover the replaced entries; the new ones from `fromIndex` must be handed out again.
      this.offsetInProgress = Math.min(this.offsetInProgress, fromIndex);
    }
  }

  /** Held entries in [lo, hi). */
  slice(lo: number, hi: number): Entry[] {
    const upper = this.offset + this.entries.length;
    if (lo > hi || lo < this.offset || hi > upper) {
      throw new RangeError(`unstable.slice[${lo},${hi}) out of bound [${this.offset},${upper}]`);
    }
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
