import type { Codecs } from '../../src/codec/types.js';

// etcd's wal_test.go TestLastRecordLengthExceedFileEnd: a WAL written by etcd (Create with nil metadata, then
// three entries {Index: i, Data: "waldata<i>"}), with the last record's length word changed to 1000 so that it
// runs past the end of the file.
export const ETCD_LENGTH_EXCEEDS_FILE = Uint8Array.from(
  Buffer.from(
    [
      '04000000000000840804100000000000',
      '04000000000000840801100000000000',
      '0e00000000000082080510a0b39b8f08',
      '1a040800100000001a00000000000086',
      '080210ba8bdc850f1a10080010001801',
      '220877616c6461746131000000000000',
      '1a00000000000086080210a1e8ff9c02',
      '1a10080010001802220877616c646174',
      '6132000000000000e803000000000086',
      '080210a19ca1aa041a10080010001803',
      '220877616c6461746133000000000000',
    ].join(''),
    'hex',
  ),
);

/** Byte offset of the third entry's frame (the one whose length word says 1000). */
export const ETCD_FIXTURE_BAD_FRAME_OFFSET = 136;

export interface PbEntry {
  index: number;
  data: Uint8Array;
}

/** A minimal raftpb.Entry / walpb.Snapshot reader, enough for the fixture (single-byte varints). */
export const pbCodecs: Codecs<PbEntry, Uint8Array, { index: number; term: number }> = {
  entry: {
    encode: () => {
      throw new Error('read only');
    },
    decode: (b) => ({ index: b[5] ?? 0, data: b.slice(8, 8 + (b[7] ?? 0)) }),
    index: (e) => e.index,
  },
  state: {
    encode: (s) => s,
    decode: (b) => b,
    term: () => 0,
    vote: () => 0,
    commit: () => 0,
    isEmpty: () => true,
  },
  snapshot: {
    encode: (s) => Uint8Array.from([8, s.index, 0x10, s.term]),
    decode: (b) => ({ index: b[1] ?? 0, term: b[3] ?? 0 }),
    index: (s) => s.index,
    term: (s) => s.term,
    zero: () => ({ index: 0, term: 0 }),
  },
};
