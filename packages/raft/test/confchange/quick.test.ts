// Joint consensus and one-at-a-time changes reach the same final configuration (Raft dissertation 4.3: the
// joint config is only a safe path between C_old and C_new, not a different destination).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fcParams } from '../quorum/fc-params.js';
import { Changer } from '../../src/confchange/index.js';
import type { ConfChangeSingle, ConfChangeType } from '../../src/raftpb/types.js';
import { ProgressTracker } from '../../src/tracker/index.js';
import { describeTracker } from './script.js';

/** A tracker built by adding the `setup` voters one at a time (1 is always a voter, so none is ever empty). */
function setupTracker(setup: number[]): ProgressTracker {
  const t = new ProgressTracker(10, 0);
  for (const id of [1, ...setup]) {
    [t.config, t.progress] = new Changer(t, 10).simple({ type: 0, nodeId: id });
  }
  return t;
}

const changeArb: fc.Arbitrary<ConfChangeSingle> = fc.record({
  type: fc.constantFrom<ConfChangeType>(0, 1, 2, 3),
  nodeId: fc.integer({ min: 2, max: 10 }), // never touch 1
});

describe('simple vs joint changes', () => {
  it('applying changes one by one equals entering and leaving a joint config with all of them (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 5 }),
        fc.array(changeArb, { minLength: 1, maxLength: 9 }),
        (setup, ccs) => {
          const simple = setupTracker(setup);
          for (const cc of ccs) [simple.config, simple.progress] = new Changer(simple, 10).simple(cc);

          const joint = setupTracker(setup);
          const chg = new Changer(joint, 10);
          const entered = chg.enterJoint(false, ...ccs);
          const enteredAuto = chg.enterJoint(true, ...ccs);
          // autoLeave is only recorded; it changes nothing else.
          expect(enteredAuto[0].autoLeave).toBe(true);
          enteredAuto[0].autoLeave = false;
          expect(describeTracker({ config: enteredAuto[0], progress: enteredAuto[1] })).toEqual(
            describeTracker({ config: entered[0], progress: entered[1] }),
          );
          [joint.config, joint.progress] = entered;
          [joint.config, joint.progress] = new Changer(joint, 10).leaveJoint();

          expect(describeTracker(joint)).toEqual(describeTracker(simple));
          expect(joint.confState()).toEqual(simple.confState());
        },
      ),
      fcParams(1000),
    );
  });
});
