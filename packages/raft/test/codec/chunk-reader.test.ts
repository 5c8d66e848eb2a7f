import { describe, expect, it } from 'vitest';
import { ChunkReader, readSnapshotBytes, snapshotChunks } from '../../src/codec/chunk-reader.js';

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

async function* chunked(...parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield p;
}

describe('ChunkReader', () => {
  it('reads fields across chunk boundaries and hands on the rest, peeked bytes first', async () => {
    const r = new ChunkReader(chunked(bytes(1, 2), bytes(3), bytes(), bytes(4, 5, 6), bytes(7)), 'test');
    expect(await r.peek(3)).toEqual(bytes(1, 2, 3));
    expect(await r.read(1, 'a')).toEqual(bytes(1));
    expect(await r.read(3, 'b')).toEqual(bytes(2, 3, 4));
    expect(r.offset).toBe(4);
    expect(await r.byte('c')).toBe(5);
    expect(await readSnapshotBytes(r.rest())).toEqual(bytes(6, 7));
    expect(r.offset).toBe(7);
  });

  it('names the field and offset when the stream ends inside a field', async () => {
    const r = new ChunkReader(bytes(1, 2, 3), 'snapshot at index 4');
    await r.read(2, 'head');
    await expect(r.read(5, 'table')).rejects.toMatchObject({
      code: 'ERR_DECODE',
      field: 'table',
      message: expect.stringContaining('snapshot at index 4: table at offset 2 is truncated') as string,
    });
  });

  it('peeks fewer bytes at the end of a short stream, and close() stops the source', async () => {
    let closed = false;
    const source = (async function* () {
      try {
        yield bytes(9);
        yield bytes(8);
      } finally {
        closed = true;
      }
    })();
    const r = new ChunkReader(source, 'test');
    expect(await r.peek(1)).toEqual(bytes(9));
    await r.close();
    expect(closed).toBe(true);
    expect(await new ChunkReader(bytes(1), 'x').peek(4)).toEqual(bytes(1));
  });

  it('snapshotChunks accepts bytes, sync and async chunks, and refuses a chunk that is not bytes', async () => {
    expect(await readSnapshotBytes(bytes(1, 2))).toEqual(bytes(1, 2));
    expect(await readSnapshotBytes([bytes(1), bytes(2)])).toEqual(bytes(1, 2));
    const bad = [bytes(1), 'x'] as unknown as Iterable<Uint8Array>;
    await expect(readSnapshotBytes(snapshotChunks(bad))).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
    });
  });
});
