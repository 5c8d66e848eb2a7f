import { fdatasync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/**
 * The file operations the WAL's write path goes through. Internal: tests replace these functions to inject
 * write and fsync failures (and restore them after); production code never does. Not exported by the package.
 */
export const fileIo = {
  /**
   * Writes all of `buf[0, length)` at `position`. The write itself is synchronous: it only copies into the page
   * cache (microseconds), and skipping a thread-pool round trip per batch matters more than those microseconds.
   * Durability comes from {@link datasync}, which does go to the thread pool so the event loop keeps running.
   */
  async writeAll(fh: FileHandle, buf: Uint8Array, length: number, position: number): Promise<void> {
    let done = 0;
    while (done < length) done += writeSync(fh.fd, buf, done, length - done, position + done);
  },
  /** fdatasync through the callback API (cheaper than FileHandle's promise machinery). */
  datasync(fh: FileHandle): Promise<void> {
    return new Promise((resolve, reject) => fdatasync(fh.fd, (err) => (err ? reject(err) : resolve())));
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
 * occupy the event loop (the record writes of {@link fileIo.writeAll} are small page-cache copies; these are not).
 */
export async function writeZeros(fh: FileHandle, from: number, to: number): Promise<void> {
  for (let pos = from; pos < to; pos += ZERO_CHUNK.byteLength) {
    const length = Math.min(ZERO_CHUNK.byteLength, to - pos);
    let done = 0;
    while (done < length) done += (await fh.write(ZERO_CHUNK, done, length - done, pos + done)).bytesWritten;
  }
}
