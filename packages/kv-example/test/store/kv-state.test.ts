import fc from 'fast-check';
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

  it('snapshot then restore gives the same state (property)', () => {
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
    fc.assert(
      fc.property(fc.array(cmd, { maxLength: 60 }), (cmds) => {
        const a = new KvState();
        cmds.forEach((c, i) => a.apply(encodeCommand(c), i + 1));
        const b = new KvState();
        b.restore(a.snapshot());
        expect(b.appliedIndex).toBe(a.appliedIndex);
        expect(b.size).toBe(a.size);
        for (const c of cmds) if ('key' in c) expect(b.get(c.key)).toEqual(a.get(c.key));
        expect(Buffer.from(b.snapshot()).equals(Buffer.from(a.snapshot()))).toBe(true);
      }),
    );
  });

  it('refuses malformed commands and snapshots with an error, not garbage', () => {
    expect(() => decodeCommand(new Uint8Array([0xc1]))).toThrow();
    expect(() => decodeCommand(encodeCommand({ op: 'put', key: 'a', value: 'b' }).subarray(0, 3))).toThrow();
    expect(() => new KvState().restore(new Uint8Array([0x93, 1, 2, 3]))).toThrow(/malformed/);
    // A second element (the member table of earlier versions) is not this format.
    expect(() => new KvState().restore(new Uint8Array([0x92, 0x91, 0x01, 0x91, 0x01]))).toThrow(/malformed/);
  });
});
