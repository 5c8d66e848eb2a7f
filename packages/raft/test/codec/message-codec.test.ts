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
    const packr = new Packr({ useRecords: false });
    const hostile = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      message.chain((m) => {
        const b = encodeMessage(m);
        return fc.nat({ max: Math.max(0, b.byteLength - 1) }).map((n) => b.subarray(0, n)); // truncated
      }),
      fc
        .array(
          fc.oneof(
            fc.string(),
            fc.integer(),
            fc.double(),
            fc.boolean(),
            fc.constant(null),
            fc.constant(2 ** 60),
            fc.constant(-1),
            bytes,
          ),
          { maxLength: 14 },
        )
        .map((a) => packr.pack(a)),
      message.map((m) => {
        // a valid message with one field replaced by a wrong type
        const arr = packr.unpack(encodeMessage(m)) as unknown[];
        arr[3] = 'not a term';
        return packr.pack(arr);
      }),
    );
    fc.assert(
      fc.property(hostile, (b) => {
        try {
          const m = decodeMessage(b);
          expect(Number.isSafeInteger(m.term) && m.term >= 0).toBe(true);
          expect(Array.isArray(m.entries)).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(RaftError);
          expect((err as RaftError).code).toBe('ERR_DECODE');
        }
      }),
      FC,
    );
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
