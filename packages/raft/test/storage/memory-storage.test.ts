// After etcd's storage_test.go.
import { describe, expect, it } from 'vitest';
import { isRaftError } from '../../src/errors.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import type { Entry } from '../../src/raftpb/types.js';

const e = (index: number, term: number, size = 0): Entry => ({
  index,
  term,
  type: 0,
  data: new Uint8Array(size),
});
const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return isRaftError(err) ? err.code : String(err);
  }
};

/** Storage holding entries 3..5 (3 is the dummy/snapshot position), terms 3, 4, 5. */
function ms(): MemoryStorage {
  const s = new MemoryStorage();
  s.applySnapshot({
    data: new Uint8Array(0),
    metadata: {
      index: 3,
      term: 3,
      confState: { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
    },
  });
  s.append([e(4, 4), e(5, 5)]);
  return s;
}

describe('MemoryStorage', () => {
  it('term(): compacted below the first index - 1, unavailable past the last', () => {
    const s = ms();
    expect(code(() => s.term(2))).toBe('ERR_COMPACTED');
    expect(s.term(3)).toBe(3);
    expect(s.term(5)).toBe(5);
    expect(code(() => s.term(6))).toBe('ERR_UNAVAILABLE');
  });

  it('entries(): bounds and the size limit (always at least one entry)', () => {
    const s = new MemoryStorage();
    s.append([e(1, 1, 10), e(2, 1, 10), e(3, 1, 10)]);
    expect(code(() => ms().entries(2, 6, Infinity))).toBe('ERR_COMPACTED');
    expect(s.entries(1, 4, Infinity).map((x) => x.index)).toEqual([1, 2, 3]);
    expect(s.entries(1, 4, 0).map((x) => x.index)).toEqual([1]);
    expect(s.entries(1, 4, 2 * 34).map((x) => x.index)).toEqual([1, 2]);
    expect(() => s.entries(1, 5, Infinity)).toThrow(/out of bound/);
  });

  it('firstIndex / lastIndex follow snapshots and compaction', () => {
    const s = ms();
    expect([s.firstIndex(), s.lastIndex()]).toEqual([4, 5]);
    s.compact(4);
    expect([s.firstIndex(), s.lastIndex()]).toEqual([5, 5]);
    expect(code(() => s.compact(4))).toBe('ERR_COMPACTED');
    expect(() => s.compact(9)).toThrow(/out of bound/);
  });

  it('createSnapshot() refuses an old index and keeps the term of the entry', () => {
    const s = ms();
    const snap = s.createSnapshot(5, undefined, new Uint8Array([7]));
    expect(snap.metadata).toMatchObject({ index: 5, term: 5, confState: { voters: [1] } });
    expect(code(() => s.createSnapshot(4, undefined, new Uint8Array(0)))).toBe('ERR_SNAPSHOT_OUT_OF_DATE');
  });

  it('applySnapshot() refuses an older snapshot', () => {
    const s = ms();
    expect(
      code(() =>
        s.applySnapshot({
          data: new Uint8Array(0),
          metadata: { index: 2, term: 2, confState: s.snapshot().metadata.confState },
        }),
      ),
    ).toBe('ERR_SNAPSHOT_OUT_OF_DATE');
  });

  it('append(): truncates a conflicting suffix, skips compacted entries, refuses a gap', () => {
    const cases: [Entry[], number[] | 'gap'][] = [
      [
        [e(4, 4), e(5, 5)],
        [3, 4, 5],
      ],
      [
        [e(4, 4), e(5, 6), e(6, 6)],
        [3, 4, 6, 6],
      ],
      [
        [e(2, 3), e(3, 3), e(4, 5)],
        [3, 5],
      ], // the compacted part is skipped
      [[e(6, 5)], [3, 4, 5, 5]],
      [[e(7, 5)], 'gap'],
    ];
    for (const [append, want] of cases) {
      const s = ms();
      if (want === 'gap') {
        expect(() => s.append(append)).toThrow(/missing log entry/);
        continue;
      }
      s.append(append);
      const terms = [s.term(3)];
      for (let i = 4; i <= s.lastIndex(); i++) terms.push(s.term(i));
      expect(terms).toEqual(want);
    }
  });

  it('initialState() returns the hard state and the snapshot configuration', () => {
    const s = ms();
    s.setHardState({ term: 5, vote: 1, commit: 4 });
    expect(s.initialState()).toMatchObject({
      hardState: { term: 5, vote: 1, commit: 4 },
      confState: { voters: [1] },
    });
  });
});
