// Restoring the tracker's configuration from a ConfState (a snapshot's metadata or the storage's initial
// state), which must reproduce exactly the configuration that was saved, joint or not.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fcParams } from '../quorum/fc-params.js';
import { Changer, restore } from '../../src/confchange/index.js';
import type { ConfState } from '../../src/raftpb/types.js';
import { emptyConfState } from '../../src/raftpb/types.js';
import { ProgressState, ProgressTracker } from '../../src/tracker/index.js';

function roundTrip(cs: ConfState): ConfState {
  const trk = new ProgressTracker(20, 0);
  [trk.config, trk.progress] = restore(new Changer(trk, 10), cs);
  return trk.confState();
}

const sorted = (a: number[]): number[] => [...a].sort((x, y) => x - y);
function normalized(cs: ConfState): ConfState {
  return {
    voters: sorted(cs.voters),
    learners: sorted(cs.learners),
    votersOutgoing: sorted(cs.votersOutgoing),
    learnersNext: sorted(cs.learnersNext),
    autoLeave: cs.autoLeave,
  };
}

/**
 * A random valid ConfState: disjoint voters / learners / removed voters; the outgoing config keeps some of
 * the incoming voters plus the removed ones; learnersNext is a subset of the removed voters; autoLeave only
 * when joint. Ids are shuffled so that sorting is exercised.
 */
const confStateArb: fc.Arbitrary<ConfState> = fc
  .record({
    nVoters: fc.integer({ min: 1, max: 5 }),
    nLearners: fc.integer({ min: 0, max: 4 }),
    nRemoved: fc.integer({ min: 0, max: 2 }),
    retained: fc.integer({ min: 0, max: 5 }),
    nNext: fc.integer({ min: 0, max: 2 }),
    autoLeave: fc.boolean(),
    ids: fc.shuffledSubarray(
      Array.from({ length: 30 }, (_, i) => i + 1),
      { minLength: 11, maxLength: 11 },
    ),
  })
  .map(({ nVoters, nLearners, nRemoved, retained, nNext, autoLeave, ids }) => {
    const voters = ids.slice(0, nVoters);
    const learners = ids.slice(nVoters, nVoters + nLearners);
    const removed = ids.slice(nVoters + nLearners, nVoters + nLearners + nRemoved);
    const votersOutgoing = [...voters.slice(0, Math.min(retained, nVoters)), ...removed];
    const learnersNext = removed.slice(0, Math.min(nNext, nRemoved));
    return {
      voters,
      learners,
      votersOutgoing,
      learnersNext,
      autoLeave: votersOutgoing.length > 0 && autoLeave,
    };
  });

describe('restore', () => {
  const table: [string, ConfState][] = [
    ['the empty config', emptyConfState()],
    ['three voters', { ...emptyConfState(), voters: [1, 2, 3] }],
    ['voters and learners', { ...emptyConfState(), voters: [1, 2, 3], learners: [4, 5, 6] }],
    [
      'a joint config with a staged learner',
      { voters: [1, 2, 3], learners: [5], votersOutgoing: [1, 2, 4, 6], learnersNext: [4], autoLeave: false },
    ],
    [
      'a joint config left automatically, ids unsorted',
      { voters: [30, 2, 11], learners: [], votersOutgoing: [11, 2, 7], learnersNext: [], autoLeave: true },
    ],
  ];
  it.each(table)('round-trips %s', (_name, cs) => {
    expect(roundTrip(cs)).toEqual(normalized(cs));
  });

  it('gives restored peers fresh progress: probing from lastIndex, recently active, learners marked', () => {
    const trk = new ProgressTracker(20, 100);
    const cs: ConfState = {
      voters: [1, 2],
      learners: [3],
      votersOutgoing: [1, 4],
      learnersNext: [4],
      autoLeave: false,
    };
    const [, prs] = restore(new Changer(trk, 10), cs);
    expect([...prs.keys()].sort()).toEqual([1, 2, 3, 4]);
    for (const [id, pr] of prs) {
      expect(pr.state).toBe(ProgressState.Probe);
      expect(pr.match).toBe(0);
      expect(pr.next).toBe(10);
      expect(pr.recentActive).toBe(true);
      expect(pr.isLearner).toBe(id === 3); // 4 votes in the outgoing half until the joint config is left
      expect(pr.inflights.size).toBe(20);
      expect(pr.inflights.maxBytes).toBe(100);
    }
  });

  // [why, ConfState, expected message]
  const invalid: [string, ConfState, string][] = [
    [
      'a learner that is also a voter',
      { ...emptyConfState(), voters: [1, 2], learners: [2] },
      'not a valid configuration',
    ],
    ['a duplicate voter', { ...emptyConfState(), voters: [1, 1] }, 'not a valid configuration'],
    ['a negative node id', { ...emptyConfState(), voters: [1, -2] }, 'not a valid configuration'],
    ['a fractional node id', { ...emptyConfState(), voters: [1.5] }, 'not a valid configuration'],
    ['node id 0', { ...emptyConfState(), voters: [1, 0] }, 'not a valid configuration'],
    [
      'learnersNext that are not outgoing voters',
      { voters: [1, 2], learners: [], votersOutgoing: [1], learnersNext: [3], autoLeave: false },
      'not a valid configuration',
    ],
    [
      'learnersNext outside a joint config',
      { ...emptyConfState(), voters: [1, 2], learnersNext: [2] },
      'not a valid configuration',
    ],
    ['learners without voters', { ...emptyConfState(), learners: [1] }, 'removed all voters'],
    [
      'autoLeave outside a joint config',
      { ...emptyConfState(), voters: [1], autoLeave: true },
      'not a valid configuration',
    ],
    [
      'a joint config with no incoming voters',
      { ...emptyConfState(), votersOutgoing: [1, 2] },
      'removed all voters',
    ],
  ];
  it.each(invalid)('refuses %s', (_why, cs, message) => {
    let err: unknown;
    try {
      roundTrip(cs);
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string } | undefined)?.code).toBe('ERR_CONF_CHANGE_INVALID');
    expect((err as Error).message).toContain(message);
  });

  it('round-trips random valid ConfStates, with every list sorted (fast-check)', () => {
    fc.assert(
      fc.property(confStateArb, (cs) => {
        expect(roundTrip(cs)).toEqual(normalized(cs));
      }),
      fcParams(1000),
    );
  });
});
