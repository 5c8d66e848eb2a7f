import type net from 'node:net';
import tls from 'node:tls';
import { crc32 } from 'node:zlib';
import { snapshotChunks } from '../codec/chunk-reader.js';
import { encodeMessage } from '../codec/message-codec.js';
import type { SnapshotPayload } from '../node/types.js';
import type { Message } from '../raftpb/types.js';
import { FrameError, FrameKind, FrameParser, encodeFrame } from './frame.js';

/** What {@link sendSnapshotOnce} needs. */
export interface SnapshotSend {
  dial: () => net.Socket;
  hello: Uint8Array;
  message: Message;
  /** Opens the data (e.g. the snapshot file, as a stream); read chunk by chunk as the socket drains. */
  data: () => Promise<SnapshotPayload>;
  chunkBytes: number;
  maxFrameBytes: number;
  /** Gives up when the peer makes no progress for this long. Default 60 s. */
  idleTimeoutMs?: number;
}

/**
 * Sends one MsgSnap on a connection of its own: handshake, SnapshotBegin (the message without data), the data in
 * chunks read from `data` one at a time (each written only after the socket drained the previous one, so at most
 * one chunk and the socket's buffer are in memory), SnapshotEnd (u64 size, u32 CRC-32 of the data); resolves when
 * the receiver acknowledges that raft has the snapshot, rejects on refusal (e.g. a CRC mismatch), a closed
 * connection or an idle timeout.
 */
export async function sendSnapshotOnce(o: SnapshotSend): Promise<void> {
  // Opened only once the peer accepted the connection: a peer that is down costs no read of the snapshot file.
  let source: AsyncGenerator<Uint8Array> | undefined;
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
        const chunks = snapshotChunks(await o.data());
        source = chunks;
        await write(socket, encodeFrame(FrameKind.SnapshotBegin, head));
        let size = 0;
        let crc = 0;
        for (let next = await chunks.next(); next.done !== true; next = await chunks.next()) {
          const bytes = next.value;
          for (let off = 0; off < bytes.byteLength; off += chunk) {
            const part = bytes.subarray(off, Math.min(bytes.byteLength, off + chunk));
            crc = crc32(part, crc);
            size += part.byteLength;
            await write(socket, encodeFrame(FrameKind.SnapshotChunk, part));
          }
        }
        await write(socket, encodeFrame(FrameKind.SnapshotEnd, encodeSnapshotEnd(size, crc)));
      };
    });
  } finally {
    socket.destroy();
    await source?.return(undefined); // closes the file if the transfer stopped half-way
  }
}

/** SnapshotEnd's payload: u64 BE data size, u32 BE CRC-32 (zlib's) of the data. */
export function encodeSnapshotEnd(size: number, crc: number): Buffer {
  const out = Buffer.allocUnsafe(12);
  out.writeBigUInt64BE(BigInt(size), 0);
  out.writeUInt32BE(crc >>> 0, 8);
  return out;
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
