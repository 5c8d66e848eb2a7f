import { readSnapshotBytes } from '../../codec/chunk-reader.js';
import { decodeMessage, encodeMessage } from '../../codec/message-codec.js';
import type { Transport, TransportHandler, SnapshotPayload } from '../../node/types.js';
import type { RandomSource } from '../../random.js';
import { MessageType, type Message } from '../../raftpb/types.js';
import type { ClockScope, VirtualClock } from './virtual-clock.js';

/** How the simulated network misbehaves. Delays are in virtual milliseconds. */
export interface NetworkFaults {
  /** Probability that a message is lost. */
  dropRate: number;
  /** Probability that a delivered message (other than a forwarded proposal, MsgProp) is delivered twice. */
  duplicateRate: number;
  minDelayMs: number;
  maxDelayMs: number;
}

export const calmNetwork: NetworkFaults = { dropRate: 0, duplicateRate: 0, minDelayMs: 1, maxDelayMs: 5 };

/** The address a simulated node listens on. */
export function simAddress(id: number): string {
  return `sim://node-${id}`;
}

/**
 * The network of a simulation: it carries what real transports carry (every message is encoded and decoded by the
 * wire codec, a snapshot's data travels with its MsgSnap), with seeded loss, duplication, delay (hence
 * reordering) and partitions. Messages go to an **address**: a node reaches a peer only once its `RaftNode` gave
 * the transport that peer's address (from `peers`, a conf change's context or a snapshot), as over TCP.
 * Messages in flight to an address reach whichever process listens there when they arrive (a restarted node
 * gets its predecessor's late messages, as a reconnecting TCP peer may).
 */
export class SimNetwork {
  faults: NetworkFaults = calmNetwork;
  /** Directed links that are cut, as `from:to` (node ids). */
  private readonly cut = new Set<string>();
  private readonly listening = new Map<string, SimTransport>();
  /** Messages delivered and lost, for reports. */
  delivered = 0;
  lost = 0;

  constructor(
    private readonly clock: VirtualClock,
    private readonly rng: RandomSource,
  ) {}

  /** A transport for one incarnation of node `id` (its timers are `scope`'s: they die with it). */
  transport(id: number, scope: ClockScope): SimTransport {
    return new SimTransport(id, this, scope);
  }

  /** Cuts every link between the groups, both ways. */
  partition(...groups: readonly number[][]): void {
    for (const a of groups)
      for (const b of groups) if (a !== b) for (const x of a) for (const y of b) this.cut.add(`${x}:${y}`);
  }

  /** Cuts `id` off from every node in `others`, both ways. */
  isolate(id: number, others: readonly number[]): void {
    this.partition(
      [id],
      others.filter((o) => o !== id),
    );
  }

  heal(): void {
    this.cut.clear();
  }

  isCut(from: number, to: number): boolean {
    return this.cut.has(`${from}:${to}`);
  }

  /** @internal */
  listen(address: string, t: SimTransport): void {
    this.listening.set(address, t);
  }

  /** @internal */
  unlisten(address: string, t: SimTransport): void {
    if (this.listening.get(address) === t) this.listening.delete(address);
  }

  private delay(): number {
    const { minDelayMs, maxDelayMs } = this.faults;
    return minDelayMs + this.rng.nextInt(Math.max(1, maxDelayMs - minDelayMs + 1));
  }

  private chance(p: number): boolean {
    return p > 0 && this.rng.nextInt(1_000_000) < p * 1_000_000;
  }

  /**
   * @internal Sends `m` from `from` to `address`; `done(ok)` (if given) is called once it arrived or was lost.
   * Returns false when the sender can tell at once that the link is down (a cut link: the connection fails).
   */
  route(from: number, address: string, m: Message, done?: (ok: boolean) => void): boolean {
    if (this.isCut(from, m.to)) {
      this.lost++;
      if (done !== undefined) this.clock.setTimeout(() => done(false), this.delay());
      return false;
    }
    if (this.chance(this.faults.dropRate)) {
      this.lost++;
      if (done !== undefined) this.clock.setTimeout(() => done(false), this.delay());
      return true; // lost silently, as a datagram or a broken connection's buffer
    }
    const bytes = encodeMessage(m);
    // Raft tolerates a duplicated message of any kind but one: a forwarded proposal (MsgProp) arriving twice is
    // appended twice, as in etcd-raft (exactly-once needs client sessions). The runtime's transports never
    // duplicate (one write to one TCP connection), so neither does this network for proposals.
    const copies = m.type !== MessageType.MsgProp && this.chance(this.faults.duplicateRate) ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      this.clock.setTimeout(() => {
        const target = this.listening.get(address);
        // Checked again on arrival: a partition made meanwhile cuts what is still on the wire.
        const ok = target !== undefined && target.id === m.to && !this.isCut(from, m.to);
        if (c === 0) done?.(ok);
        if (!ok) {
          this.lost++;
          return;
        }
        this.delivered++;
        this.clock.record(m.from * 31 + m.to * 7 + m.type);
        target.deliver(decodeMessage(bytes), simAddress(from));
      }, this.delay());
    }
    return true;
  }
}

/** One node's end of a {@link SimNetwork}, implementing the runtime's {@link Transport} port. */
export class SimTransport implements Transport {
  private handler: TransportHandler | undefined;
  private readonly peers = new Map<number, string>();
  private stopped = false;

  constructor(
    readonly id: number,
    private readonly net: SimNetwork,
    private readonly scope: ClockScope,
  ) {}

  start(handler: TransportHandler): void {
    this.handler = handler;
    this.net.listen(simAddress(this.id), this);
  }

  /**
   * @internal An arriving message (ignored once this process died or stopped). A sender this node has no address
   * for is answered at the address it came from, as `TcpTransport` learns it from the handshake (`advertise`).
   */
  deliver(m: Message, fromAddress: string): void {
    if (this.stopped || !this.scope.alive) return;
    if (!this.peers.has(m.from)) this.peers.set(m.from, fromAddress);
    this.handler?.onMessage(m);
  }

  send(messages: readonly Message[]): void {
    if (this.stopped || !this.scope.alive) return;
    for (const m of messages) {
      const address = this.peers.get(m.to);
      if (address === undefined || !this.net.route(this.id, address, m)) {
        // No address for the peer, or the connection fails: raft probes it again later.
        this.scope.defer(() => this.handler?.reportUnreachable(m.to));
      }
    }
  }

  sendSnapshot(message: Message, data: () => Promise<SnapshotPayload>): void {
    const report = (ok: boolean): void => {
      if (!this.stopped && this.scope.alive)
        this.handler?.reportSnapshot(message.to, ok ? 'finish' : 'failure');
    };
    const address = this.peers.get(message.to);
    if (address === undefined || message.type !== MessageType.MsgSnap || message.snapshot === undefined) {
      this.scope.defer(() => report(false));
      return;
    }
    const snapshot = message.snapshot;
    // In memory the snapshot travels whole: read it into one buffer.
    data()
      .then(readSnapshotBytes)
      .then(
        (bytes) => {
          if (this.stopped || !this.scope.alive) return;
          this.net.route(this.id, address, { ...message, snapshot: { ...snapshot, data: bytes } }, report);
        },
        () => report(false),
      );
  }

  addPeer(id: number, address: string): void {
    this.peers.set(id, address);
  }

  removePeer(id: number): void {
    this.peers.delete(id);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.net.unlisten(simAddress(this.id), this);
    this.handler = undefined;
  }
}
