import { readFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { isAbsolute, relative, sep } from 'node:path';
import { realFileIo, type FileIo } from '../../src/fs/file-io.js';
import {
  IGNORED,
  ROOT,
  type Ino,
  type Recording,
  type TraceEvent,
  type Tree,
  type TreeNode,
} from './trace.js';

/**
 * A {@link FileIo} that delegates every call to `inner` (the real file system) and, once it has returned,
 * records it as trace events against a model of the tree under `root` (inodes and directory entries, as the
 * page cache holds them). Calls on paths outside `root`, and on the writer lock, are not recorded.
 */
export class RecordingFileIo implements FileIo {
  readonly trace: TraceEvent[] = [];
  /** The tree the recording started from (durable), and the tree as the calls so far left it. */
  private readonly initial: Tree;
  private readonly tree: Tree;
  private readonly handles = new WeakMap<FileHandle, { ino: Ino; path: string }>();

  constructor(
    private readonly root: string,
    initial: Tree,
    private readonly inner: FileIo = realFileIo,
  ) {
    this.initial = cloneTree(initial);
    this.tree = cloneTree(initial);
  }

  /** What was recorded so far. */
  recording(): Recording {
    return { initial: this.initial, trace: this.trace };
  }

  /** Records that the workload saw something complete (an acknowledgement the checkers hold the code to). */
  mark(value: unknown): void {
    this.trace.push({ op: 'mark', value });
  }

  async open(path: string, flags: 'r+' | 'w' | 'w+'): Promise<FileHandle> {
    const fh = await this.inner.open(path, flags);
    const loc = this.locate(path);
    if (loc === undefined) return fh;
    let ino = this.lookup(loc.parts);
    if (ino === undefined) {
      ino = this.create(loc.parts, loc.rel, false);
    } else if (flags !== 'r+' && this.file(ino).data.byteLength > 0) {
      this.file(ino).data = new Uint8Array(0);
      this.trace.push({ op: 'truncate', ino, size: 0, path: loc.rel });
    }
    this.handles.set(fh, { ino, path: loc.rel });
    return fh;
  }

  writeAll(fh: FileHandle, buf: Uint8Array, from: number, to: number, position: number): void {
    this.inner.writeAll(fh, buf, from, to, position);
    this.recordWrite(fh, buf.slice(from, to), position);
  }

  async write(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
    const copy = bytes.slice();
    await this.inner.write(fh, bytes, position);
    this.recordWrite(fh, copy, position);
  }

  async writeZeros(fh: FileHandle, from: number, to: number): Promise<void> {
    await this.inner.writeZeros(fh, from, to);
    if (to > from) this.recordWrite(fh, new Uint8Array(to - from), from);
  }

  async datasync(fh: FileHandle): Promise<void> {
    const from = this.trace.length;
    await this.inner.datasync(fh);
    this.recordSync(fh, from);
  }

  datasyncInline(fh: FileHandle): void {
    const from = this.trace.length;
    this.inner.datasyncInline(fh);
    this.recordSync(fh, from);
  }

  async truncate(fh: FileHandle, length: number): Promise<void> {
    await this.inner.truncate(fh, length);
    const h = this.handles.get(fh);
    if (h === undefined) return;
    this.file(h.ino).data = resize(this.file(h.ino).data, length);
    this.trace.push({ op: 'truncate', ino: h.ino, size: length, path: this.pathOf(h.ino, h.path) });
  }

  async rename(from: string, to: string): Promise<void> {
    await this.inner.rename(from, to);
    const src = this.locate(from);
    const dst = this.locate(to);
    if (src === undefined || dst === undefined) return;
    const ino = this.lookup(src.parts);
    if (ino === undefined) throw new Error(`recorder: rename of ${src.rel}, which the model does not have`);
    const fromDir = this.parentOf(src.parts);
    const toDir = this.parentOf(dst.parts);
    const fromName = last(src.parts);
    const toName = last(dst.parts);
    this.dir(fromDir).entries.delete(fromName);
    this.dir(toDir).entries.set(toName, ino);
    this.trace.push({
      op: 'rename',
      fromParent: fromDir,
      fromName,
      toParent: toDir,
      toName,
      ino,
      path: `${src.rel} -> ${dst.rel}`,
    });
  }

  async unlink(path: string): Promise<void> {
    await this.inner.unlink(path);
    this.recordUnlink(path);
  }

  async rmdir(path: string): Promise<void> {
    await this.inner.rmdir(path);
    this.recordUnlink(path);
  }

  async rmTree(path: string): Promise<void> {
    const loc = this.locate(path);
    const ino = loc === undefined ? undefined : this.lookup(loc.parts);
    await this.inner.rmTree(path);
    if (loc === undefined || ino === undefined) return;
    const removeUnder = (parts: string[], at: Ino): void => {
      const node = this.node(at);
      if (node.dir) for (const [name, child] of [...node.entries]) removeUnder([...parts, name], child);
      this.recordUnlinkAt(parts);
    };
    removeUnder(loc.parts, ino);
  }

  async mkdir(path: string, options?: { recursive?: boolean }): Promise<void> {
    await this.inner.mkdir(path, options);
    const loc = this.locate(path);
    if (loc === undefined) return;
    for (let i = 1; i <= loc.parts.length; i++) {
      const parts = loc.parts.slice(0, i);
      if (this.lookup(parts) === undefined) this.create(parts, parts.join('/'), true);
    }
  }

  async copyFile(src: string, dst: string): Promise<void> {
    await this.inner.copyFile(src, dst);
    const loc = this.locate(dst);
    if (loc === undefined) return;
    const bytes = new Uint8Array(await readFile(dst));
    let ino = this.lookup(loc.parts);
    if (ino === undefined) {
      ino = this.create(loc.parts, loc.rel, false);
    } else if (this.file(ino).data.byteLength > 0) {
      this.file(ino).data = new Uint8Array(0);
      this.trace.push({ op: 'truncate', ino, size: 0, path: loc.rel });
    }
    this.applyWrite(ino, bytes, 0, loc.rel);
  }

  async fsyncDir(dir: string): Promise<void> {
    const from = this.trace.length;
    await this.inner.fsyncDir(dir);
    const loc = this.locate(dir);
    if (loc === undefined) return;
    const ino = this.lookup(loc.parts);
    if (ino === undefined)
      throw new Error(`recorder: fsync of directory ${loc.rel}, which the model does not have`);
    this.trace.push({ op: 'sync', ino, from, path: loc.rel === '' ? '.' : loc.rel });
  }

  // --- the model ---

  /** The path split into components relative to the root, or undefined when outside it or ignored. */
  private locate(path: string): { parts: string[]; rel: string } | undefined {
    const rel = relative(this.root, path);
    if (rel.startsWith('..') || isAbsolute(rel)) return undefined;
    const parts = rel === '' ? [] : rel.split(sep);
    if (parts.length > 0 && IGNORED.test(last(parts))) return undefined;
    return { parts, rel };
  }

  private lookup(parts: readonly string[]): Ino | undefined {
    let at: Ino = ROOT;
    for (const name of parts) {
      const node = this.node(at);
      if (!node.dir) return undefined;
      const next = node.entries.get(name);
      if (next === undefined) return undefined;
      at = next;
    }
    return at;
  }

  private parentOf(parts: readonly string[]): Ino {
    const parent = this.lookup(parts.slice(0, -1));
    if (parent === undefined) throw new Error(`recorder: no parent directory for ${parts.join('/')}`);
    return parent;
  }

  private create(parts: readonly string[], rel: string, dir: boolean): Ino {
    const parent = this.parentOf(parts);
    const ino = this.tree.next++;
    this.tree.nodes.set(
      ino,
      dir ? { dir: true, entries: new Map() } : { dir: false, data: new Uint8Array(0) },
    );
    this.dir(parent).entries.set(last(parts), ino);
    this.trace.push({ op: 'create', parent, name: last(parts), ino, dir, path: rel });
    return ino;
  }

  private recordUnlink(path: string): void {
    const loc = this.locate(path);
    if (loc !== undefined) this.recordUnlinkAt(loc.parts);
  }

  private recordUnlinkAt(parts: readonly string[]): void {
    const ino = this.lookup(parts);
    if (ino === undefined) return;
    const parent = this.parentOf(parts);
    this.dir(parent).entries.delete(last(parts));
    this.trace.push({ op: 'unlink', parent, name: last(parts), ino, path: parts.join('/') });
  }

  private recordWrite(fh: FileHandle, bytes: Uint8Array, position: number): void {
    const h = this.handles.get(fh);
    if (h !== undefined) this.applyWrite(h.ino, bytes, position, this.pathOf(h.ino, h.path));
  }

  /** Where the inode is now (a handle's file may have been renamed since it was opened), for reports. */
  private pathOf(ino: Ino, opened: string): string {
    const find = (at: Ino, prefix: string): string | undefined => {
      const n = this.node(at);
      if (!n.dir) return undefined;
      for (const [name, child] of n.entries) {
        const p = prefix === '' ? name : `${prefix}/${name}`;
        if (child === ino) return p;
        const deeper = find(child, p);
        if (deeper !== undefined) return deeper;
      }
      return undefined;
    };
    return find(ROOT, '') ?? `${opened} (unlinked)`;
  }

  private applyWrite(ino: Ino, bytes: Uint8Array, position: number, path: string): void {
    const f = this.file(ino);
    f.data = writeInto(f.data, bytes, position);
    this.trace.push({ op: 'write', ino, offset: position, bytes, path });
  }

  private recordSync(fh: FileHandle, from: number): void {
    const h = this.handles.get(fh);
    if (h !== undefined) this.trace.push({ op: 'sync', ino: h.ino, from, path: this.pathOf(h.ino, h.path) });
  }

  private node(ino: Ino): TreeNode {
    const n = this.tree.nodes.get(ino);
    if (n === undefined) throw new Error(`recorder: unknown inode ${ino}`);
    return n;
  }

  private dir(ino: Ino): { dir: true; entries: Map<string, Ino> } {
    const n = this.node(ino);
    if (!n.dir) throw new Error(`recorder: inode ${ino} is not a directory`);
    return n;
  }

  private file(ino: Ino): { dir: false; data: Uint8Array } {
    const n = this.node(ino);
    if (n.dir) throw new Error(`recorder: inode ${ino} is a directory`);
    return n;
  }
}

function last(parts: readonly string[]): string {
  const name = parts[parts.length - 1];
  if (name === undefined) throw new Error('recorder: the root has no name');
  return name;
}

/** `data` with `bytes` written at `position` (grown, zero-filled, as needed). */
export function writeInto(data: Uint8Array, bytes: Uint8Array, position: number): Uint8Array {
  const out = resize(data, Math.max(data.byteLength, position + bytes.byteLength));
  out.set(bytes, position);
  return out;
}

/** A copy of `data` cut or zero-extended to `size`. */
export function resize(data: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  out.set(data.subarray(0, Math.min(size, data.byteLength)));
  return out;
}

export function cloneTree(t: Tree): Tree {
  const nodes = new Map<Ino, TreeNode>();
  for (const [ino, n] of t.nodes) {
    nodes.set(ino, n.dir ? { dir: true, entries: new Map(n.entries) } : { dir: false, data: n.data.slice() });
  }
  return { nodes, next: t.next };
}
