// Snapshots over TcpTransport end to end: the receiver streams to a temporary file, checks size and CRC, hands raft
// a lazily read source; a transfer cut half-way or corrupted leaves no file behind and the sender sees a failure.
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readSnapshotBytes } from '../../src/codec/chunk-reader.js';
import { encodeMessage } from '../../src/codec/message-codec.js';
import type { SnapshotSource, TransportHandler } from '../../src/node/types.js';
import { MessageType, type Message } from '../../src/raftpb/types.js';
import { FrameKind, encodeFrame } from '../../src/transport/frame.js';
import { encodeHello } from '../../src/transport/hello.js';
import { encodeSnapshotEnd } from '../../src/transport/snapshot-stream.js';
import { TcpTransport, type TcpTransportOptions } from '../../src/transport/tcp-transport.js';
import { reservePort } from '../../../../test-support/ports.js';
import { corruptingProxy } from './corrupting-proxy.js';

interface Recorder extends TransportHandler {
  snaps: { m: Message; source: SnapshotSource }[];
  reports: [number, string][];
}

function recorder(): Recorder {
  const r: Recorder = {
    snaps: [],
    reports: [],
    onMessage: (m, source) => {
      if (m.type === MessageType.MsgSnap && source !== undefined) r.snaps.push({ m, source });
    },
    reportUnreachable: () => undefined,
    reportSnapshot: (id, status) => r.reports.push([id, status]),
  };
  return r;
}

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const snapMsg = (index = 500): Message => ({
  type: MessageType.MsgSnap,
  to: 2,
  from: 1,
  term: 3,
  logTerm: 0,
  index: 0,
  entries: [],
  commit: 0,
  reject: false,
  rejectHint: 0,
  snapshot: {
    data: new Uint8Array(0),
    metadata: {
      index,
      term: 3,
      confState: { voters: [1, 2], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
    },
  },
});

/** `size` deterministic bytes, produced `chunk` bytes at a time (never all in memory). */
async function* pattern(size: number, chunk = 256 * 1024): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < size; at += chunk) {
    const n = Math.min(chunk, size - at);
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = ((at + i) * 2654435761) >>> 24;
    yield out;
  }
}

/** Receiver (id 2, snapshots into `dir`) and sender (id 1, reaching 2 at `route` if given). */
async function setup(
  extra: Partial<TcpTransportOptions> = {},
  route?: (portB: number) => Promise<number>,
): Promise<{ a: TcpTransport; ra: Recorder; rb: Recorder; portB: number; dir: string; logsB: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'snap-in-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const [portA, portB] = [await reservePort(), await reservePort()];
  const logsB: string[] = [];
  const logger = {
    debug: () => undefined,
    info: () => undefined,
    error: () => undefined,
    warn: (msg: string, f?: Record<string, unknown>) => void logsB.push(`${msg} ${JSON.stringify(f)}`),
  };
  const b = new TcpTransport({
    id: 2,
    clusterId: 'c1',
    listen: `127.0.0.1:${portB}`,
    peers: { 1: `127.0.0.1:${portA}` },
    snapshotDir: dir,
    logger,
    ...extra,
  });
  const rb = recorder();
  await b.start(rb);
  cleanup.push(() => b.stop());
  const target = route !== undefined ? await route(portB) : portB;
  const a = new TcpTransport({
    id: 1,
    clusterId: 'c1',
    listen: `127.0.0.1:${portA}`,
    peers: { 2: `127.0.0.1:${target}` },
    ...extra,
  });
  const ra = recorder();
  await a.start(ra);
  cleanup.push(() => a.stop());
  return { a, ra, rb, portB, dir, logsB };
}

const parts = async (dir: string): Promise<string[]> =>
  (await readdir(dir)).filter((n) => n.endsWith('.part'));

/** A raw snapshot connection to `port` as node 1: the handshake, then `frames`. */
function rawSnapshotConnection(port: number, frames: Buffer[]): net.Socket {
  const hello = encodeHello({ v: 2, clusterId: 'c1', from: 1, to: 2, purpose: 'snapshot' });
  const s = net.connect({ host: '127.0.0.1', port });
  s.on('error', () => undefined);
  s.write(encodeFrame(FrameKind.Hello, hello));
  for (const f of frames) s.write(f);
  return s;
}

const beginFrame = (index: number): Buffer =>
  encodeFrame(FrameKind.SnapshotBegin, encodeMessage(snapMsg(index)));

describe('snapshot transfer over TcpTransport', () => {
  it('streams a snapshot to a file and hands raft a source that reads it back exactly; release deletes it', async () => {
    const { a, ra, rb, dir } = await setup({ snapshotChunkBytes: 64 * 1024 });
    const size = 3 * 1024 * 1024 + 17;
    a.sendSnapshot(snapMsg(), () => Promise.resolve(pattern(size)));
    await until(() => ra.reports.length === 1, 'snapshot status');
    expect(ra.reports[0]).toEqual([2, 'finish']);
    const got = rb.snaps[0]!;
    expect(got.m.snapshot?.data.byteLength).toBe(0);
    expect(got.source.size).toBe(size);
    expect(await parts(dir)).toHaveLength(1);
    const back = await readSnapshotBytes(got.source.stream());
    expect(Buffer.from(back).equals(Buffer.from(await readSnapshotBytes(pattern(size))))).toBe(true);
    await got.source.release();
    expect(await parts(dir)).toEqual([]);
  });

  it('a transfer cut half-way delivers nothing and leaves no partial file', async () => {
    const { rb, portB, dir } = await setup();
    const chunk = encodeFrame(FrameKind.SnapshotChunk, new Uint8Array(512 * 1024).fill(7));
    const s = rawSnapshotConnection(portB, [beginFrame(9), chunk, chunk]);
    await until(async () => (await parts(dir)).length === 1, 'the temporary file');
    s.destroy(); // the sender dies mid-transfer
    await until(async () => (await parts(dir)).length === 0, 'the temporary file deleted');
    expect(rb.snaps).toHaveLength(0);
  });

  it('refuses data whose CRC does not match (a corrupted chunk): nothing delivered, no file, sender told', async () => {
    const { rb, portB, dir, logsB } = await setup();
    const data = new Uint8Array(100_000).fill(1);
    const s = rawSnapshotConnection(portB, [
      beginFrame(9),
      encodeFrame(FrameKind.SnapshotChunk, data),
      encodeFrame(FrameKind.SnapshotEnd, encodeSnapshotEnd(data.byteLength, 12345)),
    ]);
    const answer: Buffer[] = [];
    s.on('data', (b: Buffer) => answer.push(b));
    await until(() => logsB.some((l) => l.includes('CRC-32')), 'the refusal');
    await until(() => Buffer.concat(answer).includes('snapshot refused'), 'the Refuse frame');
    expect(rb.snaps).toHaveLength(0);
    await until(async () => (await parts(dir)).length === 0, 'the temporary file deleted');
    s.destroy();
  });

  it('a byte flipped in transit fails the send (sender reports failure); the next attempt gets through', async () => {
    // Once, in the first connection that carries that many bytes (the snapshot's): inside the data, since the
    // handshake and SnapshotBegin take well under 1 KiB.
    const proxy = async (portB: number): Promise<number> => {
      const p = await corruptingProxy(portB, 200_000, 0x40);
      cleanup.push(p.close);
      return p.port;
    };
    const { a, ra, rb, dir, logsB } = await setup({ snapshotChunkBytes: 64 * 1024 }, proxy);
    a.sendSnapshot(snapMsg(), () => Promise.resolve(pattern(1024 * 1024)));
    await until(() => ra.reports.length === 1, 'the first status');
    expect(ra.reports[0]).toEqual([2, 'failure']);
    expect(logsB.some((l) => l.includes('CRC-32'))).toBe(true);
    expect(rb.snaps).toHaveLength(0);
    await until(async () => (await parts(dir)).length === 0, 'the temporary file deleted');
    a.sendSnapshot(snapMsg(), () => Promise.resolve(pattern(1024 * 1024)));
    await until(() => ra.reports.length === 2, 'the second status');
    expect(ra.reports[1]).toEqual([2, 'finish']);
    const back = await readSnapshotBytes(rb.snaps[0]!.source.stream());
    expect(Buffer.from(back).equals(Buffer.from(await readSnapshotBytes(pattern(1024 * 1024))))).toBe(true);
    await rb.snaps[0]!.source.release();
  });

  it('refuses a snapshot over maxSnapshotBytes as it arrives, keeping no file', async () => {
    const { a, ra, rb, dir } = await setup({ maxSnapshotBytes: 1024 * 1024 });
    a.sendSnapshot(snapMsg(), () => Promise.resolve(pattern(2 * 1024 * 1024)));
    await until(() => ra.reports.length === 1, 'snapshot status');
    expect(ra.reports[0]).toEqual([2, 'failure']);
    expect(rb.snaps).toHaveLength(0);
    await until(async () => (await parts(dir)).length === 0, 'the temporary file deleted');
  });

  it('start deletes partial files a dead process left, and nothing else', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'snap-in-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'raft-incoming-dead.part'), 'half a snapshot');
    await writeFile(join(dir, '0000000000000003-00000000000001f4.snap'), 'not ours');
    const t = new TcpTransport({
      id: 2,
      clusterId: 'c1',
      listen: `127.0.0.1:${await reservePort()}`,
      snapshotDir: dir,
    });
    await t.start(recorder());
    cleanup.push(() => t.stop());
    expect((await readdir(dir)).sort()).toEqual(['0000000000000003-00000000000001f4.snap']);
  });
});
