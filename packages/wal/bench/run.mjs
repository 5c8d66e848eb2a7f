#!/usr/bin/env node
// @x/wal benchmark: `pnpm bench:wal` at the root (builds, then runs this). Every figure is printed beside a floor
// measured in the same run on the same disk: Node's writeSync + fdatasyncSync of the same bytes into a preallocated
// file (for replay: readFileSync of the same segment files), the two alternating in five slices each so that the
// disk's drift falls on both. Ratios are what carry across machines.
// Env: BENCH_DIR (default: packages/wal/.bench-tmp), BENCH_REPLAY_MB (default 1024), BENCH_QUICK=1 (short run),
// BENCH_ONLY=matrix,pool,nocut,fresh,concurrent,replay (run only these groups; default all), BENCH_CRC_WORKER (the
// replay's crcWorker option, default auto).
import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeSync,
  writevSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Wal } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = process.env.BENCH_DIR ?? join(here, '..', '.bench-tmp');
const quick = process.env.BENCH_QUICK === '1';
const replayMb = Number(process.env.BENCH_REPLAY_MB ?? (quick ? 64 : 1024));
const budgetMs = quick ? 600 : 2500;
const only = (process.env.BENCH_ONLY ?? 'matrix,pool,nocut,fresh,concurrent,replay').split(',');
rmSync(root, { recursive: true, force: true });
mkdirSync(root, { recursive: true });

/** Frame bytes of one entry in our WAL: 8-byte length + record header (~12) + msgpack entry (~12) + data, padded. */
const frameOf = (size) => Math.ceil((size + 32) / 8) * 8;

/** Ours and its floor alternate in this many slices of `budgetMs / SLICES` each, so that both see the same disk. */
const SLICES = 5;

/**
 * The floor: writeSync + fdatasyncSync of `bytesPerOp`, run in slices by `run(ms)`. `space` says where the writes
 * go: `'preallocated'` (the floor of the goals) rewrites one zero-filled 64 MB file; `'zero-filled'` and
 * `'growing'` (diagnostics) allocate as a growing log must, a new file every 64,000,000 bytes, zero-filled before
 * use (the fill timed) or left to grow. With `via: 'threadpool'` (a diagnostic floor for the WAL's default mode)
 * each fdatasync is handed to libuv's thread pool and awaited (`fs.fdatasync` with a callback), as the WAL does:
 * what that loses against the plain floor is the hand-off itself, which no thread-pool WAL avoids.
 */
function floor(bytesPerOp, space = 'preallocated', via = 'inline') {
  const fresh = space !== 'preallocated';
  const total = fresh ? 64_000_000 : 64 * 1024 * 1024;
  const dir = join(root, `floor-${space}-${via}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const zero = Buffer.alloc(1024 * 1024);
  const zeroFill = (fd) => {
    writevSync(
      fd,
      Array.from({ length: Math.ceil(total / zero.length) }, () => zero),
      0,
    );
    fdatasyncSync(fd);
  };
  let files = 0;
  let fd = openSync(join(dir, `${files++}.dat`), 'w+');
  if (!fresh) zeroFill(fd);
  const buf = Buffer.alloc(bytesPerOp, 7);
  const poolSync = () =>
    new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
  let pos = fresh ? total : 0;
  let ops = 0;
  let ms = 0;
  return {
    async run(sliceMs) {
      const t0 = performance.now();
      while (performance.now() - t0 < sliceMs) {
        if (pos + bytesPerOp > total) {
          if (fresh) {
            closeSync(fd);
            fd = openSync(join(dir, `${files++}.dat`), 'w+');
            if (space === 'zero-filled') zeroFill(fd);
          }
          pos = 0;
        }
        writeSync(fd, buf, 0, bytesPerOp, pos);
        if (via === 'threadpool') await poolSync();
        else fdatasyncSync(fd);
        pos += bytesPerOp;
        ops++;
      }
      ms += performance.now() - t0;
    },
    close() {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
      const s = ms / 1000;
      return { opsPerSec: ops / s, bytesPerSec: (ops * bytesPerOp) / s };
    },
  };
}

/**
 * Runs `ours` (made by an async factory) and `floorOf` in alternating slices: ours, floor, ours, floor... The disk
 * of this shared machine drifts by 2x over seconds, and alternating keeps the drift out of the ratio.
 */
async function alternate(oursFactory, floorOf) {
  const ours = await oursFactory();
  const fl = floorOf();
  for (let i = 0; i < SLICES; i++) {
    await ours.run(budgetMs / SLICES);
    await fl.run(budgetMs / SLICES);
  }
  return { ours: await ours.close(), floor: fl.close() };
}

async function newWal(name, options) {
  const dir = join(root, name);
  rmSync(dir, { recursive: true, force: true });
  return Wal.create(dir, new Uint8Array([1]), options);
}

/**
 * etcd's matrix: one save() of `batch` entries of `size` bytes per op, each resolving after fdatasync; stops
 * for good after `maxBytes`.
 */
async function matrix(size, batch, syncMode, segmentSizeBytes, maxBytes = Infinity) {
  const wal = await newWal(`m-${size}-${batch}`, { syncMode, segmentSizeBytes });
  const data = new Uint8Array(size).fill(3);
  let index = 1;
  let ops = 0;
  let ms = 0;
  return {
    async run(sliceMs) {
      const t0 = performance.now();
      while (performance.now() - t0 < sliceMs && ops * batch * size < maxBytes) {
        const ents = new Array(batch);
        for (let i = 0; i < batch; i++) ents[i] = { index: index++, term: 1, data };
        await wal.save(undefined, ents);
        ops++;
      }
      ms += performance.now() - t0;
    },
    async close() {
      await wal.close();
      const s = ms / 1000;
      return { opsPerSec: ops / s, entriesPerSec: (ops * batch) / s, bytesPerSec: (ops * batch * size) / s };
    },
  };
}

/** `writers` one-entry saves kept in flight: group commit shares writes and fdatasyncs between them. */
async function concurrent(size, writers, syncMode) {
  const wal = await newWal(`c-${size}-${writers}`, { syncMode });
  const data = new Uint8Array(size).fill(5);
  let index = 1;
  let done = 0;
  let ms = 0;
  return {
    async run(sliceMs) {
      const t0 = performance.now();
      const deadline = t0 + sliceMs;
      const worker = async () => {
        while (performance.now() < deadline) {
          await wal.saveEntry([{ index: index++, term: 1, data }]);
          done++;
        }
      };
      await Promise.all(Array.from({ length: writers }, worker));
      ms += performance.now() - t0;
    },
    async close() {
      await wal.close();
      return done / (ms / 1000);
    },
  };
}

/** Writes a WAL of about `mb` MB of `size`-byte entries, then times readAll() against reading the same files. */
async function replay(size, mb) {
  const dir = join(root, `r-${size}`);
  rmSync(dir, { recursive: true, force: true });
  const wal = await Wal.create(dir, new Uint8Array([1]));
  const data = new Uint8Array(size).fill(9);
  const total = Math.floor((mb * 1024 * 1024) / size);
  let index = 1;
  while (index <= total) {
    const n = Math.min(10_000, total - index + 1);
    const ents = new Array(n);
    for (let i = 0; i < n; i++) ents[i] = { index: index++, term: 1, data };
    await wal.save(undefined, ents);
  }
  await wal.close();
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.wal'))
    .map((f) => join(dir, f));
  let fileBytes = 0;
  const f0 = performance.now();
  for (const f of files) fileBytes += readFileSync(f).byteLength;
  const floorS = (performance.now() - f0) / 1000;
  const t0 = performance.now();
  const r = await Wal.openForRead(dir, undefined, { crcWorker: process.env.BENCH_CRC_WORKER ?? 'auto' });
  const { entries } = await r.readAll();
  const s = (performance.now() - t0) / 1000;
  await r.close();
  if (entries.length !== total) throw new Error(`replay read ${entries.length} entries, wrote ${total}`);
  const logical = total * size;
  rmSync(dir, { recursive: true, force: true });
  return {
    entriesPerSec: total / s,
    mbPerSec: logical / 1e6 / s,
    floorMbPerSec: fileBytes / 1e6 / floorS,
    files: files.length,
    fileBytes,
    total,
  };
}

const rows = [];
const f = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const row = (name, ours, floorV, unit, goal, met) =>
  rows.push([
    name,
    `${f(ours)} ${unit}`,
    `${f(floorV)} ${unit}`,
    `${f(ours / floorV, 2)}x`,
    goal,
    met === undefined ? '' : met ? 'met' : 'MISSED',
  ]);

// Every batch size in both sync modes, each alternating with its own floor.
for (const size of only.includes('matrix') ? [100, 1000] : []) {
  for (const batch of [1, 10, 100, 1000]) {
    for (const syncMode of ['threadpool', 'inline']) {
      const { ours, floor: fl } = await alternate(
        () => matrix(size, batch, syncMode),
        () => floor(frameOf(size) * batch),
      );
      const name = `${size} B x batch ${batch}, ${syncMode}`;
      if (batch === 1)
        row(
          `${name} (syncs/s)`,
          ours.opsPerSec,
          fl.opsPerSec,
          'op/s',
          '>= 0.8x floor',
          ours.opsPerSec >= 0.8 * fl.opsPerSec,
        );
      else if (batch >= 100)
        row(
          `${name} (bytes/s)`,
          ours.bytesPerSec / 1e6,
          (fl.bytesPerSec / 1e6) * (size / frameOf(size)),
          'MB/s',
          '>= 0.7x floor',
          ours.bytesPerSec >= 0.7 * fl.bytesPerSec * (size / frameOf(size)),
        );
      else row(`${name} (entries/s)`, ours.entriesPerSec, fl.opsPerSec * batch, 'ent/s', '', undefined);
    }
  }
}
// Diagnostic (no goal): batches of 1000 into a 512 MB segment, stopped before it is a quarter full, so that no cut
// and no zero-fill of the next segment falls in the window: what the large batches cost without segment allocation.
for (const size of only.includes('nocut') ? [100, 1000] : []) {
  const { ours, floor: fl } = await alternate(
    () => matrix(size, 1000, 'threadpool', 512 * 1024 * 1024, 100 * 1024 * 1024),
    () => floor(frameOf(size) * 1000),
  );
  row(
    `${size} B x batch 1000, no cut in window (bytes/s)`,
    ours.bytesPerSec / 1e6,
    (fl.bytesPerSec / 1e6) * (size / frameOf(size)),
    'MB/s',
    'diagnostic',
    undefined,
  );
}
// Diagnostic (no goal): batch 1 in the default mode against a floor that hands its fdatasync to the thread pool too.
for (const size of only.includes('pool') ? [100, 1000] : []) {
  const { ours, floor: fl } = await alternate(
    () => matrix(size, 1, 'threadpool'),
    () => floor(frameOf(size), 'preallocated', 'threadpool'),
  );
  row(
    `${size} B x batch 1, threadpool vs a thread-pool floor (syncs/s)`,
    ours.opsPerSec,
    fl.opsPerSec,
    'op/s',
    'diagnostic',
    undefined,
  );
}
// Diagnostic (no goal): the large batches against floors that allocate fresh space as a growing log must.
for (const size of only.includes('fresh') ? [100, 1000] : []) {
  for (const kind of ['zero-filled', 'growing']) {
    const { ours, floor: fl } = await alternate(
      () => matrix(size, 1000),
      () => floor(frameOf(size) * 1000, kind),
    );
    row(
      `${size} B x batch 1000 vs fresh ${kind} files (bytes/s)`,
      ours.bytesPerSec / 1e6,
      (fl.bytesPerSec / 1e6) * (size / frameOf(size)),
      'MB/s',
      'diagnostic',
      undefined,
    );
  }
}
// Diagnostic (no goal): the ceiling any log that writes new space has against the goals' floor on this disk: a
// floor writing fresh files (zero-filled before use, or growing) beside the preallocated floor, no WAL involved.
for (const batch of only.includes('fresh') ? [100, 1000] : []) {
  for (const size of [100, 1000]) {
    for (const kind of ['zero-filled', 'growing']) {
      const { ours: fresh, floor: fl } = await alternate(
        async () => floor(frameOf(size) * batch, kind),
        () => floor(frameOf(size) * batch),
      );
      row(
        `${size} B x batch ${batch}: fresh ${kind} floor vs the floor (bytes/s)`,
        (fresh.bytesPerSec / 1e6) * (size / frameOf(size)),
        (fl.bytesPerSec / 1e6) * (size / frameOf(size)),
        'MB/s',
        'diagnostic',
        undefined,
      );
    }
  }
}
for (const [writers, syncMode] of only.includes('concurrent')
  ? [
      [1, 'threadpool'],
      [16, 'threadpool'],
      [64, 'threadpool'],
      [64, 'inline'],
      [256, 'threadpool'],
    ]
  : []) {
  // Floor: one write of `writers` entries + one fdatasync per round, i.e. perfect group commit.
  const { ours, floor: fl } = await alternate(
    () => concurrent(100, writers, syncMode),
    () => floor(frameOf(100) * writers),
  );
  const goal = writers === 64 ? '>= 200,000 ent/s' : '';
  row(
    `${writers} concurrent 1-entry writers, 100 B${syncMode === 'inline' ? ', inline' : ''}`,
    ours,
    fl.opsPerSec * writers,
    'ent/s',
    goal,
    writers === 64 ? ours >= 200_000 : undefined,
  );
}
if (only.includes('replay')) {
  const r1000 = await replay(1000, replayMb);
  rows.push([
    `replay ${f(r1000.fileBytes / 2 ** 20)} MiB, 1000 B entries`,
    `${f(r1000.mbPerSec)} MB/s (${f(r1000.entriesPerSec)} ent/s)`,
    `${f(r1000.floorMbPerSec)} MB/s read`,
    `${f(r1000.mbPerSec / r1000.floorMbPerSec, 2)}x`,
    '>= 300 MB/s',
    r1000.mbPerSec >= 300 ? 'met' : 'MISSED',
  ]);
  const r100 = await replay(100, Math.min(replayMb, quick ? 32 : 256));
  rows.push([
    `replay ${f(r100.fileBytes / 2 ** 20)} MiB, 100 B entries`,
    `${f(r100.entriesPerSec)} ent/s`,
    `${f(r100.floorMbPerSec)} MB/s read`,
    '',
    '>= 1,000,000 ent/s',
    r100.entriesPerSec >= 1_000_000 ? 'met' : 'MISSED',
  ]);
}

rmSync(root, { recursive: true, force: true });
const head = ['case', 'ours', 'floor', 'ratio', 'goal', ''];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
console.log(`@x/wal bench (node ${process.version}, dir ${root}${quick ? ', quick' : ''})`);
console.log(
  'floor = writeSync + fdatasyncSync of the same bytes into a preallocated file; replay floor = readFileSync of the same files',
);
console.log(head.map((h, i) => h.padEnd(widths[i])).join('  '));
for (const r of rows) console.log(r.map((c, i) => String(c).padEnd(widths[i])).join('  '));
