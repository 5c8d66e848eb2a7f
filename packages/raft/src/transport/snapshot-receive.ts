// The receiving end of a snapshot connection: the data goes to a temporary file as it arrives (with flow control:
// the socket is paused while writes are behind), is checked against the size and CRC-32 in SnapshotEnd, and is
// handed to raft as a SnapshotSource that reads the file lazily. A transfer cut half-way leaves only a `.part` file,
// deleted at once, and by the next start (see {@link cleanIncomingDir}) if the process died.
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import type net from 'node:net';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { decodeMessage } from '../codec/message-codec.js';
import type { SnapshotSource } from '../node/types.js';
import type { Message } from '../raftpb/types.js';
import { MessageType } from '../raftpb/types.js';
import { FrameError, FrameKind } from './frame.js';

/** Names of incoming snapshot files: `<prefix><uuid>.part`; nothing else in the directory is touched. */
const PART_PREFIX = 'raft-incoming-';
const PART_SUFFIX = '.part';
/** Socket bytes queued for the file before the socket is paused (and resumed below half of it). */
const HIGH_WATER_BYTES = 8 * 1024 * 1024;
/** Read size of the file when it is streamed back. */
const READ_CHUNK_BYTES = 1024 * 1024;

/** Deletes incoming snapshot files left in `dir` by a process that died mid-transfer (never trusted). */
export async function cleanIncomingDir(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dir)) {
    if (name.startsWith(PART_PREFIX) && name.endsWith(PART_SUFFIX)) {
      await unlink(join(dir, name)).catch(() => undefined);
      removed.push(name);
    }
  }
  return removed;
}

/** What a {@link SnapshotFileReceiver} needs. */
export interface SnapshotFileReceiverOptions {
  socket: net.Socket;
  /** Directory of the temporary file. */
  dir: string;
  /** Largest snapshot accepted; more data is a protocol error. */
  maxBytes: number;
  /** The whole snapshot arrived and checked out: hand it to raft (throws to refuse it). */
  deliver: (message: Message, source: SnapshotSource) => void;
  /** The transfer failed (protocol error, CRC mismatch, I/O error): the caller closes the connection. */
  fail: (err: Error) => void;
}

/**
 * Receives one snapshot on one connection. Frames are handled in order, one at a time, on a promise chain; while
 * more than {@link HIGH_WATER_BYTES} wait for the file the socket is paused (TCP then slows the sender down).
 * Invariant: the temporary file exists from SnapshotBegin until it is delivered (then the source owns it) or the
 * transfer fails or the connection closes (then it is deleted).
 */
export class SnapshotFileReceiver {
  private chain: Promise<void> = Promise.resolve();
  private queuedBytes = 0;
  private paused = false;
  private message: Message | undefined;
  private file: { path: string; fh: FileHandle } | undefined;
  private size = 0;
  private crc = 0;
  private finished = false;

  constructor(private readonly o: SnapshotFileReceiverOptions) {
    o.socket.once('close', () => {
      this.finished = true;
      this.chain = this.chain.then(() => this.discard());
    });
  }

  /** Queues one frame of the connection (after the handshake). */
  push(kind: number, payload: Buffer): void {
    if (this.finished) return;
    this.queuedBytes += payload.byteLength;
    if (!this.paused && this.queuedBytes > HIGH_WATER_BYTES) {
      this.paused = true;
      this.o.socket.pause();
    }
    this.chain = this.chain
      .then(async () => {
        if (!this.finished) await this.onFrame(kind, payload);
      })
      .catch((err: unknown) => {
        this.finished = true;
        this.o.fail(err instanceof Error ? err : new Error(String(err)));
        return this.discard();
      })
      .finally(() => {
        this.queuedBytes -= payload.byteLength;
        if (this.paused && this.queuedBytes < HIGH_WATER_BYTES / 2) {
          this.paused = false;
          this.o.socket.resume();
        }
      });
  }

  private async onFrame(kind: number, payload: Buffer): Promise<void> {
    switch (kind) {
      case FrameKind.SnapshotBegin: {
        if (this.message !== undefined) throw new FrameError('second SnapshotBegin on one connection');
        const m = decodeMessage(payload);
        if (m.type !== MessageType.MsgSnap || m.snapshot === undefined)
          throw new FrameError('SnapshotBegin does not carry a MsgSnap');
        this.message = m;
        const path = join(this.o.dir, `${PART_PREFIX}${randomUUID()}${PART_SUFFIX}`);
        this.file = { path, fh: await open(path, 'wx') };
        return;
      }
      case FrameKind.SnapshotChunk: {
        const file = this.file;
        if (file === undefined) throw new FrameError('snapshot chunk before SnapshotBegin');
        if (this.size + payload.byteLength > this.o.maxBytes)
          throw new FrameError(`snapshot exceeds the limit of ${this.o.maxBytes} bytes`);
        this.crc = crc32(payload, this.crc);
        await file.fh.write(payload, 0, payload.byteLength, this.size);
        this.size += payload.byteLength;
        return;
      }
      case FrameKind.SnapshotEnd: {
        const m = this.message;
        const file = this.file;
        if (m === undefined || file === undefined || m.snapshot === undefined)
          throw new FrameError('SnapshotEnd before SnapshotBegin');
        if (payload.byteLength !== 12)
          throw new FrameError('SnapshotEnd is not 12 bytes (u64 size, u32 CRC)');
        const size = Number(payload.readBigUInt64BE(0));
        const crc = payload.readUInt32BE(8);
        if (size !== this.size)
          throw new FrameError(`snapshot ended after ${this.size} bytes, the sender announced ${size}`);
        if (crc !== this.crc >>> 0) {
          throw new FrameError(
            `snapshot at index ${m.snapshot.metadata.index}: CRC-32 of the ${size} bytes received is ` +
              `${(this.crc >>> 0).toString(16)}, the sender's is ${crc.toString(16)}`,
          );
        }
        await file.fh.close();
        this.file = undefined;
        this.finished = true;
        const source = fileSource(file.path, size, crc);
        try {
          this.o.deliver({ ...m, snapshot: { ...m.snapshot, data: new Uint8Array(0) } }, source);
        } catch (err) {
          await source.release();
          throw err;
        }
        return;
      }
      default:
        throw new FrameError(`unexpected frame kind ${kind} on a snapshot connection`);
    }
  }

  /** Deletes the temporary file of a transfer that did not complete. */
  private async discard(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    if (file === undefined) return;
    await file.fh.close().catch(() => undefined);
    await unlink(file.path).catch(() => undefined);
  }
}

/**
 * The received file as a {@link SnapshotSource}: streamed in {@link READ_CHUNK_BYTES} chunks, its CRC checked
 * again as it is read (a stream over a file changed since it was received fails at its end).
 */
export function fileSource(path: string, size: number, crc: number): SnapshotSource {
  let released = false;
  return {
    size,
    async *stream() {
      if (released) throw new Error(`snapshot file ${path} was already released`);
      let seen = 0;
      let at = 0;
      for await (const chunk of createReadStream(path, {
        highWaterMark: READ_CHUNK_BYTES,
      }) as AsyncIterable<Buffer>) {
        seen = crc32(chunk, seen);
        at += chunk.byteLength;
        yield chunk;
      }
      if (at !== size || seen >>> 0 !== crc) {
        throw new Error(
          `snapshot file ${path}: ${at} bytes with CRC-32 ${(seen >>> 0).toString(16)}, expected ${size} with ${crc.toString(16)}`,
        );
      }
    },
    async release() {
      if (released) return;
      released = true;
      await unlink(path).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    },
  };
}
