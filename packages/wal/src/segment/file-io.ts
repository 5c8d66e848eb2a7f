import { open, type FileHandle } from 'node:fs/promises';

/**
 * The file operations the WAL's write path goes through. Internal: tests replace these functions to inject
 * write and fsync failures (and restore them after); production code never does. Not exported by the package.
 */
export const fileIo = {
  /** Writes all of `buf[0, length)` at `position`. */
  async writeAll(fh: FileHandle, buf: Uint8Array, length: number, position: number): Promise<void> {
    let done = 0;
    while (done < length) {
      const { bytesWritten } = await fh.write(buf, done, length - done, position + done);
      done += bytesWritten;
    }
  },
  async datasync(fh: FileHandle): Promise<void> {
    await fh.datasync();
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

/** Writes zeros over `[from, to)` of the file. */
export async function writeZeros(fh: FileHandle, from: number, to: number): Promise<void> {
  for (let pos = from; pos < to; pos += ZERO_CHUNK.byteLength) {
    await fileIo.writeAll(fh, ZERO_CHUNK, Math.min(ZERO_CHUNK.byteLength, to - pos), pos);
  }
}
