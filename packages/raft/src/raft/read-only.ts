import type { ReadOnlyOption } from '../config.js';
import type { Message } from '../raftpb/types.js';

/** A read-index request waiting for a heartbeat quorum (ReadOnlyOption.Safe). */
export interface ReadIndexStatus {
  req: Message;
  /** The commit index when the request arrived: the read may be served once this is applied. */
  index: number;
  /** Voters that acknowledged the heartbeat carrying this request's context. */
  acks: Map<number, boolean>;
}

/** A read request's context as a map key (binary-safe). */
export function ctxKey(ctx: Uint8Array | undefined): string {
  if (ctx === undefined) return '';
  // One char per byte (latin1), without Node's Buffer: the core runs anywhere. Contexts are a few bytes.
  let key = '';
  for (const b of ctx) key += String.fromCharCode(b);
  return key;
}

/**
 * Pending read-index requests on the leader (etcd's readOnly), in arrival order. Invariant: every key in `queue`
 * is in `pending`, and a request is answered together with all requests queued before it: a heartbeat quorum
 * that confirms leadership after a request arrived confirms it after every earlier one arrived too.
 */
export class ReadOnly {
  readonly pending = new Map<string, ReadIndexStatus>();
  queue: string[] = [];

  constructor(readonly option: ReadOnlyOption) {}

  /** Queues a request that arrived when the commit index was `index` (a duplicate context is ignored). */
  addRequest(index: number, m: Message): void {
    const key = ctxKey(m.entries[0]?.data);
    if (this.pending.has(key)) return;
    this.pending.set(key, { index, req: m, acks: new Map() });
    this.queue.push(key);
  }

  /** Records `id`'s acknowledgement of the heartbeat with `context`; returns the acks so far. */
  recvAck(id: number, context: Uint8Array | undefined): ReadonlyMap<number, boolean> | undefined {
    const rs = this.pending.get(ctxKey(context));
    if (rs === undefined) return undefined;
    rs.acks.set(id, true);
    return rs.acks;
  }

  /** Dequeues every request up to and including the one with `m.context`, now confirmed by a quorum. */
  advance(m: Message): ReadIndexStatus[] {
    const ctx = ctxKey(m.context);
    const at = this.queue.indexOf(ctx);
    if (at < 0) return [];
    const done = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    const out: ReadIndexStatus[] = [];
    for (const key of done) {
      const rs = this.pending.get(key);
      if (rs === undefined) throw new Error('read-only queue and pending map disagree');
      this.pending.delete(key);
      out.push(rs);
    }
    return out;
  }

  /** The context of the newest pending request, to piggyback on heartbeats. */
  lastPendingRequestCtx(): Uint8Array | undefined {
    const key = this.queue[this.queue.length - 1];
    return key === undefined ? undefined : this.pending.get(key)?.req.entries[0]?.data;
  }
}
