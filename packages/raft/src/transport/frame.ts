// Peer wire framing: [u32 big-endian length of what follows][u8 kind][payload]. One parser per connection; any
// violation (unknown kind, a length over the limit) is a protocol error that closes that connection only.

/** Frame kinds. */
export const FrameKind = {
  /** Dialer → acceptor: {clusterId, from, to, purpose}. */
  Hello: 1,
  /** Acceptor → dialer: handshake accepted. */
  HelloOk: 2,
  /** Acceptor → dialer: handshake refused; payload is the UTF-8 reason. */
  Refuse: 3,
  /** One encoded raft Message. */
  Message: 4,
  /** Start of a snapshot: the encoded MsgSnap (without data). */
  SnapshotBegin: 5,
  /** A chunk of snapshot data. */
  SnapshotChunk: 6,
  /** All chunks sent: u64 BE data size, u32 BE CRC-32 of the data (the receiver refuses a mismatch). */
  SnapshotEnd: 7,
  /** Receiver → sender: the snapshot was received and handed to raft. */
  SnapshotAck: 8,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

const HEADER = 5;

/** Encodes one frame. */
export function encodeFrame(kind: FrameKind, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER + payload.byteLength);
  out.writeUInt32BE(payload.byteLength + 1, 0);
  out[4] = kind;
  out.set(payload, HEADER);
  return out;
}

/** Thrown by {@link FrameParser} on bytes that break the framing. */
export class FrameError extends Error {
  override readonly name = 'FrameError';
}

/**
 * Incremental frame parser: feed it socket chunks, get whole frames. Holds at most one partial frame, whose size is
 * bounded by `maxFrameBytes`, so a hostile length (say 4 GB) is refused before any allocation.
 */
export class FrameParser {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /** Appends `chunk` and returns every frame now complete. Throws FrameError on a protocol violation. */
  push(chunk: Buffer): { kind: FrameKind; payload: Buffer }[] {
    this.chunks.push(chunk);
    this.buffered += chunk.byteLength;
    const out: { kind: FrameKind; payload: Buffer }[] = [];
    for (;;) {
      if (this.buffered < HEADER) return out;
      const head = this.peek(HEADER);
      const len = head.readUInt32BE(0);
      if (len < 1) throw new FrameError('frame length 0');
      if (len - 1 > this.maxFrameBytes) {
        throw new FrameError(`frame of ${len - 1} bytes exceeds the limit of ${this.maxFrameBytes}`);
      }
      const kind = head[4] ?? 0;
      if (kind < FrameKind.Hello || kind > FrameKind.SnapshotAck)
        throw new FrameError(`unknown frame kind ${kind}`);
      if (this.buffered < 4 + len) return out;
      const whole = this.take(4 + len);
      out.push({ kind: kind as FrameKind, payload: whole.subarray(HEADER) });
    }
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0];
    if (first !== undefined && first.byteLength >= n) return first;
    const joined = Buffer.concat(this.chunks, this.buffered);
    this.chunks = [joined];
    return joined;
  }

  private take(n: number): Buffer {
    const buf = this.peek(n);
    const rest = buf.subarray(n);
    this.chunks = rest.byteLength > 0 ? [rest] : [];
    this.buffered -= n;
    return buf.subarray(0, n);
  }
}
