import { snapshotChunks } from '../../src/codec/chunk-reader.js';
import { describe, expect, it } from 'vitest';
import { isRaftError } from '../../src/errors.js';
import {
  encodeCloseSession,
  encodeKeepAlive,
  encodeRegisterSession,
  encodeSessionCommand,
  encodeUntaggedCommand,
} from '../../src/session/entry.js';
import { sessionResultOrThrow, withSessions, type SessionResult } from '../../src/session/with-sessions.js';
import { CounterMachine, incr, meta, numberCodec } from './counter-machine.js';

async function collect(p: unknown): Promise<Uint8Array> {
  const data = await p;
  if (data instanceof Uint8Array) return data;
  const parts: Uint8Array[] = [];
  for await (const c of data as AsyncIterable<Uint8Array>) parts.push(c);
  const out = new Uint8Array(parts.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of parts) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

function setup(timeoutMs = 1_000) {
  const app = new CounterMachine();
  const sm = withSessions(app, { results: numberCodec, timeoutMs });
  let index = 0;
  const apply = (data: Uint8Array) => sm.apply(data, ++index) as SessionResult<number>;
  return { app, sm, apply, index: () => index };
}

describe('withSessions', () => {
  it('registers a session with the entry index as id, applies a command once and answers its retry with the recorded result', () => {
    const { app, apply } = setup();
    apply(encodeUntaggedCommand(incr('k', 'u'), 0)); // index 1
    const reg = apply(encodeRegisterSession(10));
    expect(reg).toEqual({ kind: 'registered', sessionId: 2 });
    const cmd = encodeSessionCommand({ sessionId: 2, seq: 1 }, incr('k', 'c1'), 20);
    expect(apply(cmd)).toEqual({ kind: 'result', result: 2, duplicate: false });
    apply(encodeUntaggedCommand(incr('k', 'u2'), 21)); // someone else moves the counter on
    expect(apply(cmd)).toEqual({ kind: 'result', result: 2, duplicate: true });
    expect(app.appliedTimes.get('c1')).toBe(1);
    expect(app.counters.get('k')).toBe(3);
  });

  it('applies untagged commands every time (no deduplication without a session)', () => {
    const { app, apply } = setup();
    const cmd = encodeUntaggedCommand(incr('k', 'u'), 0);
    apply(cmd);
    apply(cmd);
    expect(app.appliedTimes.get('u')).toBe(2);
  });

  it('refuses a command of an unknown session with ERR_SESSION_EXPIRED, without applying it', () => {
    const { app, apply } = setup();
    const out = apply(encodeSessionCommand({ sessionId: 7, seq: 1 }, incr('k', 'x'), 0));
    expect(out).toMatchObject({ kind: 'error', code: 'ERR_SESSION_EXPIRED', sessionId: 7 });
    expect(app.appliedTimes.size).toBe(0);
    try {
      sessionResultOrThrow(out);
      expect.unreachable();
    } catch (err) {
      expect(isRaftError(err, 'ERR_SESSION_EXPIRED')).toBe(true);
    }
  });

  it('expires a session after timeoutMs of log time without activity, by entry times only', () => {
    const { app, apply } = setup(1_000);
    apply(encodeRegisterSession(1_000)); // session 1 at log time 1000
    apply(encodeRegisterSession(1_500)); // session 2
    // A proposer whose clock is behind does not move log time back.
    apply(encodeUntaggedCommand(incr('z', 'old'), 10));
    // Exactly timeoutMs idle is still live (expiry is strictly "more than").
    expect(apply(encodeKeepAlive(1, 2_000))).toEqual({ kind: 'keptAlive', sessionId: 1 });
    // Log time 2501: session 2 (active at 1500) expires; session 1 (active at 2000) does not.
    apply(encodeUntaggedCommand(incr('z', 'u'), 2_501));
    expect(apply(encodeSessionCommand({ sessionId: 2, seq: 1 }, incr('k', 'late'), 2_501))).toMatchObject({
      kind: 'error',
      code: 'ERR_SESSION_EXPIRED',
    });
    expect(apply(encodeSessionCommand({ sessionId: 1, seq: 1 }, incr('k', 'ok'), 2_501))).toMatchObject({
      kind: 'result',
    });
    expect(app.appliedTimes.has('late')).toBe(false);
  });

  it('drops recorded results below firstUnacked and refuses those seqs afterwards', () => {
    const { app, sm, apply } = setup();
    apply(encodeRegisterSession(0));
    // Three commands in flight at once (firstUnacked stays 1), then the client acknowledges 1 and 2.
    for (const seq of [1, 2, 3])
      apply(encodeSessionCommand({ sessionId: 1, seq, firstUnacked: 1 }, incr('k', `c${seq}`), 0));
    expect(
      apply(encodeSessionCommand({ sessionId: 1, seq: 2, firstUnacked: 1 }, incr('k', 'c2'), 0)),
    ).toMatchObject({
      duplicate: true,
      result: 2,
    });
    apply(encodeSessionCommand({ sessionId: 1, seq: 4, firstUnacked: 3 }, incr('k', 'c4'), 0));
    const late = apply(encodeSessionCommand({ sessionId: 1, seq: 2, firstUnacked: 2 }, incr('k', 'c2'), 0));
    expect(late).toMatchObject({ kind: 'error', code: 'ERR_SESSION_RESPONSE_DISCARDED' });
    expect(app.appliedTimes.get('c2')).toBe(1);
    expect(sm.sessions.recordedSeqs(1)).toEqual([3, 4]);
  });

  it('keeps at most maxResultsPerSession results: the lowest is dropped and its retry refused, never re-applied', () => {
    const app = new CounterMachine();
    const sm = withSessions(app, { results: numberCodec, maxResultsPerSession: 2 });
    expect(sm.apply(encodeRegisterSession(0), 1)).toEqual({ kind: 'registered', sessionId: 1 });
    for (const seq of [3, 1, 2]) {
      const out = sm.apply(
        encodeSessionCommand({ sessionId: 1, seq, firstUnacked: 1 }, incr('k', `c${seq}`), 0),
        seq + 1,
      );
      expect(out).toMatchObject({ kind: 'result', duplicate: false });
    }
    expect(sm.sessions.recordedSeqs(1)).toEqual([3, 2]);
    const retry = sm.apply(
      encodeSessionCommand({ sessionId: 1, seq: 1, firstUnacked: 1 }, incr('k', 'c1'), 0),
      5,
    );
    expect(retry).toMatchObject({ kind: 'error', code: 'ERR_SESSION_RESPONSE_DISCARDED' });
    expect(app.appliedTimes.get('c1')).toBe(1);
  });

  it('closes sessions, and evicts the least recently active one beyond maxSessions', () => {
    const app = new CounterMachine();
    const sm = withSessions(app, { results: numberCodec, maxSessions: 2 });
    // A synchronous application makes every apply synchronous (no promise to await).
    expect(sm.apply(encodeRegisterSession(0), 1)).toEqual({ kind: 'registered', sessionId: 1 });
    expect(sm.apply(encodeRegisterSession(0), 2)).toEqual({ kind: 'registered', sessionId: 2 });
    expect(sm.apply(encodeKeepAlive(1, 0), 3)).toEqual({ kind: 'keptAlive', sessionId: 1 }); // 2 is now the oldest
    expect(sm.apply(encodeRegisterSession(0), 4)).toEqual({ kind: 'registered', sessionId: 4 });
    expect([sm.sessions.has(1), sm.sessions.has(2), sm.sessions.has(4)]).toEqual([true, false, true]);
    expect(sm.apply(encodeCloseSession(1, 0), 5)).toEqual({ kind: 'closed', sessionId: 1 });
    expect(sm.apply(encodeCloseSession(1, 0), 6)).toMatchObject({
      kind: 'error',
      code: 'ERR_SESSION_EXPIRED',
    });
  });

  it('carries the table in snapshots: a restored replica answers a retry with the recorded result, not a re-apply', async () => {
    const { sm, apply, index } = setup();
    apply(encodeRegisterSession(0));
    const cmd = encodeSessionCommand({ sessionId: 1, seq: 1 }, incr('k', 'c'), 5);
    apply(cmd);
    const snap = await collect(sm.snapshot());
    const app2 = new CounterMachine();
    const sm2 = withSessions(app2, { results: numberCodec, timeoutMs: 1_000 });
    await sm2.restore(snapshotChunks(snap), meta(index()));
    expect(sm2.sessions.logTime).toBe(5);
    expect(sm2.apply(cmd, index() + 1)).toEqual({ kind: 'result', result: 1, duplicate: true });
    expect(app2.appliedTimes.size).toBe(0);
    expect(app2.counters.get('k')).toBe(1);
    expect(await collect(sm2.snapshot())).toEqual(await collect(sm.snapshot()));
  });

  it('streams the snapshot when the application does, and awaits an async apply before recording', async () => {
    const app = new CounterMachine();
    const sm = withSessions(
      {
        apply: async (d: Uint8Array) => app.apply(d),
        snapshot: async () => [app.snapshot().subarray(0, 2), app.snapshot().subarray(2)],
        restore: (d, m) => app.restore(d, m),
      },
      { results: numberCodec },
    );
    await sm.apply(encodeRegisterSession(0), 1);
    const cmd = encodeSessionCommand({ sessionId: 1, seq: 1 }, incr('k', 'c'), 0);
    expect(await sm.apply(cmd, 2)).toEqual({ kind: 'result', result: 1, duplicate: false });
    expect(await sm.apply(cmd, 3)).toEqual({ kind: 'result', result: 1, duplicate: true });
    const snap = await collect(sm.snapshot());
    const app2 = new CounterMachine();
    const sm2 = withSessions(app2, { results: numberCodec });
    await sm2.restore(snapshotChunks(snap), meta(3));
    expect(app2.counters.get('k')).toBe(1);
    expect(sm2.sessions.has(1)).toBe(true);
  });

  it('refuses a snapshot it did not write, and a damaged table, with ERR_DECODE, keeping its state', async () => {
    const { sm, apply } = setup();
    apply(encodeRegisterSession(0));
    await expect(
      Promise.resolve().then(() => sm.restore(snapshotChunks(Uint8Array.of(1, 2, 3, 4, 5)), meta(9))),
    ).rejects.toMatchObject({
      code: 'ERR_DECODE',
      field: 'magic',
    });
    const snap = await collect(sm.snapshot());
    const damaged = snap.slice();
    damaged[5] = 9; // the table's version byte
    await expect(
      Promise.resolve().then(() => sm.restore(snapshotChunks(damaged), meta(9))),
    ).rejects.toMatchObject({
      code: 'ERR_DECODE',
      field: 'version',
    });
    expect(sm.sessions.has(1)).toBe(true);
  });

  it('stops on an entry that is not a session envelope (ERR_DECODE), applying nothing', () => {
    const { app, sm } = setup();
    expect(() => sm.apply(incr('k', 'raw'), 1)).toThrow(/not a session entry/);
    expect(app.appliedTimes.size).toBe(0);
  });

  it('refuses bad options with ERR_CONFIG_INVALID', () => {
    expect(() => withSessions(new CounterMachine(), { results: numberCodec, timeoutMs: 0 })).toThrow(
      /timeoutMs/,
    );
    expect(() => withSessions(new CounterMachine(), { results: numberCodec, maxSessions: -1 })).toThrow(
      /maxSessions/,
    );
    expect(() =>
      withSessions(new CounterMachine(), { results: numberCodec, maxResultsPerSession: 0 }),
    ).toThrow(/maxResultsPerSession/);
  });
});
