// The inflight window limits unacknowledged appends per follower by count and by bytes (etcd's flow control
// for Replicate state; Raft dissertation section 10.2.1 pipelining).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fcParams } from '../quorum/fc-params.js';
import { Inflights } from '../../src/tracker/index.js';

/** Adds `n` appends with indexes from..from+n-1 and bytes 100+index. */
function addRange(inf: Inflights, from: number, n: number): void {
  for (let i = from; i < from + n; i++) inf.add(i, 100 + i);
}

describe('Inflights', () => {
  it('adds in order, counting messages and bytes', () => {
    const inf = new Inflights(10, 0);
    addRange(inf, 0, 5);
    expect(inf.count()).toBe(5);
    expect(inf.bytes()).toBe(510);
    expect(inf.indexList()).toEqual([0, 1, 2, 3, 4]);
    expect(inf.full()).toBe(false);
    addRange(inf, 5, 5);
    expect(inf.count()).toBe(10);
    expect(inf.bytes()).toBe(1045);
    expect(inf.full()).toBe(true);
  });

  it('grows its buffer by doubling up to size, only when needed', () => {
    const inf = new Inflights(10, 0);
    expect(inf.capacity()).toBe(0);
    const caps: number[] = [];
    for (let i = 1; i <= 10; i++) {
      inf.add(i, 1);
      caps.push(inf.capacity());
    }
    expect(caps).toEqual([1, 2, 4, 4, 8, 8, 8, 8, 10, 10]);
    // Emptying the window restarts at slot 0, so refilling a few does not grow it further.
    inf.freeLE(10);
    addRange(inf, 11, 3);
    expect(inf.capacity()).toBe(10);
  });

  it('frees up to and including the acknowledged index, wrapping around the ring', () => {
    const inf = new Inflights(10, 0);
    addRange(inf, 0, 10);
    inf.freeLE(0);
    expect(inf.count()).toBe(9);
    expect(inf.bytes()).toBe(945);
    inf.freeLE(4);
    expect(inf.indexList()).toEqual([5, 6, 7, 8, 9]);
    expect(inf.bytes()).toBe(535);
    inf.freeLE(8);
    expect(inf.indexList()).toEqual([9]);
    expect(inf.bytes()).toBe(109);
    // The next five land in slots 0..4 (wrap-around) behind the one left in slot 9.
    addRange(inf, 10, 5);
    expect(inf.indexList()).toEqual([9, 10, 11, 12, 13, 14]);
    expect(inf.capacity()).toBe(10);
    inf.freeLE(12);
    expect(inf.indexList()).toEqual([13, 14]);
    expect(inf.bytes()).toBe(227);
    inf.freeLE(14);
    expect(inf.count()).toBe(0);
    expect(inf.bytes()).toBe(0);
  });

  it('ignores acknowledgements below the window', () => {
    const inf = new Inflights(4, 0);
    addRange(inf, 5, 2);
    inf.freeLE(4);
    expect(inf.indexList()).toEqual([5, 6]);
    const empty = new Inflights(4, 0);
    empty.freeLE(100);
    expect(empty.count()).toBe(0);
  });

  // [name, size, maxBytes, full after adding this many, then freeLE(x), full again after this many in total]
  const fullTable: [string, number, number, number, number, number][] = [
    ['single entry', 1, 0, 1, 1, 2],
    ['single entry over the byte limit', 1, 10, 1, 1, 2],
    ['by count', 15, 0, 15, 6, 22],
    ['by bytes, slight overflow', 8, 400, 4, 2, 7],
    ['by bytes, exactly at the limit', 8, 406, 4, 3, 8],
    ['by bytes, larger overflow', 15, 408, 5, 1, 6],
  ];
  it.each(fullTable)('is full %s', (_name, size, maxBytes, fullAt, freeTo, againAt) => {
    const inf = new Inflights(size, maxBytes);
    const addUntilFull = (from: number, to: number): void => {
      for (let i = from; i < to; i++) {
        expect(inf.full(), `full before adding ${i}`).toBe(false);
        inf.add(i, 100 + i);
      }
      expect(inf.full()).toBe(true);
    };
    addUntilFull(0, fullAt);
    inf.freeLE(freeTo);
    addUntilFull(fullAt, againAt);
    expect(() => inf.add(100, 1024)).toThrow(/full/);
  });

  it('with size 0 is always full', () => {
    const inf = new Inflights(0, 0);
    expect(inf.full()).toBe(true);
    expect(() => inf.add(1, 1)).toThrow(/full/);
  });

  it('does not leak bytes across resets', () => {
    const inf = new Inflights(10, 1000);
    let index = 0;
    for (let epoch = 0; epoch < 100; epoch++) {
      inf.reset();
      for (let i = 0; i < 5; i++) {
        expect(inf.full()).toBe(false);
        inf.add(++index, 16);
      }
      inf.freeLE(index - 2);
      expect(inf.full()).toBe(false);
      expect(inf.count()).toBe(2);
      expect(inf.bytes()).toBe(32);
    }
    inf.freeLE(index);
    expect(inf.count()).toBe(0);
  });

  it('clone shares no state with the original', () => {
    const inf = new Inflights(4, 0);
    addRange(inf, 1, 3);
    const c = inf.clone();
    inf.freeLE(2);
    inf.add(9, 1);
    expect(c.indexList()).toEqual([1, 2, 3]);
    expect(c.bytes()).toBe(306);
    c.add(4, 1);
    expect(inf.indexList()).toEqual([3, 9]);
  });

  it('behaves like a simple queue model under random add/freeLE/reset (fast-check)', () => {
    type Op =
      { kind: 'add'; gap: number; bytes: number } | { kind: 'free'; back: number } | { kind: 'reset' };
    const op = fc.oneof(
      {
        weight: 5,
        arbitrary: fc.record({
          kind: fc.constant('add' as const),
          gap: fc.integer({ min: 1, max: 3 }),
          bytes: fc.integer({ min: 0, max: 50 }),
        }),
      },
      {
        weight: 3,
        arbitrary: fc.record({ kind: fc.constant('free' as const), back: fc.integer({ min: -2, max: 12 }) }),
      },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('reset' as const) }) },
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 0, max: 200 }),
        fc.array(op, { maxLength: 80 }),
        (size, maxBytes, ops: Op[]) => {
          const inf = new Inflights(size, maxBytes);
          let model: { index: number; bytes: number }[] = [];
          let last = 0;
          for (const o of ops) {
            const modelBytes = model.reduce((s, x) => s + x.bytes, 0);
            const modelFull = model.length === size || (maxBytes !== 0 && modelBytes >= maxBytes);
            expect(inf.full()).toBe(modelFull);
            if (o.kind === 'add') {
              last += o.gap;
              if (modelFull) {
                expect(() => inf.add(last, o.bytes)).toThrow();
              } else {
                inf.add(last, o.bytes);
                model.push({ index: last, bytes: o.bytes });
              }
            } else if (o.kind === 'free') {
              const to = last - o.back;
              inf.freeLE(to);
              model = model.filter((x) => x.index > to);
            } else {
              inf.reset();
              model = [];
            }
            expect(inf.indexList()).toEqual(model.map((x) => x.index));
            expect(inf.count()).toBe(model.length);
            expect(inf.bytes()).toBe(model.reduce((s, x) => s + x.bytes, 0));
            expect(inf.capacity()).toBeLessThanOrEqual(size);
          }
        },
      ),
      fcParams(500),
    );
  });
});
