import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SnapshotStore } from '../../src/snap/snapshot-store.js';
import { checkConsecutive, listSegments } from '../../src/segment/names.js';
import { Wal } from '../../src/wal.js';
import { dropSyncs } from './break-io.js';
import { explore, failureReport, optionsFromEnv, summary, type Workload } from './explore.js';
import { entriesIn, snapAt, snapDataAt, stateAt } from './wal-check.js';
import { BASE } from './workloads.js';

// Bugs the explorer found in the real code, each fixed; every test runs the fixed code (no failing state) and
// the old behaviour, planted back through a file-io layer that drops the syncs the fix added (failing states).

/** Release of three segments at once: every crash state must keep the segments on disk consecutive. */
const release: Workload = {
  name: 'release',
  async setup(root) {
    const wal = await Wal.create(join(root, 'wal'), new Uint8Array([1]), BASE);
    for (let i = 1; i <= 30; i += 6) await wal.save(stateAt(i + 5), entriesIn(i, i + 5));
    await wal.saveSnap(snapAt(25));
    await wal.close();
    return [];
  },
  async run(root) {
    const wal = await Wal.open(join(root, 'wal'), snapAt(25), BASE);
    await wal.release(snapAt(25));
    await wal.close();
  },
  async check(root) {
    const dir = join(root, 'wal');
    checkConsecutive(await listSegments(dir)); // ERR_WAL_SEQUENCE_GAP before the fix
    expect((await Wal.validSnapshots(dir, BASE)).map((s) => s.index)).toContain(25);
    const wal = await Wal.open(dir, snapAt(25), BASE);
    expect((await wal.readAll()).entries.at(-1)?.index).toBe(30);
    await wal.close();
  },
};

/** A snapshot store whose directory (and its parent) the open creates: an acknowledged snapshot must stay. */
const newSnapDir: Workload = {
  name: 'new-snapshot-dir',
  async run(root, ack) {
    const store = await SnapshotStore.open(join(root, 'data', 'snap'));
    await store.save(snapAt(5), snapDataAt(5));
    ack('saved');
  },
  async check(root, acks) {
    if (!acks.includes('saved')) return;
    const file = join(root, 'data', 'snap', '0000000000000001-0000000000000005.snap');
    const bytes = await readFile(file).catch(() => undefined);
    if (bytes === undefined) throw new Error(`acknowledged snapshot ${basename(file)} is gone`);
    const loaded = await (await SnapshotStore.open(join(root, 'data', 'snap'))).load();
    expect(Buffer.from(await loaded!.bytes()).equals(Buffer.from(snapDataAt(5)))).toBe(true);
  },
};

describe('crash-consistency bugs the explorer found', () => {
  it('release unlinked several segments under one directory fsync: a crash could leave a sequence gap', async () => {
    const o = { ...(await optionsFromEnv()), recording: undefined };
    const fixed = await explore(release, o);
    console.log(summary(fixed));
    expect(fixed.failures, failureReport(fixed)).toEqual([]);
    // The old release: the directory fsynced once, after the last unlink (the fsyncs between unlinks dropped).
    let walDirSyncs = 0;
    const old = await explore(release, {
      ...o,
      maxFailures: 1,
      saveTrace: false,
      breakIo: (io) =>
        dropSyncs(io, (c) => c.op === 'fsyncDir' && basename(c.path) === 'wal' && ++walDirSyncs < 3),
    });
    console.log(failureReport(old));
    expect(old.failures[0]?.error).toMatch(/ERR_WAL_SEQUENCE_GAP/);
  });

  it('SnapshotStore.open created its directory without fsyncing the parent: the directory could vanish', async () => {
    const o = { ...(await optionsFromEnv()), recording: undefined };
    const fixed = await explore(newSnapDir, o);
    console.log(summary(fixed));
    expect(fixed.failures, failureReport(fixed)).toEqual([]);
    // The old open: no fsync of the parents of the directories it created.
    const old = await explore(newSnapDir, {
      ...o,
      maxFailures: 1,
      saveTrace: false,
      breakIo: (io) => dropSyncs(io, (c) => c.op === 'fsyncDir' && basename(c.path) !== 'snap'),
    });
    console.log(failureReport(old));
    expect(old.failures[0]?.error).toMatch(/acknowledged snapshot .* is gone/);
  });
});
