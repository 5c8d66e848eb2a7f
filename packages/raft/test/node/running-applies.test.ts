import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NO_SEQ, RunningApplies, type Outcome } from '../../src/node/running-applies.js';

const FC = { seed: Number(process.env.FC_SEED ?? 5), numRuns: Number(process.env.FC_RUNS ?? 200) };

function pending(promise?: PromiseLike<unknown>): Outcome<string> {
  return { promise: promise ?? Promise.resolve(), settled: false, value: undefined, error: undefined };
}

describe('RunningApplies', () => {
  it('hands settled applies out oldest first, in runs that join and split, across wraparounds and growth (property)', () => {
    // Ops: push n applies, or settle some outcomes (any of them, not only the oldest's), then take. Each apply
    // shares the previous one's outcome (a group acknowledged by one promise) or starts a new one, and has no
    // sequence number (another node's entry), the next one (this node's next proposal: wrapping at 2^32), or one
    // further on (a sequence number taken by a conf change or a read); its index follows the previous one's, or leaves
    // a gap (the applier never pushes one, but a run must not span it); so runs join and split on each.
    const apply = fc.record({
      newOutcome: fc.boolean(),
      seq: fc.constantFrom('none', 'next', 'jump'),
      indexGap: fc.boolean(),
    });
    const op = fc.oneof(
      fc.record({ push: fc.array(apply, { minLength: 1, maxLength: 12 }) }),
      fc.record({ settle: fc.array(fc.nat(), { maxLength: 40 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.nat(8), (ops, nearWrap) => {
        const ring = new RunningApplies<string>(4); // small, so it wraps around and grows often
        const model: { index: number; seq: number; o: Outcome<string> }[] = [];
        let next = 1;
        let seq = (2 ** 32 - nearWrap) >>> 0;
        let outcomes = 0;
        let out: Outcome<string> | undefined;
        const taken: number[] = [];
        const pushed: number[] = [];
        let expectedTaken = 0;
        for (const o of ops) {
          if ('push' in o) {
            for (const a of o.push) {
              if (a.newOutcome || out === undefined || out.settled) {
                out = pending();
                out.value = `v${++outcomes}`; // read only once settled
              }
              let s = NO_SEQ;
              if (a.seq !== 'none') {
                seq = (seq + (a.seq === 'next' ? 1 : 3)) >>> 0;
                s = seq;
              }
              if (a.indexGap) next++;
              ring.push(next, s, out);
              model.push({ index: next, seq: s, o: out });
              pushed.push(next);
              next++;
            }
          } else {
            for (const k of o.settle) {
              if (model.length === 0) break;
              model[k % model.length]!.o.settled = true;
            }
          }
          ring.takeSettled((first, count, seq0, value) => {
            expect(count).toBeGreaterThan(0);
            for (let k = 0; k < count; k++) {
              const m = model.find((x) => x.index === first + k)!;
              expect(seq0 === NO_SEQ ? NO_SEQ : (seq0 + k) >>> 0).toBe(m.seq);
              expect(value).toBe(m.o.value);
              taken.push(first + k);
            }
          });
          while (model[0]?.o.settled === true) {
            model.shift();
            expectedTaken++;
          }
          expect(taken.length).toBe(expectedTaken);
          expect(ring.size).toBe(model.length);
          expect(ring.oldest()).toBe(model[0]?.o);
        }
        expect(taken).toEqual(pushed.slice(0, taken.length));
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
    expect(() => ring.takeSettled((first, count) => taken.push(first, count))).toThrow('disk full');
    expect(taken).toEqual([1, 1]); // the run of entry 1 alone (first, count)
  });

  it("joins a group into one run: one take for a group of other nodes' entries, or of this node's in order", () => {
    const ring = new RunningApplies<string>();
    const group = pending();
    for (let i = 1; i <= 100; i++) ring.push(i, NO_SEQ, group); // a follower's entries
    for (let i = 101; i <= 200; i++) ring.push(i, 1000 + i, group); // this node's proposals, in order
    for (let i = 201; i <= 300; i++) ring.push(i, 5000 + i * 2, group); // sequence numbers with gaps: one run each
    group.settled = true;
    const runs: [number, number, number][] = [];
    ring.takeSettled((first, count, seq0) => runs.push([first, count, seq0]));
    expect(runs.slice(0, 2)).toEqual([
      [1, 100, NO_SEQ],
      [101, 100, 1101],
    ]);
    expect(runs.length).toBe(2 + 100);
    expect(ring.size).toBe(0);
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
