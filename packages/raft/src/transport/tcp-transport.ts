import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { decodeMessage } from '../codec/message-codec.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import type { SnapshotPayload, SnapshotSource, Transport, TransportHandler } from '../node/types.js';
import type { Message } from '../raftpb/types.js';
import { MessageType } from '../raftpb/types.js';
import { FrameError, FrameKind, FrameParser, encodeFrame } from './frame.js';
import { splitHostPort } from './address.js';
import { WIRE_VERSION, WireVersionError, decodeHello, encodeHello, type Hello } from './hello.js';
import { PeerLink } from './peer-link.js';
import { watchTlsRefusals } from './tls-refusals.js';
import { sendSnapshotOnce } from './snapshot-stream.js';
import { SnapshotFileReceiver, cleanIncomingDir } from './snapshot-receive.js';

/** Paths of the PEM files for mutual TLS between peers. */
export interface PeerTlsOptions {
  ca: string;
  cert: string;
  key: string;
}

/** Options of {@link TcpTransport}. */
export interface TcpTransportOptions {
  /** This node's id. */
  id: number;
  /** Every node of one cluster uses the same id; peers of another cluster are refused. */
  clusterId: string;
  /** `host:port` to listen on for peers (e.g. `127.0.0.1:7001`). Port 0 picks a free port; see {@link address}. */
  listen: string;
  /** Known peers: id → `host:port`. More come with {@link addPeer}. */
  peers?: ReadonlyMap<number, string> | Record<number, string>;
  /** Messages queued per peer before new ones are dropped (and the peer reported unreachable). Default 4,096. */
  maxQueuedMessages?: number;
  /** Largest frame accepted from a peer. Default 64 MiB. */
  maxFrameBytes?: number;
  /** Largest snapshot accepted from a peer. Default 2 GiB. */
  maxSnapshotBytes?: number;
  /** Bytes per snapshot chunk. Default 1 MiB. */
  snapshotChunkBytes?: number;
  /**
   * Where incoming snapshots are written while they arrive (`raft-incoming-*.part` files; give the snapshot
   * store's directory so they stay on its disk). `start` deletes such files left by a process that died
   * mid-transfer. Default: a fresh directory under the OS temp dir, removed by `stop`.
   */
  snapshotDir?: string;
  /** Reconnect backoff bounds, in ms (jittered exponential). Defaults 50 and 2,000. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Mutual TLS for all peer traffic. */
  tls?: PeerTlsOptions;
  /**
   * This node's data incarnation (e.g. a random id stored with its WAL). Peers remember the incarnation each id
   * connected with and refuse one that changes: a node whose data was wiped, restarted with its old id, must rejoin as
   * a new member. Such a refusal is fatal for the refused node (TransportHandler.fatal).
   */
  incarnation?: string;
  /**
   * The address peers dial to reach this node (`host:port`), sent in the handshake. A peer that does not know this
   * node's id yet (it missed the membership change that added it) then answers there instead of refusing it. Ids the
   * peer removed stay refused. Default: none (unknown ids are refused).
   */
  advertise?: string;
  logger?: Logger;
}

/**
 * Raft peer traffic over TCP (optionally mutual TLS): one persistent outbound connection per peer carrying
 * length-prefixed frames of the message codec, writes coalesced per turn of the event loop, a bounded queue per
 * peer (full or disconnected: dropped and reported unreachable), reconnect with jittered backoff, a handshake that
 * refuses other clusters and unknown ids, and snapshots streamed in chunks on their own connection. Bytes that
 * break the protocol close that one connection (logged); the node keeps serving.
 *
 * @example
 * ```ts
 * const transport = new TcpTransport({ id: 1, clusterId: 'kv', listen: '127.0.0.1:7001',
 *   peers: { 2: '127.0.0.1:7002', 3: '127.0.0.1:7003' } });
 * const node = await RaftNode.start({ id: 1, transport, ... }); // start() calls transport.start()
 * ```
 */
export class TcpTransport implements Transport {
  private readonly opts: Required<
    Omit<TcpTransportOptions, 'tls' | 'peers' | 'logger' | 'incarnation' | 'advertise' | 'snapshotDir'>
  > & {
    snapshotDir?: string;
    tls?: PeerTlsOptions;
    incarnation?: string;
    advertise?: string;
  };
  /** The incarnation each peer id last connected with. */
  private readonly seenIncarnations = new Map<number, string>();
  private readonly logger: Logger;
  private readonly addresses = new Map<number, string>();
  /** Ids removed with {@link removePeer} and not added again: their handshakes are refused. */
  private readonly removed = new Set<number>();
  private readonly links = new Map<number, PeerLink>();
  private readonly inbound = new Set<net.Socket>();
  private server: net.Server | undefined;
  private handler: TransportHandler | undefined;
  private tlsContext: { ca: Buffer; cert: Buffer; key: Buffer } | undefined;
  private stopped = false;
  /** Where incoming snapshots go (set by `start`); `ownsIncomingDir`: a temp dir of ours, removed by `stop`. */
  private incomingDir = '';
  private ownsIncomingDir = false;

  constructor(options: TcpTransportOptions) {
    if (!Number.isSafeInteger(options.id) || options.id <= 0)
      throw new TypeError('TcpTransport: id must be a positive integer');
    if (options.clusterId.length === 0) throw new TypeError('TcpTransport: clusterId must not be empty');
    this.opts = {
      id: options.id,
      clusterId: options.clusterId,
      listen: options.listen,
      maxQueuedMessages: options.maxQueuedMessages ?? 4096,
      maxFrameBytes: options.maxFrameBytes ?? 64 * 1024 * 1024,
      maxSnapshotBytes: options.maxSnapshotBytes ?? 2 * 1024 * 1024 * 1024,
      snapshotChunkBytes: options.snapshotChunkBytes ?? 1024 * 1024,
      backoffMinMs: options.backoffMinMs ?? 50,
      backoffMaxMs: options.backoffMaxMs ?? 2000,
      ...(options.tls !== undefined ? { tls: options.tls } : {}),
      ...(options.incarnation !== undefined ? { incarnation: options.incarnation } : {}),
      ...(options.advertise !== undefined ? { advertise: options.advertise } : {}),
      ...(options.snapshotDir !== undefined ? { snapshotDir: options.snapshotDir } : {}),
    };
    if (options.advertise !== undefined) splitHostPort(options.advertise); // throws on a malformed address
    this.logger = options.logger ?? silentLogger;
    const raw = options.peers ?? {};
    const peers: ReadonlyMap<number, string> =
      raw instanceof Map
        ? raw
        : new Map(
            Object.entries(raw as Record<string, string>).map(([k, v]): [number, string] => [Number(k), v]),
          );
    for (const [id, addr] of peers) if (id !== options.id) this.addresses.set(id, addr);
  }

  /** The address the server listens on, once started (useful with port 0). */
  address(): { host: string; port: number } | undefined {
    const a = this.server?.address();
    return a !== null && typeof a === 'object' ? { host: a.address, port: a.port } : undefined;
  }

  async start(handler: TransportHandler): Promise<void> {
    this.handler = handler;
    if (this.opts.snapshotDir !== undefined) {
      this.incomingDir = this.opts.snapshotDir;
      await mkdir(this.incomingDir, { recursive: true });
      const left = await cleanIncomingDir(this.incomingDir);
      if (left.length > 0)
        this.logger.warn('deleted partial incoming snapshots', { dir: this.incomingDir, files: left });
    } else {
      this.incomingDir = await mkdtemp(join(tmpdir(), 'x-raft-snap-'));
      this.ownsIncomingDir = true;
    }
    if (this.opts.tls !== undefined) {
      this.tlsContext = {
        ca: readFileSync(this.opts.tls.ca),
        cert: readFileSync(this.opts.tls.cert),
        key: readFileSync(this.opts.tls.key),
      };
    }
    const onSocket = (socket: net.Socket): void => this.accept(socket);
    this.server =
      this.tlsContext !== undefined
        ? tls.createServer({ ...this.tlsContext, requestCert: true, rejectUnauthorized: true }, onSocket)
        : net.createServer(onSocket);
    this.server.on('error', (err) => this.logger.error('peer server error', { err: err.message }));
    // A dialer whose certificate does not chain to our CA, or who has none, or who speaks no TLS, is refused in the
    // handshake, before `accept` sees it: without this an operator would see nothing of a misconfigured peer.
    if (this.server instanceof tls.Server) {
      watchTlsRefusals(this.server, (r) =>
        this.logger.warn('refused peer connection', { ...r, reason: `TLS handshake: ${r.reason}` }),
      );
    }
    const { host, port } = splitHostPort(this.opts.listen);
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject);
      this.server?.listen(port, host, () => {
        this.server?.off('error', reject);
        resolve();
      });
    });
    for (const [id, addr] of this.addresses) this.ensureLink(id, addr);
  }

  send(messages: readonly Message[]): void {
    for (const m of messages) {
      const link = this.links.get(m.to);
      if (link === undefined || !link.enqueue(m)) this.handler?.reportUnreachable(m.to);
    }
  }

  sendSnapshot(message: Message, data: () => Promise<SnapshotPayload>): void {
    const addr = this.addresses.get(message.to);
    const handler = this.handler;
    if (addr === undefined || handler === undefined || message.type !== MessageType.MsgSnap) {
      handler?.reportSnapshot(message.to, 'failure');
      return;
    }
    sendSnapshotOnce({
      dial: () => this.dial(addr),
      hello: this.hello(message.to, 'snapshot'),
      message,
      data,
      chunkBytes: this.opts.snapshotChunkBytes,
      maxFrameBytes: this.opts.maxFrameBytes,
    }).then(
      () => handler.reportSnapshot(message.to, 'finish'),
      (err: unknown) => {
        this.logger.warn('snapshot send failed', { to: message.to, err: String(err) });
        handler.reportSnapshot(message.to, 'failure');
      },
    );
  }

  addPeer(id: number, address: string): void {
    if (id === this.opts.id) return;
    this.removed.delete(id);
    const known = this.addresses.get(id);
    if (known === address && this.links.has(id)) return;
    this.addresses.set(id, address);
    if (this.handler !== undefined) this.ensureLink(id, address);
  }

  removePeer(id: number): void {
    if (id !== this.opts.id) this.removed.add(id);
    this.addresses.delete(id);
    this.links.get(id)?.close();
    this.links.delete(id);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const link of this.links.values()) link.close();
    this.links.clear();
    for (const s of this.inbound) s.destroy();
    this.inbound.clear();
    const server = this.server;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (this.ownsIncomingDir) await rm(this.incomingDir, { recursive: true, force: true });
    this.handler = undefined;
  }

  private hello(to: number, purpose: Hello['purpose']): Uint8Array {
    return encodeHello({
      v: WIRE_VERSION,
      clusterId: this.opts.clusterId,
      from: this.opts.id,
      to,
      purpose,
      ...(this.opts.incarnation !== undefined ? { incarnation: this.opts.incarnation } : {}),
      ...(this.opts.advertise !== undefined ? { addr: this.opts.advertise } : {}),
    });
  }

  private ensureLink(id: number, addr: string): void {
    this.links.get(id)?.close();
    const link = new PeerLink({
      peer: id,
      dial: () => this.dial(addr),
      hello: this.hello(id, 'stream'),
      maxQueued: this.opts.maxQueuedMessages,
      backoffMinMs: this.opts.backoffMinMs,
      backoffMaxMs: this.opts.backoffMaxMs,
      logger: this.logger,
      onDrop: (peer) => this.handler?.reportUnreachable(peer),
      onRefused: (reason) => {
        if (reason.startsWith(WIPED_PREFIX) || reason.startsWith(REMOVED_PREFIX))
          this.handler?.fatal?.(new Error(reason));
      },
    });
    this.links.set(id, link);
  }

  private dial(addr: string): net.Socket {
    const { host, port } = splitHostPort(addr);
    if (this.tlsContext !== undefined) {
      return tls.connect({
        host,
        port,
        ...this.tlsContext,
        rejectUnauthorized: true,
        checkServerIdentity: () => undefined,
      });
    }
    return net.connect({ host, port });
  }

  /** An inbound connection: handshake first, then frames of its purpose. Any violation closes it, logged. */
  private accept(socket: net.Socket): void {
    if (this.stopped) {
      socket.destroy();
      return;
    }
    this.inbound.add(socket);
    socket.setNoDelay(true);
    const parser = new FrameParser(this.opts.maxFrameBytes);
    let peer: Hello | undefined;
    let snapshot: SnapshotFileReceiver | undefined;
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    let refused = false;
    const refuse = (reason: string): void => {
      this.logger.warn('refused peer connection', { remote, reason });
      // Let the Refuse frame reach the dialer (it logs the reason, and may learn it must stop), then close.
      refused = true;
      socket.end(encodeFrame(FrameKind.Refuse, Buffer.from(reason)));
      socket.setTimeout(1000, () => socket.destroy());
    };
    socket.on('data', (chunk: Buffer) => {
      if (refused) return;
      if (peer !== undefined && this.removed.has(peer.from)) {
        // Removed while this connection was open: nothing more from it reaches raft.
        socket.destroy();
        return;
      }
      try {
        for (const f of parser.push(chunk)) {
          if (peer === undefined) {
            if (f.kind !== FrameKind.Hello)
              throw new FrameError(`expected a handshake, got frame kind ${f.kind}`);
            let hello: Hello;
            try {
              hello = decodeHello(f.payload);
            } catch (err) {
              if (err instanceof WireVersionError) return refuse(err.message);
              throw err;
            }
            if (hello.clusterId !== this.opts.clusterId)
              return refuse(`cluster id mismatch: ${hello.clusterId}`);
            if (hello.to !== this.opts.id)
              return refuse(`addressed to node ${hello.to}, this is node ${this.opts.id}`);
            if (this.removed.has(hello.from))
              return refuse(
                `${REMOVED_PREFIX} node ${hello.from} was removed from the cluster; a removed id cannot come back. ` +
                  'Add the machine as a new member with a new id and an empty data directory.',
              );
            if (!this.addresses.has(hello.from)) {
              if (hello.addr === undefined) return refuse(`unknown peer id ${hello.from}`);
              // A member this node has not heard of yet (it missed the change that added it): answer it where it
              // says it is. Raft itself decides what its messages are worth.
              this.logger.info('learned a peer from its handshake', { peer: hello.from, addr: hello.addr });
              this.addPeer(hello.from, hello.addr);
            }
            if (hello.incarnation !== undefined) {
              const seen = this.seenIncarnations.get(hello.from);
              if (seen !== undefined && seen !== hello.incarnation) {
                return refuse(
                  `${WIPED_PREFIX} node ${hello.from} came back with different data (incarnation ${hello.incarnation}, ` +
                    `was ${seen}): its data directory was wiped or replaced. Remove it from the cluster and add it ` +
                    'back as a new member with a new id.',
                );
              }
              this.seenIncarnations.set(hello.from, hello.incarnation);
            }
            peer = hello;
            socket.write(encodeFrame(FrameKind.HelloOk, new Uint8Array(0)));
            if (hello.purpose === 'snapshot') snapshot = this.snapshotReceiver(socket, hello.from, remote);
            continue;
          }
          if (snapshot !== undefined) {
            snapshot.push(f.kind, f.payload);
            continue;
          }
          if (f.kind !== FrameKind.Message)
            throw new FrameError(`unexpected frame kind ${f.kind} on a message stream`);
          this.deliver(decodeMessage(f.payload), peer.from);
        }
      } catch (err) {
        this.logger.warn('closing peer connection after a protocol error', {
          remote,
          peer: peer?.from,
          err: String(err),
        });
        socket.destroy();
      }
    });
    socket.on('error', (err) => this.logger.debug('peer connection error', { remote, err: err.message }));
    socket.on('close', () => this.inbound.delete(socket));
  }

  /** Receives a snapshot connection's data into a file; raft gets it once it checked out, then the sender an ack. */
  private snapshotReceiver(socket: net.Socket, from: number, remote: string): SnapshotFileReceiver {
    // A sender that goes silent (its process stopped, the network cut without a reset) must not keep the temporary
    // file: the connection closes, and with it the file goes.
    socket.setTimeout(SNAPSHOT_IDLE_MS, () => socket.destroy());
    return new SnapshotFileReceiver({
      socket,
      dir: this.incomingDir,
      maxBytes: this.opts.maxSnapshotBytes,
      deliver: (m, source) => {
        if (this.handler === undefined) throw new FrameError('the transport stopped');
        this.deliver(m, from, source);
        socket.write(encodeFrame(FrameKind.SnapshotAck, new Uint8Array(0)));
      },
      fail: (err) => {
        this.logger.warn('refused an incoming snapshot', { remote, peer: from, err: err.message });
        socket.end(encodeFrame(FrameKind.Refuse, Buffer.from(`snapshot refused: ${err.message}`)));
        socket.setTimeout(1000, () => socket.destroy());
      },
    });
  }

  private deliver(m: Message, from: number, snapshot?: SnapshotSource): void {
    if (m.from !== from)
      throw new FrameError(`message claims to be from ${m.from} on a connection from ${from}`);
    if (m.to !== this.opts.id)
      throw new FrameError(`message for node ${m.to} delivered to node ${this.opts.id}`);
    this.handler?.onMessage(m, snapshot);
  }
}

/** A snapshot connection on which nothing arrives for this long is closed (its temporary file deleted). */
const SNAPSHOT_IDLE_MS = 60_000;

/** Starts the refusal reason that tells a node its data no longer matches what its peers know. */
export const WIPED_PREFIX = 'ERR_INCARNATION_CHANGED:';
/** Starts the refusal reason that tells a node it was removed from the cluster (fatal for it, as in etcd). */
export const REMOVED_PREFIX = 'ERR_MEMBER_REMOVED:';
