// The wire formats that carry member addresses: the conf-change context and the snapshot envelope.
import { readSnapshotBytes } from '../../src/codec/chunk-reader.js';
import { describe, expect, it } from 'vitest';
import {
  decodeMemberContext,
  encodeMemberContext,
  unwrapSnapshot,
  wrapSnapshot,
} from '../../src/node/member-codec.js';
import { unframe } from '../../src/node/proposal-id.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

async function collect(p: ReturnType<typeof wrapSnapshot>): Promise<Uint8Array> {
  if (p instanceof Uint8Array) return p;
  const parts: Uint8Array[] = [];
  for await (const c of p) parts.push(c);
  return new Uint8Array(Buffer.concat(parts));
}

describe('member context', () => {
  it('round-trips an address and metadata; is never mistaken for a proposal header', () => {
    const ctx = encodeMemberContext({ address: 'h:1', metadata: { client: 'http://h:2' } });
    expect(unframe(ctx)).toBeUndefined();
    expect(decodeMemberContext(ctx, 7)).toEqual({ address: 'h:1', metadata: { client: 'http://h:2' } });
    expect(decodeMemberContext(encodeMemberContext({ address: 'h:1' }), 7)).toEqual({ address: 'h:1' });
  });

  it("leaves an application's own context alone and rejects a damaged one with ERR_DECODE", () => {
    expect(decodeMemberContext(enc('app bytes'), 3)).toBeUndefined();
    expect(decodeMemberContext(new Uint8Array(0), 3)).toBeUndefined();
    const good = encodeMemberContext({ address: 'h:1' });
    expect(() => decodeMemberContext(good.subarray(0, good.byteLength - 2), 9)).toThrow(
      expect.objectContaining({ code: 'ERR_DECODE', message: expect.stringContaining('index 9') as string }),
    );
    const noAddress = new Uint8Array([...good.subarray(0, 4), ...enc('{"address":""}')]);
    expect(() => decodeMemberContext(noAddress, 9)).toThrow(expect.objectContaining({ code: 'ERR_DECODE' }));
  });
});

describe('snapshot envelope', () => {
  const members = new Map([
    [1, { address: 'a:1' }],
    [2, { address: 'b:1', metadata: { zone: 'x' } }],
  ]);
  const table = { members, removed: new Set([5, 3]) };

  it('wraps bytes and chunk streams alike and unwraps to the table and the exact data', async () => {
    const data = enc('state machine bytes');
    const whole = await collect(wrapSnapshot(table, data));
    const streamed = await collect(
      wrapSnapshot(
        table,
        (async function* () {
          yield data.subarray(0, 5);
          yield data.subarray(5);
        })(),
      ),
    );
    expect(streamed).toEqual(whole);
    const out = await unwrapSnapshot(whole, 10);
    expect(out.members).toEqual(members);
    expect([...out.removed].sort()).toEqual([3, 5]);
    expect(new TextDecoder().decode(await readSnapshotBytes(out.data))).toBe('state machine bytes');
    // A table split across chunks at every byte reads the same.
    const oneByteChunks = await unwrapSnapshot(
      (async function* () {
        for (let i = 0; i < whole.byteLength; i++) yield whole.subarray(i, i + 1);
      })(),
      10,
    );
    expect(oneByteChunks.members).toEqual(members);
    expect([...oneByteChunks.removed].sort()).toEqual([3, 5]);
    expect(new TextDecoder().decode(await readSnapshotBytes(oneByteChunks.data))).toBe('state machine bytes');
  });

  it('reads a snapshot without the envelope as all data, no members', async () => {
    const legacy = enc('{"old":"format"}');
    const out = await unwrapSnapshot(legacy, 4);
    expect(out.members.size).toBe(0);
    expect(await readSnapshotBytes(out.data)).toEqual(legacy);
  });

  it('rejects a truncated or malformed member table with ERR_DECODE naming the index', async () => {
    const whole = await collect(wrapSnapshot(table, enc('x')));
    await expect(unwrapSnapshot(whole.subarray(0, 10), 12)).rejects.toThrow(
      expect.objectContaining({ code: 'ERR_DECODE', message: expect.stringContaining('index 12') as string }),
    );
    const bad = await collect(
      wrapSnapshot({ members: new Map([[0, { address: 'z' }]]), removed: new Set() }, enc('x')),
    );
    await expect(unwrapSnapshot(bad, 12)).rejects.toThrow(expect.objectContaining({ code: 'ERR_DECODE' }));
    const badRemoved = await collect(wrapSnapshot({ members, removed: new Set([-1]) }, enc('x')));
    await expect(unwrapSnapshot(badRemoved, 12)).rejects.toThrow(
      expect.objectContaining({ code: 'ERR_DECODE', field: 'removed' }),
    );
  });

  it('reads the envelope written before removed ids were kept (a bare members list): no removed ids', async () => {
    const json = enc(JSON.stringify([[1, 'a:1']]));
    const head = new Uint8Array(12 + json.byteLength);
    head.set(enc('xrsnap01'));
    new DataView(head.buffer).setUint32(8, json.byteLength);
    head.set(json, 12);
    const out = await unwrapSnapshot(new Uint8Array([...head, ...enc('data')]), 4);
    expect(out.members).toEqual(new Map([[1, { address: 'a:1' }]]));
    expect(out.removed.size).toBe(0);
    expect(new TextDecoder().decode(await readSnapshotBytes(out.data))).toBe('data');
  });
});
