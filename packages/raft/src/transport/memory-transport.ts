import { readSnapshotBytes } from '../codec/chunk-reader.js';
import { decodeMessage, encodeMessage } from '../codec/message-codec.js';
import type { Message } from '../raftpb/types.js';
import { MessageType } from '../raftpb/types.js';
import type { Transport, TransportHandler, SnapshotPayload } from '../node/types.js';

/**
 * An in-process network for tests and examples: every node's {@link MemoryTransport} is attached to one
 * `MemoryNetwork`, which delivers messages asynchronously (never re-entrantly), through the real message codec
 * (so what arrives is what a TCP peer would decode), and can partition nodes or cut single links.
 *
 * @example
 * ```ts
 * const net = new MemoryNetwork();
 * const t1 = net.transport(1); // pass to RaftNode.start({ transport: t1, ... })
 * net.isolate(1);              // node 1 can neither send nor receive
 * net.heal();
 * ```
 */
export class MemoryNetwork {
  private readonly handlers = new Map<number, TransportHandler>();
  /** Directed links that are cut, as `from:to`. */
  private readonly cut = new Set<string>();
  /** Messages delivered, by type, for tests that assert on traffic. */
  readonly delivered = new Map<number, number>();

  /** The transport for node `id`. */
  transport(id: number): MemoryTransport {
    return new MemoryTransport(id, this);
  }

  /** Cuts both directions between `id` and every other node. */
  isolate(id: number): void {
    for (const other of this.handlers.keys()) if (other !== id) this.cutLink(id, other, true);
  }

  /** Cuts `from -> to` (and `to -> from` when `both`). */
  cutLink(from: number, to: number, both = false): void {
    this.cut.add(`${from}:${to}`);
    if (both) this.cut.add(`${to}:${from}`);
  }

  /** Splits the nodes into groups that cannot talk to each other. */
  partition(...groups: readonly number[][]): void {
    for (const a of groups)
      for (const b of groups) if (a !== b) for (const x of a) for (const y of b) this.cutLink(x, y);
  }

  /** Restores every link. */
  heal(): void {
    this.cut.clear();
  }

  /** @internal */
  attach(id: number, handler: TransportHandler): void {
    this.handlers.set(id, handler);
  }

  /** @internal */
  detach(id: number): void {
    this.handlers.delete(id);
  }

  /** Encoded messages waiting for the next turn, in send order (invariant: non-empty only while `flushing`). */
  private inFlight: { from: number; to: number; type: number; bytes: Uint8Array }[] = [];
  private flushing = false;

  /** @internal Delivers on a later turn of the event loop; returns false when the link is down. */
  deliver(from: number, m: Message): boolean {
    if (this.isCut(from, m.to) || !this.handlers.has(m.to)) return false;
    this.inFlight.push({ from, to: m.to, type: m.type, bytes: encodeMessage(m) });
    if (!this.flushing) {
      // One turn delivers everything sent before it, in order: a callback per message was a visible cost.
      this.flushing = true;
      setImmediate(() => this.flush());
    }
    return true;
  }

  private flush(): void {
    const batch = this.inFlight;
    this.inFlight = [];
    this.flushing = false;
    for (const { from, to, type, bytes } of batch) {
      const h = this.handlers.get(to);
      if (h === undefined || this.isCut(from, to)) continue;
      this.delivered.set(type, (this.delivered.get(type) ?? 0) + 1);
      h.onMessage(decodeMessage(bytes));
    }
  }

  private isCut(from: number, to: number): boolean {
    return this.cut.size > 0 && this.cut.has(`${from}:${to}`);
  }
}

/** One node's end of a {@link MemoryNetwork}. */
export class MemoryTransport implements Transport {
  private handler: TransportHandler | undefined;

  constructor(
    readonly id: number,
    private readonly network: MemoryNetwork,
  ) {}

  start(handler: TransportHandler): void {
    this.handler = handler;
    this.network.attach(this.id, handler);
  }

  send(messages: readonly Message[]): void {
    for (const m of messages) {
      if (!this.network.deliver(this.id, m)) this.handler?.reportUnreachable(m.to);
    }
  }

  sendSnapshot(message: Message, data: () => Promise<SnapshotPayload>): void {
    const handler = this.handler;
    // In memory the snapshot travels whole: read it into one buffer.
    data()
      .then(readSnapshotBytes)
      .then(
        (bytes) => {
          const snapshot = message.snapshot === undefined ? undefined : { ...message.snapshot, data: bytes };
          const ok =
            message.type === MessageType.MsgSnap && this.network.deliver(this.id, { ...message, snapshot });
          handler?.reportSnapshot(message.to, ok ? 'finish' : 'failure');
        },
        () => handler?.reportSnapshot(message.to, 'failure'),
      );
  }

  addPeer(): void {}

  removePeer(): void {}

  async stop(): Promise<void> {
    this.network.detach(this.id);
    this.handler = undefined;
  }
}
