// Single-server membership changes (Raft dissertation section 4.1): safe because any majority of the old
// configuration overlaps any majority of a new one differing by a single voter. Learners (section 4.2.1) are
// non-voting and may change freely.
import { describe, it } from 'vitest';
import { runScript } from './script.js';

describe('Changer.simple', () => {
  it('refuses to change more than one voter, and to remove every voter (safety)', () => {
    runScript([
      ['simple', 'l1', ['removed all voters']],
      ['simple', 'v1', ['voters=(1)', '1: StateProbe match=0 next=1']],
      [
        'simple',
        'v2 l3',
        [
          'voters=(1 2) learners=(3)',
          '1: StateProbe match=0 next=1',
          '2: StateProbe match=0 next=2',
          '3: StateProbe match=0 next=2 learner',
        ],
      ],
      ['simple', 'r1 v5', ['more than one voter changed without entering joint config']],
      ['simple', 'r1 r2', ['removed all voters']],
      ['simple', 'v3 v4', ['more than one voter changed without entering joint config']],
      ['simple', 'l1 v5', ['more than one voter changed without entering joint config']],
      ['simple', 'l1 l2', ['removed all voters']],
      [
        'simple',
        'l2 l3 l4 l5',
        [
          'voters=(1) learners=(2 3 4 5)',
          '1: StateProbe match=0 next=1',
          '2: StateProbe match=0 next=2 learner',
          '3: StateProbe match=0 next=2 learner',
          '4: StateProbe match=0 next=8 learner',
          '5: StateProbe match=0 next=8 learner',
        ],
      ],
      ['simple', 'r1', ['removed all voters']],
      ['simple', 'r2 r3 r4 r5', ['voters=(1)', '1: StateProbe match=0 next=1']],
      // Swapping one voter for another is two voter changes.
      ['simple', 'v2', ['voters=(1 2)', '1: StateProbe match=0 next=1', '2: StateProbe match=0 next=11']],
      ['simple', 'r2 v3', ['more than one voter changed without entering joint config']],
      // Adding and removing the same voter in one change is no change at all.
      ['simple', 'v3 r3', ['voters=(1 2)', '1: StateProbe match=0 next=1', '2: StateProbe match=0 next=11']],
    ]);
  });

  it('is idempotent: re-adding, re-demoting and re-removing change nothing', () => {
    const v2 = '2: StateProbe match=0 next=2';
    runScript([
      ['simple', 'v1', ['voters=(1)', '1: StateProbe match=0 next=1']],
      ['simple', 'v1', ['voters=(1)', '1: StateProbe match=0 next=1']],
      ['simple', 'v2', ['voters=(1 2)', '1: StateProbe match=0 next=1', v2]],
      ['simple', 'l1', ['voters=(2) learners=(1)', '1: StateProbe match=0 next=1 learner', v2]],
      ['simple', 'l1', ['voters=(2) learners=(1)', '1: StateProbe match=0 next=1 learner', v2]],
      ['simple', 'r1', ['voters=(2)', v2]],
      ['simple', 'r1', ['voters=(2)', v2]],
      ['simple', 'v3', ['voters=(2 3)', v2, '3: StateProbe match=0 next=7']],
      ['simple', 'r3', ['voters=(2)', v2]],
      ['simple', 'r3', ['voters=(2)', v2]],
      ['simple', 'r4', ['voters=(2)', v2]], // removing an unknown node is a no-op
    ]);
  });

  it('promotes and demotes, keeping the progress (its next) of the peer', () => {
    const three = [
      '1: StateProbe match=0 next=1',
      '2: StateProbe match=0 next=1',
      '3: StateProbe match=0 next=2',
    ];
    const demoted = [
      'voters=(1 3) learners=(2)',
      '1: StateProbe match=0 next=1',
      '2: StateProbe match=0 next=1 learner',
      '3: StateProbe match=0 next=2',
    ];
    runScript([
      ['simple', 'v1', ['voters=(1)', '1: StateProbe match=0 next=1']],
      ['simple', 'v2', ['voters=(1 2)', '1: StateProbe match=0 next=1', '2: StateProbe match=0 next=1']],
      ['simple', 'v3', ['voters=(1 2 3)', ...three]],
      // Demote and promote again in one change: pointless but allowed.
      ['simple', 'l1 v1', ['voters=(1 2 3)', ...three]],
      ['simple', 'l2', demoted],
      // Promote and demote again in one change.
      ['simple', 'v2 l2', demoted],
      ['simple', 'v2', ['voters=(1 2 3)', ...three]],
    ]);
  });

  it('ignores UpdateNode (it only carries application data)', () => {
    const two = ['voters=(1 2)', '1: StateProbe match=0 next=1', '2: StateProbe match=0 next=1'];
    runScript([
      ['simple', 'v1', ['voters=(1)', '1: StateProbe match=0 next=1']],
      ['simple', 'v2 u1', two],
      ['simple', 'u1 u2 u3 u1 u2 u3', two],
    ]);
  });

  it('ignores node id 0 (applications zero it to cancel a change)', () => {
    runScript([
      ['simple', 'v1 r0 v0 l0', ['voters=(1)', '1: StateProbe match=0 next=1']],
      ['simple', 'r0', ['voters=(1)', '1: StateProbe match=0 next=1']],
    ]);
  });
});
