import type net from 'node:net';
import tls from 'node:tls';
import { encodeMessage } from '../codec/message-codec.js';
import type { Logger } from '../logger.js';
import type { Message } from '../raftpb/types.js';
import { FrameError, FrameKind, FrameParser, encodeFrame } from './frame.js';

/** Options of a {@link PeerLink}. */
export interface PeerLinkOptions {
  peer: number;
  dial: () => net.Socket;
  hello: Uint8Array;
  maxQueued: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  logger: Logger;
  /** Messages dropped because the link broke with them queued. */
  onDrop: (peer: number) => void;
  /** The peer refused the handshake, with this reason. */
  onRefused?: (reason: string) => void;
}

/** Bytes buffered in the socket beyond which the peer counts as too slow and new messages are dropped. */
const MAX_SOCKET_BUFFER = 16 * 1024 * 1024;

/**
 * The outbound connection to one peer: dial, handshake, then a stream of message frames. Messages queued in one
 * turn of the event loop go out in one write. Not connected, queue full, or socket backed up: `enqueue` returns
 * false and the caller reports the peer unreachable (raft resends later). Reconnects with jittered exponential
 * backoff until closed.
 */
export class PeerLink {
  private socket: net.Socket | undefined;
  private open = false;
  private closed = false;
  private queue: Message[] = [];
  private flushScheduled = false;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly o: PeerLinkOptions) {
    this.connect();
  }

  /** Queues `m` for the next write; false when it cannot be taken (then nothing is queued). */
  enqueue(m: Message): boolean {
    const s = this.socket;
    if (
      !this.open ||
      s === undefined ||
      this.queue.length >= this.o.maxQueued ||
      s.writableLength > MAX_SOCKET_BUFFER
    ) {
      return false;
    }
    this.queue.push(m);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    return true;
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.socket?.destroy();
    this.socket = undefined;
    this.open = false;
  }

  private flush(): void {
    this.flushScheduled = false;
    const s = this.socket;
    if (!this.open || s === undefined || this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    const frames = batch.map((m) => encodeFrame(FrameKind.Message, encodeMessage(m)));
    s.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
  }

  private connect(): void {
    if (this.closed) return;
    const s = this.o.dial();
    this.socket = s;
    s.setNoDelay(true);
    const parser = new FrameParser(64 * 1024);
    // A TLS socket may carry data only once its handshake is done.
    s.once(s instanceof tls.TLSSocket ? 'secureConnect' : 'connect', () =>
      s.write(encodeFrame(FrameKind.Hello, this.o.hello)),
    );
    s.on('data', (chunk: Buffer) => {
      try {
        for (const f of parser.push(chunk)) {
          if (f.kind === FrameKind.HelloOk && !this.open) {
            this.open = true;
            this.attempt = 0;
          } else if (f.kind === FrameKind.Refuse) {
            const reason = f.payload.toString('utf8');
            this.o.logger.warn('peer refused the connection', { peer: this.o.peer, reason });
            this.o.onRefused?.(reason);
            s.destroy();
          } else {
            throw new FrameError(`unexpected frame kind ${f.kind} from peer ${this.o.peer}`);
          }
        }
      } catch (err) {
        this.o.logger.warn('closing link after a protocol error', { peer: this.o.peer, err: String(err) });
        s.destroy();
      }
    });
    s.on('error', (err) => this.o.logger.debug('peer link error', { peer: this.o.peer, err: err.message }));
    s.on('close', () => {
      if (this.socket !== s) return;
      const dropped = this.queue.length > 0;
      this.queue = [];
      this.open = false;
      this.socket = undefined;
      if (dropped) this.o.onDrop(this.o.peer);
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const base = Math.min(this.o.backoffMaxMs, this.o.backoffMinMs * 2 ** Math.min(this.attempt, 16));
    this.attempt++;
    const delay = base / 2 + Math.random() * (base / 2);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}
