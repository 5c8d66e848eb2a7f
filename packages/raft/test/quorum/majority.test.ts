// Majority quorums: commit index (Raft paper 5.3: an entry is committed once a majority stores it) and
// elections (5.2: a candidate wins with votes from a majority).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fcParams } from './fc-params.js';
import {
  INFINITE_INDEX,
  VoteResult,
  jointCommittedIndex,
  majorityCommittedIndex,
  majorityVoteResult,
} from '../../src/quorum/index.js';
import { acked, ids, naiveCommitted, votes } from './cases.js';

describe('majorityCommittedIndex', () => {
  // [config, acked indexes, committed index, why]
  const table: [string, string, number, string][] = [
    ['1', '_', 0, 'a lone voter that has not reported commits nothing'],
    ['1', '12', 12, 'a lone voter commits what it has'],
    ['1 2', '_ _', 0, 'nothing reported'],
    ['1 2', '12 _', 0, 'two voters need both'],
    ['1 2', '12 5', 5, 'the lower of the two'],
    ['1 2 3', '_ _ _', 0, 'nothing reported'],
    ['1 2 3', '12 _ _', 0, 'one of three is no majority'],
    ['1 2 3', '12 5 _', 5, '5 is on two of three'],
    ['1 2 3', '12 5 6', 6, 'the third report can raise it'],
    ['1 2 3', '12 5 4', 5, '... or not'],
    ['1 2 3', '5 5 _', 5, 'equal reports'],
    ['1 2 3', '5 5 12', 5, 'a late high report changes nothing'],
    ['1 2 3', '100 101 103', 101, 'the median'],
    ['1 2 3 4 5', '101 104 103 103 _', 103, 'three of five at 103 or above'],
    ['1 2 3 4 5', '101 102 103 103 _', 102, 'only two at 103: 102 has three'],
    ['1 2 3 4', '10 20 30 _', 10, 'four voters need three'],
    ['1 2 3 4', '10 20 30 40', 20, 'four voters: the second lowest'],
    ['7 3 9 1 5 2 8', '1 2 3 4 5 6 7', 4, 'seven voters (the largest fixed buffer) need four'],
    ['1 2 3 4 5 6 7 8 9', '9 8 7 6 5 4 3 2 1', 5, 'nine voters (heap buffer) need five'],
    ['1 2 3 4 5 6 7 8 9 10', '1 8 _ 6 _ 4 _ 2 _ 10', 1, 'ten voters need six, four silent'],
    ['1 2 3 4 5 6 7 8 9 10', '_ 8 _ 6 _ 4 _ 2 _ 10', 0, 'ten voters, five silent: no majority'],
  ];
  it.each(table)('cfg=(%s) idx=(%s) -> %i (%s)', (cfg, idx, want) => {
    const c = ids(cfg);
    const l = acked(cfg, idx);
    expect(majorityCommittedIndex(c, l)).toBe(want);
    expect(naiveCommitted(c, l)).toBe(want);
    // A config joint with the empty config, or with itself, decides the same (etcd's harness checks this too).
    expect(jointCommittedIndex([c, new Set()], l)).toBe(want);
    expect(jointCommittedIndex([c, c], l)).toBe(want);
  });

  it('the empty config commits everything (neutral in a joint config)', () => {
    expect(majorityCommittedIndex(new Set(), () => 7)).toBe(INFINITE_INDEX);
  });

  it('lowering an ack that is already below the committed index does not change it', () => {
    const c = ids('1 2 3 4 5');
    const base = new Map([
      [1, 50],
      [2, 40],
      [3, 30],
      [4, 20],
      [5, 10],
    ]);
    const committed = majorityCommittedIndex(c, (id) => base.get(id));
    expect(committed).toBe(30);
    for (const [id, idx] of base) {
      if (idx >= committed) continue;
      for (const lowered of [idx - 1, 0]) {
        const m = new Map(base).set(id, lowered);
        expect(majorityCommittedIndex(c, (x) => m.get(x))).toBe(committed);
      }
    }
  });

  it('is correct when the acked indexer itself computes a committed index (re-entrant use)', () => {
    // Voter 1 is visited last, so the outer call has already collected two acks when the inner call runs.
    const inner = ids('4 5 6');
    const c = ids('2 3 1');
    const got = majorityCommittedIndex(c, (id) =>
      id === 1 ? majorityCommittedIndex(inner, (x) => x * 10) : id === 2 ? 5 : 7,
    );
    // Acks are 5, 7 and 50 (the inner result): the median is 7. A shared scratch buffer would yield 50.
    expect(got).toBe(7);
  });

  it('equals the naive definition for random configs and acks (fast-check)', () => {
    const arb = fc.uniqueArray(fc.integer({ min: 1, max: 40 }), { maxLength: 12 }).chain((voters) =>
      fc.tuple(
        fc.constant(voters),
        fc.array(fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }), {
          minLength: voters.length,
          maxLength: voters.length,
        }),
      ),
    );
    fc.assert(
      fc.property(arb, ([voters, acks]) => {
        const m = new Map<number, number>();
        voters.forEach((id, i) => {
          const a = acks[i];
          if (a !== undefined) m.set(id, a);
        });
        const c = new Set(voters);
        const l = (id: number): number | undefined => m.get(id);
        expect(majorityCommittedIndex(c, l)).toBe(naiveCommitted(c, l));
      }),
      fcParams(2000),
    );
  });
});

describe('majorityVoteResult', () => {
  const { Pending, Lost, Won } = VoteResult;
  // [config, votes, result]
  const table: [string, string, VoteResult][] = [
    ['', '', Won], // by convention: lets a joint config with an empty half behave like the other half
    ['1', '_', Pending],
    ['1', 'n', Lost],
    ['123', 'y', Won],
    ['4 8', '_ _', Pending],
    ['4 8', 'n _', Lost], // two voters: one rejection loses
    ['4 8', 'y _', Pending],
    ['4 8', 'n y', Lost],
    ['4 8', 'y y', Won],
    ['2 4 7', '_ _ _', Pending],
    ['2 4 7', 'n _ _', Pending],
    ['2 4 7', 'y _ _', Pending],
    ['2 4 7', 'n n _', Lost],
    ['2 4 7', 'y n _', Pending],
    ['2 4 7', 'y y _', Won],
    ['2 4 7', 'y y n', Won],
    ['2 4 7', 'n y n', Lost],
    ['1 2 3 4 5 6 7', 'y y n y _ _ _', Pending],
    ['1 2 3 4 5 6 7', '_ y y _ n y n', Pending],
    ['1 2 3 4 5 6 7', 'y y n y _ n y', Won],
    ['1 2 3 4 5 6 7', 'y y _ n y n n', Pending],
    ['1 2 3 4 5 6 7', 'y y n y n n n', Lost],
  ];
  it.each(table)('cfg=(%s) votes=(%s) -> %s', (cfg, v, want) => {
    expect(majorityVoteResult(ids(cfg), votes(cfg, v))).toBe(want);
  });

  it('ignores votes from ids outside the config', () => {
    const v = new Map([
      [1, true],
      [9, true],
      [8, true],
    ]);
    expect(majorityVoteResult(ids('1 2 3'), v)).toBe(VoteResult.Pending);
  });

  it('agrees with counting by definition (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 20 }), { maxLength: 9 }),
        fc.array(fc.constantFrom<'y' | 'n' | '_'>('y', 'n', '_'), { minLength: 9, maxLength: 9 }),
        (voters, vs) => {
          const m = new Map<number, boolean>();
          voters.forEach((id, i) => {
            if (vs[i] !== '_') m.set(id, vs[i] === 'y');
          });
          const yes = voters.filter((id) => m.get(id) === true).length;
          const no = voters.filter((id) => m.get(id) === false).length;
          const q = Math.floor(voters.length / 2) + 1;
          const want =
            voters.length === 0 || yes >= q
              ? VoteResult.Won
              : no > voters.length - q
                ? VoteResult.Lost
                : VoteResult.Pending;
          expect(majorityVoteResult(new Set(voters), m)).toBe(want);
        },
      ),
      fcParams(1000),
    );
  });
});
