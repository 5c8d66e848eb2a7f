import { describe, expect, it } from 'vitest';
import { checkLinearizable } from '../../../src/testing/linearizability/check.js';
import { historyFromEvents } from '../../../src/testing/linearizability/history.js';
import { UNKNOWN, type Operation } from '../../../src/testing/linearizability/model.js';
import {
  casRegisterModel,
  kvModel,
  registerModel,
  type KvInput,
  type RegisterInput,
} from '../../../src/testing/linearizability/models.js';

type RegOp = Operation<RegisterInput<number>, number>;
const w = (client: number, value: number, call: number, ret: number): RegOp => ({
  clientId: client,
  input: { op: 'write', value },
  call,
  output: 0,
  return: ret,
});
const r = (client: number, seen: number, call: number, ret: number): RegOp => ({
  clientId: client,
  input: { op: 'read' },
  call,
  output: seen,
  return: ret,
});

describe("checkLinearizable (Wing & Gong with Lowe's cache)", () => {
  it('accepts a read that overlaps a write and sees either value', () => {
    expect(checkLinearizable(registerModel(0), [w(1, 1, 0, 10), r(2, 1, 5, 6)]).ok).toBe(true);
    expect(checkLinearizable(registerModel(0), [w(1, 1, 0, 10), r(2, 0, 5, 6)]).ok).toBe(true);
  });

  it('rejects a stale read after the write completed, and explains where', () => {
    const res = checkLinearizable(registerModel(0), [w(1, 1, 0, 2), r(2, 0, 3, 4)]);
    expect(res.ok).toBe(false);
    expect(res.explanation?.stuck.map((o) => o.clientId)).toContain(2);
    expect(res.explanation?.text).toContain('read -> 0');
  });

  it('rejects a value that goes back in time (new value seen, then the old one)', () => {
    const res = checkLinearizable(registerModel(0), [w(1, 1, 0, 100), r(2, 1, 1, 2), r(3, 0, 3, 4)]);
    expect(res.ok).toBe(false);
  });

  it('an unknown outcome may take effect late, or never', () => {
    const events = [
      { process: 1, type: 'invoke' as const, input: { op: 'write' as const, value: 7 } },
      { process: 1, type: 'info' as const },
      { process: 2, type: 'invoke' as const, input: { op: 'read' as const } },
      { process: 2, type: 'ok' as const, output: 0 },
      { process: 2, type: 'invoke' as const, input: { op: 'read' as const } },
      { process: 2, type: 'ok' as const, output: 7 },
    ];
    const ops = historyFromEvents<RegisterInput<number>, number>(events);
    expect(ops.find((o) => o.clientId === 1)).toMatchObject({ output: UNKNOWN, return: Infinity });
    expect(checkLinearizable(registerModel(0), ops).ok).toBe(true); // took effect late
    expect(checkLinearizable(registerModel(0), ops.slice(0, 2)).ok).toBe(true); // or never
  });

  it('drops definite failures', () => {
    const ops = historyFromEvents<RegisterInput<number>, number>([
      { process: 1, type: 'invoke', input: { op: 'write', value: 9 } },
      { process: 1, type: 'fail' },
      { process: 2, type: 'invoke', input: { op: 'read' } },
      { process: 2, type: 'ok', output: 9 },
    ]);
    expect(ops).toHaveLength(1);
    expect(checkLinearizable(registerModel(0), ops).ok).toBe(false);
  });

  it('a cas that failed must have seen another value', () => {
    const m = casRegisterModel(0);
    const ok = (from: number, to: number, res: boolean, call: number, ret: number) => ({
      clientId: 1,
      input: { op: 'cas' as const, from, to },
      call,
      output: res,
      return: ret,
    });
    expect(checkLinearizable(m, [ok(0, 1, true, 0, 1), ok(1, 2, true, 2, 3)]).ok).toBe(true);
    expect(checkLinearizable(m, [ok(0, 1, true, 0, 1), ok(0, 2, true, 2, 3)]).ok).toBe(false);
    expect(checkLinearizable(m, [ok(5, 1, false, 0, 1)]).ok).toBe(true);
    expect(checkLinearizable(m, [ok(0, 1, false, 0, 1)]).ok).toBe(false);
  });

  it('partitions a kv history by key (P-compositionality)', () => {
    const op = (
      client: number,
      input: KvInput,
      output: string,
      call: number,
      ret: number,
    ): Operation<KvInput, string> => ({ clientId: client, input, call, output, return: ret });
    const hist = [
      op(1, { op: 'put', key: 'a', value: 'x' }, '', 0, 1),
      op(2, { op: 'put', key: 'b', value: 'y' }, '', 0, 1),
      op(3, { op: 'get', key: 'a' }, 'x', 2, 3),
      op(3, { op: 'get', key: 'b' }, '', 4, 5), // stale: b was y
    ];
    const res = checkLinearizable(kvModel(), hist);
    expect(res.partitions).toBe(2);
    expect(res.ok).toBe(false);
    expect(res.explanation?.text).toContain('get b');
    expect(checkLinearizable(kvModel(), hist.slice(0, 3)).ok).toBe(true);
  });
});
