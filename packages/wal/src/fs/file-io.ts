import { fdatasync, fdatasyncSync, writeSync } from 'node:fs';
import { copyFile, mkdir, open, rename, rm, rmdir, unlink, type FileHandle } from 'node:fs/promises';

/**
 * Every file-system call of `@x/wal` and `SnapshotStore` that changes what is on disk, or makes it durable. Reads
 * (readdir, stat, reading files) and the writer lock (`wal.lock`, a pid that means nothing after a reboot) go to
 * `node:fs` directly.
 *
 * Internal, for testing: {@link fileIo} is the one instance the code calls, and tests replace its methods (with
 * {@link installFileIo}) to inject write and fsync failures, or to record every call for the crash-state
 * explorer (`test/crash/`). Production code never replaces it. Not exported by the package.
 *
 * Invariant the crash explorer relies on: a file's bytes change only through `writeAll`, `write`, `writeZeros`,
 * `truncate`, `copyFile` and the truncation of `open(path, 'w' | 'w+')`, and a directory's entries only through
 * `open` (create), `mkdir`, `rename`, `unlink`, `rmdir`, `rm` and `copyFile`.
 */
export interface FileIo {
  /** Opens a file: `'r+'` (must exist), `'w'`/`'w+'` (created, or truncated to 0). */
  open(path: string, flags: 'r+' | 'w' | 'w+'): Promise<FileHandle>;
  /**
   * Writes all of `buf[from, to)` at `position`, synchronously: it only copies into the page cache
   * (microseconds), and skipping a thread-pool round trip per batch matters more than those microseconds.
   * Durability comes from {@link datasync}, which does go to the thread pool so the event loop keeps running.
   */
  writeAll(fh: FileHandle, buf: Uint8Array, from: number, to: number, position: number): void;
  /** Writes all of `bytes` at `position`, through the thread pool. */
  write(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void>;
  /** Writes zeros over `[from, to)`, through the thread pool (a segment fill must not occupy the event loop). */
  writeZeros(fh: FileHandle, from: number, to: number): Promise<void>;
  /** fdatasync through the callback API (cheaper than FileHandle's promise machinery). */
  datasync(fh: FileHandle): Promise<void>;
  /** fdatasync on the main thread (`syncMode: 'inline'`): no thread-pool hand-off, but the event loop waits. */
  datasyncInline(fh: FileHandle): void;
  truncate(fh: FileHandle, length: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  mkdir(path: string, options?: { recursive?: boolean }): Promise<void>;
  /** Removes an empty directory. */
  rmdir(path: string): Promise<void>;
  /** Removes a file or a directory tree; nothing there is not an error. */
  rmTree(path: string): Promise<void>;
  /** Copies `src` to `dst` (created or truncated). */
  copyFile(src: string, dst: string): Promise<void>;
  /** fsyncs a directory so that creates, renames and unlinks in it are durable (Linux, macOS). */
  fsyncDir(dir: string): Promise<void>;
}

const ZERO_CHUNK = new Uint8Array(1 << 20);

/** Vectors per writev (IOV_MAX is 1024 on Linux and macOS). */
const MAX_IOV = 1024;

/** The real file system. */
export const realFileIo: Readonly<FileIo> = Object.freeze({
  open: (path: string, flags: 'r+' | 'w' | 'w+') => open(path, flags),
  writeAll(fh: FileHandle, buf: Uint8Array, from: number, to: number, position: number): void {
    let done = from;
    while (done < to) done += writeSync(fh.fd, buf, done, to - done, position + done - from);
  },
  async write(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
    let off = 0;
    while (off < bytes.byteLength) {
      const { bytesWritten } = await fh.write(bytes, off, bytes.byteLength - off, position + off);
      off += bytesWritten;
    }
  },
  // One writev of the same zero chunk repeated: one thread-pool round trip instead of one per chunk.
  async writeZeros(fh: FileHandle, from: number, to: number): Promise<void> {
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
  },
  datasync(fh: FileHandle): Promise<void> {
    return new Promise((resolve, reject) => fdatasync(fh.fd, (err) => (err ? reject(err) : resolve())));
  },
  datasyncInline(fh: FileHandle): void {
    fdatasyncSync(fh.fd);
  },
  async truncate(fh: FileHandle, length: number): Promise<void> {
    await fh.truncate(length);
  },
  rename: (from: string, to: string) => rename(from, to),
  unlink: (path: string) => unlink(path),
  async mkdir(path: string, options?: { recursive?: boolean }): Promise<void> {
    await mkdir(path, options);
  },
  rmdir: (path: string) => rmdir(path),
  rmTree: (path: string) => rm(path, { recursive: true, force: true }),
  copyFile: (src: string, dst: string) => copyFile(src, dst),
  async fsyncDir(dir: string): Promise<void> {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
});

/** The file-io layer the WAL and the snapshot store call (see {@link FileIo}). */
export const fileIo: FileIo = { ...realFileIo };

/**
 * For tests: makes the WAL and the snapshot store call `impl` (every method of it) until the returned function
 * is called, which puts back what was installed before.
 *
 * @example
 * ```ts
 * const restore = installFileIo({ ...realFileIo, datasync: async () => { throw new Error('EIO'); } });
 * try { await expect(wal.saveEntry(ents)).rejects.toThrow(); } finally { restore(); }
 * ```
 */
export function installFileIo(impl: FileIo): () => void {
  const before = { ...fileIo };
  // Method by method, bound: `impl` may be a class instance, whose methods Object.assign would not copy.
  const target = fileIo as unknown as Record<string, unknown>;
  const source = impl as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of Object.keys(realFileIo)) target[name] = source[name]?.bind(impl);
  return () => void Object.assign(fileIo, before);
}
