import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import {
  decodeConfChange,
  decodeConfChangeV2,
  encodeConfChange,
  encodeConfChangeV2,
} from '../../src/codec/conf-change-codec.js';
import { decodeMessage, encodeMessage } from '../../src/codec/message-codec.js';
import { RaftError } from '../../src/errors.js';
import { MessageType, type Message } from '../../src/raftpb/types.js';

const FC = { seed: Number(process.env.FC_SEED ?? 7), numRuns: Number(process.env.FC_RUNS ?? 300) };
const uint = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const bytes = fc.uint8Array({ maxLength: 64 });
const ids = fc.array(fc.nat({ max: 1000 }), { maxLength: 5 });
const entry = fc.record({
  term: uint,
  index: uint,
  type: fc.constantFrom(0 as const, 1 as const, 2 as const),
  data: bytes,
});
const message: fc.Arbitrary<Message> = fc
  .record({
    type: fc.constantFrom(...(Object.values(MessageType) as MessageType[])),
    to: uint,
    from: uint,
    term: uint,
    logTerm: uint,
    index: uint,
    entries: fc.array(entry, { maxLength: 5 }),
    commit: uint,
    reject: fc.boolean(),
    rejectHint: uint,
    snapshot: fc.option(
      fc.record({
        data: bytes,
        metadata: fc.record({
          index: uint,
          term: uint,
          confState: fc.record({
            voters: ids,
            learners: ids,
            votersOutgoing: ids,
            learnersNext: ids,
            autoLeave: fc.boolean(),
          }),
        }),
      }),
      { nil: undefined },
    ),
    context: fc.option(bytes, { nil: undefined }),
  })
  .map((m) => {
    const out: Message = { ...m };
    if (m.snapshot === undefined) delete out.snapshot;
    if (m.context === undefined) delete out.context;
    return out;
  });

/** Deep equality with byte fields compared as plain byte arrays. */
function norm(v: unknown): unknown {
  if (v instanceof Uint8Array) return [...v];
  if (Array.isArray(v)) return v.map(norm);
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, norm(x)]));
  return v;
}

describe('message codec', () => {
  it('round-trips every valid message, byte fields as Uint8Array (property)', () => {
    fc.assert(
      fc.property(message, (m) => {
        const back = decodeMessage(encodeMessage(m));
        expect(norm(back)).toEqual(norm(m));
        for (const e of back.entries) expect(e.data).toBeInstanceOf(Uint8Array);
      }),
      FC,
    );
  });

  it('turns arbitrary bytes into a valid message or an ERR_DECODE error, never anything else (fuzz)', () => {
    const hostile = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      message.chain((m) => {
        const b = encodeMessage(m);
        return fc.nat({ max: Math.max(0, b.byteLength - 1) }).map((n) => b.subarray(0, n)); // truncated
      }),
      // a valid message with one byte changed: a field out of range, a length past the end, an unknown flag, ...
      fc.tuple(message, fc.nat(), fc.integer({ min: 1, max: 255 })).map(([m, at, x]) => {
        const b = encodeMessage(m);
        b[at % b.byteLength] = (b[at % b.byteLength] ?? 0) ^ x;
        return b;
      }),
      // a valid message with bytes appended
      fc.tuple(message, fc.uint8Array({ minLength: 1, maxLength: 9 })).map(([m, tail]) => {
        const b = encodeMessage(m);
        const out = new Uint8Array(b.byteLength + tail.byteLength);
        out.set(b);
        out.set(tail, b.byteLength);
        return out;
      }),
    );
    fc.assert(
      fc.property(hostile, (b) => {
        try {
          const m = decodeMessage(b);
          expect(Number.isSafeInteger(m.term) && m.term >= 0).toBe(true);
          expect(Array.isArray(m.entries)).toBe(true);
          // Whatever decodes is a message that encodes back to exactly the same bytes (no field was guessed).
          expect([...encodeMessage(m)]).toEqual([...b]);
        } catch (err) {
          expect(err).toBeInstanceOf(RaftError);
          expect((err as RaftError).code).toBe('ERR_DECODE');
        }
      }),
      FC,
    );
  });

  it('refuses an unknown wire version, unknown flags, trailing bytes and counts larger than the input', () => {
    const m: Message = {
      type: MessageType.MsgApp,
      to: 2,
      from: 1,
      term: 3,
      logTerm: 2,
      index: 7,
      entries: [{ term: 3, index: 8, type: 0, data: new Uint8Array([1, 2, 3]) }],
      commit: 6,
      reject: false,
      rejectHint: 0,
    };
    const b = encodeMessage(m);
    expect(norm(decodeMessage(b))).toEqual(norm(m));
    // The previous wire form was a msgpack array of 12: its first byte is 0x9c.
    expect(() => decodeMessage(Uint8Array.of(0x9c, ...b.subarray(1)))).toThrow(
      /message\.version: unknown wire version 156/,
    );
    expect(() => decodeMessage(Uint8Array.of(...b.subarray(0, 2), 0x80, ...b.subarray(3)))).toThrow(
      /message\.flags/,
    );
    expect(() => decodeMessage(Uint8Array.of(...b, 0))).toThrow(/1 bytes after the last field/);
    // A snapshot whose voter count claims 2^32 - 1 ids: refused before anything is allocated for them.
    const withSnap = encodeMessage({
      ...m,
      entries: [],
      snapshot: {
        data: new Uint8Array(0),
        metadata: {
          index: 1,
          term: 1,
          confState: { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
        },
      },
    });
    const votersAt = 3 + 56 + 4 + 17; // header, empty entries, snapshot index/term/autoLeave
    new DataView(withSnap.buffer).setUint32(votersAt, 0xffffffff);
    expect(() => decodeMessage(withSnap)).toThrow(/snapshot\.metadata\.confState\.voters: truncated/);
    // An entry whose data length runs past the end of the entries.
    const long = encodeMessage(m);
    new DataView(long.buffer).setUint32(3 + 56 + 4 + 17, 1000);
    expect(() => decodeMessage(long)).toThrow(/entries\[0\]\.data: length 1000 runs past the end/);
  });

  it('names the offending field', () => {
    const m = {
      type: 3,
      to: 1,
      from: 2,
      term: 1,
      logTerm: 0,
      index: 0,
      entries: [{ term: 1, index: -1, type: 0, data: new Uint8Array(0) }],
      commit: 0,
      reject: false,
      rejectHint: 0,
    } as unknown as Message;
    expect(() => decodeMessage(encodeMessage(m))).toThrow(/entries\[0\]\.index/);
    expect(() => decodeMessage(new Uint8Array([0xc1]))).toThrow(RaftError);
  });

  it('round-trips conf changes V1 and V2 and rejects malformed ones', () => {
    const v1 = { type: 3 as const, nodeId: 9, context: new Uint8Array([1, 2]) };
    expect(norm(decodeConfChange(encodeConfChange(v1)))).toEqual(norm(v1));
    const v2 = {
      transition: 1 as const,
      changes: [
        { type: 0 as const, nodeId: 4 },
        { type: 1 as const, nodeId: 2 },
      ],
    };
    expect(decodeConfChangeV2(encodeConfChangeV2(v2))).toEqual(v2);
    expect(() => decodeConfChangeV2(new Packr({ useRecords: false }).pack([9, [], null]))).toThrow(
      /transition/,
    );
  });
});
