// Every entry a RaftNode proposes carries a 13-byte header so that the node that proposed it can recognise it when
// it is applied, even after forwarding to the leader: [0x01][8 bytes incarnation][u32 sequence]. The incarnation is
// random per process start, so a sequence number reused after a restart can never match an entry of an earlier
// run that is still being replayed.

import type { RandomSource } from '../random.js';

/** Header length in bytes. */
export const PROPOSAL_HEADER_BYTES = 13;
const VERSION = 0x01;
const SLAB_BYTES = 64 * 1024;

/** Issues proposal ids and frames payloads with them. */
export class ProposalIds {
  /** Next sequence number; wraps at 2^32, long after any waiter of the same number timed out. */
  private seq = 0;

  constructor(private readonly incarnation: Uint8Array) {
    if (incarnation.byteLength !== 8) throw new Error('incarnation must be 8 bytes');
  }

  /** A new id, as the key used to find its waiter. */
  next(): number {
    this.seq = (this.seq + 1) >>> 0;
    return this.seq;
  }

  /** Where small framed payloads are copied to (see {@link frame}); `used` bytes of it are taken. */
  private slab = new Uint8Array(0);
  private used = 0;

  /**
   * `payload` behind a header carrying `seq`, copied now (the caller may reuse its buffer). Small ones are views
   * into a shared 64 KiB slab: a typed array of its own costs each proposal a separate backing store for the
   * garbage collector to track, and at 100,000 proposals a second that was a large part of the runtime's cost. A
   * slab stays alive while any entry framed into it does (until raft's log is compacted past them).
   */
  frame(seq: number, payload: Uint8Array): Uint8Array {
    const size = PROPOSAL_HEADER_BYTES + payload.byteLength;
    let out: Uint8Array;
    if (size > SLAB_BYTES / 8) {
      out = new Uint8Array(size);
    } else {
      if (this.used + size > this.slab.byteLength) {
        this.slab = new Uint8Array(SLAB_BYTES);
        this.used = 0;
      }
      out = this.slab.subarray(this.used, this.used + size);
      this.used += size;
    }
    out[0] = VERSION;
    out.set(this.incarnation, 1);
    out[9] = seq >>> 24;
    out[10] = (seq >>> 16) & 0xff;
    out[11] = (seq >>> 8) & 0xff;
    out[12] = seq & 0xff;
    out.set(payload, PROPOSAL_HEADER_BYTES);
    return out;
  }

  /** The sequence number if `framed` was proposed by this incarnation, else undefined. */
  ownSeq(framed: Uint8Array): number | undefined {
    if (framed.byteLength < PROPOSAL_HEADER_BYTES || framed[0] !== VERSION) return undefined;
    for (let i = 0; i < 8; i++) if (framed[1 + i] !== this.incarnation[i]) return undefined;
    return (
      (((framed[9] ?? 0) << 24) |
        ((framed[10] ?? 0) << 16) |
        ((framed[11] ?? 0) << 8) |
        (framed[12] ?? 0)) >>>
      0
    );
  }
}

/** The application payload of a framed entry (a view, no copy); undefined when the bytes carry no header. */
export function unframe(framed: Uint8Array): Uint8Array | undefined {
  if (framed.byteLength < PROPOSAL_HEADER_BYTES || framed[0] !== VERSION) return undefined;
  return framed.subarray(PROPOSAL_HEADER_BYTES);
}

/** The 8 bytes that tell this run's proposals from an earlier run's (seeded when a `random` source is given). */
export function incarnation(random: RandomSource | undefined): Uint8Array {
  const bytes = new Uint8Array(8);
  if (random === undefined) crypto.getRandomValues(bytes);
  else for (let i = 0; i < 8; i++) bytes[i] = random.nextInt(256);
  return bytes;
}
