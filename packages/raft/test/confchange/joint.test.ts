// Joint consensus (Raft dissertation section 4.3): C_old -> C_old,new (enterJoint) -> C_new (leaveJoint), with
// learners staged in learnersNext while they still vote in the outgoing half.
import { describe, it } from 'vitest';
import { runScript } from './script.js';

const p = (id: number, next: number, learner = false): string =>
  `${id}: StateProbe match=0 next=${next}${learner ? ' learner' : ''}`;

describe('Changer.enterJoint / leaveJoint', () => {
  it('records autoLeave in the config and clears it on leave', () => {
    runScript([
      ['simple', 'v1', ['voters=(1)', p(1, 1)]],
      ['enter-joint autoleave', 'v2 v3', ['voters=(1 2 3)&&(1) autoleave', p(1, 1), p(2, 1), p(3, 1)]],
      ['enter-joint', '', ['config is already joint']],
      ['leave-joint', '', ['voters=(1 2 3)', p(1, 1), p(2, 1), p(3, 1)]],
    ]);
  });

  it('is idempotent within one change list', () => {
    runScript([
      ['simple', 'v1', ['voters=(1)', p(1, 1)]],
      [
        'enter-joint',
        'r1 r2 r9 v2 v3 v4 v2 v3 v4 l2 l2 r4 r4 l1 l1',
        ['voters=(3)&&(1) learners=(2) learners_next=(1)', p(1, 1), p(2, 1, true), p(3, 1)],
      ],
      ['leave-joint', '', ['voters=(3) learners=(1 2)', p(1, 1, true), p(2, 1, true), p(3, 1)]],
    ]);
  });

  it('stages a demoted outgoing voter in learnersNext and keeps its progress', () => {
    runScript([
      ['simple', 'v1', ['voters=(1)', p(1, 1)]],
      ['enter-joint', 'v2 l1', ['voters=(2)&&(1) learners_next=(1)', p(1, 1), p(2, 1)]],
      ['leave-joint', '', ['voters=(2) learners=(1)', p(1, 1, true), p(2, 1)]],
    ]);
  });

  it('promoting a staged learner again cancels the staging', () => {
    runScript([
      ['simple', 'v1', ['voters=(1)', p(1, 1)]],
      ['simple', 'v2', ['voters=(1 2)', p(1, 1), p(2, 1)]],
      ['enter-joint', 'l1 v1', ['voters=(1 2)&&(1 2)', p(1, 1), p(2, 1)]],
      ['leave-joint', '', ['voters=(1 2)', p(1, 1), p(2, 1)]],
    ]);
  });

  it('forgets outgoing voters that are neither incoming voters nor learners on leave', () => {
    runScript([
      ['simple', 'v1', ['voters=(1)', p(1, 1)]],
      ['simple', 'v2', ['voters=(1 2)', p(1, 1), p(2, 1)]],
      ['simple', 'v3', ['voters=(1 2 3)', p(1, 1), p(2, 1), p(3, 2)]],
      // Replace 1 and 2 by 4 and 5 at once: safe only through a joint config.
      [
        'enter-joint autoleave',
        'r1 r2 v4 v5',
        ['voters=(3 4 5)&&(1 2 3) autoleave', p(1, 1), p(2, 1), p(3, 2), p(4, 3), p(5, 3)],
      ],
      ['leave-joint', '', ['voters=(3 4 5)', p(3, 2), p(4, 3), p(5, 3)]],
    ]);
  });

  it('refuses unsafe transitions (safety)', () => {
    runScript([
      ['leave-joint', '', ["can't leave a non-joint config"]],
      ['enter-joint', '', ["can't make a zero-voter config joint"]],
      ['enter-joint', 'v1', ["can't make a zero-voter config joint"]],
      ['simple', 'v1', ['voters=(1)', p(1, 3)]],
      ['leave-joint', '', ["can't leave a non-joint config"]],
      // An empty joint config is allowed.
      ['enter-joint', '', ['voters=(1)&&(1)', p(1, 3)]],
      ['enter-joint', '', ['config is already joint']],
      ['leave-joint', '', ['voters=(1)', p(1, 3)]],
      ['leave-joint', '', ["can't leave a non-joint config"]],
      [
        'enter-joint',
        'r1 v2 v3 l4',
        ['voters=(2 3)&&(1) learners=(4)', p(1, 3), p(2, 9), p(3, 9), p(4, 9, true)],
      ],
      ['enter-joint', '', ['config is already joint']],
      ['enter-joint', 'v12', ['config is already joint']],
      ['simple', 'l15', ["can't apply simple config change in joint config"]],
      // Removing all incoming voters is refused in a joint config too.
      ['enter-joint', 'r2 r3', ['config is already joint']],
      ['leave-joint', '', ['voters=(2 3) learners=(4)', p(2, 9), p(3, 9), p(4, 9, true)]],
      ['enter-joint', 'r2 r3', ['removed all voters']],
      ['simple', 'l9', ['voters=(2 3) learners=(4 9)', p(2, 9), p(3, 9), p(4, 9, true), p(9, 16, true)]],
    ]);
  });
});
