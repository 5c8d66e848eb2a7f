import { pack, unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { msgpackCodecs, type Snapshot } from '../../src/codec/msgpack.js';
import { WalError } from '../../src/errors.js';

const { entry, state, snapshot } = msgpackCodecs;

describe('msgpackCodecs', () => {
  it('round-trips entries, with and without a type, keeping the data bytes', () => {
    const e1 = { index: 7, term: 3, data: Uint8Array.from([1, 2, 3]) };
    const e2 = { index: 2 ** 40, term: 1, type: 1, data: new Uint8Array(0) };
    expect(entry.decode(entry.encode(e1))).toEqual(e1);
    expect(entry.decode(entry.encode(e2))).toEqual(e2);
    expect('type' in entry.decode(entry.encode(e1))).toBe(false);
    expect(entry.index(e2)).toBe(2 ** 40);
  });

  it('round-trips hard states and tells empty ones', () => {
    const s = { term: 5, vote: 2, commit: 100 };
    expect(state.decode(state.encode(s))).toEqual(s);
    expect(state.isEmpty({ term: 0, vote: 0, commit: 0 })).toBe(true);
    expect(state.isEmpty({ term: 0, vote: 0, commit: 1 })).toBe(false);
  });

  it('round-trips snapshots with and without a ConfState in @x/raft shape', () => {
    const plain: Snapshot = { index: 10, term: 2 };
    const full: Snapshot = {
      index: 11,
      term: 2,
      confState: {
        voters: [1, 2, 3],
        learners: [4],
        votersOutgoing: [1, 2],
        learnersNext: [3],
        autoLeave: true,
      },
    };
    expect(snapshot.decode(snapshot.encode(plain))).toEqual(plain);
    expect(snapshot.decode(snapshot.encode(full))).toEqual(full);
    expect(snapshot.zero()).toEqual({ index: 0, term: 0 });
  });

  it('rejects malformed shapes with ERR_WAL_CODEC on decode and encode', () => {
    const bad = [
      pack({ index: 1 }),
      pack([1, 2]),
      pack([1, -2, new Uint8Array(1)]),
      pack([1, 2, 'str']),
      Uint8Array.from([0xc1]),
    ];
    for (const b of bad) {
      expect(() => entry.decode(b)).toThrow(WalError);
      expect(() => entry.decode(b)).toThrow(expect.objectContaining({ code: 'ERR_WAL_CODEC' }));
    }
    expect(() => state.decode(pack([1, 2]))).toThrow(expect.objectContaining({ code: 'ERR_WAL_CODEC' }));
    expect(() => state.decode(pack([1, 2, 1.5]))).toThrow(expect.objectContaining({ code: 'ERR_WAL_CODEC' }));
    expect(() => snapshot.decode(pack([1, 2, [[1], [], [], []]]))).toThrow(
      expect.objectContaining({ code: 'ERR_WAL_CODEC' }),
    );
    expect(() => entry.encode({ index: 1.5, term: 1, data: new Uint8Array(0) })).toThrow(
      expect.objectContaining({ code: 'ERR_WAL_CODEC' }),
    );
    expect(() => state.encode({ term: Number.NaN, vote: 0, commit: 0 })).toThrow(WalError);
  });

  it('decoded data is a copy, not a view into the record bytes', () => {
    const bytes = entry.encode({ index: 1, term: 1, data: Uint8Array.from([9, 9]) });
    const e = entry.decode(bytes);
    bytes.fill(0);
    expect(Array.from(e.data)).toEqual([9, 9]);
  });
});

describe('the hand-rolled Entry fast path is plain msgpack', () => {
  it('reads what msgpackr writes and msgpackr reads what it writes, at every integer and length width', () => {
    const ints = [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1];
    const sizes = [0, 1, 255, 256, 65535, 65536];
    const compare = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));
    for (const index of ints) {
      for (const n of sizes) {
        const data = Uint8Array.from({ length: n }, (_, k) => (k * 31 + index) & 0xff);
        for (const type of [undefined, 0, 300]) {
          const e = type === undefined ? { index, term: 3, data } : { index, term: 3, data, type };
          const ours = entry.encode(e);
          const arr = unpack(ours) as unknown[];
          expect(arr[0]).toBe(index);
          expect(Buffer.from(arr[2] as Uint8Array).equals(Buffer.from(data))).toBe(true);
          expect(arr[3]).toBe(type);
          const theirs = pack(type === undefined ? [index, 3, data] : [index, 3, data, type]);
          for (const got of [entry.decode(theirs), entry.decode(ours)]) {
            expect({ ...got, data: undefined }).toEqual({ ...e, data: undefined });
            expect(got.data.constructor).toBe(Uint8Array);
            expect(compare(got.data, data)).toBe(true);
          }
        }
      }
    }
  });
});
