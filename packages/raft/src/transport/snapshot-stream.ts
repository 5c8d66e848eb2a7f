import type net from 'node:net';
import tls from 'node:tls';
import { decodeMessage, encodeMessage } from '../codec/message-codec.js';
import type { Message } from '../raftpb/types.js';
import { MessageType } from '../raftpb/types.js';
import { FrameError, FrameKind, FrameParser, encodeFrame } from './frame.js';

/** What {@link sendSnapshotOnce} needs. */
export interface SnapshotSend {
  dial: () => net.Socket;
  hello: Uint8Array;
  message: Message;
  data: () => Promise<Uint8Array>;
  chunkBytes: number;
  maxFrameBytes: number;
  /** Gives up when the peer makes no progress for this long. Default 60 s. */
  idleTimeoutMs?: number;
}

/**
 * Sends one MsgSnap on a connection of its own: handshake, SnapshotBegin (size + the message without data), the
 * data in chunks (respecting socket backpressure), SnapshotEnd; resolves when the receiver acknowledges that raft
 * has the snapshot, rejects on refusal, a closed connection or an idle timeout.
 */
export async function sendSnapshotOnce(o: SnapshotSend): Promise<void> {
  const bytes = await o.data();
  const chunk = Math.max(1, Math.min(o.chunkBytes, o.maxFrameBytes - 16));
  const socket = o.dial();
  socket.setTimeout(o.idleTimeoutMs ?? 60_000);
  const parser = new FrameParser(64 * 1024);
  try {
    await new Promise<void>((resolve, reject) => {
      let acked = false;
      const fail = (err: Error): void => {
        socket.destroy();
        reject(err);
      };
      socket.on('timeout', () => fail(new Error('snapshot send timed out')));
      socket.on('error', fail);
      socket.on('close', () => {
        if (!acked) reject(new Error('connection closed before the snapshot was acknowledged'));
      });
      socket.on('data', (buf: Buffer) => {
        try {
          for (const f of parser.push(buf)) {
            if (f.kind === FrameKind.HelloOk) {
              void writeBody().catch(fail);
            } else if (f.kind === FrameKind.SnapshotAck) {
              acked = true;
              socket.end();
              resolve();
            } else if (f.kind === FrameKind.Refuse) {
              fail(new Error(`peer refused the snapshot connection: ${f.payload.toString('utf8')}`));
            } else {
              throw new FrameError(`unexpected frame kind ${f.kind}`);
            }
          }
        } catch (err) {
          fail(err instanceof Error ? err : new Error(String(err)));
        }
      });
      socket.once(socket instanceof tls.TLSSocket ? 'secureConnect' : 'connect', () => {
        socket.write(encodeFrame(FrameKind.Hello, o.hello));
      });
      const writeBody = async (): Promise<void> => {
        const head = encodeMessage({
          ...o.message,
          snapshot: o.message.snapshot && { ...o.message.snapshot, data: new Uint8Array(0) },
        });
        const begin = Buffer.allocUnsafe(8 + head.byteLength);
        begin.writeBigUInt64BE(BigInt(bytes.byteLength), 0);
        begin.set(head, 8);
        await write(socket, encodeFrame(FrameKind.SnapshotBegin, begin));
        for (let off = 0; off < bytes.byteLength; off += chunk) {
          await write(
            socket,
            encodeFrame(
              FrameKind.SnapshotChunk,
              bytes.subarray(off, Math.min(bytes.byteLength, off + chunk)),
            ),
          );
        }
        await write(socket, encodeFrame(FrameKind.SnapshotEnd, new Uint8Array(0)));
      };
    });
  } finally {
    socket.destroy();
  }
}

function write(socket: net.Socket, buf: Buffer): Promise<void> {
  if (socket.write(buf)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      socket.off('close', onClose);
      resolve();
    };
    const onClose = (): void => {
      socket.off('drain', onDrain);
      reject(new Error('connection closed while sending the snapshot'));
    };
    socket.once('drain', onDrain);
    socket.once('close', onClose);
  });
}

/**
 * Receives one snapshot: the data goes straight into a single buffer of the announced size (never held twice),
 * bounded by `maxBytes`; anything out of order is a FrameError.
 */
export class SnapshotReceiver {
  private message: Message | undefined;
  private data: Buffer | undefined;
  private filled = 0;

  constructor(private readonly maxBytes: number) {}

  /** Feeds one frame; returns the complete MsgSnap (with its data) after SnapshotEnd. */
  onFrame(kind: number, payload: Buffer): Message | undefined {
    switch (kind) {
      case FrameKind.SnapshotBegin: {
        if (this.message !== undefined) throw new FrameError('second SnapshotBegin on one connection');
        if (payload.byteLength < 8) throw new FrameError('SnapshotBegin too short');
        const size = payload.readBigUInt64BE(0);
        if (size > BigInt(this.maxBytes))
          throw new FrameError(`snapshot of ${size} bytes exceeds the limit of ${this.maxBytes}`);
        const m = decodeMessage(payload.subarray(8));
        if (m.type !== MessageType.MsgSnap || m.snapshot === undefined)
          throw new FrameError('SnapshotBegin does not carry a MsgSnap');
        this.message = m;
        this.data = Buffer.allocUnsafe(Number(size));
        return undefined;
      }
      case FrameKind.SnapshotChunk: {
        if (this.data === undefined) throw new FrameError('snapshot chunk before SnapshotBegin');
        if (this.filled + payload.byteLength > this.data.byteLength)
          throw new FrameError('snapshot chunks exceed the announced size');
        payload.copy(this.data, this.filled);
        this.filled += payload.byteLength;
        return undefined;
      }
      case FrameKind.SnapshotEnd: {
        const m = this.message;
        if (m === undefined || this.data === undefined || m.snapshot === undefined)
          throw new FrameError('SnapshotEnd before SnapshotBegin');
        if (this.filled !== this.data.byteLength) {
          throw new FrameError(`snapshot ended after ${this.filled} of ${this.data.byteLength} bytes`);
        }
        const out: Message = { ...m, snapshot: { ...m.snapshot, data: this.data } };
        this.message = undefined;
        this.data = undefined;
        return out;
      }
      default:
        throw new FrameError(`unexpected frame kind ${kind} on a snapshot connection`);
    }
  }
}
