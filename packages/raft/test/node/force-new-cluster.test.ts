// Recovery from a lost quorum: RaftNode.start({ forceNewCluster: true }) restarts a survivor as the only voter,
// keeping every entry it holds, after which members are added as usual.
import { afterEach, describe, expect, it } from 'vitest';
import { decodeConfChange, encodeConfChange } from '../../src/codec/conf-change-codec.js';
import { isRaftError } from '../../src/errors.js';
import { forceNewCluster } from '../../src/node/force-new-cluster.js';
import type { RaftNode } from '../../src/node/raft-node.js';
import { StateType } from '../../src/raft/state-type.js';
import { ConfChangeType, EntryType, type ConfState, type Entry } from '../../src/raftpb/types.js';
import { MemoryNetwork } from '../../src/transport/memory-transport.js';
import { startMemoryMember, type MemoryMember } from './fakes.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const cs = (voters: number[], learners: number[] = [], votersOutgoing: number[] = []): ConfState => ({
  voters,
  learners,
  votersOutgoing,
  learnersNext: [],
  autoLeave: false,
});

type Member = MemoryMember;

let running: RaftNode<number>[] = [];
afterEach(async () => {
  await Promise.all(running.map((n) => n.stop().catch(() => undefined)));
  running = [];
});

const start = (
  net: MemoryNetwork,
  id: number,
  o: Parameters<typeof startMemoryMember>[3] = {},
): Promise<Member> => startMemoryMember(net, id, running, o);

function until(node: RaftNode<number>, cond: () => boolean, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      node.off('applied', check).off('role', check);
      reject(new Error(`timed out waiting for ${what}`));
    }, 10_000);
    const check = (): void => {
      if (!cond()) return;
      clearTimeout(timer);
      node.off('applied', check).off('role', check);
      resolve();
    };
    node.on('applied', check).on('role', check);
    check();
  });
}

describe('forceNewCluster (the conf changes)', () => {
  const entry = (index: number, type: EntryType, data: Uint8Array): Entry => ({ index, term: 2, type, data });
  const changes = (es: Entry[]) =>
    es.map((e) => (e.type === EntryType.ConfChange ? decodeConfChange(e.data) : 'v2'));

  it('removes every other member (voters and learners), commits everything held, keeps term and vote', () => {
    const log = [entry(11, EntryType.Normal, enc('a')), entry(12, EntryType.Normal, enc('b'))];
    const forced = forceNewCluster(2, { index: 10, confState: cs([1, 2, 3], [4]) }, log, {
      term: 3,
      vote: 1,
      commit: 11,
    })!;
    expect(forced.entries.map((e) => [e.index, e.term])).toEqual([
      [13, 3],
      [14, 3],
      [15, 3],
    ]);
    expect(changes(forced.entries)).toMatchObject([
      { type: ConfChangeType.RemoveNode, nodeId: 1 },
      { type: ConfChangeType.RemoveNode, nodeId: 3 },
      { type: ConfChangeType.RemoveNode, nodeId: 4 },
    ]);
    expect(forced.state).toEqual({ term: 3, vote: 1, commit: 15 });
  });

  it('follows conf changes in the log, leaves a joint config first, makes a learner a voter first', () => {
    const joint = forceNewCluster(3, { index: 5, confState: cs([1, 3], [], [1, 2]) }, [], {
      term: 1,
      vote: 0,
      commit: 5,
    })!;
    expect(joint.entries[0]!.type).toBe(EntryType.ConfChangeV2);
    expect(joint.entries[0]!.data.byteLength).toBeGreaterThan(0); // never read as an empty entry
    expect(changes(joint.entries.slice(1))).toMatchObject([{ type: ConfChangeType.RemoveNode, nodeId: 1 }]);

    // A learner 4 added in the log after the snapshot.
    const add4 = encodeConfChange({ type: ConfChangeType.AddLearnerNode, nodeId: 4 });
    const learner = forceNewCluster(
      4,
      { index: 5, confState: cs([1]) },
      [entry(6, EntryType.ConfChange, add4)],
      {
        term: 2,
        vote: 0,
        commit: 6,
      },
    )!;
    expect(changes(learner.entries)).toMatchObject([
      { type: ConfChangeType.AddNode, nodeId: 4 },
      { type: ConfChangeType.RemoveNode, nodeId: 1 },
    ]);
    expect(learner.entries[0]!.index).toBe(7);
    expect(forceNewCluster(1, { index: 5, confState: cs([1]) }, [], { term: 1, vote: 1, commit: 5 })).toBe(
      undefined,
    );
  });
});

describe('RaftNode.start({ forceNewCluster })', () => {
  it('a survivor of a 3-member cluster restarts alone with all its entries, then adds a member that catches up', async () => {
    const net = new MemoryNetwork();
    const peers = [1, 2, 3].map((id) => ({ id, address: `h${id}:1` }));
    const members = await Promise.all([1, 2, 3].map((id) => start(net, id, { peers, snapshotCount: 8 })));
    const { leader } = await members[0]!.node.waitForLeader();
    const lead = members.find((m) => m.id === leader)!;
    for (let i = 0; i < 20; i++) await lead.node.propose(enc(`w${i}`));
    const survivor = members.find((m) => m.id !== leader)!;
    await until(survivor.node, () => survivor.machine.applied.length === 20, 'survivor applied');
    await Promise.all(members.map((m) => m.node.stop())); // the other two are gone for good

    const net2 = new MemoryNetwork();
    const back = await start(net2, survivor.id, {
      peers,
      forceNewCluster: true,
      storage: survivor.storage.reopen(),
      snaps: survivor.snaps,
      snapshotCount: 8,
    });
    expect(back.node.startedAs).toBe('restart');
    await until(back.node, () => back.node.status().softState.raftState === StateType.Leader, 'leader alone');
    expect(back.node.members().map((m) => m.id)).toEqual([survivor.id]);
    expect(back.node.removedMembers()).toEqual([1, 2, 3].filter((id) => id !== survivor.id));
    expect(await back.node.propose(enc('after'))).toBeGreaterThan(0);
    // Every write it had: the snapshot's and the log's.
    expect(back.machine.applied).toEqual([...Array.from({ length: 20 }, (_, i) => `w${i}`), 'after']);

    const joiner = await start(net2, 4, { mode: 'join', snapshotCount: 8 });
    expect((await back.node.addMember({ id: 4, address: 'h4:1' })).voters).toEqual([survivor.id, 4].sort());
    const last = await back.node.propose(enc('with 4'));
    await until(joiner.node, () => joiner.node.status().appliedIndex >= last, 'joiner caught up');
    expect(joiner.machine.applied.at(-1)).toBe('with 4');

    // Restarted without the flag afterwards, it is the two-member cluster it became.
    await back.node.stop();
    const again = await start(net2, survivor.id, { storage: back.storage.reopen(), snaps: back.snaps });
    await until(again.node, () => again.node.status().appliedIndex >= last, 'replayed');
    expect(again.node.members().map((m) => m.id)).toEqual([survivor.id, 4].sort());
  });

  it('refuses an empty storage (ERR_STORAGE_EMPTY) and a mode that does not restart (ERR_CONFIG_INVALID)', async () => {
    const net = new MemoryNetwork();
    const err = await start(net, 1, { forceNewCluster: true, peers: [{ id: 1 }] }).catch((e: unknown) => e);
    expect(isRaftError(err, 'ERR_STORAGE_EMPTY')).toBe(true);
    const join = await start(net, 1, { forceNewCluster: true, mode: 'join' }).catch((e: unknown) => e);
    expect(isRaftError(join, 'ERR_CONFIG_INVALID')).toBe(true);
    expect((join as { field?: string }).field).toBe('forceNewCluster');
  });
});
