import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Codecs } from '../../src/codec/types.js';
import { crc32cUpdate } from '../../src/record/crc.js';
import { encodeFrame, frameSize, readLengthWord } from '../../src/record/frame.js';
import { decodeRecord, encodeRecord } from '../../src/record/record.js';
import { RecordType } from '../../src/record/record-type.js';
import { Wal } from '../../src/wal.js';
import { enc, tempParent } from '../helpers.js';

// etcd's server/storage/wal/testdata/TestNew.wal: the 72 bytes of `Create(dir, "somedata")` up to the zeros.
const TEST_NEW_WAL = Uint8Array.from(
  Buffer.from(
    '0400000000000084' +
      '08041000' +
      '00000000' +
      '1200000000000086' +
      '080110' +
      '85d4fda007' +
      '1a08' +
      Buffer.from('somedata').toString('hex') +
      '000000000000' +
      '0e00000000000082' +
      '080510' +
      '80db81c101' +
      '1a04' +
      '08001000' +
      '0000',
    'hex',
  ),
);

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('CRC-32C', () => {
  it('has the check value 0xe3069283 and the etcd chain values', () => {
    expect(crc32cUpdate(0, enc('123456789'))).toBe(0xe3069283);
    expect(crc32cUpdate(0, enc('somedata'))).toBe(0x741f6a05);
    expect(crc32cUpdate(0x741f6a05, Uint8Array.from([8, 0, 0x10, 0]))).toBe(0x18206d80);
  });

  it('chains: update(update(0, a), b) === update(0, a ++ b)', () => {
    const a = enc('hello, ');
    const b = enc('world');
    expect(crc32cUpdate(crc32cUpdate(0, a), b)).toBe(crc32cUpdate(0, enc('hello, world')));
  });

  it('matches etcd nil-metadata vectors (TestLastRecordLengthExceedFileEnd)', () => {
    let crc = crc32cUpdate(0, Uint8Array.from([8, 0, 0x10, 0]));
    expect(crc).toBe(0x81e6d9a0);
    const want = [0xf0b705ba, 0x239ff421, 0x45484e21];
    for (let i = 0; i < 3; i++) {
      // raftpb.Entry{Index: i+1, Data: "waldata<i+1>"}: 08 00 10 00 18 idx 22 08 data
      const data = Uint8Array.from([
        0x08,
        0x00,
        0x10,
        0x00,
        0x18,
        i + 1,
        0x22,
        0x08,
        ...enc(`waldata${i + 1}`),
      ]);
      crc = crc32cUpdate(crc, data);
      expect(crc).toBe(want[i]);
    }
  });
});

describe('frames and records', () => {
  it('encodes the TestNew.wal records byte for byte', () => {
    const frames = [
      encodeFrame(encodeRecord(RecordType.Crc, 0, undefined)),
      encodeFrame(encodeRecord(RecordType.Metadata, 0x741f6a05, enc('somedata'))),
      encodeFrame(encodeRecord(RecordType.Snapshot, 0x18206d80, Uint8Array.from([8, 0, 0x10, 0]))),
    ];
    expect(hex(Buffer.concat(frames))).toBe(hex(TEST_NEW_WAL));
  });

  it('pads to 8 bytes with 0x80|pad in the top byte, and writes none when aligned', () => {
    for (let n = 1; n <= 24; n++) {
      const frame = encodeFrame(new Uint8Array(n).fill(0xab));
      const pad = (8 - (n % 8)) % 8;
      expect(frame.byteLength).toBe(frameSize(n));
      expect(frame.byteLength % 8).toBe(0);
      expect(frame[7]).toBe(pad === 0 ? 0 : 0x80 | pad);
      expect(readLengthWord(frame, 0)).toEqual({ recordBytes: n, pad });
      expect(frame.subarray(8 + n).every((b) => b === 0)).toBe(true);
    }
  });

  it('reads a legacy unpadded length word (top byte 0) as no padding', () => {
    const word = Uint8Array.from([0x0d, 0, 0, 0, 0, 0, 0, 0]);
    expect(readLengthWord(word, 0)).toEqual({ recordBytes: 13, pad: 0 });
  });

  it('tells absent data from empty data: no field 3 vs 1a 00', () => {
    expect(hex(encodeRecord(RecordType.Entry, 5, undefined))).toBe('08021005');
    expect(hex(encodeRecord(RecordType.Entry, 5, new Uint8Array(0)))).toBe('080210051a00');
    expect(decodeRecord(Uint8Array.from([8, 2, 0x10, 5]))).toEqual({ type: 2, crc: 5, data: undefined });
    const empty = decodeRecord(Uint8Array.from([8, 2, 0x10, 5, 0x1a, 0]));
    expect(typeof empty !== 'string' && empty.data?.byteLength).toBe(0);
  });

  it('round-trips large crc varints and rejects malformed records', () => {
    const r = decodeRecord(encodeRecord(RecordType.State, 0xffffffff, enc('x')));
    expect(r).toEqual({ type: 3, crc: 0xffffffff, data: enc('x') });
    expect(typeof decodeRecord(Uint8Array.from([8]))).toBe('string');
    expect(typeof decodeRecord(Uint8Array.from([0x1a, 10, 1]))).toBe('string');
    expect(typeof decodeRecord(Uint8Array.from([0x0f, 1]))).toBe('string');
  });
});

describe('Wal.create writes etcd TestNew.wal', () => {
  let t: Awaited<ReturnType<typeof tempParent>>;
  beforeEach(async () => {
    t = await tempParent();
  });
  afterEach(async () => {
    await t.cleanup();
  });

  // A protobuf-shaped snapshot codec (walpb.Snapshot{index, term}), so the zero snapshot is `08 00 10 00`.
  const protoSnap: Codecs<Uint8Array, Uint8Array, { index: number; term: number }> = {
    entry: { encode: (e) => e, decode: (b) => b, index: () => 0 },
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

  it('byte-exact, followed by zeros to the segment size', async () => {
    const wal = await Wal.create(t.dir, enc('somedata'), { codecs: protoSnap, segmentSizeBytes: 4096 });
    await wal.close();
    const bytes = await readFile(join(t.dir, '0000000000000000-0000000000000000.wal'));
    expect(bytes.byteLength).toBe(4096);
    expect(hex(bytes.subarray(0, 72))).toBe(hex(TEST_NEW_WAL));
    expect(bytes.subarray(72).every((b) => b === 0)).toBe(true);
  });
});
