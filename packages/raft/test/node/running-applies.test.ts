import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RunningApplies, type Outcome } from '../../src/node/running-applies.js';

const FC = { seed: Number(process.env.FC_SEED ?? 5), numRuns: Number(process.env.FC_RUNS ?? 200) };

function pending(promise?: PromiseLike<unknown>): Outcome<string> {
  return { promise: promise ?? Promise.resolve(), settled: false, value: undefined, error: undefined };
}

describe('RunningApplies', () => {
  it('hands settled applies out oldest first, across wraparounds and growth (property)', () => {
    // Ops: push n applies, or settle some of the running ones (any of them, not only the oldest), then take.
    const op = fc.oneof(
      fc.record({ push: fc.integer({ min: 1, max: 12 }) }),
      fc.record({ settle: fc.array(fc.nat(), { maxLength: 40 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const ring = new RunningApplies<string>(4); // small, so it wraps around and grows often
        const model: { index: number; o: Outcome<string> }[] = [];
        let next = 1;
        const taken: number[] = [];
        let expectedTaken = 0;
        for (const o of ops) {
          if ('push' in o) {
            for (let i = 0; i < o.push; i++) {
              const out = pending();
              ring.push(next, next * 10, out);
              model.push({ index: next, o: out });
              next++;
            }
          } else {
            for (const k of o.settle) {
              if (model.length === 0) break;
              const m = model[k % model.length]!;
              m.o.settled = true;
              m.o.value = `v${m.index}`;
            }
          }
          ring.takeSettled((index, seq, value) => {
            expect(seq).toBe(index * 10);
            expect(value).toBe(`v${index}`);
            taken.push(index);
          });
          while (model[0]?.o.settled === true) {
            model.shift();
            expectedTaken++;
          }
          expect(taken.length).toBe(expectedTaken);
          expect(ring.size).toBe(model.length);
          expect(ring.oldest()).toBe(model[0]?.o);
        }
        expect(taken).toEqual(Array.from({ length: taken.length }, (_, i) => i + 1));
      }),
      FC,
    );
  });

  it('throws the reason of a rejected apply after taking the ones before it', () => {
    const ring = new RunningApplies<string>();
    const outs = [pending(), pending(), pending()];
    outs.forEach((o, i) => ring.push(i + 1, -1, o));
    outs[0]!.settled = true;
    outs[0]!.value = 'a';
    outs[1]!.settled = true;
    outs[1]!.error = { reason: new Error('disk full') };
    outs[2]!.settled = true;
    outs[2]!.value = 'c';
    const taken: number[] = [];
    expect(() => ring.takeSettled((i) => taken.push(i))).toThrow('disk full');
    expect(taken).toEqual([1]);
  });

  it('clear() returns each pending promise once, and empties the ring', () => {
    const ring = new RunningApplies<string>();
    const shared = Promise.resolve();
    const group = pending(shared);
    ring.push(1, -1, group);
    ring.push(2, -1, group); // the same outcome: a group acknowledged by one promise
    ring.push(3, -1, pending());
    const done = pending();
    done.settled = true;
    ring.push(4, -1, done);
    const left = ring.clear();
    expect(left.length).toBe(2);
    expect(left).toContain(shared);
    expect(ring.size).toBe(0);
    expect(ring.oldest()).toBeUndefined();
  });
});
