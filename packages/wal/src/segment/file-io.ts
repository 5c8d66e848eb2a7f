import { fdatasync, fdatasyncSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/**
 * The file operations the WAL's write path goes through. Internal: tests replace these functions to inject
 * write and fsync failures (and restore them after); production code never does. Not exported by the package.
 */
export const fileIo = {
  /**
   * Writes all of `buf[from, to)` at `position`, synchronously: it only copies into the page cache
   * (microseconds), and skipping a thread-pool round trip per batch matters more than those microseconds.
   * Durability comes from {@link datasync}, which does go to the thread pool so the event loop keeps running.
   */
  writeAll(fh: FileHandle, buf: Uint8Array, from: number, to: number, position: number): void {
    let done = from;
    while (done < to) done += writeSync(fh.fd, buf, done, to - done, position + done - from);
  },
  /** fdatasync through the callback API (cheaper than FileHandle's promise machinery). */
  datasync(fh: FileHandle): Promise<void> {
    return new Promise((resolve, reject) => fdatasync(fh.fd, (err) => (err ? reject(err) : resolve())));
  },
  /** fdatasync on the main thread (`syncMode: 'inline'`): no thread-pool hand-off, but the event loop waits. */
  datasyncInline(fh: FileHandle): void {
    fdatasyncSync(fh.fd);
  },
  async truncate(fh: FileHandle, length: number): Promise<void> {
    await fh.truncate(length);
  },
};

/** fsyncs a directory so that creates, renames and unlinks in it are durable (Linux, macOS). */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

const ZERO_CHUNK = new Uint8Array(1 << 20);

/**
 * Writes zeros over `[from, to)` of the file, through the thread pool: preallocating a 64 MB segment must not
 * occupy the event loop (the record writes of {@link fileIo.writeAll} are small page-cache copies; this is not).
 * One writev of the same zero chunk repeated: one thread-pool round trip instead of one per chunk.
 */
export async function writeZeros(fh: FileHandle, from: number, to: number): Promise<void> {
  let pos = from;
  while (pos < to) {
    const chunks: Uint8Array[] = [];
    for (let p = pos; p < to && chunks.length < MAX_IOV; p += ZERO_CHUNK.byteLength) {
      chunks.push(ZERO_CHUNK.subarray(0, Math.min(ZERO_CHUNK.byteLength, to - p)));
    }
    const { bytesWritten } = await fh.writev(chunks, pos);
    if (bytesWritten <= 0) throw new Error(`writev of zeros wrote ${bytesWritten} bytes at ${pos}`);
    pos += bytesWritten;
  }
}

/** Vectors per writev (IOV_MAX is 1024 on Linux and macOS). */
const MAX_IOV = 1024;
