import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRaftError } from '../../src/errors.js';
import { SequenceMap, Waiters } from '../../src/node/waiters.js';
import { VirtualClock } from '../../src/testing/sim/virtual-clock.js';

const FC = { seed: Number(process.env.FC_SEED ?? 11), numRuns: Number(process.env.FC_RUNS ?? 200) };

type Op =
  | { kind: 'issue'; skip: number; wrap: boolean }
  | { kind: 'delete'; pick: number }
  | { kind: 'deleteMissing'; key: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  // Mostly the next key; sometimes a gap (keys issued to another store), rarely a far jump or a wrap to 0.
  fc.record({
    kind: fc.constant('issue' as const),
    skip: fc.oneof(fc.constant(0), fc.nat({ max: 5 }), fc.constant(70_000)),
    wrap: fc.constant(false),
  }),
  fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('deleteMissing' as const), key: fc.nat({ max: 200 }) }),
);

describe('SequenceMap', () => {
  it('behaves as a Map for increasing keys with gaps, far jumps, a wrap, and deletions in any order (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            op,
            fc.constant<Op>({ kind: 'issue', skip: 0, wrap: true }), // the sequence wraps at 2^32
          ),
          { maxLength: 300 },
        ),
        fc.nat({ max: 2 ** 32 - 1 }),
        (ops, start) => {
          const model = new Map<number, number>();
          const map = new SequenceMap<number>();
          let next = start;
          for (const o of ops) {
            if (o.kind === 'issue') {
              next = o.wrap ? 0 : (next + o.skip) >>> 0;
              model.set(next, next * 2);
              map.set(next, next * 2);
              next = (next + 1) >>> 0;
            } else if (o.kind === 'delete') {
              const keys = [...model.keys()];
              if (keys.length === 0) continue;
              const k = keys[o.pick % keys.length]!;
              model.delete(k);
              map.delete(k);
            } else {
              model.delete(o.key + 0.5); // never present
              map.delete(o.key + 0.5);
            }
            expect(map.size).toBe(model.size);
          }
          for (const [k, v] of model) {
            expect(map.get(k)).toBe(v);
            expect(map.has(k)).toBe(true);
          }
          expect([...map.keys()].sort((a, b) => a - b)).toEqual([...model.keys()].sort((a, b) => a - b));
          if (!model.has(next)) expect(map.get(next)).toBeUndefined();
        },
      ),
      FC,
    );
  });

  it('keeps its array short while waiters settle oldest first', () => {
    const map = new SequenceMap<number>();
    for (let k = 1; k <= 100_000; k++) {
      map.set(k, k);
      if (k > 10) map.delete(k - 10);
    }
    expect(map.size).toBe(10);
    // The window slid forward: a key far behind is not found, the last ten are.
    expect(map.get(5)).toBeUndefined();
    for (let k = 99_991; k <= 100_000; k++) expect(map.get(k)).toBe(k);
    expect((map as unknown as { slots: unknown[] }).slots.length).toBeLessThan(4_096);
  });
});

describe('Waiters', () => {
  it('resolves by key, and times out with ERR_TIMEOUT naming what timed out', async () => {
    const clock = new VirtualClock();
    const w = new Waiters<number, string>(clock, 'proposal', new SequenceMap());
    const a = w.wait(1, 100);
    const b = w.wait(2, 100);
    expect(w.resolve(1, 'one')).toBe(true);
    expect(w.resolve(1, 'again')).toBe(false);
    await expect(a).resolves.toBe('one');
    const failed = b.catch((e: unknown) => e);
    await clock.runUntil(101);
    const err = await failed;
    expect(isRaftError(err, 'ERR_TIMEOUT')).toBe(true);
    expect(String(err)).toMatch(/proposal timed out after 100 ms/);
    expect(w.size).toBe(0);
  });
});
