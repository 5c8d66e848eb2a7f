import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** An inode number of the recorded tree; the root directory is {@link ROOT}. */
export type Ino = number;
export const ROOT: Ino = 0;

/**
 * One recorded call, in the order the calls completed (what the page cache saw). Paths are relative to the
 * recorded root and only for reports; the model works on inodes, so a rename or an unlinked-but-open file is
 * exact.
 */
export type TraceEvent =
  | { op: 'create'; parent: Ino; name: string; ino: Ino; dir: boolean; path: string }
  | { op: 'write'; ino: Ino; offset: number; bytes: Uint8Array; path: string }
  | { op: 'truncate'; ino: Ino; size: number; path: string }
  | { op: 'rename'; fromParent: Ino; fromName: string; toParent: Ino; toName: string; ino: Ino; path: string }
  | { op: 'unlink'; parent: Ino; name: string; ino: Ino; path: string }
  /**
   * fsync/fdatasync of a file, or fsync of a directory. `from` is the trace length when the call started: it
   * makes durable the inode's changes recorded before `from` (a change made while the sync ran may miss it).
   */
  | { op: 'sync'; ino: Ino; from: number; path: string }
  /** Not a file operation: the workload saw a promise resolve (ALICE's "stdout"); checkers read these. */
  | { op: 'mark'; value: unknown };

/** A file or directory of a tree: a file's bytes, or a directory's entries. */
export type TreeNode = { dir: false; data: Uint8Array } | { dir: true; entries: Map<string, Ino> };

/** A tree as inodes: `nodes.get(ROOT)` is the root directory. */
export interface Tree {
  nodes: Map<Ino, TreeNode>;
  next: Ino;
}

/** Files whose content is outside the model: the writer lock holds a pid, meaningless after a reboot. */
export const IGNORED = /^wal\.lock/;

/** Reads the tree under `root` (the state a recording starts from, taken as durable). */
export async function captureTree(root: string): Promise<Tree> {
  const tree: Tree = { nodes: new Map(), next: ROOT };
  const walk = async (abs: string): Promise<Ino> => {
    const entries = new Map<string, Ino>();
    const ino = tree.next++;
    tree.nodes.set(ino, { dir: true, entries });
    for (const d of await readdir(abs, { withFileTypes: true })) {
      if (IGNORED.test(d.name)) continue;
      const p = join(abs, d.name);
      if (d.isDirectory()) entries.set(d.name, await walk(p));
      else if (d.isFile()) {
        const f = tree.next++;
        tree.nodes.set(f, { dir: false, data: new Uint8Array(await readFile(p)) });
        entries.set(d.name, f);
      }
    }
    return ino;
  };
  await walk(root);
  return tree;
}

/** A recording: the tree it started from and the calls made. */
export interface Recording {
  initial: Tree;
  trace: TraceEvent[];
}

/** Writes a recording as JSON (bytes in base64), so that a failing exploration can be rerun on the same trace. */
export async function saveRecording(file: string, rec: Recording): Promise<void> {
  const replacer = (_k: string, v: unknown): unknown => {
    if (v instanceof Uint8Array) return { $b64: Buffer.from(v).toString('base64') };
    if (v instanceof Map) return { $map: [...(v as Map<unknown, unknown>).entries()] };
    return v;
  };
  await writeFile(file, JSON.stringify(rec, replacer));
}

/** Reads what {@link saveRecording} wrote. */
export async function loadRecording(file: string): Promise<Recording> {
  const reviver = (_k: string, v: unknown): unknown => {
    if (v !== null && typeof v === 'object' && '$b64' in v) {
      return new Uint8Array(Buffer.from((v as { $b64: string }).$b64, 'base64'));
    }
    if (v !== null && typeof v === 'object' && '$map' in v) return new Map((v as { $map: [] }).$map);
    return v;
  };
  return JSON.parse(await readFile(file, 'utf8'), reviver) as Recording;
}
