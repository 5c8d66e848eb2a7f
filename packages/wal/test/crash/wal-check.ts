import { join } from 'node:path';
import type { Entry, HardState, Snapshot } from '../../src/codec/msgpack.js';
import { isWalError } from '../../src/errors.js';
import { SnapshotStore } from '../../src/snap/snapshot-store.js';
import { Wal } from '../../src/wal.js';
import type { WalOptions } from '../../src/wal/options.js';
import { bytesOf } from '../helpers.js';

// What the workloads write is a function of the index, so a checker can tell right bytes from wrong ones in any
// crash state; what they were told is durable arrives as acknowledgements (`Ack`), recorded in the trace.

/** Entry `i` of every workload. */
export function entryAt(i: number): Entry {
  return { index: i, term: 1, data: bytesOf(20 + ((i * 53) % 160), i) };
}

/** Entries `from..to`. */
export function entriesIn(from: number, to: number): Entry[] {
  return Array.from({ length: to - from + 1 }, (_, k) => entryAt(from + k));
}

/** The data of the snapshot at `index`. */
export function snapDataAt(index: number): Uint8Array {
  return bytesOf(300 + ((index * 211) % 900), index * 977 + 1);
}

export const snapAt = (index: number): Snapshot => ({ index, term: 1 });

/** The hard state a workload saves with commit `commit` (term 1, vote 1: the first one is a vote, synced). */
export const stateAt = (commit: number, term = 1): HardState => ({ term, vote: 1, commit });

/** An acknowledgement: a resolved promise whose effect must survive a crash. */
export type Ack =
  /** Wal.create resolved. */
  | { created: true }
  /** Entries 1..n are durable. */
  | { entries: number }
  /** This hard state is durable (a later issued state may replace it). */
  | { state: HardState }
  /** SnapshotStore.save of this index resolved. */
  | { snapFile: number }
  /** wal.saveSnap of this index resolved. */
  | { snapRecord: number };

export const WAL_DIR = 'wal';
export const SNAP_DIR = 'snap';

/**
 * Recovers from the crash state in `root` the way a Raft node does (the kv example's order): open the snapshot
 * store, load the newest snapshot the WAL knows, open the WAL at it (repairing a torn tail once), read it all.
 * Then checks the invariants of issue #11 and that the recovered WAL takes appends. Throws what is wrong.
 */
export async function checkRecovery(
  root: string,
  acks: readonly unknown[],
  options: WalOptions,
): Promise<void> {
  const a = summarize(acks as readonly Ack[]);
  const walDir = join(root, WAL_DIR);
  if (!(await Wal.exist(walDir))) {
    if (a.created) throw new Error('the WAL was created (acknowledged) but no segment file is left');
    return;
  }
  const snaps = await SnapshotStore.open(join(root, SNAP_DIR));
  const valid = await Wal.validSnapshots(walDir, options);
  const loaded = await snaps.loadNewestAvailable(valid);
  if (loaded !== undefined) {
    const want = snapDataAt(loaded.metadata.index);
    if (!Buffer.from(await loaded.bytes()).equals(Buffer.from(want))) {
      throw new Error(`snapshot ${loaded.metadata.index} loaded with wrong bytes`);
    }
  }
  const snapIndex = loaded?.metadata.index ?? 0;
  // A snapshot whose file, WAL record and covering commit were all acknowledged must be what a restart uses (or
  // a newer one).
  if (a.requiredSnap > snapIndex) {
    throw new Error(
      `snapshot ${a.requiredSnap} was acknowledged (file, WAL record, commit) but the newest loadable is ` +
        `${loaded === undefined ? 'none' : snapIndex} (WAL knows ${JSON.stringify(valid.map((s) => s.index))})`,
    );
  }
  let wal: Wal;
  try {
    wal = await Wal.open(walDir, loaded?.metadata, options);
  } catch (err) {
    if (!isWalError(err, 'ERR_WAL_UNEXPECTED_EOF')) throw err;
    if (!(await Wal.repair(walDir))) throw new Error(`repair refused a torn tail: ${err.message}`);
    wal = await Wal.open(walDir, loaded?.metadata, options);
  }
  let last: number;
  try {
    const { state, entries } = await wal.readAll();
    let expect = snapIndex + 1;
    for (const e of entries) {
      if (e.index !== expect) throw new Error(`entry ${e.index} where ${expect} was expected`);
      const want = entryAt(e.index);
      if (e.term !== want.term || !Buffer.from(e.data).equals(Buffer.from(want.data))) {
        throw new Error(`entry ${e.index} came back with wrong bytes`);
      }
      expect++;
    }
    last = expect - 1;
    if (a.entries > last) throw new Error(`acknowledged entries up to ${a.entries}, recovered up to ${last}`);
    if (a.state !== undefined) {
      if (state === undefined) throw new Error(`acknowledged hard state ${JSON.stringify(a.state)} is gone`);
      if (state.term < a.state.term || (state.term === a.state.term && state.commit < a.state.commit)) {
        throw new Error(
          `hard state ${JSON.stringify(state)} is older than acknowledged ${JSON.stringify(a.state)}`,
        );
      }
    }
    // Workloads commit only entries they saved before (etcd's invariant 5): a recovered commit past the last
    // recovered entry means a state record outlived entries written before it.
    if (state !== undefined && state.commit > last) {
      throw new Error(`hard state commit ${state.commit} is past the last recovered entry ${last}`);
    }
    // The recovered log takes an append that a reader then sees.
    await wal.saveEntry([entryAt(last + 1)]);
  } finally {
    await wal.close();
  }
  const reader = await Wal.openForRead(walDir, loaded?.metadata, options);
  const after = (await reader.readAll()).entries.at(-1);
  await reader.close();
  if (after?.index !== last + 1) throw new Error(`an append after recovery read back as ${after?.index}`);
  // No snapshot file that fails its check is ever returned (load() sets corrupt ones aside).
  const newest = await snaps.load();
  if (
    newest !== undefined &&
    !Buffer.from(await newest.bytes()).equals(Buffer.from(snapDataAt(newest.metadata.index)))
  ) {
    throw new Error(`snapshot file ${newest.file} loads with wrong bytes`);
  }
}

interface AckSummary {
  created: boolean;
  entries: number;
  state: HardState | undefined;
  requiredSnap: number;
}

function summarize(acks: readonly Ack[]): AckSummary {
  let created = false;
  let entries = 0;
  let state: HardState | undefined;
  const files = new Set<number>();
  const records = new Set<number>();
  for (const a of acks) {
    if ('created' in a) created = true;
    else if ('entries' in a) entries = Math.max(entries, a.entries);
    else if ('state' in a) state = a.state;
    else if ('snapFile' in a) files.add(a.snapFile);
    else if ('snapRecord' in a) records.add(a.snapRecord);
  }
  let requiredSnap = 0;
  for (const i of records)
    if (files.has(i) && (state?.commit ?? 0) >= i) requiredSnap = Math.max(requiredSnap, i);
  return { created: created || entries > 0, entries, state, requiredSnap };
}
