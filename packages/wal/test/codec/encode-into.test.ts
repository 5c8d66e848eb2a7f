import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { msgpackCodecs, type Entry } from '../../src/codec/msgpack.js';
import type { Codec } from '../../src/codec/types.js';
import { CrcMemory } from '../../src/record/crc-memory.js';
import { RecordType } from '../../src/record/record-type.js';
import { FrameBuffer } from '../../src/wal/frame-buffer.js';

const entryArb: fc.Arbitrary<Entry> = fc
  .record({
    index: fc.oneof(fc.nat(300), fc.nat(70_000), fc.nat(), fc.maxSafeNat()),
    term: fc.oneof(fc.nat(300), fc.maxSafeNat()),
    data: fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: 250, maxLength: 70_000 })),
    type: fc.option(fc.oneof(fc.nat(200), fc.maxSafeNat()), { nil: undefined }),
  })
  .map((e): Entry => {
    const out: Entry = { index: e.index, term: e.term, data: e.data };
    if (e.type !== undefined) out.type = e.type;
    return out;
  });

/** The same codec with only encode/decode: the WAL must take its encode-and-copy path. */
const plain = <T>(c: Codec<T>): Codec<T> => ({ encode: (v) => c.encode(v), decode: (b) => c.decode(b) });

describe('encodeInto', () => {
  const codec = msgpackCodecs.entry;

  it("msgpack entries: encodedSize and encodeInto give exactly encode's bytes, at any offset", () => {
    fc.assert(
      fc.property(entryArb, fc.nat(64), (e, offset) => {
        const want = codec.encode(e);
        const size = codec.encodedSize?.(e);
        expect(size).toBe(want.byteLength);
        const buf = new Uint8Array(offset + want.byteLength + 8).fill(0xee);
        expect(codec.encodeInto?.(e, buf, offset)).toBe(offset + want.byteLength);
        expect(buf.subarray(offset, offset + want.byteLength)).toEqual(want);
        expect(buf.subarray(0, offset).every((b) => b === 0xee)).toBe(true);
        expect(buf.subarray(offset + want.byteLength).every((b) => b === 0xee)).toBe(true);
        expect(codec.decode(want)).toEqual(e);
      }),
      { numRuns: 300 },
    );
  });

  it('frames the same bytes and CRC chain as the encode-and-copy path (both crc varint lengths)', () => {
    fc.assert(
      fc.property(
        fc.array(entryArb, { maxLength: 12 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (es, crc) => {
          const a = new FrameBuffer(crc);
          const b = new FrameBuffer(crc);
          const viaCopy = plain(codec);
          for (const e of es) {
            a.appendValue(RecordType.Entry, codec, e, 'entry');
            b.appendValue(RecordType.Entry, viaCopy, e, 'entry');
            expect(a.buf.subarray(a.dataStart, a.dataEnd)).toEqual(codec.encode(e));
          }
          expect(a.length).toBe(b.length);
          expect(a.buf.subarray(0, a.length)).toEqual(b.buf.subarray(0, b.length));
          expect(a.crc).toBe(b.crc);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('frames the same bytes where WebAssembly is unavailable (an ordinary array, the CRC in JS or native)', async () => {
    vi.stubEnv('X_WAL_NO_WASM_CRC', '1');
    vi.resetModules();
    try {
      const { crcMemoryAvailable } = await import('../../src/record/crc-memory.js');
      const fallback = await import('../../src/wal/frame-buffer.js');
      expect(crcMemoryAvailable).toBe(false);
      fc.assert(
        fc.property(
          fc.array(entryArb, { maxLength: 12 }),
          fc.integer({ min: 0, max: 0xffffffff }),
          (es, crc) => {
            const inWasm = new FrameBuffer(crc);
            const inArray = new fallback.FrameBuffer(crc);
            for (const e of es) {
              inWasm.appendValue(RecordType.Entry, codec, e, 'entry');
              inArray.appendValue(RecordType.Entry, codec, e, 'entry');
            }
            expect(inArray.buf.subarray(0, inArray.length)).toEqual(inWasm.buf.subarray(0, inWasm.length));
            expect(inArray.crc).toBe(inWasm.crc);
          },
        ),
        { numRuns: 100 },
      );
    } finally {
      vi.unstubAllEnvs();
      vi.resetModules();
    }
  });

  it('moves to an ordinary array, bytes unchanged, when its WebAssembly memory cannot grow', () => {
    const grow = vi.spyOn(CrcMemory.prototype, 'grow');
    try {
      const es: Entry[] = Array.from({ length: 40 }, (_, i) => ({
        index: i + 1,
        term: 1,
        data: new Uint8Array(3000).fill(i),
      }));
      const want = new FrameBuffer(7, false);
      for (const e of es) want.appendValue(RecordType.Entry, codec, e, 'entry');
      const fb = new FrameBuffer(7);
      grow.mockReturnValue(false); // from now on: as if past 4 GiB or out of memory
      for (const e of es) fb.appendValue(RecordType.Entry, codec, e, 'entry'); // 120 KB: past the first 64 KiB
      expect(grow).toHaveBeenCalled();
      expect(fb.buf.subarray(0, fb.length)).toEqual(want.buf.subarray(0, want.length));
      expect(fb.crc).toBe(want.crc);
    } finally {
      grow.mockRestore();
    }
  });

  it('a codec whose encodeInto disagrees with encodedSize is ERR_WAL_CODEC and leaves the buffer as it was', () => {
    const liar: Codec<Entry> = {
      ...codec,
      encodedSize: (e) => codec.encodedSize!(e),
      encodeInto: (e, buf, off) => (codec.encodeInto?.(e, buf, off) ?? off) - 1,
    };
    const fb = new FrameBuffer(0);
    fb.appendValue(RecordType.Entry, codec, { index: 1, term: 1, data: new Uint8Array(3) }, 'entry');
    const mark = fb.mark();
    expect(() =>
      fb.appendValue(RecordType.Entry, liar, { index: 2, term: 1, data: new Uint8Array(3) }, 'entry'),
    ).toThrow(expect.objectContaining({ code: 'ERR_WAL_CODEC' }));
    expect(fb.mark()).toEqual(mark);
  });

  it('a codec spread from the built-in one with its own encode runs that encode (the fast paths do not carry over)', () => {
    let calls = 0;
    const custom = {
      ...codec,
      encode: (e: Entry) => {
        calls++;
        return codec.encode(e);
      },
    };
    for (const hook of ['encodeInto', 'encodedSize', 'decodeAt']) expect(hook in custom).toBe(false);
    const fb = new FrameBuffer(0);
    fb.appendValue(RecordType.Entry, custom, { index: 1, term: 1, data: new Uint8Array([1, 2]) }, 'entry');
    expect(calls).toBe(1);
    // The built-in codec keeps them.
    expect(typeof codec.encodeInto).toBe('function');
  });

  it('decodeAt over a range of a larger buffer gives what decode gives, copying the data out', () => {
    fc.assert(
      fc.property(
        entryArb,
        fc.uint8Array({ maxLength: 16 }),
        fc.uint8Array({ maxLength: 16 }),
        (e, before, after) => {
          const bytes = codec.encode(e);
          const buf = new Uint8Array([...before, ...bytes, ...after]);
          const got = codec.decodeAt?.(buf, before.byteLength, before.byteLength + bytes.byteLength, false);
          expect(got).toEqual(codec.decode(bytes));
          expect(got).toEqual(e);
          buf.fill(0xaa);
          expect(got?.data).toEqual(e.data); // not a view into buf
        },
      ),
      { numRuns: 300 },
    );
    // Other msgpack shapes go through msgpackr, also over a range.
    // an array16 header: not the fast shape
    const odd = Uint8Array.from([0xff, 0xdc, 0x00, 0x03, 0x05, 0x01, 0xc4, 0x01, 0x07, 0xff]);
    expect(codec.decodeAt?.(odd, 1, odd.byteLength - 1, false)).toEqual({
      index: 5,
      term: 1,
      data: Uint8Array.from([7]),
    });
  });
});
