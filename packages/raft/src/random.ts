/** A source of uniform random integers; raft draws election jitter from it and nothing else. */
export interface RandomSource {
  /** A uniform integer in [0, n). */
  nextInt(n: number): number;
}

/**
 * A seeded PRNG (mulberry32): the same seed gives the same sequence, so simulations replay exactly.
 *
 * @example
 * ```ts
 * new RawNode({ ...config, random: seededRandom(42) });
 * ```
 */
export function seededRandom(seed: number): RandomSource {
  let a = seed >>> 0;
  return {
    nextInt(n: number): number {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      return Math.floor(u * n);
    },
  };
}
