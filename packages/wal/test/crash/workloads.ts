import { mkdir, open, readdir, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { isWalError } from '../../src/errors.js';
import { RecordType } from '../../src/record/record-type.js';
import { SnapshotStore } from '../../src/snap/snapshot-store.js';
import { Wal } from '../../src/wal.js';
import type { WalOptions } from '../../src/wal/options.js';
import { records } from '../segment/build.js';
import type { Workload } from './explore.js';
import {
  SNAP_DIR,
  WAL_DIR,
  checkRecovery,
  entriesIn,
  entryAt,
  snapAt,
  snapDataAt,
  stateAt,
  type Ack,
} from './wal-check.js';

// Small segments (about ten entries each) so that a few dozen saves cut several times and every crash state is a
// few kilobytes to write out. No CRC worker: a worker thread per checked state would dominate the run.
const BASE: WalOptions = { segmentSizeBytes: 1024, crcWorker: 'never' };
const META = new TextEncoder().encode('crash');

function workload(name: string, options: WalOptions, parts: Omit<Workload, 'name' | 'check'>): Workload {
  return { name, ...parts, check: (root, acks) => checkRecovery(root, acks, options) };
}

/** A created WAL, closed: the starting point of the workloads that do not record the create. */
async function created(root: string, options: WalOptions): Promise<Ack[]> {
  const wal = await Wal.create(join(root, WAL_DIR), META, options);
  await wal.close();
  return [{ created: true }];
}

/**
 * Appends `pairs` pairs of entries after `n`: two concurrent calls per pair (they share a write and an fdatasync,
 * or not), the second with a hard state committing the first; acknowledges both once both resolved.
 */
async function appendPairs(
  wal: Wal,
  n: number,
  pairs: number,
  ack: (a: Ack) => void,
  term = 1,
): Promise<number> {
  for (let k = 0; k < pairs; k++) {
    await Promise.all([wal.saveEntry([entryAt(n + 1)]), wal.save(stateAt(n + 1, term), [entryAt(n + 2)])]);
    n += 2;
    ack({ entries: n });
    ack({ state: stateAt(n - 1, term) });
  }
  return n;
}

/**
 * `Wal.create`'s build-in-`wal.tmp`-and-rename, then the first saves; with `overEmptyDir`, into a `wal` directory
 * that exists, empty (removed before the rename).
 */
function createWorkload(overEmptyDir = false): Workload {
  const o = BASE;
  return workload(overEmptyDir ? 'create-over-empty-dir' : 'create', o, {
    async setup(root) {
      if (overEmptyDir) await mkdir(join(root, WAL_DIR));
      return [];
    },
    async run(root, ack) {
      const wal = await Wal.create(join(root, WAL_DIR), META, o);
      ack({ created: true });
      await wal.save(stateAt(1), entriesIn(1, 2));
      ack({ entries: 2 });
      ack({ state: stateAt(1) });
      await wal.close();
    },
  });
}

/** Opening a WAL, appends that cut three times, a term change, a commit-only state and sync(), close. */
function cutWorkload(name: string, o: WalOptions, scale = 1): Workload {
  return workload(name, o, {
    setup: (root) => created(root, o),
    async run(root, ack) {
      const wal = await Wal.open(join(root, WAL_DIR), undefined, o);
      let n = await appendPairs(wal, 0, 14 * scale, ack);
      await wal.saveState(stateAt(n, 2)); // a term change: synced
      ack({ state: stateAt(n, 2) });
      n = await appendPairs(wal, n, 2, ack, 2);
      await wal.saveState({ term: 2, vote: 1, commit: n }); // commit-only: not synced until sync()
      await wal.sync();
      ack({ state: { term: 2, vote: 1, commit: n } });
      await wal.close();
    },
  });
}

/** Snapshot file, WAL snapshot record, release, more appends, a second snapshot, purge of the first file. */
function snapshotWorkload(name = 'snapshot'): Workload {
  const o = BASE;
  return workload(name, o, {
    async setup(root) {
      const acks = await created(root, o);
      const wal = await Wal.open(join(root, WAL_DIR), undefined, o);
      // Five saves of six entries: four segments, so that a release unlinks several.
      for (let i = 1; i <= 30; i += 6) await wal.save(stateAt(i + 5), entriesIn(i, i + 5));
      await wal.close();
      return [...acks, { entries: 30 }, { state: stateAt(30) }];
    },
    async run(root, ack) {
      const wal = await Wal.open(join(root, WAL_DIR), undefined, o);
      const snaps = await SnapshotStore.open(join(root, SNAP_DIR));
      const snapshot = async (index: number): Promise<void> => {
        await snaps.save(snapAt(index), snapDataAt(index));
        ack({ snapFile: index });
        await wal.saveSnap(snapAt(index));
        ack({ snapRecord: index });
        await wal.release(snapAt(index));
      };
      await snapshot(25);
      const n = await appendPairs(wal, 30, 5, ack);
      await snapshot(36);
      await snaps.purge(1);
      await appendPairs(wal, n, 1, ack);
      await wal.close();
    },
  });
}

/** Opening a WAL whose last record is torn: ERR_WAL_UNEXPECTED_EOF, `Wal.repair`, open again, append. */
function repairWorkload(): Workload {
  const o: WalOptions = { ...BASE, preallocate: 'none' };
  return workload('repair', o, {
    async setup(root) {
      const acks = await created(root, o);
      const dir = join(root, WAL_DIR);
      const wal = await Wal.open(dir, undefined, o);
      await wal.save(stateAt(5), entriesIn(1, 5));
      await wal.saveEntry([entryAt(6)]);
      await wal.close();
      // Entry 6 torn: its last 5 bytes never reached the disk.
      const seg = (await readdir(dir))
        .filter((f) => f.endsWith('.wal'))
        .sort()
        .at(-1) as string;
      await truncate(join(dir, seg), (await stat(join(dir, seg))).size - 5);
      return [...acks, { entries: 5 }, { state: stateAt(5) }];
    },
    async run(root, ack) {
      const dir = join(root, WAL_DIR);
      let wal: Wal;
      try {
        wal = await Wal.open(dir, undefined, o);
        throw new Error('repair workload: the torn tail was not reported');
      } catch (err) {
        if (!isWalError(err, 'ERR_WAL_UNEXPECTED_EOF')) throw err;
      }
      if (!(await Wal.repair(dir))) throw new Error('repair workload: repair refused');
      wal = await Wal.open(dir, undefined, o);
      await wal.save(stateAt(7), entriesIn(6, 7));
      ack({ entries: 7 });
      ack({ state: stateAt(7) });
      await wal.close();
    },
  });
}

/**
 * Rounds of `width` concurrent single-entry saves and a commit-only state (one batch, several sectors, one
 * fdatasync), each entry acknowledged as its own promise resolves (they resolve in call order), the state after
 * a sync().
 */
function groupCommitWorkload(rounds: number): Workload {
  const o: WalOptions = { ...BASE, segmentSizeBytes: 4096 };
  const width = 8;
  return workload('group-commit', o, {
    setup: (root) => created(root, o),
    async run(root, ack) {
      const wal = await Wal.open(join(root, WAL_DIR), undefined, o);
      let n = 0;
      for (let r = 0; r < rounds; r++) {
        const calls: Promise<void>[] = [];
        for (let k = 1; k <= width; k++) {
          const i = n + k;
          calls.push(wal.saveEntry([entryAt(i)]).then(() => ack({ entries: i })));
        }
        // A commit-only state shares the batch; the contract makes it durable only after a sync().
        calls.push(wal.save(stateAt(n + width), []));
        await Promise.all(calls);
        await wal.sync();
        ack({ state: stateAt(n + width) });
        n += width;
      }
      await wal.close();
    },
  });
}

/**
 * A torn multi-record write in a zero-filled segment (the sectors after the first one it crossed never landed),
 * then open, repair, open, append.
 */
function repairZeroFilledWorkload(): Workload {
  const o: WalOptions = { ...BASE, segmentSizeBytes: 4096 };
  return workload('repair-zero-filled', o, {
    async setup(root) {
      const acks = await created(root, o);
      const dir = join(root, WAL_DIR);
      const wal = await Wal.open(dir, undefined, o);
      await wal.save(stateAt(3), entriesIn(1, 3));
      await wal.saveEntry(entriesIn(4, 7));
      await wal.close();
      // The last four records are the batch of entries 4..7 (one segment: 4 KiB holds them all).
      const batch = (await records(dir)).slice(-4);
      const first = batch[0];
      const last = batch[3];
      if (first === undefined || last === undefined || batch.some((r) => r.type !== RecordType.Entry)) {
        throw new Error('repair-zero-filled: the batch of entries 4..7 is not the tail');
      }
      const from = (Math.floor(first.offset / 512) + 1) * 512;
      const to = last.offset + last.frameBytes;
      if (from >= to) throw new Error('repair-zero-filled: the batch does not cross a sector boundary');
      const fh = await open(first.file, 'r+');
      try {
        await fh.write(new Uint8Array(to - from), 0, to - from, from);
      } finally {
        await fh.close();
      }
      return [...acks, { entries: 3 }, { state: stateAt(3) }];
    },
    async run(root, ack) {
      const dir = join(root, WAL_DIR);
      const torn = await Wal.open(dir, undefined, o).then(
        async (w) => {
          await w.close();
          return undefined;
        },
        (err: unknown) => err,
      );
      if (!isWalError(torn, 'ERR_WAL_UNEXPECTED_EOF')) {
        throw new Error(`repair-zero-filled workload: open gave ${String(torn)}, not a torn tail`);
      }
      if (!(await Wal.repair(dir))) throw new Error('repair-zero-filled workload: repair refused');
      const wal = await Wal.open(dir, undefined, o);
      const last = (await wal.readAll()).entries.at(-1)?.index ?? 0;
      await wal.save(stateAt(last + 2), entriesIn(last + 1, last + 2));
      ack({ entries: last + 2 });
      ack({ state: stateAt(last + 2) });
      await wal.close();
    },
  });
}

/** Every workload of the exploration; `deep` makes them longer. */
export function workloads(deep = false): Workload[] {
  return [
    createWorkload(),
    createWorkload(true),
    cutWorkload('cut', BASE, deep ? 4 : 2),
    cutWorkload('cut-grow', { ...BASE, preallocate: 'none' }, deep ? 4 : 2),
    cutWorkload('cut-inline', { ...BASE, syncMode: 'inline' }, deep ? 4 : 1),
    groupCommitWorkload(deep ? 16 : 6),
    snapshotWorkload(),
    repairWorkload(),
    repairZeroFilledWorkload(),
  ];
}

export { cutWorkload, snapshotWorkload, BASE };
