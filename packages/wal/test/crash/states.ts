import { createHash } from 'node:crypto';
import { cloneTree, resize, writeInto } from './recorder.js';
import { ROOT, type Ino, type Recording, type TraceEvent, type Tree } from './trace.js';

/**
 * The persistence model (see RELIABILITY.md):
 * - File data persists up to the last fsync/fdatasync of the file; after it, the unsynced writes and truncates
 *   of the file persist as a prefix of them in program order, cut into `sector`-sized pieces aligned to the
 *   file offset (ext4 data=ordered: no garbage, no reordering within a file). In `reorder` mode (sampled), each
 *   piece may also persist or not independently of the others (etcd #6378's zero holes), or as zeros over its
 *   range (a size change persisted without the data: delayed allocation, ALICE's "zero written").
 * - A create, mkdir, rename, unlink or rmdir persists once its directory (both directories, for a rename) is
 *   fsynced, and any subset of the unsynced ones may persist earlier, independently. A rename is atomic.
 * - A crash can happen after any recorded call.
 */
export interface ModelOptions {
  /** Tear unit of unsynced writes, bytes; default 512 (one disk sector). */
  sector: number;
  /**
   * Most states per crash point: all combinations when there are at most this many, else the corner cases
   * (nothing unsynced, everything, one choice varied at a time, directory ops as prefixes) and seeded random
   * combinations up to this many.
   */
  maxPerPoint: number;
  /** Also sample non-prefix subsets of each file's unsynced pieces, and pieces persisted as zeros. */
  reorder: boolean;
  seed: number;
}

/** A crash state: the files a crash after `position` trace events may leave. */
export interface CrashState {
  /** The crash happened after `trace[0 .. position)`. */
  position: number;
  /** Paths relative to the root, a file's bytes or `null` for a directory; parents before children. */
  files: Map<string, Uint8Array | null>;
  /** Hash of `files`: equal states are checked once. */
  key: string;
  /** The `mark` values recorded before `position`. */
  marks: unknown[];
  /** Which unsynced operations this state kept and dropped. */
  describe(): string;
}

type Piece = { offset: number; bytes: Uint8Array } | { size: number };

/**
 * How much of a file's unsynced pieces a state keeps: a prefix of `k`, or (reorder mode) per piece one of
 * {@link DROP}, {@link KEEP}, {@link ZEROS}.
 */
type DataChoice = number | PieceFate[];
const DROP = 0;
const KEEP = 1;
const ZEROS = 2;
type PieceFate = typeof DROP | typeof KEEP | typeof ZEROS;

interface Point {
  /** Per inode with unsynced data: where its durable part ends (a trace index) and the unsynced pieces. */
  data: { ino: Ino; cutoff: number; pieces: Piece[]; path: string }[];
  /** Indexes of unsynced directory operations. */
  dirOps: number[];
  /** Indexes of durable directory operations. */
  durableDirOps: number[];
  cutoffs: Map<Ino, number>;
}

/** How many crash points had all their combinations generated, and how many were sampled. */
export interface StateStats {
  exhaustivePoints: number;
  sampledPoints: number;
}

/** Every crash state of `rec` under the model, crash point by crash point; counts into `stats`. */
export function* crashStates(rec: Recording, o: ModelOptions, stats?: StateStats): Generator<CrashState> {
  const gen = new StateBuilder(rec, o, stats);
  for (let p = 0; p <= rec.trace.length; p++) {
    // A mark changes no file: its states are those of the point before it, with one more acknowledgement.
    yield* gen.statesAt(p);
  }
}

class StateBuilder {
  private readonly contentCache = new Map<string, Uint8Array>();
  private readonly hashCache = new WeakMap<Uint8Array, string>();
  private readonly trace: TraceEvent[];

  constructor(
    private readonly rec: Recording,
    private readonly o: ModelOptions,
    private readonly stats: StateStats | undefined,
  ) {
    this.trace = rec.trace;
  }

  *statesAt(p: number): Generator<CrashState> {
    const point = this.point(p);
    const marks: unknown[] = [];
    for (let i = 0; i < p; i++) {
      const e = this.trace[i] as TraceEvent;
      if (e.op === 'mark') marks.push(e.value);
    }
    const sizes = [...point.data.map((d) => d.pieces.length + 1), ...point.dirOps.map(() => 2)];
    const rng = mulberry32((this.o.seed ^ Math.imul(p + 1, 0x9e3779b1)) >>> 0);
    if (this.stats !== undefined) {
      if (this.o.reorder || sizes.reduce((a, b) => a * b, 1) > this.o.maxPerPoint) this.stats.sampledPoints++;
      else this.stats.exhaustivePoints++;
    }
    for (const combo of combos(sizes, point.data.length, this.o, rng)) {
      yield this.state(p, point, combo, marks);
    }
  }

  /** What is durable and what is not, after `trace[0 .. p)`. */
  private point(p: number): Point {
    // Per inode, the `from` of its last completed sync: its changes before that are durable.
    const cutoffs = new Map<Ino, number>();
    for (let i = 0; i < p; i++) {
      const e = this.trace[i] as TraceEvent;
      if (e.op === 'sync') cutoffs.set(e.ino, Math.max(cutoffs.get(e.ino) ?? 0, e.from));
    }
    const durableIn = (dir: Ino, i: number): boolean => (cutoffs.get(dir) ?? 0) > i;
    const dataOps = new Map<Ino, { pieces: Piece[]; path: string }>();
    const dirOps: number[] = [];
    const durableDirOps: number[] = [];
    // The name each inode had last (for reports).
    const names = new Map<Ino, string>();
    for (let i = 0; i < p; i++) {
      const e = this.trace[i] as TraceEvent;
      if (e.op === 'create') names.set(e.ino, e.path);
      if (e.op === 'rename') names.set(e.ino, e.path.split(' -> ')[1] ?? e.path);
      switch (e.op) {
        case 'write':
        case 'truncate': {
          if ((cutoffs.get(e.ino) ?? 0) > i) break;
          const d = dataOps.get(e.ino) ?? { pieces: [], path: e.path };
          if (e.op === 'truncate') d.pieces.push({ size: e.size });
          else d.pieces.push(...splitWrite(e.offset, e.bytes, this.o.sector));
          dataOps.set(e.ino, d);
          break;
        }
        case 'create':
        case 'unlink':
          (durableIn(e.parent, i) ? durableDirOps : dirOps).push(i);
          break;
        case 'rename':
          (durableIn(e.fromParent, i) && durableIn(e.toParent, i) ? durableDirOps : dirOps).push(i);
          break;
        default:
          break;
      }
    }
    // A file no state can reach (deleted for good) is no dimension: its bytes cannot matter.
    const reachable = new Set<Ino>();
    for (const ops of [durableDirOps, [...durableDirOps, ...dirOps].sort((a, b) => a - b)]) {
      const tree = this.treeWithInodes(p);
      for (const i of ops) applyDirOp(tree, this.trace[i] as TraceEvent);
      for (const ino of reachableFrom(tree)) reachable.add(ino);
    }
    for (const i of dirOps) {
      const e = this.trace[i] as TraceEvent;
      if (e.op === 'create' || e.op === 'rename') reachable.add(e.ino);
    }
    const data = [...dataOps]
      .filter(([ino]) => reachable.has(ino))
      .map(([ino, d]) => ({
        ino,
        cutoff: cutoffs.get(ino) ?? 0,
        pieces: d.pieces,
        path: names.get(ino) ?? d.path,
      }));
    return { data, dirOps, durableDirOps, cutoffs };
  }

  private state(p: number, point: Point, combo: Choice[], marks: unknown[]): CrashState {
    const nData = point.data.length;
    const kept = new Set(point.durableDirOps);
    point.dirOps.forEach((i, k) => {
      if (combo[nData + k] === 1) kept.add(i);
    });
    // Directory entries: the initial tree, then the kept directory operations in program order.
    const tree = this.treeWithInodes(p);
    for (let i = 0; i < p; i++) if (kept.has(i)) applyDirOp(tree, this.trace[i] as TraceEvent);
    const choiceOf = new Map<Ino, { choice: DataChoice; cutoff: number; pieces: Piece[] }>();
    point.data.forEach((d, k) =>
      choiceOf.set(d.ino, { choice: combo[k] as DataChoice, cutoff: d.cutoff, pieces: d.pieces }),
    );
    const files = new Map<string, Uint8Array | null>();
    const hash = createHash('sha1');
    const walk = (ino: Ino, path: string, seen: Set<Ino>): void => {
      const node = tree.nodes.get(ino);
      if (node === undefined || !node.dir) return;
      for (const name of [...node.entries.keys()].sort()) {
        const child = node.entries.get(name) as Ino;
        const childPath = path === '' ? name : `${path}/${name}`;
        const c = tree.nodes.get(child);
        if (c === undefined) continue;
        if (c.dir) {
          if (seen.has(child)) continue; // a directory reachable twice (a rename kept in one dir only)
          files.set(childPath, null);
          hash.update(`d:${childPath}\n`);
          walk(child, childPath, new Set([...seen, child]));
        } else {
          const data = this.content(child, choiceOf.get(child), point.cutoffs.get(child) ?? 0);
          files.set(childPath, data);
          hash.update(`f:${childPath}:${this.digest(data)}\n`);
        }
      }
    };
    walk(ROOT, '', new Set([ROOT]));
    const key = hash.digest('hex');
    return {
      position: p,
      files,
      key,
      marks,
      describe: () => describeChoice(this.trace, point, combo),
    };
  }

  /**
   * The initial tree plus every inode created before `p`, linked nowhere yet: an inode exists whether or not the
   * entry that created it persisted (a rename may persist without the create that made its source).
   */
  private treeWithInodes(p: number): Tree {
    const tree = cloneTree(this.rec.initial);
    for (let i = 0; i < p; i++) {
      const e = this.trace[i] as TraceEvent;
      if (e.op === 'create' && !tree.nodes.has(e.ino)) {
        tree.nodes.set(
          e.ino,
          e.dir ? { dir: true, entries: new Map() } : { dir: false, data: new Uint8Array(0) },
        );
      }
    }
    return tree;
  }

  /** A file's bytes: its durable part, then the chosen unsynced pieces (all of them when not a choice). */
  private content(
    ino: Ino,
    c: { choice: DataChoice; cutoff: number; pieces: Piece[] } | undefined,
    cutoff: number,
  ): Uint8Array {
    const choice: DataChoice = c?.choice ?? Number.MAX_SAFE_INTEGER;
    const pieces = c?.pieces ?? [];
    const key = `${ino}:${cutoff}:${typeof choice === 'number' ? Math.min(choice, pieces.length) : choice.map(Number).join('')}`;
    const cached = this.contentCache.get(key);
    if (cached !== undefined) return cached;
    let data = this.durable(ino, cutoff);
    if (c !== undefined) {
      pieces.forEach((piece, k) => {
        const fate = typeof choice === 'number' ? (k < choice ? KEEP : DROP) : (choice[k] ?? DROP);
        if (fate === KEEP) data = applyPiece(data, piece);
        else if (fate === ZEROS) data = applyPiece(data, zeroed(piece));
      });
    }
    this.contentCache.set(key, data);
    return data;
  }

  /** A file's bytes with its changes recorded before trace index `cutoff` applied. */
  private durable(ino: Ino, cutoff: number): Uint8Array {
    const key = `${ino}:${cutoff}:durable`;
    const cached = this.contentCache.get(key);
    if (cached !== undefined) return cached;
    const init = this.rec.initial.nodes.get(ino);
    let data = init !== undefined && !init.dir ? init.data : new Uint8Array(0);
    for (let i = 0; i < cutoff; i++) {
      const e = this.trace[i] as TraceEvent;
      if (e.op === 'write' && e.ino === ino) data = writeInto(data, e.bytes, e.offset);
      else if (e.op === 'truncate' && e.ino === ino) data = resize(data, e.size);
    }
    this.contentCache.set(key, data);
    return data;
  }

  private digest(data: Uint8Array): string {
    let d = this.hashCache.get(data);
    if (d === undefined) {
      d = createHash('sha1').update(data).digest('hex');
      this.hashCache.set(data, d);
    }
    return d;
  }
}

function reachableFrom(tree: Tree): Set<Ino> {
  const out = new Set<Ino>([ROOT]);
  const stack = [ROOT];
  while (stack.length > 0) {
    const n = tree.nodes.get(stack.pop() as Ino);
    if (n?.dir !== true) continue;
    for (const child of n.entries.values()) {
      if (!out.has(child)) {
        out.add(child);
        stack.push(child);
      }
    }
  }
  return out;
}

function zeroed(piece: Piece): Piece {
  return 'size' in piece ? piece : { offset: piece.offset, bytes: new Uint8Array(piece.bytes.byteLength) };
}

function applyPiece(data: Uint8Array, piece: Piece): Uint8Array {
  return 'size' in piece ? resize(data, piece.size) : writeInto(data, piece.bytes, piece.offset);
}

/** A write cut at `sector`-aligned file offsets. */
function splitWrite(offset: number, bytes: Uint8Array, sector: number): Piece[] {
  const out: Piece[] = [];
  let at = 0;
  while (at < bytes.byteLength) {
    const boundary = (Math.floor((offset + at) / sector) + 1) * sector;
    const end = Math.min(bytes.byteLength, boundary - offset);
    out.push({ offset: offset + at, bytes: bytes.subarray(at, end) });
    at = end;
  }
  return out;
}

function applyDirOp(tree: Tree, e: TraceEvent): void {
  const entries = (ino: Ino): Map<string, Ino> | undefined => {
    const n = tree.nodes.get(ino);
    return n?.dir === true ? n.entries : undefined;
  };
  switch (e.op) {
    case 'create':
      entries(e.parent)?.set(e.name, e.ino);
      break;
    case 'unlink': {
      const dir = entries(e.parent);
      if (dir?.get(e.name) === e.ino) dir.delete(e.name);
      break;
    }
    case 'rename': {
      const from = entries(e.fromParent);
      if (from?.get(e.fromName) === e.ino) from.delete(e.fromName);
      entries(e.toParent)?.set(e.toName, e.ino);
      break;
    }
    default:
      break;
  }
}

/** One value per dimension: a {@link DataChoice} for the first `nData`, 0 or 1 (dropped, kept) for the rest. */
type Choice = DataChoice;

/** The combinations to try at one crash point (see {@link ModelOptions.maxPerPoint}). */
function combos(sizes: number[], nData: number, o: ModelOptions, rng: () => number): Choice[][] {
  const total = sizes.reduce((a, b) => a * b, 1);
  if (total <= o.maxPerPoint && !o.reorder) return cartesian(sizes);
  const out = new Map<string, Choice[]>();
  const add = (c: Choice[]): void => void out.set(JSON.stringify(c), c);
  const max = sizes.map((s) => s - 1);
  const min = sizes.map(() => 0);
  if (total <= o.maxPerPoint) for (const c of cartesian(sizes)) add(c);
  add(max);
  add(min);
  sizes.forEach((s, d) => {
    for (let v = 0; v < s; v++) {
      add(max.map((m, k) => (k === d ? v : m)));
      add(min.map((m, k) => (k === d ? v : m)));
    }
  });
  // Directory operations as prefixes in program order (what a journal that orders them allows), data all kept.
  for (let k = nData; k <= sizes.length; k++) add(sizes.map((s, d) => (d < nData ? s - 1 : d < k ? 1 : 0)));
  const budget = Math.max(o.maxPerPoint, out.size);
  for (let tries = 0; out.size < budget && tries < budget * 4; tries++) {
    add(sizes.map((s) => Math.floor(rng() * s)));
  }
  if (o.reorder) {
    // One file's unsynced pieces each dropped, kept or zeroed, independently; the rest everything kept.
    const fate = (): PieceFate => {
      const r = rng();
      return r < 0.4 ? DROP : r < 0.8 ? KEEP : ZEROS;
    };
    for (let d = 0; d < nData; d++) {
      const n = (sizes[d] as number) - 1;
      for (let k = 0; k < Math.min(16, 3 ** n); k++) {
        add(max.map((m, j) => (j === d ? Array.from({ length: n }, fate) : m)));
      }
    }
  }
  return [...out.values()];
}

function cartesian(sizes: number[]): Choice[][] {
  let out: Choice[][] = [[]];
  for (const s of sizes) {
    const next: Choice[][] = [];
    for (const c of out) for (let v = 0; v < s; v++) next.push([...c, v]);
    out = next;
  }
  return out;
}

function describeChoice(trace: TraceEvent[], point: Point, combo: Choice[]): string {
  const lines: string[] = [];
  point.data.forEach((d, k) => {
    const c = combo[k] as DataChoice;
    const n = d.pieces.length;
    const kept =
      typeof c === 'number'
        ? `first ${c} of ${n}`
        : `${c.map((f) => '-kz'[f]).join('')} (-: dropped, k: kept, z: zeros) of ${n}`;
    lines.push(
      `  ${d.path}: kept ${kept} unsynced ${n === 1 ? 'piece' : 'pieces'} (${describePieces(d.pieces)})`,
    );
  });
  point.dirOps.forEach((i, k) => {
    const e = trace[i] as TraceEvent;
    const what = e.op === 'mark' || e.op === 'sync' ? e.op : `${e.op} ${e.path}`;
    lines.push(
      `  #${i} ${what}: ${combo[point.data.length + k] === 1 ? 'kept' : 'DROPPED'} (directory not fsynced)`,
    );
  });
  return lines.length === 0 ? '  (nothing unsynced)' : lines.join('\n');
}

function describePieces(pieces: Piece[]): string {
  const parts = pieces
    .slice(0, 6)
    .map((p) => ('size' in p ? `truncate to ${p.size}` : `${p.offset}+${p.bytes.byteLength}`));
  return parts.join(', ') + (pieces.length > 6 ? `, … ${pieces.length - 6} more` : '');
}

/** A small seeded PRNG (mulberry32): the same seed gives the same sequence. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
