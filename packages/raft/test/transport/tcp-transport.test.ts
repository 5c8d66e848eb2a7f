import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeMessage } from '../../src/codec/message-codec.js';
import { readSnapshotBytes } from '../../src/codec/chunk-reader.js';
import type { SnapshotSource, TransportHandler } from '../../src/node/types.js';
import { MessageType, type Message } from '../../src/raftpb/types.js';
import { FrameKind, encodeFrame } from '../../src/transport/frame.js';
import { encodeHello } from '../../src/transport/hello.js';
import { TcpTransport, type TcpTransportOptions } from '../../src/transport/tcp-transport.js';
import { reservePort } from '../../../../test-support/ports.js';

interface Recorder extends TransportHandler {
  messages: Message[];
  /** The data of each MsgSnap received, in order. */
  sources: SnapshotSource[];
  unreachable: number[];
  snapshots: [number, string][];
  fatal: (err: Error) => void;
  fatals: Error[];
}

function recorder(): Recorder {
  const r: Recorder = {
    messages: [],
    sources: [],
    unreachable: [],
    snapshots: [],
    fatals: [],
    fatal: (err) => r.fatals.push(err),
    onMessage: (m, source) => {
      r.messages.push(m);
      if (source !== undefined) r.sources.push(source);
    },
    reportUnreachable: (id) => r.unreachable.push(id),
    reportSnapshot: (id, status) => r.snapshots.push([id, status]),
  };
  return r;
}

interface LogLine {
  level: string;
  msg: string;
  fields?: Record<string, unknown> | undefined;
}
function captureLogger(lines: LogLine[]) {
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
    void lines.push({ level, msg, fields });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const open: TcpTransport[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.stop()));
});

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function pair(extra: Partial<TcpTransportOptions> = {}): Promise<{
  a: TcpTransport;
  b: TcpTransport;
  ra: Recorder;
  rb: Recorder;
  portB: number;
  logsB: LogLine[];
}> {
  const [portA, portB] = [await reservePort(), await reservePort()];
  const logsB: LogLine[] = [];
  const a = new TcpTransport({
    id: 1,
    clusterId: 'c1',
    listen: `127.0.0.1:${portA}`,
    peers: { 2: `127.0.0.1:${portB}` },
    backoffMinMs: 10,
    backoffMaxMs: 50,
    ...extra,
  });
  const b = new TcpTransport({
    id: 2,
    clusterId: 'c1',
    listen: `127.0.0.1:${portB}`,
    peers: { 1: `127.0.0.1:${portA}` },
    backoffMinMs: 10,
    backoffMaxMs: 50,
    logger: captureLogger(logsB),
    ...extra,
  });
  open.push(a, b);
  const ra = recorder();
  const rb = recorder();
  await a.start(ra);
  await b.start(rb);
  return { a, b, ra, rb, portB, logsB };
}

const msg = (over: Partial<Message> = {}): Message => ({
  type: MessageType.MsgApp,
  to: 2,
  from: 1,
  term: 3,
  logTerm: 2,
  index: 10,
  entries: [{ term: 3, index: 11, type: 0, data: new Uint8Array([1, 2, 3]) }],
  commit: 9,
  reject: false,
  rejectHint: 0,
  ...over,
});

/** Sends until the link is up (messages sent before the handshake completes are dropped by design). */
async function sendUntilDelivered(from: TcpTransport, to: Recorder, m: Message): Promise<void> {
  const before = to.messages.length;
  const deadline = Date.now() + 5000;
  while (to.messages.length === before) {
    if (Date.now() > deadline) throw new Error('message never delivered');
    from.send([m]);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('TcpTransport', () => {
  it('delivers messages decoded, with byte fields as Uint8Array', async () => {
    const { a, rb } = await pair();
    await sendUntilDelivered(a, rb, msg());
    const got = rb.messages[0]!;
    expect(got).toMatchObject({ type: MessageType.MsgApp, from: 1, to: 2, term: 3, index: 10, commit: 9 });
    expect(got.entries[0]!.data).toBeInstanceOf(Uint8Array);
    expect([...got.entries[0]!.data]).toEqual([1, 2, 3]);
  });

  it('coalesces messages sent in one turn and keeps their order', async () => {
    const { a, rb } = await pair();
    await sendUntilDelivered(a, rb, msg({ index: 0 }));
    rb.messages.length = 0;
    a.send(Array.from({ length: 500 }, (_, i) => msg({ index: i + 1 })));
    await until(() => rb.messages.length === 500, '500 messages');
    expect(rb.messages.map((m) => m.index)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
  });

  it('reports a peer that is down as unreachable and reconnects when it comes back', async () => {
    const { a, b, ra, rb, portB } = await pair();
    await sendUntilDelivered(a, rb, msg());
    await b.stop();
    await until(() => {
      a.send([msg()]);
      return ra.unreachable.includes(2);
    }, 'unreachable report');
    const b2 = new TcpTransport({
      id: 2,
      clusterId: 'c1',
      listen: `127.0.0.1:${portB}`,
      peers: { 1: '127.0.0.1:1' },
    });
    open.push(b2);
    const rb2 = recorder();
    await b2.start(rb2);
    await sendUntilDelivered(a, rb2, msg({ index: 77 }));
    expect(rb2.messages.at(-1)?.index).toBe(77);
  });

  it('refuses a peer of another cluster and an unknown node id, and logs why', async () => {
    const { b, logsB, portB } = await pair();
    void b;
    for (const hello of [
      { v: 2 as const, clusterId: 'other', from: 1, to: 2, purpose: 'stream' as const },
      { v: 2 as const, clusterId: 'c1', from: 99, to: 2, purpose: 'stream' as const },
    ]) {
      const reply = await rawExchange(portB, [encodeFrame(FrameKind.Hello, encodeHello(hello))]);
      expect(reply[4]).toBe(FrameKind.Refuse);
    }
    expect(
      logsB.filter((l) => l.msg === 'refused peer connection').map((l) => String(l.fields?.reason)),
    ).toEqual(['cluster id mismatch: other', 'unknown peer id 99']);
  });

  it('refuses a peer speaking another wire version, saying so in the refusal', async () => {
    const { logsB, portB } = await pair();
    const old = Buffer.from(JSON.stringify({ v: 1, clusterId: 'c1', from: 1, to: 2, purpose: 'stream' }));
    const reply = await rawExchange(portB, [encodeFrame(FrameKind.Hello, old)]);
    expect(reply[4]).toBe(FrameKind.Refuse);
    expect(Buffer.from(reply.subarray(5)).toString()).toMatch(
      /wire version 1 not supported: this node speaks 2/,
    );
    expect(logsB.some((l) => /wire version 1 not supported/.test(String(l.fields?.reason)))).toBe(true);
  });

  it('refuses a known id that comes back with another data incarnation, fatally for the wiped node', async () => {
    const [portA, portB] = [await reservePort(), await reservePort()];
    const mk = (incarnation: string) =>
      new TcpTransport({
        id: 1,
        clusterId: 'c1',
        listen: `127.0.0.1:${portA}`,
        peers: { 2: `127.0.0.1:${portB}` },
        backoffMinMs: 10,
        backoffMaxMs: 50,
        incarnation,
      });
    const logsB: LogLine[] = [];
    const b = new TcpTransport({
      id: 2,
      clusterId: 'c1',
      listen: `127.0.0.1:${portB}`,
      peers: { 1: `127.0.0.1:${portA}` },
      incarnation: 'b-1',
      logger: captureLogger(logsB),
    });
    const a1 = mk('a-1');
    open.push(b, a1);
    const rb = recorder();
    await b.start(rb);
    const ra1 = recorder();
    await a1.start(ra1);
    await sendUntilDelivered(a1, rb, msg());
    await a1.stop();
    // Same id, same data: a restart is accepted.
    const a1again = mk('a-1');
    open.push(a1again);
    await a1again.start(recorder());
    await sendUntilDelivered(a1again, rb, msg({ index: 2 }));
    await a1again.stop();
    // Same id, wiped data: refused, and the refused node learns it must stop.
    const a2 = mk('a-2');
    open.push(a2);
    const ra2 = recorder();
    await a2.start(ra2);
    await until(() => ra2.fatals.length > 0, 'a fatal refusal');
    expect(logsB.some((l) => l.msg === 'refused peer connection')).toBe(true);
    expect(ra2.fatals[0]!.message).toMatch(/ERR_INCARNATION_CHANGED.*wiped.*new member/);
  });

  it('answers an unknown id of its cluster at the address its handshake advertises (it missed the change adding it)', async () => {
    // Node 2 was cut off while node 3 joined: 2 does not know 3, but 3 leads and must reach 2 (and hear back) for a
    // quorum. Without the advertised address 2 would refuse 3 forever.
    const [portB, portC] = [await reservePort(), await reservePort()];
    const logsB: LogLine[] = [];
    const b = new TcpTransport({
      id: 2,
      clusterId: 'c1',
      listen: `127.0.0.1:${portB}`,
      peers: { 1: '127.0.0.1:1' },
      backoffMinMs: 10,
      backoffMaxMs: 50,
      logger: captureLogger(logsB),
    });
    const c = new TcpTransport({
      id: 3,
      clusterId: 'c1',
      listen: `127.0.0.1:${portC}`,
      advertise: `127.0.0.1:${portC}`,
      peers: { 2: `127.0.0.1:${portB}` },
      backoffMinMs: 10,
      backoffMaxMs: 50,
    });
    open.push(b, c);
    const [rb, rc] = [recorder(), recorder()];
    await b.start(rb);
    await c.start(rc);
    await sendUntilDelivered(c, rb, msg({ from: 3, to: 2 }));
    expect(logsB.some((l) => l.msg === 'learned a peer from its handshake' && l.fields?.peer === 3)).toBe(
      true,
    );
    // And the answer goes back: 2 now has a link to 3.
    await sendUntilDelivered(b, rc, msg({ from: 2, to: 3, type: MessageType.MsgAppResp, entries: [] }));
    expect(rc.messages.at(-1)).toMatchObject({ from: 2, to: 3, type: MessageType.MsgAppResp });
  });

  it('refuses an id it removed, even when it advertises an address, fatally for the removed node', async () => {
    const { a, b, ra, logsB } = await pair({ advertise: '127.0.0.1:1' });
    void a;
    b.removePeer(1);
    await until(() => ra.fatals.length > 0, 'a fatal refusal');
    expect(ra.fatals[0]!.message).toMatch(
      /^ERR_MEMBER_REMOVED: node 1 was removed.*new member with a new id/,
    );
    expect(logsB.some((l) => l.msg === 'learned a peer from its handshake')).toBe(false);
    // Adding the id back (a deliberate membership change) lifts the refusal.
    b.addPeer(1, '127.0.0.1:1');
    const reply = await rawExchange((b.address() ?? { port: 0 }).port, [
      encodeFrame(FrameKind.Hello, encodeHello({ v: 2, clusterId: 'c1', from: 1, to: 2, purpose: 'stream' })),
    ]);
    expect(reply[4]).toBe(FrameKind.HelloOk);
  });

  it('delivers nothing more over a connection that was open when its peer was removed', async () => {
    const { a, b, ra, rb } = await pair();
    await sendUntilDelivered(a, rb, msg());
    b.removePeer(1);
    const delivered = rb.messages.length;
    // Node 1 goes on sending: its open connection is closed at its next bytes, and its reconnect is refused.
    for (const deadline = Date.now() + 10_000; ra.fatals.length === 0 && Date.now() < deadline;) {
      a.send([msg({ index: 99 })]);
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(rb.messages.length).toBe(delivered);
    expect(ra.fatals[0]?.message).toMatch(/^ERR_MEMBER_REMOVED: node 1 was removed/);
  });

  it('rejects a handshake whose advertised address is not host:port', async () => {
    const { portB, logsB } = await pair();
    const bad = Buffer.from(
      JSON.stringify({ v: 2, clusterId: 'c1', from: 9, to: 2, purpose: 'stream', addr: 'x' }),
    );
    await rawExchange(portB, [encodeFrame(FrameKind.Hello, bad)]);
    await until(
      () => logsB.some((l) => String(l.fields?.err).includes('handshake field addr is not host:port')),
      'protocol error log',
    );
    expect(logsB.some((l) => l.msg === 'learned a peer from its handshake')).toBe(false);
  });

  it('sends snapshots in chunks, never as one giant frame', async () => {
    // The receiver accepts frames of at most 256 KiB; a 3 MB snapshot only gets through in chunks.
    const { a, ra, rb } = await pair({ maxFrameBytes: 256 * 1024, snapshotChunkBytes: 64 * 1024 });
    await sendUntilDelivered(a, rb, msg());
    const data = new Uint8Array(3_000_000).map((_, i) => (i * 31) & 0xff);
    const snap: Message = msg({
      type: MessageType.MsgSnap,
      entries: [],
      snapshot: {
        data: new Uint8Array(0),
        metadata: {
          index: 500,
          term: 3,
          confState: { voters: [1, 2], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
        },
      },
    });
    a.sendSnapshot(snap, async () => [data]);
    await until(() => ra.snapshots.length === 1, 'snapshot status');
    expect(ra.snapshots[0]).toEqual([2, 'finish']);
    const got = rb.messages.find((m) => m.type === MessageType.MsgSnap)!;
    expect(got.snapshot?.metadata.index).toBe(500);
    expect(got.snapshot!.data.byteLength).toBe(0); // the data waits in a file, beside raft
    expect(rb.sources[0]?.size).toBe(data.byteLength);
    expect(Buffer.from(await readSnapshotBytes(rb.sources[0]!.stream())).equals(Buffer.from(data))).toBe(
      true,
    );
  });

  it('reports a failed snapshot when its data cannot be read', async () => {
    const { a, ra, rb } = await pair();
    await sendUntilDelivered(a, rb, msg());
    a.sendSnapshot(
      msg({
        type: MessageType.MsgSnap,
        entries: [],
        snapshot: {
          data: new Uint8Array(0),
          metadata: {
            index: 5,
            term: 1,
            confState: { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
          },
        },
      }),
      () => Promise.reject(new Error('gone')),
    );
    await until(() => ra.snapshots.length === 1, 'snapshot status');
    expect(ra.snapshots[0]).toEqual([2, 'failure']);
  });

  it('closes a connection that sends hostile bytes, logs it, and keeps serving (fuzz)', async () => {
    const { a, rb, portB, logsB } = await pair({ maxFrameBytes: 1024 * 1024 });
    const hello = encodeFrame(
      FrameKind.Hello,
      encodeHello({ v: 2, clusterId: 'c1', from: 1, to: 2, purpose: 'stream' }),
    );
    const hostile = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => Buffer.from(b)), // garbage
      fc.constant(Buffer.from([0xff, 0xff, 0xff, 0xff, FrameKind.Message])), // a length of 4 GB
      fc.uint8Array({ minLength: 1, maxLength: 50 }).map((b) => encodeFrame(FrameKind.Message, b)), // not a message
      fc.constant(encodeFrame(FrameKind.Message, encodeMessage(msg())).subarray(0, 9)), // truncated, then closed
      // a valid message in a valid frame with one byte changed (a field out of range, a length past the end, ...)
      fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map(([at, x]) => {
        const b = encodeMessage(msg({ entries: [{ term: 1, index: 5, type: 0, data: new Uint8Array(3) }] }));
        b[at % b.byteLength] = (b[at % b.byteLength] ?? 0) ^ x;
        return encodeFrame(FrameKind.Message, b);
      }),
      fc.constant(encodeFrame(FrameKind.Message, encodeMessage(msg({ from: 3 })))), // claims another sender
    );
    await fc.assert(
      fc.asyncProperty(hostile, async (bytes) => {
        const before = rb.messages.length;
        await rawExchange(portB, [hello, bytes], 150);
        // Nothing malformed was delivered.
        for (const m of rb.messages.slice(before)) expect(m.from).toBe(1);
      }),
      { numRuns: 40, seed: Number(process.env.FC_SEED ?? 42) },
    );
    expect(logsB.some((l) => l.msg === 'closing peer connection after a protocol error')).toBe(true);
    // The node still serves its real peer.
    await sendUntilDelivered(a, rb, msg({ index: 4242 }));
    expect(rb.messages.at(-1)?.index).toBe(4242);
  });

  it('speaks mutual TLS when configured, and refuses a client without a certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'x-tls-'));
    try {
      const sh = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
      sh([
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        'ca.key',
        '-out',
        'ca.pem',
        '-days',
        '1',
        '-subj',
        '/CN=test-ca',
      ]);
      sh([
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        'node.key',
        '-out',
        'node.csr',
        '-subj',
        '/CN=node',
      ]);
      sh([
        'x509',
        '-req',
        '-in',
        'node.csr',
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        'node.pem',
        '-days',
        '1',
      ]);
      const tlsOpts = { ca: join(dir, 'ca.pem'), cert: join(dir, 'node.pem'), key: join(dir, 'node.key') };
      const { a, rb, portB, logsB } = await pair({ tls: tlsOpts });
      await sendUntilDelivered(a, rb, msg({ index: 5 }));
      expect(rb.messages.at(-1)?.index).toBe(5);
      // A plain TCP client gets nothing through.
      const before = rb.messages.length;
      await rawExchange(
        portB,
        [
          encodeFrame(
            FrameKind.Hello,
            encodeHello({ v: 2, clusterId: 'c1', from: 1, to: 2, purpose: 'stream' }),
          ),
          encodeFrame(FrameKind.Message, encodeMessage(msg())),
        ],
        200,
      );
      expect(rb.messages.length).toBe(before);
      // ... and the refusal, which happens in the TLS handshake before any frame is read, is logged.
      await until(
        () =>
          logsB.some(
            (l) =>
              l.msg === 'refused peer connection' && String(l.fields?.reason).startsWith('TLS handshake'),
          ),
        'a logged TLS refusal',
      );
      // A TLS dialer that presents no certificate is refused in the handshake too.
      const noCert = tls.connect({
        host: '127.0.0.1',
        port: portB,
        ca: readFileSync(tlsOpts.ca),
        checkServerIdentity: () => undefined,
      });
      noCert.on('error', () => undefined);
      noCert.on('secureConnect', () =>
        noCert.write(
          encodeFrame(
            FrameKind.Hello,
            encodeHello({ v: 2, clusterId: 'c1', from: 1, to: 2, purpose: 'stream' }),
          ),
        ),
      );
      await new Promise<void>((r) => noCert.once('close', () => r()));
      await until(
        () =>
          logsB.some(
            (l) => l.msg === 'refused peer connection' && /certificate/i.test(String(l.fields?.reason)),
          ),
        'a logged refusal of a dialer without a certificate',
      );
      expect(rb.messages.length).toBe(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Opens a raw socket, writes `parts`, and returns what came back before close or `waitMs`. */
async function rawExchange(port: number, parts: Buffer[], waitMs = 300): Promise<Buffer> {
  const s = net.connect({ host: '127.0.0.1', port });
  const got: Buffer[] = [];
  s.on('data', (d: Buffer) => got.push(d));
  s.on('error', () => undefined);
  await new Promise<void>((r) => s.once('connect', () => r()));
  for (const p of parts) s.write(p);
  await new Promise<void>((r) => {
    const t = setTimeout(() => r(), waitMs);
    s.once('close', () => {
      clearTimeout(t);
      r();
    });
  });
  s.destroy();
  return Buffer.concat(got);
}
