import { describe, expect, it } from 'vitest';
import { RaftError } from '../../src/errors.js';
import {
  decodeSessionEntry,
  encodeCloseSession,
  encodeKeepAlive,
  encodeRegisterSession,
  encodeSessionCommand,
  encodeUntaggedCommand,
} from '../../src/session/entry.js';
import { ByteReader, ByteWriter } from '../../src/session/bytes.js';

const payload = Uint8Array.of(9, 8, 7);

function decodeError(data: Uint8Array): RaftError {
  try {
    decodeSessionEntry(data);
  } catch (err) {
    if (err instanceof RaftError) return err;
    throw err;
  }
  throw new Error('decoded');
}

describe('session entries', () => {
  it('round-trip every kind, with times and ids beyond 2^32', () => {
    const big = 2 ** 40 + 3;
    expect(decodeSessionEntry(encodeRegisterSession(big))).toEqual({ kind: 'register', time: big });
    expect(
      decodeSessionEntry(encodeSessionCommand({ sessionId: big, seq: 5, firstUnacked: 3 }, payload, 7)),
    ).toEqual({ kind: 'command', time: 7, sessionId: big, seq: 5, firstUnacked: 3, payload });
    // firstUnacked defaults to seq: one command in flight.
    expect(decodeSessionEntry(encodeSessionCommand({ sessionId: 2, seq: 5 }, payload, 7))).toMatchObject({
      firstUnacked: 5,
    });
    expect(decodeSessionEntry(encodeUntaggedCommand(payload, 1))).toEqual({
      kind: 'untagged',
      time: 1,
      payload,
    });
    expect(decodeSessionEntry(encodeKeepAlive(4, 2))).toEqual({ kind: 'keepAlive', time: 2, sessionId: 4 });
    expect(decodeSessionEntry(encodeCloseSession(4, 2))).toEqual({ kind: 'close', time: 2, sessionId: 4 });
  });

  it('keeps the tag small: a command costs 6 bytes of envelope with small numbers', () => {
    expect(encodeSessionCommand({ sessionId: 100, seq: 1 }, payload, 0).byteLength - payload.byteLength).toBe(
      6,
    );
  });

  it('refuses bad tags at once with ERR_INVALID_ARGUMENT naming the field', () => {
    const cases: [() => unknown, string][] = [
      [() => encodeSessionCommand({ sessionId: 0, seq: 1 }, payload, 1), 'sessionId'],
      [() => encodeSessionCommand({ sessionId: 1, seq: 0 }, payload, 1), 'seq'],
      [() => encodeSessionCommand({ sessionId: 1, seq: 1.5 }, payload, 1), 'seq'],
      [() => encodeSessionCommand({ sessionId: 1, seq: 2, firstUnacked: 3 }, payload, 1), 'firstUnacked'],
      [() => encodeSessionCommand({ sessionId: 1, seq: 2, firstUnacked: 0 }, payload, 1), 'firstUnacked'],
      [() => encodeRegisterSession(-1), 'time'],
      [() => encodeKeepAlive(Number.MAX_SAFE_INTEGER + 1, 1), 'sessionId'],
    ];
    for (const [f, field] of cases) {
      expect(f).toThrow(RaftError);
      try {
        f();
      } catch (err) {
        expect(err).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', field });
      }
    }
  });

  it('refuses foreign and corrupt bytes with ERR_DECODE naming the field and offset', () => {
    expect(decodeError(Uint8Array.of(0x93, 1, 2))).toMatchObject({ code: 'ERR_DECODE', field: 'magic' });
    expect(decodeError(Uint8Array.of(0xc1, 9, 0)).message).toContain('kind at byte 1');
    expect(decodeError(Uint8Array.of(0xc1, 1))).toMatchObject({ field: 'time' });
    expect(decodeError(Uint8Array.of(0xc1, 1, 0, 0))).toMatchObject({ field: 'register' }); // trailing byte
    const cmd = encodeSessionCommand({ sessionId: 300, seq: 1 }, new Uint8Array(0), 0);
    expect(decodeError(cmd.subarray(0, 4))).toMatchObject({ field: 'sessionId' }); // truncated varint
    // firstUnacked (offset 6) above seq.
    expect(decodeError(Uint8Array.of(0xc1, 2, 0, 1, 2, 3)).message).toContain('firstUnacked at byte 5');
    expect(decodeError(Uint8Array.of(0xc1, 3, 0, 0))).toMatchObject({ field: 'sessionId' }); // session 0
  });
});

describe('varints', () => {
  it('round-trip the boundaries and refuse overlong or too-large encodings', () => {
    const values = [0, 1, 127, 128, 2 ** 31, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER];
    const w = new ByteWriter();
    for (const v of values) w.uint(v);
    const r = new ByteReader(w.finish(), 't');
    for (const v of values) expect(r.uint('v')).toBe(v);
    r.end('t');
    expect(() => new ByteReader(Uint8Array.of(0x80, 0), 't').uint('v')).toThrow(/not minimal/);
    expect(() => new ByteReader(new Uint8Array(9).fill(0xff), 't').uint('v')).toThrow(/longer than 8/);
    expect(() =>
      new ByteReader(Uint8Array.of(...new Array<number>(7).fill(0xff), 0x7f), 't').uint('v'),
    ).toThrow(/exceeds 2\^53/);
  });
});
