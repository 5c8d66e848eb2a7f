// ProgressTracker: commit index from voters' match indexes (Raft paper 5.3/5.4.2), election tallies (5.2),
// CheckQuorum liveness (dissertation 6.2), joint configurations (dissertation 4.3).
import { describe, expect, it } from 'vitest';
import { VoteResult } from '../../src/quorum/index.js';
import { Inflights, Progress, ProgressTracker, formatTrackerConfig } from '../../src/tracker/index.js';

interface Peers {
  voters: number[];
  outgoing?: number[];
  learners?: number[];
  learnersNext?: number[];
  autoLeave?: boolean;
}

/** A tracker with the given configuration; every peer gets a Progress with the given match (default 0). */
function tracker(p: Peers, match: Record<number, number> = {}): ProgressTracker {
  const t = new ProgressTracker(16, 0);
  t.config.voters[0] = new Set(p.voters);
  t.config.voters[1] = new Set(p.outgoing ?? []);
  t.config.learners = new Set(p.learners ?? []);
  t.config.learnersNext = new Set(p.learnersNext ?? []);
  t.config.autoLeave = p.autoLeave ?? false;
  const all = [...p.voters, ...(p.outgoing ?? []), ...(p.learners ?? [])];
  for (const id of all) {
    const m = match[id] ?? 0;
    t.progress.set(
      id,
      new Progress({
        match: m,
        next: m + 1,
        inflights: new Inflights(16, 0),
        isLearner: p.learners?.includes(id) ?? false,
      }),
    );
  }
  return t;
}

describe('ProgressTracker', () => {
  it('starts empty', () => {
    const t = new ProgressTracker(256, 1024);
    expect(t.confState()).toEqual({
      voters: [],
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    });
    expect(t.maxInflight).toBe(256);
    expect(t.maxInflightBytes).toBe(1024);
    expect(t.isSingleton()).toBe(false);
  });

  it('confState lists every id sorted numerically', () => {
    const t = tracker({
      voters: [10, 2, 3],
      outgoing: [3, 1, 2],
      learners: [20, 9],
      learnersNext: [1],
      autoLeave: true,
    });
    expect(t.confState()).toEqual({
      voters: [2, 3, 10],
      learners: [9, 20],
      votersOutgoing: [1, 2, 3],
      learnersNext: [1],
      autoLeave: true,
    });
    expect(formatTrackerConfig(t.config)).toBe(
      'voters=(2 3 10)&&(1 2 3) learners=(9 20) learners_next=(1) autoleave',
    );
    expect(t.voterNodes()).toEqual([1, 2, 3, 10]);
    expect(t.learnerNodes()).toEqual([9, 20]);
  });

  it('isSingleton only for one voter outside a joint config', () => {
    expect(tracker({ voters: [1] }).isSingleton()).toBe(true);
    expect(tracker({ voters: [1], learners: [2] }).isSingleton()).toBe(true);
    expect(tracker({ voters: [1, 2] }).isSingleton()).toBe(false);
    expect(tracker({ voters: [1], outgoing: [2] }).isSingleton()).toBe(false);
  });

  it('committed counts voters only: learners far ahead do not commit anything', () => {
    const t = tracker({ voters: [1, 2, 3], learners: [4, 5] }, { 1: 10, 2: 3, 3: 2, 4: 100, 5: 100 });
    expect(t.committed()).toBe(3);
  });

  it('committed in a joint config needs both majorities', () => {
    const t = tracker({ voters: [1, 2, 3], outgoing: [3, 4, 5] }, { 1: 9, 2: 9, 3: 4, 4: 5, 5: 1 });
    // incoming (1 2 3) has 9 on two voters; outgoing (3 4 5) only 4 on two.
    expect(t.committed()).toBe(4);
    // committed() follows a wholesale replacement of the progress map.
    const replaced = new Map(t.progress);
    replaced.set(5, new Progress({ match: 9, next: 10, inflights: new Inflights(1, 0) }));
    replaced.set(4, new Progress({ match: 9, next: 10, inflights: new Inflights(1, 0) }));
    t.progress = replaced;
    expect(t.committed()).toBe(9);
  });

  it('visit goes in ascending id order and notices changed key sets', () => {
    const t = tracker({ voters: [30, 4, 11], learners: [7] });
    const seen: number[] = [];
    t.visit((id) => seen.push(id));
    expect(seen).toEqual([4, 7, 11, 30]);
    // Same size, different keys: must not reuse the stale order.
    t.progress.delete(30);
    t.progress.set(1, new Progress({ next: 1, inflights: new Inflights(1, 0) }));
    const again: number[] = [];
    t.visit((id) => again.push(id));
    expect(again).toEqual([1, 4, 7, 11]);
    const replaced = new Map([[2, new Progress({ next: 1, inflights: new Inflights(1, 0) })]]);
    t.progress = replaced;
    const third: number[] = [];
    t.visit((id, pr) => {
      third.push(id);
      expect(pr).toBe(replaced.get(2));
    });
    expect(third).toEqual([2]);
  });

  it('quorumActive needs a recently active majority of voters (learners do not count)', () => {
    const t = tracker({ voters: [1, 2, 3], learners: [4] });
    const active = (ids: number[]): void => {
      for (const [id, pr] of t.progress) pr.recentActive = ids.includes(id);
    };
    active([1, 4]);
    expect(t.quorumActive()).toBe(false);
    active([1, 2]);
    expect(t.quorumActive()).toBe(true);
    const j = tracker({ voters: [1, 2, 3], outgoing: [4, 5, 6] });
    for (const [id, pr] of j.progress) pr.recentActive = [1, 2, 4].includes(id);
    expect(j.quorumActive()).toBe(false); // outgoing has only 4
    j.progress.get(5)!.recentActive = true;
    expect(j.quorumActive()).toBe(true);
  });

  it('records only the first vote of each voter', () => {
    const t = tracker({ voters: [1, 2, 3] });
    t.recordVote(1, true);
    t.recordVote(1, false);
    expect(t.votes.get(1)).toBe(true);
    t.resetVotes();
    expect(t.votes.size).toBe(0);
  });

  it('tallyVotes counts voters only and decides by (joint) majority', () => {
    const t = tracker({ voters: [1, 2, 3], learners: [4] });
    t.recordVote(4, true); // a learner's vote is not counted
    t.recordVote(9, true); // nor a stranger's
    t.recordVote(1, true);
    expect(t.tallyVotes()).toEqual({ granted: 1, rejected: 0, result: VoteResult.Pending });
    t.recordVote(2, false);
    expect(t.tallyVotes()).toEqual({ granted: 1, rejected: 1, result: VoteResult.Pending });
    t.recordVote(3, true);
    expect(t.tallyVotes()).toEqual({ granted: 2, rejected: 1, result: VoteResult.Won });

    const j = tracker({ voters: [1, 2, 3], outgoing: [3, 4, 5] });
    j.recordVote(1, true);
    j.recordVote(2, true);
    expect(j.tallyVotes().result).toBe(VoteResult.Pending); // outgoing half undecided
    j.recordVote(4, false);
    j.recordVote(5, false);
    expect(j.tallyVotes()).toEqual({ granted: 2, rejected: 2, result: VoteResult.Lost });
  });
});
