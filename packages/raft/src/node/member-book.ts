import {
  ConfChangeType,
  EntryType,
  isConfChangeV2,
  type Entry,
  type ConfChangeSingle,
  type ConfState,
  type SnapshotMetadata,
} from '../raftpb/types.js';
import { decodeConfChange, decodeConfChangeV2 } from '../codec/conf-change-codec.js';
import {
  decodeMemberContext,
  snapshotMembers,
  unwrapSnapshot,
  wrapSnapshot,
  type MemberInfo,
} from './member-codec.js';
import type { StateMachine, Transport } from './types.js';

/** A member of the configuration as {@link RaftNode.members} lists it. */
export interface MemberStatus {
  id: number;
  role: 'voter' | 'learner';
  /** Its replicated address; undefined when it was added without one (a raw conf change). */
  address?: string;
  metadata?: Readonly<Record<string, string>>;
}

/**
 * The replicated address book of a RaftNode: id → {@link MemberInfo}, kept in two views because raft and the state
 * machine see a conf change at different times.
 *
 * - The transport view follows raft: a conf change is applied to raft in the Ready loop (raft sends to a new
 *   member at once), so the transport learns the address then ({@link raftApplied}, {@link raftRestored}).
 * - The table follows the state machine: it changes when the applier reaches the entry, so a snapshot (taken
 *   between two applies) carries exactly the members as of its index. Snapshots carry it in their envelope
 *   ({@link wrap}), so a restart (or a follower installing the leader's snapshot) rebuilds it even after the
 *   entries that added the members were compacted away.
 *
 * Addresses given in `RaftNodeOptions.peers` win for the transport over the replicated ones (each node may reach
 * a peer by its own route); the table keeps the replicated ones.
 *
 * Removed ids are part of the table too (and of every snapshot): the transport is told to refuse them
 * (`Transport.removePeer`) at start, after restoring a snapshot and when a removal applies, so a removed node stays
 * refused after every peer restarted, even once the entry that removed it was compacted away.
 */
export class MemberBook {
  /** The members as of the applied index (what snapshots carry). */
  private table = new Map<number, MemberInfo>();
  /** Ids removed as of the applied index (invariant: disjoint from `table`'s keys). */
  private removed = new Set<number>();
  /** Ids this book gave the transport an address for (so a restored snapshot can take away the ones gone). */
  private readonly inTransport = new Set<number>();

  constructor(
    private readonly selfId: number,
    private readonly transport: Transport,
    /** Ids whose transport address the options fixed. */
    private readonly fixed: ReadonlySet<number>,
  ) {}

  /**
   * The state machine behind the snapshot envelope: `snapshot` prepends the table, `restore` takes it off (and
   * adopts it) before the application sees the data.
   */
  wrap<R>(sm: StateMachine<R>): StateMachine<R> {
    return {
      apply: (data, index) => sm.apply(data, index),
      snapshot: async () => {
        // The view at the snapshot's index, before the first await.
        const view = { members: new Map(this.table), removed: new Set(this.removed) };
        return wrapSnapshot(view, await sm.snapshot());
      },
      restore: async (chunks: AsyncIterable<Uint8Array>, metadata: SnapshotMetadata) => {
        const { members, removed, data } = await unwrapSnapshot(chunks, metadata.index);
        await sm.restore(data, metadata);
        this.table = members;
        this.removed = removed;
      },
    };
  }

  /**
   * At start, after recovery: gives the transport the address of every member in the table, and has it refuse
   * every removed id: those of the restored snapshot and those removed by committed entries after it (`log`,
   * `commit`), which raft applies again only once the loop runs.
   */
  connectAll(log: readonly Entry[], commit: number): void {
    for (const [id, m] of this.table) this.connect(id, m.address);
    const gone = new Set(this.removed);
    for (const e of log) {
      if (e.index > commit) break;
      if (e.type === EntryType.Normal || e.data.byteLength === 0) continue;
      const cc = e.type === EntryType.ConfChange ? decodeConfChange(e.data) : decodeConfChangeV2(e.data);
      const changes = isConfChangeV2(cc) ? cc.changes : [{ type: cc.type, nodeId: cc.nodeId }];
      for (const ch of changes) {
        if (ch.type === ConfChangeType.RemoveNode) gone.add(ch.nodeId);
        else gone.delete(ch.nodeId);
      }
    }
    for (const id of gone) this.refuse(id);
  }

  /** Whether `id` was removed from the configuration (as of the applied index). */
  isRemoved(id: number): boolean {
    return this.removed.has(id);
  }

  /** The ids removed from the configuration as of the applied index, ascending. */
  removedIds(): number[] {
    return [...this.removed].sort((a, b) => a - b);
  }

  /** Raft applied a conf change: add the new member's address to the transport, drop removed peers. */
  raftApplied(changes: readonly ConfChangeSingle[], context: Uint8Array, index: number): void {
    const added = addedMember(changes, context, index);
    if (added !== undefined) this.connect(added.id, added.info.address);
    for (const ch of changes) if (ch.type === ConfChangeType.RemoveNode) this.refuse(ch.nodeId);
  }

  /**
   * Raft installed the leader's snapshot (`data` streams it, enveloped; only its member table is read): connect its
   * members, drop peers it no longer has, refuse its removed ids.
   */
  async raftRestored(data: AsyncIterable<Uint8Array>, metadata: SnapshotMetadata): Promise<void> {
    const { members, removed } = await snapshotMembers(data, metadata.index);
    const cs = metadata.confState;
    const ids = new Set([...cs.voters, ...cs.learners, ...cs.votersOutgoing, ...cs.learnersNext]);
    for (const id of [...this.inTransport]) {
      if (!ids.has(id)) {
        this.inTransport.delete(id);
        this.transport.removePeer(id);
      }
    }
    for (const id of removed) this.refuse(id);
    for (const [id, m] of members) if (ids.has(id)) this.connect(id, m.address);
  }

  /** The applier reached a conf change: update the table. */
  applied(changes: readonly ConfChangeSingle[], context: Uint8Array, index: number): void {
    const added = addedMember(changes, context, index);
    if (added !== undefined) this.table.set(added.id, added.info);
    for (const ch of changes) {
      if (ch.type === ConfChangeType.RemoveNode) {
        this.table.delete(ch.nodeId);
        this.removed.add(ch.nodeId);
      } else {
        this.removed.delete(ch.nodeId); // a raw conf change may add an id again
      }
    }
  }

  /** The replicated description of member `id`, if it has one. */
  get(id: number): MemberInfo | undefined {
    return this.table.get(id);
  }

  /** The members of `cs` (voters, then learners) with their replicated addresses. */
  list(cs: ConfState): MemberStatus[] {
    const row = (id: number, role: 'voter' | 'learner'): MemberStatus => {
      const m = this.table.get(id);
      if (m === undefined) return { id, role };
      return m.metadata === undefined
        ? { id, role, address: m.address }
        : { id, role, address: m.address, metadata: m.metadata };
    };
    const voters = [...new Set([...cs.voters, ...cs.votersOutgoing])];
    return [...voters.map((id) => row(id, 'voter')), ...cs.learners.map((id) => row(id, 'learner'))];
  }

  /** Has the transport drop `id`'s address and refuse it (this node never refuses itself). */
  private refuse(id: number): void {
    if (id === this.selfId) return;
    this.inTransport.delete(id);
    this.transport.removePeer(id);
  }

  private connect(id: number, address: string): void {
    if (id === this.selfId || this.fixed.has(id)) return;
    this.inTransport.add(id);
    this.transport.addPeer(id, address);
  }
}

/**
 * The member a conf change adds (or updates, UpdateNode) with an address: only a change with exactly one such
 * single change carries one (the context belongs to the whole change).
 */
function addedMember(
  changes: readonly ConfChangeSingle[],
  context: Uint8Array,
  index: number,
): { id: number; info: MemberInfo } | undefined {
  const adds = changes.filter((ch) => ch.type !== ConfChangeType.RemoveNode);
  if (adds.length !== 1) return undefined;
  const info = decodeMemberContext(context, index);
  return info === undefined ? undefined : { id: adds[0]!.nodeId, info };
}
