// fast-check parameters shared by the quorum/, tracker/ and confchange/ property tests. A failure prints its
// seed and path; rerun exactly that case with `FC_SEED=<seed> FC_PATH=<path>`; `FC_RUNS=<n>` runs more cases.
import type fc from 'fast-check';

/** Parameters for `fc.assert`: `numRuns` by default, overridden and reproduced from the environment. */
export function fcParams<T>(numRuns: number): fc.Parameters<T> {
  const p: fc.Parameters<T> = { numRuns: Number(process.env.FC_RUNS ?? numRuns) };
  const seed = process.env.FC_SEED;
  if (seed !== undefined && seed !== '') {
    p.seed = Number(seed);
    const path = process.env.FC_PATH;
    if (path !== undefined && path !== '') p.path = path;
  }
  return p;
}
