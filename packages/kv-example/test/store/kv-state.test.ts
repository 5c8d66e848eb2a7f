import { readSnapshotBytes } from '@x/raft';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { decodeCommand, encodeCommand, type KvCommand } from '../../src/store/commands.js';
import { KvState } from '../../src/store/kv-state.js';

const put = (key: string, value: string) => encodeCommand({ op: 'put', key, value });

describe('KvState', () => {
  it('puts, gets and deletes with revisions from the log index', () => {
    const s = new KvState();
    expect(s.apply(put('a', '1'), 5)).toMatchObject({ op: 'put', revision: 5 });
    expect(s.get('a')).toEqual({ value: '1', modRevision: 5, createRevision: 5 });
    s.apply(put('a', '2'), 7);
    expect(s.get('a')).toEqual({ value: '2', modRevision: 7, createRevision: 5 });
    expect(s.apply(encodeCommand({ op: 'del', key: 'a' }), 8)).toEqual({
      op: 'del',
      revision: 8,
      deleted: true,
    });
    expect(s.get('a')).toBeUndefined();
    expect(s.apply(encodeCommand({ op: 'del', key: 'a' }), 9)).toMatchObject({ deleted: false });
  });

  it('compare-and-swap on the previous value or revision', () => {
    const s = new KvState();
    s.apply(put('k', 'v1'), 3);
    expect(s.apply(encodeCommand({ op: 'cas', key: 'k', value: 'v2', prevValue: 'nope' }), 4)).toMatchObject({
      ok: false,
      current: { value: 'v1' },
    });
    expect(s.get('k')?.value).toBe('v1');
    expect(s.apply(encodeCommand({ op: 'cas', key: 'k', value: 'v2', prevValue: 'v1' }), 5)).toMatchObject({
      ok: true,
    });
    expect(s.apply(encodeCommand({ op: 'cas', key: 'k', value: 'v3', prevRevision: 4 }), 6)).toMatchObject({
      ok: false,
    });
    expect(s.apply(encodeCommand({ op: 'cas', key: 'k', value: 'v3', prevRevision: 5 }), 7)).toMatchObject({
      ok: true,
    });
    // prevRevision 0: create only if absent.
    expect(s.apply(encodeCommand({ op: 'cas', key: 'k', value: 'x', prevRevision: 0 }), 8)).toMatchObject({
      ok: false,
    });
    expect(s.apply(encodeCommand({ op: 'cas', key: 'new', value: 'x', prevRevision: 0 }), 9)).toMatchObject({
      ok: true,
    });
  });

  it('increments a decimal integer value (absent = 0), refusing anything else without a change', () => {
    const s = new KvState();
    const incr = (key: string, delta: number) => encodeCommand({ op: 'incr', key, delta });
    expect(s.apply(incr('n', 1), 2)).toEqual({ op: 'incr', revision: 2, ok: true, value: 1 });
    expect(s.apply(incr('n', -5), 3)).toEqual({ op: 'incr', revision: 3, ok: true, value: -4 });
    expect(s.get('n')).toEqual({ value: '-4', modRevision: 3, createRevision: 2 });
    for (const bad of ['x', '012', '1e3', '', ' 1', String(2 ** 60)]) {
      s.apply(put('b', bad), 4);
      expect(s.apply(incr('b', 1), 5)).toMatchObject({ ok: false, current: { value: bad, modRevision: 4 } });
    }
    s.apply(put('big', String(Number.MAX_SAFE_INTEGER)), 6);
    expect(s.apply(incr('big', 1), 7)).toMatchObject({ ok: false });
    expect(decodeCommand(incr('k', 3))).toEqual({ op: 'incr', key: 'k', delta: 3 });
  });

  it('snapshot then restore gives the same state (property)', async () => {
    const cmd: fc.Arbitrary<KvCommand> = fc.oneof(
      fc.record({ op: fc.constant('put' as const), key: fc.string({ maxLength: 3 }), value: fc.string() }),
      fc.record({ op: fc.constant('del' as const), key: fc.string({ maxLength: 3 }) }),
      fc.record({ op: fc.constant('incr' as const), key: fc.string({ maxLength: 3 }), delta: fc.integer() }),
      fc.record({
        op: fc.constant('cas' as const),
        key: fc.string({ maxLength: 3 }),
        value: fc.string(),
        prevValue: fc.option(fc.string(), { nil: undefined }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(cmd, { maxLength: 60 }), async (cmds) => {
        const a = new KvState();
        cmds.forEach((c, i) => a.apply(encodeCommand(c), i + 1));
        const b = new KvState();
        await b.restore(await readSnapshotBytes(a.snapshot()));
        expect(b.appliedIndex).toBe(a.appliedIndex);
        expect(b.size).toBe(a.size);
        for (const c of cmds) if ('key' in c) expect(b.get(c.key)).toEqual(a.get(c.key));
        expect(await readSnapshotBytes(b.snapshot())).toEqual(await readSnapshotBytes(a.snapshot()));
      }),
    );
  });

  it('refuses malformed commands and snapshots with an error, not garbage', async () => {
    expect(() => decodeCommand(new Uint8Array([0xc1]))).toThrow();
    expect(() => decodeCommand(encodeCommand({ op: 'put', key: 'a', value: 'b' }).subarray(0, 3))).toThrow();
    await expect(new KvState().restore(new Uint8Array([0x93, 1, 2, 3]))).rejects.toThrow(/malformed/);
    // A second element (the member table of earlier versions) is not this format.
    await expect(new KvState().restore(new Uint8Array([0x92, 0x91, 0x01, 0x91, 0x01]))).rejects.toThrow(
      /malformed/,
    );
  });

  it('streams a large map in batches and restores it from chunks of any size', async () => {
    const a = new KvState();
    for (let i = 1; i <= 10_000; i++) a.apply(put(`k${i}`, `v${i}`), i);
    const chunks = [...a.snapshot()];
    expect(chunks.length).toBeGreaterThan(3); // magic, applied index, several batches, end
    const whole = await readSnapshotBytes(chunks);
    const b = new KvState();
    await b.restore(
      (async function* () {
        for (let at = 0; at < whole.byteLength; at += 997) yield whole.subarray(at, at + 997);
      })(),
    );
    expect(b.appliedIndex).toBe(10_000);
    expect(b.size).toBe(10_000);
    expect(b.get('k7777')).toEqual({ value: 'v7777', modRevision: 7777, createRevision: 7777 });
  });

  it('takes the view when snapshot() is called: later writes are not in it', async () => {
    const a = new KvState();
    a.apply(put('x', '1'), 1);
    const snap = a.snapshot();
    a.apply(put('x', '2'), 2);
    a.apply(put('y', '3'), 3);
    const b = new KvState();
    await b.restore(await readSnapshotBytes(snap));
    expect(b.get('x')?.value).toBe('1');
    expect(b.get('y')).toBeUndefined();
    expect(b.appliedIndex).toBe(1);
  });

  it('refuses a cut stream (no end frame) and keeps its state', async () => {
    const a = new KvState();
    for (let i = 1; i <= 5000; i++) a.apply(put(`k${i}`, 'v'), i);
    const whole = await readSnapshotBytes(a.snapshot());
    const b = new KvState();
    b.apply(put('mine', 'kept'), 1);
    await expect(b.restore(whole.subarray(0, whole.byteLength - 4))).rejects.toMatchObject({
      code: 'ERR_DECODE',
    });
    await expect(b.restore(whole.subarray(0, 100))).rejects.toThrow();
    expect(b.size).toBe(1);
    expect(b.get('mine')?.value).toBe('kept');
  });

  it('restores the format written before streaming (one msgpack value)', async () => {
    const v1 = new Packr({ useRecords: false, mapsAsObjects: false }).pack([[7, 'a', '1', 3, 2]]);
    const b = new KvState();
    await b.restore(v1);
    expect(b.appliedIndex).toBe(7);
    expect(b.get('a')).toEqual({ value: '1', modRevision: 3, createRevision: 2 });
  });
});
