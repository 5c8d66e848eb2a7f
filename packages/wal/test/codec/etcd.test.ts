import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  etcdCodecs,
  type EtcdConfState,
  type EtcdEntry,
  type EtcdHardState,
  type EtcdSnapshot,
} from '../../src/codec/etcd.js';
import { WalError } from '../../src/errors.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const FC = { seed: Number(process.env.FC_SEED ?? 11), numRuns: Number(process.env.FC_RUNS ?? 300) };
const u64 = fc.oneof(fc.nat(), fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n - 1n }));

describe('etcdCodecs (raftpb / walpb, byte for byte)', () => {
  it('encodes the zero snapshot of TestNew.wal as 08 00 10 00', () => {
    expect(hex(etcdCodecs.snapshot.encode(etcdCodecs.snapshot.zero()))).toBe('08001000');
  });

  it('encodes entries and hard states in field order with zero values written, data left out only when absent', () => {
    expect(
      hex(etcdCodecs.entry.encode({ index: 1, term: 1, type: 0, data: new TextEncoder().encode('x') })),
    ).toBe('08001001180122' + '0178');
    expect(hex(etcdCodecs.entry.encode({ index: 2, term: 1 }))).toBe('080010011802');
    expect(hex(etcdCodecs.entry.encode({ index: 2, term: 1, data: new Uint8Array(0) }))).toBe(
      '0800100118022200',
    );
    expect(hex(etcdCodecs.state.encode({ term: 0, vote: 0, commit: 0 }))).toBe('080010001800');
  });

  it('keeps a real etcd member id vote exact (0xafee657a4b52739d) and re-encodes it to the same bytes', () => {
    const hs: EtcdHardState = { term: 2, vote: 0xafee657a4b52739dn, commit: 7 };
    const bytes = etcdCodecs.state.encode(hs);
    const back = etcdCodecs.state.decode(bytes);
    expect(back.vote).toBe(0xafee657a4b52739dn);
    expect(typeof back.term).toBe('number');
    expect(hex(etcdCodecs.state.encode(back))).toBe(hex(bytes));
  });

  it('encodes a snapshot ConfState with unpacked repeated ids and auto_leave always written', () => {
    const s: EtcdSnapshot = {
      index: 5,
      term: 2,
      confState: {
        voters: [1, 0xafee657a4b52739dn],
        learners: [],
        votersOutgoing: [],
        learnersNext: [],
        autoLeave: false,
      },
    };
    const b = etcdCodecs.snapshot.encode(s);
    expect(hex(b).startsWith('080510021a')).toBe(true);
    expect(hex(b).endsWith('2800')).toBe(true);
    expect(etcdCodecs.snapshot.decode(b)).toEqual(s);
  });

  it('round-trips arbitrary values exactly and re-encodes decoded bytes identically (property)', () => {
    const conf: fc.Arbitrary<EtcdConfState> = fc.record({
      voters: fc.array(u64, { maxLength: 4 }),
      learners: fc.array(u64, { maxLength: 3 }),
      votersOutgoing: fc.array(u64, { maxLength: 3 }),
      learnersNext: fc.array(u64, { maxLength: 2 }),
      autoLeave: fc.boolean(),
    });
    const entry: fc.Arbitrary<EtcdEntry> = fc.record({
      index: fc.nat(),
      term: u64,
      type: fc.nat({ max: 2 }),
      data: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(entry, conf, u64, u64, (e, cs, term, vote) => {
        const eb = etcdCodecs.entry.encode(e);
        const e2 = etcdCodecs.entry.decode(eb);
        expect(hex(etcdCodecs.entry.encode(e2))).toBe(hex(eb));
        expect(BigInt(e2.term)).toBe(BigInt(e.term));
        expect(e2.data === undefined).toBe(e.data === undefined);
        const s: EtcdSnapshot = { index: 9, term, confState: cs };
        const sb = etcdCodecs.snapshot.encode(s);
        expect(hex(etcdCodecs.snapshot.encode(etcdCodecs.snapshot.decode(sb)))).toBe(hex(sb));
        const hb = etcdCodecs.state.encode({ term, vote, commit: 3 });
        const h2 = etcdCodecs.state.decode(hb);
        expect(BigInt(h2.vote)).toBe(BigInt(vote));
        // numbers stay numbers while safe, bigints only above 2^53 - 1
        expect(typeof h2.vote === 'bigint').toBe(BigInt(vote) > BigInt(Number.MAX_SAFE_INTEGER));
      }),
      FC,
    );
  });

  it('accepts missing fields, unknown fields and packed repeated ids (newer encoders)', () => {
    // HardState with only commit, plus an unknown varint field 9 and an unknown bytes field 10.
    const b = Buffer.from('1805' + '4801' + '52026869', 'hex');
    expect(etcdCodecs.state.decode(b)).toEqual({ term: 0, vote: 0, commit: 5 });
    // ConfState voters packed: 0a 02 01 02
    const snap = Buffer.from('080310011a04' + '0a020102', 'hex');
    expect(etcdCodecs.snapshot.decode(snap).confState?.voters).toEqual([1, 2]);
  });

  it('never rounds: an index or commit beyond 2^53 - 1 is an error, not a wrong number', () => {
    const huge = etcdCodecs.state.encode({ term: 1, vote: 1, commit: 0 });
    const bad = Buffer.concat([Buffer.from(huge.subarray(0, 4)), Buffer.from('18ffffffffffffffff01', 'hex')]);
    expect(() => etcdCodecs.state.decode(bad)).toThrow(WalError);
    expect(() => etcdCodecs.entry.encode({ index: 2 ** 60, term: 1 })).toThrow(/non-negative integer/);
  });

  it('refuses values of the wrong type instead of writing empty or zero fields', () => {
    expect(() => etcdCodecs.entry.encode({ index: 1, term: 1, data: 'x' as unknown as Uint8Array })).toThrow(
      WalError,
    );
    expect(() => etcdCodecs.entry.encode({ index: 1, term: undefined as unknown as number })).toThrow(
      WalError,
    );
    expect(() => etcdCodecs.state.encode({ term: 1, vote: '2' as unknown as number, commit: 0 })).toThrow(
      WalError,
    );
  });

  it('hostile bytes throw WalError ERR_WAL_CODEC, never anything else (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        for (const c of [etcdCodecs.entry, etcdCodecs.state, etcdCodecs.snapshot] as const) {
          try {
            c.decode(b);
          } catch (err) {
            expect(err).toBeInstanceOf(WalError);
            expect((err as WalError).code).toBe('ERR_WAL_CODEC');
          }
        }
      }),
      FC,
    );
  });
});
