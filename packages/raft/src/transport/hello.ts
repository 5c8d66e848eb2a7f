import { splitHostPort } from './address.js';
import { FrameError } from './frame.js';

/**
 * The version of the handshake and of everything after it on the connection (the message encoding, the snapshot
 * stream). 2: messages in the hand-written binary layout of `codec/message-codec.ts` (1 was msgpack).
 */
export const WIRE_VERSION = 2;

/** A peer speaking another wire version: refused with this reason (the dialer logs it). */
export class WireVersionError extends FrameError {}

/** The handshake a dialing peer sends first. */
export interface Hello {
  v: typeof WIRE_VERSION;
  clusterId: string;
  from: number;
  to: number;
  /** A long-lived message stream, or a connection carrying one snapshot. */
  purpose: 'stream' | 'snapshot';
  /**
   * Identity of the dialer's data: stays the same across restarts of the same data directory, changes when the data
   * is wiped. Peers refuse a known id that comes back with another incarnation.
   */
  incarnation?: string | undefined;
  /**
   * Where peers reach the dialer (`host:port`). A peer that does not know the dialer's id yet (it has not applied the
   * membership change that added it, e.g. while partitioned) answers it there instead of refusing it, as etcd's
   * rafthttp does with `AddRemote`; otherwise a majority that needs that peer could stay stuck.
   */
  addr?: string | undefined;
}

export function encodeHello(h: Hello): Uint8Array {
  return Buffer.from(JSON.stringify(h));
}

/** Parses and validates a handshake; throws FrameError naming the bad field. */
export function decodeHello(bytes: Uint8Array): Hello {
  if (bytes.byteLength > 4096) throw new FrameError('handshake too large');
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new FrameError('handshake is not JSON');
  }
  if (typeof v !== 'object' || v === null) throw new FrameError('handshake is not an object');
  const o = v as Record<string, unknown>;
  if (o.v !== WIRE_VERSION) {
    throw new WireVersionError(
      `wire version ${String(o.v)} not supported: this node speaks ${WIRE_VERSION} ` +
        '(the message encoding changed between @x/raft versions: run the same @x/raft on every member)',
    );
  }
  if (typeof o.clusterId !== 'string') throw new FrameError('handshake field clusterId is not a string');
  for (const k of ['from', 'to'] as const) {
    const n = o[k];
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0)
      throw new FrameError(`handshake field ${k} is not a node id`);
  }
  if (o.purpose !== 'stream' && o.purpose !== 'snapshot')
    throw new FrameError('handshake field purpose is invalid');
  if (o.incarnation !== undefined && (typeof o.incarnation !== 'string' || o.incarnation.length > 128)) {
    throw new FrameError('handshake field incarnation is invalid');
  }
  if (o.addr !== undefined && !isPeerAddress(o.addr))
    throw new FrameError('handshake field addr is not host:port');
  return {
    v: WIRE_VERSION,
    clusterId: o.clusterId,
    from: o.from as number,
    to: o.to as number,
    purpose: o.purpose,
    ...(o.incarnation !== undefined ? { incarnation: o.incarnation } : {}),
    ...(o.addr !== undefined ? { addr: o.addr } : {}),
  };
}

/** A `host:port` a peer may be dialed at: what {@link splitHostPort} accepts, with a host, of bounded length. */
function isPeerAddress(v: unknown): v is string {
  if (typeof v !== 'string' || v.length > 260) return false;
  try {
    return splitHostPort(v).host.length > 0;
  } catch {
    return false;
  }
}
