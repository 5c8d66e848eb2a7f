import { describe, it } from 'vitest';
import { runSeed, seeds } from './run-seeds.js';

// One third of the simulator's seeds (three files, so vitest runs them on parallel workers).
describe('the shipping Ready loop under simulate(), part 2', () => {
  const list = seeds(100001, 100);
  it(`keeps Raft's safety properties, converges, and gives linearizable histories over ${list.length} seeds`, async () => {
    for (const seed of list) await runSeed(seed);
  }, 600_000);
});
