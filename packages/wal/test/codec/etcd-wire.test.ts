// etcdCodecs against an independent oracle: protobuf bytes built here from field values with a BigInt varint
// writer (gogoproto's layout: fields in number order, zero scalars written, repeated fields unpacked), etcd's own
// test vectors, and the msgpack codecs' shapes. Complements etcd.test.ts. Seeds: FC_SEED, runs: FC_RUNS.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { etcdCodecs, type EtcdEntry, type EtcdHardState, type EtcdSnapshot } from '../../src/codec/etcd.js';
import { msgpackCodecs, type Entry, type HardState, type Snapshot } from '../../src/codec/msgpack.js';
import { WalError } from '../../src/errors.js';

const FC = { seed: Number(process.env.FC_SEED ?? 20_260_222), numRuns: Number(process.env.FC_RUNS ?? 300) };
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const fromHex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

// ---- the oracle: a protobuf writer that shares no code with src/codec ----
function varint(v: bigint): number[] {
  const out: number[] = [];
  do {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? low | 0x80 : low);
  } while (v > 0n);
  return out;
}
const vfield = (no: number, v: bigint): number[] => [...varint(BigInt(no * 8)), ...varint(v)];
const lfield = (no: number, b: readonly number[]): number[] => [
  ...varint(BigInt(no * 8 + 2)),
  ...varint(BigInt(b.length)),
  ...b,
];

interface EntryFields {
  type: bigint;
  term: bigint;
  index: bigint;
  data: number[] | undefined;
}
interface ConfFields {
  lists: [bigint[], bigint[], bigint[], bigint[]];
  autoLeave: boolean;
}
const gogoEntry = (e: EntryFields): number[] => [
  ...vfield(1, e.type),
  ...vfield(2, e.term),
  ...vfield(3, e.index),
  ...(e.data === undefined ? [] : lfield(4, e.data)),
];
const gogoConf = (c: ConfFields): number[] => [
  ...c.lists.flatMap((list, i) => list.flatMap((v) => vfield(i + 1, v))),
  ...vfield(5, c.autoLeave ? 1n : 0n),
];

// Values: the full uint64 range where etcd has ids or terms, with the 2^53 boundary and the extremes weighted in;
// indexes and commits stay safe integers (the WAL orders by them as numbers).
const u64 = fc.oneof(
  fc.bigInt({ min: 0n, max: 300n }),
  fc.constantFrom(MAX_SAFE - 1n, MAX_SAFE, MAX_SAFE + 1n, 2n ** 63n, 2n ** 64n - 1n, 0xafee657a4b52739dn),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
);
const safeU64 = fc.oneof(fc.bigInt({ min: 0n, max: 300n }), fc.bigInt({ min: 0n, max: MAX_SAFE }));
const entryFields: fc.Arbitrary<EntryFields> = fc.record({
  type: fc.bigInt({ min: 0n, max: 2n }),
  term: u64,
  index: safeU64,
  data: fc.option(fc.array(fc.nat({ max: 255 }), { maxLength: 200 }), { nil: undefined }),
});
const confFields: fc.Arbitrary<ConfFields> = fc.record({
  lists: fc.tuple(
    fc.array(u64, { maxLength: 5 }),
    fc.array(u64, { maxLength: 3 }),
    fc.array(u64, { maxLength: 3 }),
    fc.array(u64, { maxLength: 3 }),
  ),
  autoLeave: fc.boolean(),
});

/** Exact comparison of a decoded uint64 with the oracle's value; also checks number-vs-bigint normalization. */
function expectU64(got: number | bigint, want: bigint): void {
  expect(BigInt(got)).toBe(want);
  expect(typeof got).toBe(want > MAX_SAFE ? 'bigint' : 'number');
}

describe('etcdCodecs against independently built gogoproto bytes', () => {
  it('decodes every field exactly and re-encodes to the same bytes: Entry (property)', () => {
    fc.assert(
      fc.property(entryFields, (f) => {
        const bytes = Uint8Array.from(gogoEntry(f));
        const e = etcdCodecs.entry.decode(bytes);
        expectU64(e.term, f.term);
        expectU64(e.index, f.index);
        expect(BigInt(e.type ?? 0)).toBe(f.type);
        // Absent data (etcd's nil slice) stays absent; present-but-empty stays present.
        expect(e.data === undefined ? undefined : [...e.data]).toEqual(f.data);
        expect(etcdCodecs.entry.index(e)).toBe(Number(f.index));
        expect(hex(etcdCodecs.entry.encode(e))).toBe(hex(bytes));
      }),
      FC,
    );
  });

  it('decodes every field exactly and re-encodes to the same bytes: HardState (property)', () => {
    fc.assert(
      fc.property(u64, u64, safeU64, (term, vote, commit) => {
        const bytes = Uint8Array.from([...vfield(1, term), ...vfield(2, vote), ...vfield(3, commit)]);
        const s = etcdCodecs.state.decode(bytes);
        expectU64(s.term, term);
        expectU64(s.vote, vote);
        expectU64(s.commit, commit);
        expect(BigInt(etcdCodecs.state.vote(s))).toBe(vote);
        expect(etcdCodecs.state.isEmpty(s)).toBe(term === 0n && vote === 0n && commit === 0n);
        expect(hex(etcdCodecs.state.encode(s))).toBe(hex(bytes));
      }),
      FC,
    );
  });

  it('decodes every field exactly and re-encodes to the same bytes: walpb.Snapshot with ConfState (property)', () => {
    fc.assert(
      fc.property(safeU64, u64, fc.option(confFields, { nil: undefined }), (index, term, conf) => {
        const bytes = Uint8Array.from([
          ...vfield(1, index),
          ...vfield(2, term),
          ...(conf === undefined ? [] : lfield(3, gogoConf(conf))),
        ]);
        const s = etcdCodecs.snapshot.decode(bytes);
        expectU64(s.index, index);
        expectU64(s.term, term);
        if (conf === undefined) expect(s.confState).toBeUndefined();
        else {
          const cs = s.confState!;
          const got = [cs.voters, cs.learners, cs.votersOutgoing, cs.learnersNext];
          got.forEach((list, i) => expect(list.map((v) => BigInt(v))).toEqual(conf.lists[i]));
          expect(cs.autoLeave).toBe(conf.autoLeave);
        }
        expect(hex(etcdCodecs.snapshot.encode(s))).toBe(hex(bytes));
      }),
      FC,
    );
  });

  it('reads what newer encoders write: zero fields left out, fields reordered, unknown fields of wire types 0/1/2/5', () => {
    const unknown = fc.constantFrom(
      [...varint(BigInt(9 * 8 + 0)), ...varint(2n ** 64n - 1n)],
      [...varint(BigInt(10 * 8 + 1)), 1, 2, 3, 4, 5, 6, 7, 8],
      [...varint(BigInt(11 * 8 + 2)), 3, 0xaa, 0xbb, 0xcc],
      [...varint(BigInt(12 * 8 + 5)), 1, 2, 3, 4],
      [...varint(BigInt(1000 * 8 + 2)), 0],
    );
    fc.assert(
      fc.property(entryFields, fc.array(unknown, { maxLength: 4 }), fc.boolean(), (f, extras, reverse) => {
        // Proto3 style: zero scalars omitted; then shuffled among unknown fields.
        const parts = [
          f.type === 0n ? [] : vfield(1, f.type),
          f.term === 0n ? [] : vfield(2, f.term),
          f.index === 0n ? [] : vfield(3, f.index),
          f.data === undefined ? [] : lfield(4, f.data),
          ...extras,
        ];
        if (reverse) parts.reverse();
        const e = etcdCodecs.entry.decode(Uint8Array.from(parts.flat()));
        expect(BigInt(e.term)).toBe(f.term);
        expect(BigInt(e.index)).toBe(f.index);
        expect(BigInt(e.type ?? 0)).toBe(f.type);
        // Written back in gogoproto's canonical form: what etcd 3.4 itself would write for these values.
        expect(hex(etcdCodecs.entry.encode(e))).toBe(hex(Uint8Array.from(gogoEntry(f))));
      }),
      FC,
    );
  });
});

describe("etcd's own vectors", () => {
  it("decodes the entry and snapshot payloads of etcd's TestLastRecordLengthExceedFileEnd", () => {
    // wal_test.go: Create(dir, nil), SaveSnapshot({0,0}), then entries {Index: i, Data: "waldata<i>"}.
    expect(etcdCodecs.snapshot.decode(fromHex('08001000'))).toEqual({ index: 0, term: 0 });
    for (const i of [1, 2, 3]) {
      const payload = fromHex(`08001000180${i}2208${hex(new TextEncoder().encode(`waldata${i}`))}`);
      const e = etcdCodecs.entry.decode(payload);
      expect(e).toMatchObject({ index: i, term: 0, type: 0 });
      expect(new TextDecoder().decode(e.data)).toBe(`waldata${i}`);
      expect(hex(etcdCodecs.entry.encode(e))).toBe(hex(payload));
    }
  });

  it("writes create's snapshot {0, 0} as TestNew.wal's payload 08 00 10 00, and an empty state as all zeros", () => {
    expect(hex(etcdCodecs.snapshot.encode(etcdCodecs.snapshot.zero()))).toBe('08001000');
    expect(etcdCodecs.state.isEmpty(etcdCodecs.state.decode(fromHex('080010001800')))).toBe(true);
    expect(etcdCodecs.state.isEmpty(etcdCodecs.state.decode(new Uint8Array(0)))).toBe(true);
  });

  it('keeps the uint64 boundary exact: 2^53 - 1 is a number, 2^53 and 2^64 - 1 are bigints, 2^64 is an error', () => {
    const vote = (v: bigint): number | bigint => etcdCodecs.state.decode(Uint8Array.from(vfield(2, v))).vote;
    expect(vote(MAX_SAFE)).toBe(Number.MAX_SAFE_INTEGER);
    expect(vote(MAX_SAFE + 1n)).toBe(MAX_SAFE + 1n);
    expect(vote(2n ** 64n - 1n)).toBe(2n ** 64n - 1n);
    expect(() => vote(2n ** 64n)).toThrow(/overflows 64 bits in vote/);
    expect(() => etcdCodecs.state.encode({ term: 1, vote: 2n ** 64n, commit: 0 })).toThrow(WalError);
    // A number above 2^53 - 1 has already been rounded by JavaScript: refused rather than written wrong.
    expect(() => etcdCodecs.state.encode({ term: 1, vote: 2 ** 60, commit: 0 })).toThrow(WalError);
  });
});

describe('bad payloads', () => {
  it('a payload cut anywhere either decodes a prefix of the fields or throws naming the field and offset', () => {
    const whole = Uint8Array.from(
      gogoEntry({ type: 1n, term: 0xafee657a4b52739dn, index: 123_456_789n, data: [1, 2, 3, 4, 5] }),
    );
    let thrown = 0;
    for (let cut = 0; cut < whole.byteLength; cut++) {
      try {
        etcdCodecs.entry.decode(whole.subarray(0, cut));
      } catch (err) {
        expect(err).toBeInstanceOf(WalError);
        expect((err as WalError).code).toBe('ERR_WAL_CODEC');
        expect((err as Error).message).toMatch(
          /raftpb\.Entry: .*(type|term|index|data|field key).* at byte \d+/,
        );
        thrown++;
      }
    }
    expect(thrown).toBeGreaterThan(whole.byteLength / 2);
    expect(() => etcdCodecs.entry.decode(fromHex('0800108'))).toThrow(/truncated varint in term/);
    expect(() => etcdCodecs.entry.decode(fromHex('080010011801220aff'))).toThrow(/data length 10 runs past/);
  });

  it('mutated valid payloads decode to values encode accepts, or throw ERR_WAL_CODEC; nothing else (fuzz)', () => {
    fc.assert(
      fc.property(
        entryFields,
        u64,
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        (f, vote, flips, cut) => {
          const payloads = [
            Uint8Array.from(gogoEntry(f)),
            Uint8Array.from([...vfield(1, 5n), ...vfield(2, vote), ...vfield(3, 7n)]),
            Uint8Array.from([...vfield(1, 3n), ...vfield(2, vote), ...lfield(3, vfield(1, vote))]),
          ];
          const codecs = [etcdCodecs.entry, etcdCodecs.state, etcdCodecs.snapshot] as const;
          payloads.forEach((payload, k) => {
            const bad = payload.slice(0, payload.byteLength - (cut % 3));
            for (const [at, byte] of flips) if (bad.byteLength > 0) bad[at % bad.byteLength] = byte;
            const codec = codecs[k] as { decode(b: Uint8Array): unknown; encode(v: unknown): Uint8Array };
            let value: unknown;
            try {
              value = codec.decode(bad);
            } catch (err) {
              expect(err).toBeInstanceOf(WalError);
              expect((err as WalError).code).toBe('ERR_WAL_CODEC');
              return;
            }
            expect(codec.encode(value)).toBeInstanceOf(Uint8Array);
          });
        },
      ),
      FC,
    );
  });
});

describe('the msgpack shapes fit etcdCodecs', () => {
  it("accepts the default codecs' Entry, HardState and Snapshot values as they are, with the same meaning", () => {
    const arbEntry: fc.Arbitrary<Entry> = fc.record(
      {
        index: fc.nat(),
        term: fc.nat(),
        type: fc.nat({ max: 2 }),
        data: fc.uint8Array({ maxLength: 64 }),
      },
      { requiredKeys: ['index', 'term', 'data'] },
    );
    const ids = fc.array(fc.nat(), { maxLength: 3 });
    const arbSnap: fc.Arbitrary<Snapshot> = fc.record(
      {
        index: fc.nat(),
        term: fc.nat(),
        confState: fc.record({
          voters: ids,
          learners: ids,
          votersOutgoing: ids,
          learnersNext: ids,
          autoLeave: fc.boolean(),
        }),
      },
      { requiredKeys: ['index', 'term'] },
    );
    const arbState: fc.Arbitrary<HardState> = fc.record({ term: fc.nat(), vote: fc.nat(), commit: fc.nat() });
    fc.assert(
      fc.property(arbEntry, arbState, arbSnap, (entry, state, snap) => {
        // The type annotations are the compile-time half of this test: msgpack values are etcd values.
        const e: EtcdEntry = entry;
        const s: EtcdHardState = state;
        const n: EtcdSnapshot = snap;
        const e2 = etcdCodecs.entry.decode(etcdCodecs.entry.encode(e));
        const m2 = msgpackCodecs.entry.decode(msgpackCodecs.entry.encode(entry));
        // etcd always writes the type (absent means 0 in both codecs).
        expect(e2).toEqual({ ...m2, type: m2.type ?? 0 });
        expect(etcdCodecs.entry.index(e2)).toBe(msgpackCodecs.entry.index(m2));
        expect(etcdCodecs.state.decode(etcdCodecs.state.encode(s))).toEqual(state);
        expect(etcdCodecs.state.isEmpty(s)).toBe(msgpackCodecs.state.isEmpty(state));
        expect(etcdCodecs.snapshot.decode(etcdCodecs.snapshot.encode(n))).toEqual(
          msgpackCodecs.snapshot.decode(msgpackCodecs.snapshot.encode(snap)),
        );
      }),
      FC,
    );
  });
});
