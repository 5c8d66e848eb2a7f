// Joint quorums (Raft dissertation section 4.3): during C_old,new, agreement (commitment and elections)
// requires separate majorities from both the old and the new configuration.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fcParams } from './fc-params.js';
import {
  INFINITE_INDEX,
  VoteResult,
  formatJointConfig,
  isJoint,
  jointCommittedIndex,
  jointIds,
  jointVoteResult,
  majorityCommittedIndex,
  majorityVoteResult,
} from '../../src/quorum/index.js';
import { acked, ids, naiveCommitted, votes } from './cases.js';

describe('jointCommittedIndex', () => {
  // [incoming, outgoing, acked (incoming ids, then outgoing ids not yet listed), committed]
  const table: [string, string, string, number][] = [
    ['1 2 3', '', '100 101 99', 100], // an empty outgoing half is neutral
    ['1', '2', '_ _', 0],
    ['1', '2', '100 _', 0], // the outgoing half has nothing
    ['1', '2', '13 100', 13], // both halves decided: the lower
    ['1', '1', '_', 0],
    ['1', '1', '100', 100],
    ['1 3', '2', '_ _ _', 0],
    ['1 3', '2', '100 _ _', 0],
    ['1 3', '2', '100 _ 50', 0], // incoming (1 3) has only one report
    ['1 3', '2', '100 45 50', 45],
    ['1 2', '2', '_ _', 0],
    ['1 2', '2', '100 _', 0],
    ['1 2', '2', '_ 100', 0],
    ['1 2', '2', '50 100', 50],
    ['1 2', '2', '100 50', 50],
    ['1 2', '3 4', '50 _ _ _', 0],
    ['1 2', '3 4', '50 48 49 _', 0],
    ['1 2', '3 4', '50 48 49 47', 47],
    ['1 2', '2 3', '_ 100 99', 0], // voter 1 silent: incoming half at 0
    ['1 2', '2 3', '101 100 99', 99],
    ['1 2', '1 2', '41 40', 40],
    ['1 2 3', '4 5 6', '100 _ _ 90 _ _', 0],
    ['1 2 3', '4 5 6', '_ 99 90 97 95 _', 90], // incoming at 90, outgoing at 95
    ['1 2 3', '4 5 6', '92 99 90 97 95 _', 92], // incoming rises to 92
    ['1 2 3', '4 5 6', '92 99 90 97 95 77', 92], // outgoing's third report does not lower it
    ['1 2 3', '1 4 5', '100 101 100 _ _', 0], // outgoing (1 4 5) has one report only
    ['1 2 3', '1 4 5', '_ 100 99 99 98', 98], // incoming 99, outgoing 98 (voter 1 silent)
    ['1 2 3', '1 4 5', '100 100 99 99 98', 99],
    ['1 2 3', '2 3 4', '_ 100 99 _', 99],
    ['1 2 3', '2 3 4', '100 _ _ 101', 0],
    ['1 2 3', '2 3 4', '100 99 _ 101', 99],
    ['1 2 3', '1 2 3', '50 45 _', 45],
  ];
  it.each(table)('cfg=(%s)&&(%s) idx=(%s) -> %i', (cfg, cfgj, idx, want) => {
    const l = acked(cfg, idx, cfgj);
    const c0 = ids(cfg);
    const c1 = ids(cfgj);
    expect(jointCommittedIndex([c0, c1], l)).toBe(want);
    // The halves play symmetric roles.
    expect(jointCommittedIndex([c1, c0], l)).toBe(want);
  });

  it('the empty joint config commits everything', () => {
    expect(jointCommittedIndex([new Set(), new Set()], () => 3)).toBe(INFINITE_INDEX);
  });

  it('equals the minimum of both halves and of the naive definition (fast-check)', () => {
    const half = fc.uniqueArray(fc.integer({ min: 1, max: 12 }), { maxLength: 9 });
    const acks = fc.array(fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }), {
      minLength: 12,
      maxLength: 12,
    });
    fc.assert(
      fc.property(half, half, acks, (a, b, ackList) => {
        const l = (id: number): number | undefined => ackList[id - 1];
        const c0 = new Set(a);
        const c1 = new Set(b);
        const got = jointCommittedIndex([c0, c1], l);
        expect(got).toBe(Math.min(majorityCommittedIndex(c0, l), majorityCommittedIndex(c1, l)));
        expect(got).toBe(Math.min(naiveCommitted(c0, l), naiveCommitted(c1, l)));
      }),
      fcParams(2000),
    );
  });
});

describe('jointVoteResult', () => {
  const { Pending, Lost, Won } = VoteResult;
  // [incoming, outgoing, votes (incoming ids, then outgoing ids not yet listed), result]
  const table: [string, string, string, VoteResult][] = [
    ['', '', '', Won],
    ['1', '', '_', Pending],
    ['1', '', 'y', Won],
    ['1', '', 'n', Lost],
    ['1', '1', '_', Pending],
    ['1', '1', 'y', Won],
    ['1', '1', 'n', Lost],
    ['1', '2', '_ _', Pending],
    ['1', '2', 'y _', Pending], // incoming won, outgoing pending
    ['1', '2', 'y y', Won],
    ['1', '2', 'y n', Lost], // the outgoing half lost
    ['1', '2', 'n _', Lost],
    ['1', '2', 'n n', Lost],
    ['1', '2', 'n y', Lost],
    ['1 2', '3 4', '_ _ _ _', Pending],
    ['1 2', '3 4', 'y _ _ _', Pending],
    ['1 2', '3 4', 'y y _ _', Pending],
    ['1 2', '3 4', 'y y n _', Lost],
    ['1 2', '3 4', 'y y n n', Lost],
    ['1 2', '3 4', 'y y y n', Lost],
    ['1 2', '3 4', 'y y y y', Won],
    ['1 2', '2 3', '_ _ _', Pending],
    ['1 2', '2 3', '_ n _', Lost], // 2 is in both halves: its "no" loses both
    ['1 2', '2 3', 'y y _', Pending],
    ['1 2', '2 3', 'y y n', Lost],
    ['1 2', '2 3', 'y y y', Won],
    ['1 2', '1 2', 'y _', Pending],
    ['1 2', '1 2', 'y n', Lost],
    ['1 2 3', '2 3 4', '_ _ _ _', Pending],
    ['1 2 3', '2 3 4', '_ n _ _', Pending],
    ['1 2 3', '2 3 4', '_ n n _', Lost],
    ['1 2 3', '2 3 4', '_ y y _', Won], // 2 and 3 form a majority of both halves
    ['1 2 3', '2 3 4', 'y y _ _', Pending],
    ['1 2 3', '2 3 4', 'y y n _', Pending],
    ['1 2 3', '2 3 4', 'y y n n', Lost],
    ['1 2 3', '2 3 4', 'y y n y', Won],
  ];
  it.each(table)('cfg=(%s)&&(%s) votes=(%s) -> %s', (cfg, cfgj, v, want) => {
    const m = votes(cfg, v, cfgj);
    const c0 = ids(cfg);
    const c1 = ids(cfgj);
    expect(jointVoteResult([c0, c1], m)).toBe(want);
    expect(jointVoteResult([c1, c0], m)).toBe(want);
  });

  it('is Won iff both halves won and Lost iff either lost (fast-check)', () => {
    const half = fc.uniqueArray(fc.integer({ min: 1, max: 8 }), { maxLength: 7 });
    const vs = fc.array(fc.constantFrom<boolean | undefined>(true, false, undefined), {
      minLength: 8,
      maxLength: 8,
    });
    fc.assert(
      fc.property(half, half, vs, (a, b, vl) => {
        const m = new Map<number, boolean>();
        vl.forEach((v, i) => {
          if (v !== undefined) m.set(i + 1, v);
        });
        const r0 = majorityVoteResult(new Set(a), m);
        const r1 = majorityVoteResult(new Set(b), m);
        const got = jointVoteResult([new Set(a), new Set(b)], m);
        expect(got === VoteResult.Won).toBe(r0 === VoteResult.Won && r1 === VoteResult.Won);
        expect(got === VoteResult.Lost).toBe(r0 === VoteResult.Lost || r1 === VoteResult.Lost);
      }),
      fcParams(1000),
    );
  });
});

describe('joint config helpers', () => {
  it('isJoint is true iff the outgoing half is non-empty', () => {
    expect(isJoint([ids('1 2'), ids('')])).toBe(false);
    expect(isJoint([ids('1 2'), ids('2 3')])).toBe(true);
  });

  it('jointIds is the union of both halves, as a new set', () => {
    const c0 = ids('1 2');
    const got = jointIds([c0, ids('2 3')]);
    expect([...got].sort((a, b) => a - b)).toEqual([1, 2, 3]);
    got.add(9);
    expect(c0.has(9)).toBe(false);
  });

  it('formats as etcd does, ids sorted numerically', () => {
    expect(formatJointConfig([ids('10 2 1'), ids('')])).toBe('(1 2 10)');
    expect(formatJointConfig([ids('1 2'), ids('3 2')])).toBe('(1 2)&&(2 3)');
  });
});
