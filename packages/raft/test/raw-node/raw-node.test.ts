// The Ready contract (etcd doc.go) as seen through RawNode, and config validation.
import { describe, expect, it } from 'vitest';
import { isRaftError } from '../../src/errors.js';
import { RawNode } from '../../src/raw-node.js';
import { StateType } from '../../src/raft/state-type.js';
import { MessageType, type Message } from '../../src/raftpb/types.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import type { Config } from '../../src/config.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const cfg = (over: Partial<Config> = {}): Config => ({
  id: 1,
  electionTick: 10,
  heartbeatTick: 1,
  storage: new MemoryStorage(),
  ...over,
});

/** Carries out every Ready per the contract; returns what was sent and applied. */
function drain(node: RawNode, storage: MemoryStorage): { sent: Message[]; applied: string[] } {
  const sent: Message[] = [];
  const applied: string[] = [];
  while (node.hasReady()) {
    const rd = node.ready();
    storage.append(rd.entries);
    if (rd.hardState) storage.setHardState(rd.hardState);
    sent.push(...rd.messages);
    for (const e of rd.committedEntries) {
      if (e.type !== 0) node.applyConfChange({ type: 0, nodeId: 1 });
      else if (e.data.byteLength > 0) applied.push(new TextDecoder().decode(e.data));
    }
    node.advance(rd);
  }
  return { sent, applied };
}

/** A single-node cluster, bootstrapped and elected. */
function singleLeader(): { node: RawNode; storage: MemoryStorage } {
  const storage = new MemoryStorage();
  const node = new RawNode(cfg({ storage }));
  node.bootstrap([{ id: 1 }]);
  drain(node, storage);
  node.campaign();
  drain(node, storage);
  return { node, storage };
}

describe('RawNode', () => {
  it('a single node bootstraps, campaigns, commits and applies a proposal', () => {
    const { node, storage } = singleLeader();
    expect(node.status().softState.raftState).toBe(StateType.Leader);
    node.propose(enc('hello'));
    expect(drain(node, storage).applied).toEqual(['hello']);
  });

  it('proposeBatch appends its entries in order in one Ready; an empty batch is a no-op; a refused batch throws', () => {
    const { node, storage } = singleLeader();
    node.proposeBatch([]);
    expect(node.hasReady()).toBe(false);
    node.proposeBatch(['a', 'b', 'c'].map(enc));
    const rd = node.ready();
    expect(rd.entries.map((e) => new TextDecoder().decode(e.data))).toEqual(['a', 'b', 'c']);
    const first = rd.entries[0]!.index;
    expect(rd.entries.map((e) => e.index)).toEqual([first, first + 1, first + 2]);
    storage.append(rd.entries);
    if (rd.hardState) storage.setHardState(rd.hardState);
    node.advance(rd);
    expect(drain(node, storage).applied).toEqual(['a', 'b', 'c']);
    const follower = new RawNode(cfg({ id: 2, storage: new MemoryStorage() }));
    follower.bootstrap([{ id: 1 }, { id: 2 }]);
    // No leader known: the whole batch is dropped.
    expect(() => follower.proposeBatch([enc('x')])).toThrow(
      expect.objectContaining({ code: 'ERR_PROPOSAL_DROPPED' }),
    );
  });

  it('mustSync is set for new entries or a term/vote change, not for a commit-only change', () => {
    const storage = new MemoryStorage();
    const node = new RawNode(cfg({ storage }));
    node.bootstrap([{ id: 1 }]);
    const first = node.ready();
    expect(first.mustSync).toBe(true);
    expect(first.entries).toHaveLength(1);
    storage.append(first.entries);
    if (first.hardState) storage.setHardState(first.hardState);
    node.advance(first);
    node.campaign();
    let rd = node.ready();
    expect(rd.hardState?.term).toBe(2);
    expect(rd.mustSync).toBe(true);
    storage.append(rd.entries);
    if (rd.hardState) storage.setHardState(rd.hardState);
    node.advance(rd);
    while (node.hasReady()) {
      rd = node.ready();
      if (rd.entries.length === 0 && rd.hardState !== undefined) expect(rd.mustSync).toBe(false);
      storage.append(rd.entries);
      if (rd.hardState) storage.setHardState(rd.hardState);
      node.advance(rd);
    }
  });

  it('withholds a follower acknowledgement until the Ready that persists the entries (messages follow persistence)', () => {
    const storage = new MemoryStorage({
      confState: { voters: [1, 2], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
    });
    const node = new RawNode(cfg({ storage }));
    node.step({
      type: MessageType.MsgApp,
      to: 1,
      from: 2,
      term: 1,
      logTerm: 0,
      index: 0,
      commit: 0,
      reject: false,
      rejectHint: 0,
      entries: [{ term: 1, index: 1, type: 0, data: enc('x') }],
    });
    const rd = node.ready();
    // The acknowledgement travels in the same Ready as the entries it acknowledges: the application must persist
    // rd.entries before sending rd.messages.
    expect(rd.entries.map((e) => e.index)).toEqual([1]);
    expect(rd.messages.map((m) => [m.type, m.index])).toEqual([[MessageType.MsgAppResp, 1]]);
    expect(rd.mustSync).toBe(true);
  });

  it('a leader does not count its own entries toward the commit before advance (thesis §10.2.1)', () => {
    const { node, storage } = singleLeader();
    node.propose(enc('p'));
    const rd = node.ready();
    expect(rd.entries).toHaveLength(1);
    expect(rd.committedEntries).toHaveLength(0); // not committed: the leader has not persisted it yet
    storage.append(rd.entries);
    node.advance(rd);
    const next = node.ready();
    expect(next.committedEntries.map((e) => new TextDecoder().decode(e.data))).toEqual(['p']);
  });

  it('refuses local message types from the network and responses from unknown peers', () => {
    const node = new RawNode(
      cfg({
        storage: new MemoryStorage({
          confState: { voters: [1, 2], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
        }),
      }),
    );
    const base = {
      to: 1,
      from: 2,
      term: 1,
      logTerm: 0,
      index: 0,
      commit: 0,
      reject: false,
      rejectHint: 0,
      entries: [],
    };
    expect(() => node.step({ ...base, type: MessageType.MsgHup })).toThrow(
      expect.objectContaining({ code: 'ERR_STEP_LOCAL_MSG' }) as Error,
    );
    expect(() => node.step({ ...base, from: 9, type: MessageType.MsgAppResp })).toThrow(
      expect.objectContaining({ code: 'ERR_STEP_PEER_NOT_FOUND' }) as Error,
    );
  });

  it('restarts from storage with applied set: nothing is applied twice', () => {
    const { node, storage } = singleLeader();
    node.propose(enc('a'));
    node.propose(enc('b'));
    drain(node, storage);
    const applied = node.status().applied;
    const again = new RawNode(cfg({ storage, applied }));
    expect(drain(again, storage).applied).toEqual([]);
    const fresh = new RawNode(cfg({ storage, applied: 0 }));
    expect(drain(fresh, storage).applied).toEqual(['a', 'b']);
  });

  it('readIndex on a single node yields a ReadState at the commit index', () => {
    const { node } = singleLeader();
    node.readIndex(enc('ctx'));
    const rd = node.ready();
    expect(rd.readStates).toEqual([{ index: node.status().hardState.commit, requestCtx: enc('ctx') }]);
  });

  it.each([
    [{ id: 0 }, 'id'],
    [{ heartbeatTick: 0 }, 'heartbeatTick'],
    [{ electionTick: 1 }, 'electionTick'],
    [{ maxInflightMsgs: 0 }, 'maxInflightMsgs'],
    [{ maxInflightBytes: 10, maxSizePerMsg: 100 }, 'maxInflightBytes'],
    [{ readOnlyOption: 'lease-based' as const }, 'checkQuorum'],
    [{ storage: {} as MemoryStorage }, 'storage'],
  ])('rejects an invalid config %j naming the field', (over, field) => {
    let err: unknown;
    try {
      new RawNode(cfg(over));
    } catch (e) {
      err = e;
    }
    expect(isRaftError(err, 'ERR_CONFIG_INVALID')).toBe(true);
    expect((err as { field?: string }).field).toBe(field);
  });
});

describe('RawNode.status', () => {
  it('reports per-follower progress on the leader', () => {
    const peers = {
      confState: { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
    };
    const storage = new MemoryStorage(peers);
    const node = new RawNode(cfg({ storage }));
    node.campaign();
    drain(node, storage);
    for (const from of [2, 3])
      node.step({
        type: MessageType.MsgVoteResp,
        to: 1,
        from,
        term: 1,
        logTerm: 0,
        index: 0,
        commit: 0,
        reject: false,
        rejectHint: 0,
        entries: [],
      });
    drain(node, storage);
    const st = node.status();
    expect(st.softState.raftState).toBe(StateType.Leader);
    expect([...st.progress.keys()].sort()).toEqual([1, 2, 3]);
    expect(st.progress.get(1)).toMatchObject({ match: 1, state: 'StateReplicate' });
    expect(st.progress.get(2)).toMatchObject({ match: 0, next: 1, state: 'StateProbe' });
    expect(st.config.voters).toEqual([1, 2, 3]);
  });
});
