// Changer contract: inputs are never mutated, results are independent copies, invariants are enforced, and
// ConfChangeV2's transition decides between simple and joint changes.
import { describe, expect, it } from 'vitest';
import { Changer, checkInvariants, enterJointOf, leavesJoint, restore } from '../../src/confchange/index.js';
import { ConfChangeTransition } from '../../src/raftpb/types.js';
import type { ConfChangeV2 } from '../../src/raftpb/types.js';
import { ProgressTracker } from '../../src/tracker/index.js';
import { changes, describeTracker } from './script.js';

function tracker3(): ProgressTracker {
  const t = new ProgressTracker(10, 0);
  [t.config, t.progress] = restore(new Changer(t, 5), {
    voters: [1, 2, 3],
    learners: [4],
    votersOutgoing: [],
    learnersNext: [],
    autoLeave: false,
  });
  return t;
}

describe('Changer', () => {
  it('never mutates the tracker it reads, on success or refusal', () => {
    const t = tracker3();
    const pr1 = t.progress.get(1)!;
    pr1.becomeReplicate();
    pr1.sentEntries(2, 10);
    const before = describeTracker(t);
    const chg = new Changer(t, 7);
    const [cfg, prs] = chg.enterJoint(true, ...changes('l1 v4 r2 v5'));
    expect(describeTracker({ config: cfg, progress: prs })).toEqual([
      'voters=(3 4 5)&&(1 2 3) learners_next=(1) autoleave',
      '1: StateReplicate match=0 next=3 inflight=1',
      '2: StateProbe match=0 next=5',
      '3: StateProbe match=0 next=5',
      '4: StateProbe match=0 next=5',
      '5: StateProbe match=0 next=7',
    ]);
    expect(() => chg.simple(...changes('r1 r2'))).toThrow(/more than one voter/);
    expect(describeTracker(t)).toEqual(before);
    expect(t.progress.get(4)!.isLearner).toBe(true);
    // The returned progress is a copy: changing it leaves the tracker's alone (and vice versa).
    prs.get(1)!.inflights.freeLE(10);
    expect(pr1.inflights.count()).toBe(1);
    expect(prs.get(1)).not.toBe(pr1);
  });

  it('refuses a tracker whose config and progress disagree', () => {
    const t = tracker3();
    t.progress.delete(2);
    expect(() => new Changer(t, 1).simple()).toThrow('no progress for 2');
    const u = tracker3();
    u.progress.get(4)!.isLearner = false;
    expect(() => new Changer(u, 1).simple()).toThrow('4 is in Learners, but is not marked as learner');
  });

  it('checkInvariants names the broken invariant', () => {
    const t = tracker3();
    t.config.learners.add(1);
    expect(() => checkInvariants(t.config, t.progress)).toThrow('1 is in Learners and Voters[0]');
    const u = tracker3();
    u.config.learnersNext.add(2);
    expect(() => checkInvariants(u.config, u.progress)).toThrow('2 is in LearnersNext, but not Voters[1]');
    const v = tracker3();
    v.config.autoLeave = true;
    expect(() => checkInvariants(v.config, v.progress)).toThrow('AutoLeave must be false when not joint');
  });

  it('refuses an unknown change type', () => {
    const t = tracker3();
    const bogus = { type: 9, nodeId: 5 } as unknown as ReturnType<typeof changes>[number];
    expect(() => new Changer(t, 1).simple(bogus)).toThrow('unexpected conf type 9');
  });
});

describe('ConfChangeV2 transitions', () => {
  const add = { type: 0, nodeId: 2 } as const;
  const cc = (transition: ConfChangeTransition, n: number): ConfChangeV2 => ({
    transition,
    changes: Array.from({ length: n }, () => add),
  });
  // [transition, number of changes, enterJointOf, leavesJoint]
  const table: [string, ConfChangeTransition, number, { autoLeave: boolean } | undefined, boolean][] = [
    ['Auto, no change: leave joint', ConfChangeTransition.Auto, 0, undefined, true],
    ['Auto, one change: simple', ConfChangeTransition.Auto, 1, undefined, false],
    ['Auto, two changes: joint, auto leave', ConfChangeTransition.Auto, 2, { autoLeave: true }, false],
    [
      'Implicit, one change: joint, auto leave',
      ConfChangeTransition.JointImplicit,
      1,
      { autoLeave: true },
      false,
    ],
    ['Implicit, no change', ConfChangeTransition.JointImplicit, 0, { autoLeave: true }, false],
    [
      'Explicit, one change: joint, explicit leave',
      ConfChangeTransition.JointExplicit,
      1,
      { autoLeave: false },
      false,
    ],
    ['Explicit, three changes', ConfChangeTransition.JointExplicit, 3, { autoLeave: false }, false],
  ];
  it.each(table)('%s', (_name, transition, n, enter, leave) => {
    expect(enterJointOf(cc(transition, n))).toEqual(enter);
    expect(leavesJoint(cc(transition, n))).toBe(leave);
  });
});
