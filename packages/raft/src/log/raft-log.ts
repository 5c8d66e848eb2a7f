import { RaftError, isRaftError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Entry, Snapshot } from '../raftpb/types.js';
import type { Storage } from '../storage/storage.js';
import { entriesSize, limitSize } from './limit-size.js';
import { Unstable } from './unstable.js';

/**
 * Raft's view of the log (etcd's `raftLog`): the stable part in {@link Storage} plus the {@link Unstable} part not
 * yet persisted.
 *
 * Invariants: `applied <= applying <= committed <= lastIndex()`; `committed` never decreases; entries up to
 * `committed` are known to be on a quorum's disks.
 */
export class RaftLog {
  /**
   * Indexes at or above `unstable.offset` are answered from here, those below from `storage`. After a new leader
   * overwrote a suffix, `storage` may still hold older entries at or above `unstable.offset`: they are shadowed,
   * never read, until the application's write of the new ones replaces them.
   */
  readonly unstable: Unstable;
  /**
   * Highest index known to be on a quorum's disks. Never decreases, and no entry at or below it is ever truncated
   * (`append` and `maybeAppend` throw ERR_LOG_CORRUPT instead): a committed entry is final (§5.4).
   */
  committed: number;
  /** Highest index handed to the application for applying (raised when a Ready is accepted, before it applies). */
  applying: number;
  /**
   * Highest index the application has applied (raised by `advance`). Not persisted by raft: a restart resumes
   * from `Config.applied`, so that the application never applies an entry twice.
   */
  applied: number;
  /** Total size of entries being applied (handed out, not yet acknowledged). */
  applyingEntsSize = 0;
  /** True when no more committed entries should be handed out until some are applied. */
  applyingEntsPaused = false;

  constructor(
    readonly storage: Storage,
    readonly logger: Logger,
    /** Limit on the total size of entries handed out for applying and not yet applied (maxCommittedSizePerReady). */
    readonly maxApplyingEntsSize: number = Infinity,
  ) {
    const firstIndex = storage.firstIndex();
    const lastIndex = storage.lastIndex();
    this.unstable = new Unstable(lastIndex + 1);
    // Everything up to the last compaction is committed and applied.
    this.committed = firstIndex - 1;
    this.applying = firstIndex - 1;
    this.applied = firstIndex - 1;
  }

  toString(): string {
    return `committed=${this.committed}, applied=${this.applied}, applying=${this.applying}, unstable.offset=${this.unstable.offset}, unstable.offsetInProgress=${this.unstable.offsetInProgress}, len(unstable.entries)=${this.unstable.entries.length}`;
  }

  /**
   * Appends `ents` after (index, logTerm) if the log has that entry (the §5.3 consistency check); returns the new
   * last index, or undefined if the check fails. Commits up to min(committed, new last index).
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: readonly Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    // Entries we already hold with the same term are identical to the leader's (Log Matching, §5.3) and stay:
    // truncating at `index + 1` regardless could drop newer entries when this (possibly stale, reordered) message
    // is older than ones already appended. Only the first entry that differs, and all after it, is replaced.
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      if (ci <= this.committed) {
        throw new RaftError(
          'ERR_LOG_CORRUPT',
          `entry ${ci} conflicts with committed entry [committed(${this.committed})]`,
        );
      }
      const offset = index + 1;
      if (ci - offset > ents.length)
        throw new RangeError(`index ${ci - offset} is out of range [${ents.length}]`);
      this.append(ents.slice(ci - offset));
    }
    // Not `committed` itself: our entries past `lastNew` are not known to match the leader's (Figure 2, rule 5 of
    // AppendEntries: min(leaderCommit, index of last new entry)).
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  /** Appends entries (truncating a conflicting unstable suffix); returns the last index. */
  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index - 1;
    if (after < this.committed) {
      throw new RaftError(
        'ERR_LOG_CORRUPT',
        `after(${after}) is out of range [committed(${this.committed})]`,
      );
    }
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /**
   * The index of the first entry of `ents` that conflicts with the log (same index, other term) or is new; 0 when
   * all of them are already in the log.
   */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The last index at or below `index` whose term is <= `term`, with that term (0 when unknown): the fast
   * rejection hint (etcd's findConflictByTerm).
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    // Why skipping is safe: the other log's terms do not decrease along it, so all its entries at or below `index`
    // have terms <= `term`; ours above the returned index have terms > `term` and cannot match any of them.
    for (; index > 0; index--) {
      let ourTerm: number;
      try {
        ourTerm = this.term(index);
      } catch (err) {
        if (isRaftError(err)) return { index, term: 0 };
        throw err;
      }
      if (ourTerm <= term) return { index, term: ourTerm };
    }
    return { index: 0, term: 0 };
  }

  nextUnstableEnts(): Entry[] {
    return this.unstable.nextEntries();
  }

  hasNextUnstableEnts(): boolean {
    return this.unstable.offsetInProgress - this.unstable.offset < this.unstable.entries.length;
  }

  hasNextOrInProgressUnstableEnts(): boolean {
    return this.unstable.entries.length > 0;
  }

  nextUnstableSnapshot(): Snapshot | undefined {
    return this.unstable.nextSnapshot();
  }

  hasNextUnstableSnapshot(): boolean {
    return this.unstable.nextSnapshot() !== undefined;
  }

  hasNextOrInProgressSnapshot(): boolean {
    return this.unstable.snapshot !== undefined;
  }

  /**
   * Committed entries to hand out for applying, within maxApplyingEntsSize. With `allowUnstable`, entries not yet
   * persisted locally may be included (the application persists before it applies within one Ready).
   */
  nextCommittedEnts(allowUnstable: boolean): Entry[] {
    // While a snapshot is pending, entries after it must wait: they apply on top of the snapshot's state.
    if (this.applyingEntsPaused || this.hasNextOrInProgressSnapshot()) return [];
    const lo = this.applying + 1;
    const hi = this.maxAppliableIndex(allowUnstable) + 1;
    if (lo >= hi) return [];
    const maxSize = this.maxApplyingEntsSize - this.applyingEntsSize;
    if (maxSize <= 0) throw new Error(`applying entry size (${this.applyingEntsSize}) exceeds the limit`);
    return this.slice(lo, hi, maxSize);
  }

  hasNextCommittedEnts(allowUnstable: boolean): boolean {
    if (this.applyingEntsPaused || this.hasNextOrInProgressSnapshot()) return false;
    return this.applying + 1 < this.maxAppliableIndex(allowUnstable) + 1;
  }

  /**
   * Without `allowUnstable`, only entries already durable here: an entry applied before it is persisted could be
   * lost from this node's log in a crash while the state machine keeps its effect.
   */
  maxAppliableIndex(allowUnstable: boolean): number {
    return allowUnstable ? this.committed : Math.min(this.committed, this.unstable.offset - 1);
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /**
   * Raises the commit index. A commit beyond the last index means the log lost entries the cluster knows are
   * committed: the node's data was lost, truncated or corrupted (etcd panics with "tocommit out of range" here).
   */
  commitTo(tocommit: number): void {
    if (this.committed >= tocommit) return;
    if (this.lastIndex() < tocommit) {
      throw new RaftError(
        'ERR_LOG_CORRUPT',
        `tocommit(${tocommit}) is out of range [lastIndex(${this.lastIndex()})]: this node's log lost entries the cluster ` +
          'committed (its data directory was wiped, truncated, or restored from an old copy). Remove it from the ' +
          'cluster and add it back as a new member with an empty data directory.',
      );
    }
    this.committed = tocommit;
  }

  /** The application applied up to `i`; `size` is the size of the entries it acknowledges. */
  appliedTo(i: number, size: number): void {
    if (this.committed < i || i < this.applied) {
      throw new RangeError(
        `applied(${i}) is out of range [prevApplied(${this.applied}), committed(${this.committed})]`,
      );
    }
    this.applied = i;
    this.applying = Math.max(this.applying, i);
    this.applyingEntsSize = this.applyingEntsSize > size ? this.applyingEntsSize - size : 0;
    this.applyingEntsPaused = this.applyingEntsSize >= this.maxApplyingEntsSize;
  }

  /** Entries up to `i` of total `size` were handed out for applying. */
  acceptApplying(i: number, size: number, allowUnstable: boolean): void {
    if (this.committed < i)
      throw new RangeError(`applying(${i}) is out of range [committed(${this.committed})]`);
    this.applying = i;
    this.applyingEntsSize += size;
    // Pause when over the size limit, or when the Ready was cut short by it (etcd: i < maxAppliableIndex).
    this.applyingEntsPaused =
      this.applyingEntsSize >= this.maxApplyingEntsSize || i < this.maxAppliableIndex(allowUnstable);
  }

  stableTo(index: number, term: number): void {
    this.unstable.stableTo(index, term);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  acceptUnstable(): void {
    this.unstable.acceptInProgress();
  }

  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  /**
   * The term of entry `i`. Throws RaftError `ERR_COMPACTED` below the first index - 1 and `ERR_UNAVAILABLE` past the
   * last index.
   */
  term(i: number): number {
    const t = this.unstable.maybeTerm(i);
    if (t !== undefined) return t;
    // The valid range is [firstIndex-1, lastIndex]: the compacted entry at firstIndex-1 keeps its term for matching.
    if (i + 1 < this.firstIndex()) throw new RaftError('ERR_COMPACTED', `term(${i}): compacted`);
    if (i > this.lastIndex())
      throw new RaftError('ERR_UNAVAILABLE', `term(${i}): past the last index ${this.lastIndex()}`);
    return this.storage.term(i);
  }

  /** The term of entry `i`, or 0 when it is out of range (etcd's zeroTermOnOutOfBounds). */
  termOrZero(i: number): number {
    try {
      return this.term(i);
    } catch (err) {
      if (isRaftError(err, 'ERR_COMPACTED') || isRaftError(err, 'ERR_UNAVAILABLE')) return 0;
      throw err;
    }
  }

  /** Entries from `i` to the end, within `maxSize`. */
  entries(i: number, maxSize: number): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxSize);
  }

  allEntries(): Entry[] {
    for (;;) {
      try {
        return this.entries(this.firstIndex(), Infinity);
      } catch (err) {
        if (!isRaftError(err, 'ERR_COMPACTED')) throw err;
      }
    }
  }

  /** §5.4.1: a candidate's log (last index, term) is at least as up to date as ours. */
  isUpToDate(lasti: number, term: number): boolean {
    const ourTerm = this.lastTerm();
    return term > ourTerm || (term === ourTerm && lasti >= this.lastIndex());
  }

  /** Whether the log holds entry `i` with term `term`; an index out of range is a mismatch, never an error. */
  matchTerm(i: number, term: number): boolean {
    const t = this.unstable.maybeTerm(i);
    if (t !== undefined) return t === term;
    if (i + 1 < this.firstIndex() || i > this.lastIndex()) return false;
    return this.storage.term(i) === term;
  }

  /** Commits up to `maxIndex` if the entry there has term `term` (only entries of the current term, §5.4.2). */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (term !== 0 && maxIndex > this.committed && this.matchTerm(maxIndex, term)) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  /** Replaces the log with a snapshot. A snapshot holds only committed state, so `committed` moves up to it. */
  restore(s: Snapshot): void {
    this.logger.info('log starts to restore snapshot', { index: s.metadata.index, term: s.metadata.term });
    this.committed = s.metadata.index;
    this.unstable.restore(s);
  }

  /** Visits entries in [lo, hi) in pages of at most `pageSize`. */
  scan(lo: number, hi: number, pageSize: number, fn: (ents: Entry[]) => void): void {
    while (lo < hi) {
      const ents = this.slice(lo, hi, pageSize);
      if (ents.length === 0) throw new Error(`got 0 entries in [${lo}, ${hi})`);
      fn(ents);
      lo += ents.length;
    }
  }

  /** Entries in [lo, hi) within `maxSize` (at least one if any), from storage and/or the unstable part. */
  slice(lo: number, hi: number, maxSize: number): Entry[] {
    this.checkOutOfBounds(lo, hi);
    if (lo === hi) return [];
    const uoff = this.unstable.offset;
    if (lo >= uoff) return limitSize(this.unstable.slice(lo, hi), maxSize);
    const cut = Math.min(hi, uoff);
    const ents = this.storage.entries(lo, cut, maxSize);
    if (hi <= uoff) return ents;
    // Storage returned fewer than asked: the size limit was reached.
    if (ents.length < cut - lo) return ents;
    const size = entriesSize(ents);
    if (size >= maxSize) return ents;
    const unstable = limitSize(this.unstable.slice(uoff, hi), maxSize - size);
    if (unstable.length === 1 && size + entriesSize(unstable) > maxSize) return ents;
    return ents.concat(unstable);
  }

  private checkOutOfBounds(lo: number, hi: number): void {
    if (lo > hi) throw new RangeError(`invalid slice ${lo} > ${hi}`);
    const fi = this.firstIndex();
    if (lo < fi) throw new RaftError('ERR_COMPACTED', `slice [${lo},${hi}): compacted (first index ${fi})`);
    const last = this.lastIndex();
    if (hi > last + 1) throw new RangeError(`slice[${lo},${hi}) out of bound [${fi},${last}]`);
  }
}
