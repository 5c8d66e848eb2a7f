import { RaftError } from '../errors.js';
import {
  EntryType,
  emptyConfState,
  isEmptyHardState,
  type ConfState,
  type Entry,
  type HardState,
  type SnapshotMetadata,
} from '../raftpb/types.js';
import { MemoryStorage } from '../storage/memory-storage.js';
import { forceNewCluster } from './force-new-cluster.js';
import type { RaftNodeOptions } from './options.js';
import type { DurableContents, StoredEntry } from './types.js';

const EMPTY = new Uint8Array(0);

/** How a RaftNode started: a new cluster's first member set, a restart from storage, or an empty joining member. */
export type StartedAs = 'bootstrap' | 'restart' | 'join';

/** What a RaftNode starts from, as {@link recover} decided and rebuilt it. */
export interface Recovery {
  startedAs: StartedAs;
  /** Raft's in-memory log: the snapshot's metadata, the stored entries after it, the stored hard state. */
  memory: MemoryStorage;
  /** The snapshot's index (the state machine was restored from it), else 0. */
  applied: number;
  confState: ConfState;
  /** The stored term (0 when starting fresh), so the first events name the right term. */
  term: number;
  /** The entries after the snapshot, as raft's log holds them. */
  log: readonly Entry[];
  /** The stored commit index (raised to the snapshot's index). */
  commit: number;
}

export function toEntry(e: StoredEntry): Entry {
  const type = e.type ?? EntryType.Normal;
  if (type !== EntryType.Normal && type !== EntryType.ConfChange && type !== EntryType.ConfChangeV2) {
    throw new RaftError('ERR_LOG_CORRUPT', `entry ${e.index} in the durable log has unknown type ${type}`);
  }
  return { index: e.index, term: e.term, type, data: e.data };
}

/**
 * Reads what the durable storage holds, decides how to start (per `opts.mode`), refuses a start that would lose
 * data or come back empty when told to restart, and rebuilds raft's in-memory log and the state machine (from
 * `opts.snapshot`). Nothing is written to storage here, except with `opts.forceNewCluster`: the conf changes that
 * make this node the only voter are saved (durably) before raft sees them.
 */
export async function recover<R>(opts: RaftNodeOptions<R>): Promise<Recovery> {
  const mode = opts.mode ?? 'auto';
  const held = await opts.storage.readAll();
  let state = held.state !== undefined && !isEmptyHardState(held.state) ? held.state : undefined;
  const hasState = state !== undefined || held.entries.length > 0 || opts.snapshot !== undefined;
  if (mode === 'bootstrap' && hasState) {
    throw new RaftError(
      'ERR_STORAGE_NOT_EMPTY',
      `RaftNode.start: refusing to bootstrap a new cluster over storage that holds ${describe(held, opts)}; ` +
        "restart from it (mode 'restart' or 'auto'), or give an empty storage for a new cluster",
      'storage',
    );
  }
  if ((mode === 'restart' || opts.forceNewCluster === true) && !hasState) {
    throw new RaftError(
      'ERR_STORAGE_EMPTY',
      'RaftNode.start: told to restart, but the storage holds no raft state (no hard state, entries or ' +
        'snapshot): is it the right directory? If this member lost its data, remove it from the cluster and ' +
        "add it again under a new id (mode 'join')",
      'storage',
    );
  }
  const memory = new MemoryStorage();
  if (!hasState) {
    const startedAs: StartedAs = mode === 'join' ? 'join' : 'bootstrap';
    if (startedAs === 'bootstrap' && (opts.peers ?? []).length === 0) {
      throw new RaftError(
        'ERR_CONFIG_INVALID',
        "RaftNode.start: the storage is empty, and a new cluster needs `peers` (or mode 'join')",
        'peers',
      );
    }
    return { startedAs, memory, applied: 0, confState: emptyConfState(), term: 0, log: [], commit: 0 };
  }

  let applied = 0;
  let confState = emptyConfState();
  let meta: SnapshotMetadata | undefined;
  if (opts.snapshot !== undefined) {
    const m = opts.snapshot.metadata;
    meta = { index: m.index, term: m.term, confState: m.confState ?? emptyConfState() };
    applied = meta.index;
    confState = meta.confState;
  }
  const entries = held.entries.map(toEntry).filter((e) => e.index > applied);
  const first = entries[0];
  if (first !== undefined && first.index !== applied + 1) {
    throw new RaftError(
      'ERR_CONFIG_INVALID',
      `RaftNode.start: the storage's entries continue at index ${first.index}, but the snapshot given ends at ` +
        `${applied}: pass the snapshot the storage was opened at`,
      'snapshot',
    );
  }
  if (opts.forceNewCluster === true) {
    const hs = state ?? { term: opts.snapshot?.metadata.term ?? 0, vote: 0, commit: applied };
    const forced = forceNewCluster(opts.id, { index: applied, confState }, entries, hs);
    if (forced !== undefined) {
      opts.logger?.warn('forcing a new cluster: this node becomes the only voter, keeping its data', {
        id: opts.id,
        voters: forced.before.voters,
        learners: forced.before.learners,
        committedUpTo: forced.state.commit,
      });
      await opts.storage.save(forced.state, forced.entries);
      entries.push(...forced.entries);
      state = forced.state;
    }
  }
  if (meta !== undefined) memory.applySnapshot({ data: EMPTY, metadata: meta });
  if (state !== undefined) {
    // A commit-only hard state is not synced (MustSync), so the stored commit can trail a snapshot taken at a
    // later applied index. Everything a snapshot covers was committed, so raising commit to it is safe.
    memory.setHardState({ ...state, commit: Math.max(state.commit, applied) });
  }
  memory.append(entries);
  if (opts.snapshot !== undefined && meta !== undefined) {
    await opts.stateMachine.restore(opts.snapshot.stream(), meta);
  }
  const commit = Math.max(state?.commit ?? 0, applied);
  return { startedAs: 'restart', memory, applied, confState, term: state?.term ?? 0, log: entries, commit };
}

function describe(
  held: DurableContents,
  opts: { snapshot?: { metadata: { index: number } } | undefined },
): string {
  const parts: string[] = [];
  if (held.state !== undefined && !isEmptyHardState(held.state)) {
    const s: HardState = held.state;
    parts.push(`hard state (term ${s.term}, vote ${s.vote}, commit ${s.commit})`);
  }
  const last = held.entries[held.entries.length - 1];
  if (last !== undefined) parts.push(`${held.entries.length} entries (last index ${last.index})`);
  if (opts.snapshot !== undefined) parts.push(`a snapshot at index ${opts.snapshot.metadata.index}`);
  return parts.join(', ');
}
