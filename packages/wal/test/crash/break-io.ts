import type { FileHandle } from 'node:fs/promises';
import type { FileIo } from '../../src/fs/file-io.js';

/** A call a broken file-io layer may drop: the operation and the path it is on (a handle's path when opened). */
export interface DroppedCall {
  op: 'datasync' | 'fsyncDir';
  path: string;
}

/**
 * A deliberately broken file-io layer over `inner`: the syncs `drop` selects return without doing anything
 * (so the recorder below never sees them). For the mutation tests: the explorer must report what they lose.
 */
export function dropSyncs(inner: FileIo, drop: (call: DroppedCall) => boolean): FileIo {
  const paths = new WeakMap<FileHandle, string>();
  return {
    open: async (path, flags) => {
      const fh = await inner.open(path, flags);
      paths.set(fh, path);
      return fh;
    },
    writeAll: (fh, buf, from, to, position) => inner.writeAll(fh, buf, from, to, position),
    write: (fh, bytes, position) => inner.write(fh, bytes, position),
    writeZeros: (fh, from, to) => inner.writeZeros(fh, from, to),
    datasync: async (fh) => {
      if (!drop({ op: 'datasync', path: paths.get(fh) ?? '' })) await inner.datasync(fh);
    },
    datasyncInline: (fh) => {
      if (!drop({ op: 'datasync', path: paths.get(fh) ?? '' })) inner.datasyncInline(fh);
    },
    truncate: (fh, length) => inner.truncate(fh, length),
    rename: (from, to) => inner.rename(from, to),
    unlink: (path) => inner.unlink(path),
    mkdir: (path, options) => inner.mkdir(path, options),
    rmdir: (path) => inner.rmdir(path),
    rmTree: (path) => inner.rmTree(path),
    copyFile: (src, dst) => inner.copyFile(src, dst),
    fsyncDir: async (dir) => {
      if (!drop({ op: 'fsyncDir', path: dir })) await inner.fsyncDir(dir);
    },
  };
}
