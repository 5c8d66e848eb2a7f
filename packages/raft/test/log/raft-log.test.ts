// After etcd's log_test.go and log_unstable_test.go.
import { describe, expect, it } from 'vitest';
import { RaftLog } from '../../src/log/raft-log.js';
import { Unstable } from '../../src/log/unstable.js';
import { silentLogger } from '../../src/logger.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import { emptyConfState, type Entry, type Snapshot } from '../../src/raftpb/types.js';

const e = (index: number, term: number): Entry => ({ index, term, type: 0, data: new Uint8Array(0) });
const snap = (index: number, term: number): Snapshot => ({
  data: new Uint8Array(0),
  metadata: { index, term, confState: emptyConfState() },
});
const logWith = (...terms: number[]): RaftLog => {
  const l = new RaftLog(new MemoryStorage(), silentLogger);
  l.append(terms.map((t, i) => e(i + 1, t)));
  return l;
};

describe('RaftLog', () => {
  it('findConflict: the first entry that is new or has another term', () => {
    const l = logWith(1, 2, 3);
    expect(l.findConflict([])).toBe(0);
    expect(l.findConflict([e(1, 1), e(2, 2), e(3, 3)])).toBe(0);
    expect(l.findConflict([e(2, 2), e(3, 3), e(4, 4)])).toBe(4);
    expect(l.findConflict([e(1, 4), e(2, 4)])).toBe(1);
    expect(l.findConflict([e(3, 4), e(4, 4)])).toBe(3);
  });

  it('findConflictByTerm: the last index <= index whose term <= term', () => {
    const l = logWith(1, 1, 2, 2, 4, 4); // index:term 1:1 2:1 3:2 4:2 5:4 6:4
    expect(l.findConflictByTerm(6, 4)).toEqual({ index: 6, term: 4 });
    expect(l.findConflictByTerm(6, 3)).toEqual({ index: 4, term: 2 });
    expect(l.findConflictByTerm(6, 1)).toEqual({ index: 2, term: 1 });
    expect(l.findConflictByTerm(6, 0)).toEqual({ index: 0, term: 0 });
  });

  it('isUpToDate (§5.4.1): higher last term wins, then longer log', () => {
    const l = logWith(1, 2, 3);
    expect(l.isUpToDate(2, 4)).toBe(true);
    expect(l.isUpToDate(3, 3)).toBe(true);
    expect(l.isUpToDate(2, 3)).toBe(false);
    expect(l.isUpToDate(9, 2)).toBe(false);
  });

  it('maybeAppend: consistency check, truncation of conflicts, commit to min(committed, last new)', () => {
    const l = logWith(1, 2, 3);
    expect(l.maybeAppend(3, 2, 3, [])).toBeUndefined(); // term mismatch at 3
    expect(l.maybeAppend(4, 3, 3, [])).toBeUndefined(); // beyond the log
    expect(l.maybeAppend(3, 3, 3, [e(4, 4)])).toBe(4);
    expect(l.committed).toBe(3);
    expect(() => l.maybeAppend(2, 2, 5, [e(3, 4)])).toThrow(/conflicts with committed/);
  });

  it('commitTo past the last index is a lost-log error with a clear message (etcd "tocommit out of range")', () => {
    const l = logWith(1, 1);
    expect(() => l.commitTo(5)).toThrow(/tocommit\(5\) is out of range \[lastIndex\(2\)\].*wiped/);
    l.commitTo(2);
    l.commitTo(1); // never decreases
    expect(l.committed).toBe(2);
  });

  it('nextCommittedEnts respects applying, allowUnstable and the size budget', () => {
    const s = new MemoryStorage();
    s.append([e(1, 1), e(2, 1)]);
    const l = new RaftLog(s, silentLogger, Infinity);
    l.append([e(3, 1)]);
    l.commitTo(3);
    expect(l.nextCommittedEnts(false).map((x) => x.index)).toEqual([1, 2]);
    expect(l.nextCommittedEnts(true).map((x) => x.index)).toEqual([1, 2, 3]);
    // A Ready that handed out less than all appliable entries pauses applying until they are applied (etcd).
    l.acceptApplying(2, 0, true);
    expect(l.nextCommittedEnts(true)).toEqual([]);
    l.appliedTo(2, 0);
    expect(l.applied).toBe(2);
    expect(l.nextCommittedEnts(true).map((x) => x.index)).toEqual([3]);
  });

  it('stableTo ignores a stale term after truncation', () => {
    const l = logWith();
    l.append([e(1, 1), e(2, 1)]);
    l.append([e(2, 2)]); // entry 2 overwritten by a new leader
    l.stableTo(2, 1);
    expect(l.unstable.offset).toBe(1);
    l.stableTo(2, 2);
    expect(l.unstable.offset).toBe(3);
  });

  it('term(): compacted and unavailable errors; termOrZero for out of bounds', () => {
    const s = new MemoryStorage();
    s.applySnapshot(snap(5, 2));
    const l = new RaftLog(s, silentLogger);
    l.append([e(6, 3)]);
    expect(l.term(5)).toBe(2);
    expect(l.term(6)).toBe(3);
    expect(() => l.term(3)).toThrow(/compacted/);
    expect(() => l.term(7)).toThrow(/past the last/);
    expect(l.termOrZero(7)).toBe(0);
  });

  it('slice spans storage and unstable entries and respects maxSize', () => {
    const s = new MemoryStorage();
    s.append([e(1, 1), e(2, 1)]);
    const l = new RaftLog(s, silentLogger);
    l.append([e(3, 1), e(4, 1)]);
    expect(l.slice(1, 5, Infinity).map((x) => x.index)).toEqual([1, 2, 3, 4]);
    expect(l.slice(2, 4, Infinity).map((x) => x.index)).toEqual([2, 3]);
    expect(l.slice(1, 5, 24 * 3).map((x) => x.index)).toEqual([1, 2, 3]);
    expect(() => l.slice(0, 2, Infinity)).toThrow(/compacted/);
  });

  it('restore() from a snapshot resets the unstable log and commit', () => {
    const l = logWith(1, 1);
    l.restore(snap(10, 3));
    expect([l.committed, l.firstIndex(), l.lastIndex(), l.lastTerm()]).toEqual([10, 11, 10, 3]);
  });
});

describe('Unstable', () => {
  it('maybeFirstIndex / maybeLastIndex / maybeTerm with and without a snapshot', () => {
    const u = new Unstable(5);
    expect(u.maybeFirstIndex()).toBeUndefined();
    expect(u.maybeLastIndex()).toBeUndefined();
    u.truncateAndAppend([e(5, 1)]);
    expect(u.maybeLastIndex()).toBe(5);
    expect(u.maybeTerm(5)).toBe(1);
    expect(u.maybeTerm(4)).toBeUndefined();
    u.restore(snap(4, 1));
    expect([u.maybeFirstIndex(), u.maybeLastIndex(), u.maybeTerm(4)]).toEqual([5, 4, 1]);
  });

  it('truncateAndAppend: append, replace all, or truncate in the middle (in-progress offset follows)', () => {
    const u = new Unstable(5);
    u.truncateAndAppend([e(5, 1), e(6, 1), e(7, 1)]);
    u.acceptInProgress();
    expect(u.offsetInProgress).toBe(8);
    u.truncateAndAppend([e(6, 2)]);
    expect(u.entries.map((x) => [x.index, x.term])).toEqual([
      [5, 1],
      [6, 2],
    ]);
    expect(u.offsetInProgress).toBe(6);
    expect(u.nextEntries().map((x) => x.index)).toEqual([6]);
    u.truncateAndAppend([e(4, 3)]);
    expect([u.offset, u.entries.length]).toEqual([4, 1]);
  });

  it('stableSnapTo drops the snapshot only at its index', () => {
    const u = new Unstable(1);
    u.restore(snap(5, 2));
    u.stableSnapTo(4);
    expect(u.snapshot).toBeDefined();
    u.stableSnapTo(5);
    expect(u.snapshot).toBeUndefined();
  });
});
