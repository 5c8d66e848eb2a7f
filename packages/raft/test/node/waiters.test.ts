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

describe('Waiters: outcomes against a model (property)', () => {
  type WaiterOp =
    | { kind: 'wait'; reuse: boolean; timeout: 50 | 100 | 'none' }
    | { kind: 'resolve'; pick: number }
    | { kind: 'reject'; pick: number }
    | { kind: 'advance'; ms: number };
  const waiterOp: fc.Arbitrary<WaiterOp> = fc.oneof(
    fc.record({
      kind: fc.constant('wait' as const),
      reuse: fc.boolean(), // wait again on a key still waiting (the old one is replaced)
      timeout: fc.constantFrom(50 as const, 100 as const, 'none' as const),
    }),
    fc.record({ kind: fc.constant('resolve' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('reject' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 60 }) }),
  );

  it('settles each promise once: resolved, rejected, replaced (ERR_STOPPED) or timed out at its own deadline', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(waiterOp, { maxLength: 80 }), fc.boolean(), async (ops, sequenceStore) => {
        const clock = new VirtualClock();
        const w = sequenceStore
          ? new Waiters<number, string>(clock, 'proposal', new SequenceMap())
          : new Waiters<number, string>(clock, 'proposal');
        // The model: per promise, how it must end, and by when a timeout is due.
        type Expect = { key: number; deadline: number; outcome?: string };
        const made: { expect: Expect; got: Promise<string> }[] = [];
        const waiting = new Map<number, Expect>();
        let next = 1;
        const pickKey = (pick: number): number | undefined =>
          [...waiting.keys()][pick % Math.max(1, waiting.size)];
        for (const o of ops) {
          if (o.kind === 'wait') {
            const key = o.reuse && waiting.size > 0 ? pickKey(next)! : next++;
            const old = waiting.get(key);
            if (old !== undefined) old.outcome = 'ERR_STOPPED';
            const timeoutMs = o.timeout === 'none' ? Infinity : o.timeout;
            const e: Expect = { key, deadline: clock.now() + timeoutMs };
            waiting.set(key, e);
            const got = w.wait(key, timeoutMs).then(
              (v) => v,
              (err: unknown) =>
                isRaftError(err, 'ERR_TIMEOUT')
                  ? 'ERR_TIMEOUT'
                  : isRaftError(err, 'ERR_STOPPED')
                    ? 'ERR_STOPPED'
                    : String(err),
            );
            made.push({ expect: e, got });
          } else if (o.kind === 'resolve' || o.kind === 'reject') {
            const key = pickKey(o.pick);
            if (key === undefined) continue;
            const e = waiting.get(key)!;
            waiting.delete(key);
            if (o.kind === 'resolve') {
              e.outcome = `v${key}`;
              expect(w.resolve(key, `v${key}`)).toBe(true);
            } else {
              e.outcome = 'Error: refused';
              w.reject(key, new Error('refused'));
            }
            expect(w.resolve(key, 'again')).toBe(false);
          } else {
            const until = clock.now() + o.ms;
            for (const [key, e] of waiting) {
              if (e.deadline <= until) {
                e.outcome = 'ERR_TIMEOUT';
                waiting.delete(key);
              }
            }
            await clock.runUntil(until);
          }
          expect(w.size).toBe(waiting.size);
        }
        // Whatever still waits has not settled early: let the last ones time out, then check every outcome.
        for (const e of waiting.values()) e.outcome = Number.isFinite(e.deadline) ? 'ERR_TIMEOUT' : 'pending';
        await clock.runUntil(clock.now() + 200);
        w.rejectAll(new Error('pending'));
        for (const m of made)
          expect(await m.got).toBe(m.expect.outcome === 'pending' ? 'Error: pending' : m.expect.outcome);
        expect(w.size).toBe(0);
        expect(w.queued).toBe(0);
      }),
      { ...FC, numRuns: Number(process.env.FC_RUNS ?? 100) },
    );
  });

  it("a key waited for again keeps its own deadline: the replaced one's does not expire it", async () => {
    const clock = new VirtualClock();
    const w = new Waiters<number, string>(clock, 'proposal', new SequenceMap());
    const two = w.wait(2, 100).catch((e: unknown) => e);
    const first = w.wait(1, 100).catch((e: unknown) => e);
    await clock.runUntil(10);
    const second = w.wait(1, 100).catch((e: unknown) => e); // replaces the first: its deadline is 110, not 100
    expect(isRaftError(await first, 'ERR_STOPPED')).toBe(true);
    await clock.runUntil(100);
    expect(isRaftError(await two, 'ERR_TIMEOUT')).toBe(true);
    expect(w.has(1)).toBe(true);
    expect(w.size).toBe(1);
    await clock.runUntil(110);
    expect(isRaftError(await second, 'ERR_TIMEOUT')).toBe(true);
    expect(w.size).toBe(0);
  });

  it('expires a waiter at its deadline, not the deadline of the one before it', async () => {
    const clock = new VirtualClock();
    const w = new Waiters<number, string>(clock, 'proposal', new SequenceMap());
    const a = w.wait(1, 100).catch((e: unknown) => e);
    await clock.runUntil(1);
    void w.wait(2, 100).catch(() => undefined); // deadline 101
    await clock.runUntil(100);
    expect(isRaftError(await a, 'ERR_TIMEOUT')).toBe(true);
    expect(w.has(2)).toBe(true);
    await clock.runUntil(101);
    expect(w.has(2)).toBe(false);
  });

  it('keeps its deadline queue short while waiters settle oldest first', () => {
    const w = new Waiters<number, number>(new VirtualClock(), 'proposal', new SequenceMap());
    for (let k = 1; k <= 100_000; k++) {
      void w.wait(k, 10_000);
      if (k > 10) w.resolve(k - 10, k);
    }
    expect(w.size).toBe(10);
    expect(w.queued).toBeLessThan(4_096);
  });
});
