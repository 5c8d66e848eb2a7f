import { describe, expect, it } from 'vitest';
import { explore, failureReport, optionsFromEnv, summary } from './explore.js';
import { workloads } from './workloads.js';

// The crash-state explorer (issue #11, RELIABILITY.md): each workload runs once with every file operation
// recorded; every crash state the persistence model allows is written out and recovered from, and the recovery
// is checked against what the workload was told was durable. Sampling is seeded: a failure prints the seed and
// the saved trace; WAL_CRASH_SEED=<seed> WAL_CRASH_TRACE=<file> WAL_CRASH_WORKLOAD=<name> reruns exactly that.
// WAL_CRASH_DEEP=1 explores more states per crash point and reordered sectors.

const only = process.env.WAL_CRASH_WORKLOAD;

describe('crash states of the WAL and the snapshot store', () => {
  for (const w of workloads(process.env.WAL_CRASH_DEEP === '1').filter(
    (w) => only === undefined || w.name === only,
  )) {
    it(`${w.name}: every crash state recovers with what was acknowledged`, async () => {
      const o = await optionsFromEnv();
      const x = await explore(w, o);
      console.log(summary(x));
      expect(x.checked).toBeGreaterThan(0);
      expect(x.failures, failureReport(x)).toEqual([]);
    });
  }
});
