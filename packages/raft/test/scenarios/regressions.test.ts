// Regression scenarios for the bug classes users of Raft libraries have reported (see
// shared/reference/raft-libraries.md): stuck or disrupted elections, membership, snapshots, reads, leader transfer,
// commit propagation.
import { describe, expect, it } from 'vitest';
import { ReadOnlyOption } from '../../src/config.js';
import { isRaftError } from '../../src/errors.js';
import { confChangeOfEntry, type Raft } from '../../src/raft/raft.js';
import { StateType } from '../../src/raft/state-type.js';
import { ConfChangeType, EntryType, MessageType, asV2 } from '../../src/raftpb/types.js';
import { encodeConfChange, encodeConfChangeV2 } from '../../src/codec/conf-change-codec.js';
import { ProgressState } from '../../src/tracker/index.js';
import { Network, enc, msg, nextEnts, readMessages } from '../paper/harness.js';

const both = () => ({ preVote: true, checkQuorum: true });
const peer = (net: Network, id: number): Raft => net.peers.get(id)!;

/** Persists and applies everything committed on every node (conf changes included). */
function applyAll(net: Network): void {
  for (const [id, r] of net.peers) {
    const s = net.storage.get(id);
    if (s === undefined) continue;
    nextEnts(r, s, (e) => {
      const cc = confChangeOfEntry(e);
      if (cc !== undefined) r.applyConfChange(asV2(cc));
    });
    const out = readMessages(r);
    if (out.length > 0) net.send(...out);
  }
}

function tickN(r: Raft, n: number): void {
  for (let i = 0; i < n; i++) r.tick();
}

function readIndex(net: Network, id: number, ctx: string): void {
  net.send(
    msg({
      type: MessageType.MsgReadIndex,
      from: id,
      to: id,
      entries: [{ term: 0, index: 0, type: 0, data: enc(ctx) }],
    }),
  );
}

describe('elections under partitions (PreVote + CheckQuorum; etcd#8243, #9586)', () => {
  it('a partitioned node that rejoins does not disrupt the leader or bump the term', () => {
    const net = new Network([1, 2, 3], both);
    net.campaign(1);
    expect(peer(net, 1).state).toBe(StateType.Leader);
    const term = peer(net, 1).term;
    net.isolate(3);
    // Node 3 times out repeatedly; pre-vote keeps it from raising its term.
    for (let i = 0; i < 5; i++) {
      tickN(peer(net, 3), 40);
      net.send(...readMessages(peer(net, 3)));
    }
    expect(peer(net, 3).term).toBe(term);
    net.recover();
    net.propose(1);
    expect(peer(net, 1).state).toBe(StateType.Leader);
    expect(peer(net, 1).term).toBe(term);
    expect(peer(net, 3).raftLog.lastIndex()).toBe(peer(net, 1).raftLog.lastIndex());
  });

  it('a node with a higher term cannot win votes while followers hear from a live leader (lease)', () => {
    const net = new Network([1, 2, 3], () => ({ checkQuorum: true }));
    net.campaign(1);
    // Node 3 (no pre-vote guard on its requests) campaigns at a higher term.
    const r3 = peer(net, 3);
    r3.becomeFollower(r3.term + 5, 0);
    net.send(msg({ type: MessageType.MsgVote, from: 3, to: 2, term: r3.term, index: 100, logTerm: 100 }));
    expect(peer(net, 2).term).toBeLessThan(r3.term); // ignored: lease not expired
    expect(peer(net, 1).state).toBe(StateType.Leader);
  });

  it('an isolated leader steps down with CheckQuorum, and the majority elects a new one', () => {
    const net = new Network([1, 2, 3], both);
    net.campaign(1);
    net.isolate(1);
    tickN(peer(net, 1), 21);
    expect(peer(net, 1).state).toBe(StateType.Follower);
    // The others stop hearing from it; once out of its lease, one of them wins an election (split votes retry).
    for (
      let round = 0;
      round < 50 && ![2, 3].some((id) => peer(net, id).state === StateType.Leader);
      round++
    ) {
      for (const id of [2, 3]) {
        tickN(peer(net, id), 1);
        net.send(...readMessages(peer(net, id)));
      }
    }
    expect([peer(net, 2).state, peer(net, 3).state]).toContain(StateType.Leader);
  });
});

describe('membership (etcd#11038, raft#83, dissertation erratum)', () => {
  it('a removed leader steps down once the removal applies (stepDownOnRemoval)', () => {
    const net = new Network([1, 2, 3], () => ({ stepDownOnRemoval: true }));
    net.campaign(1);
    net.propose(1);
    applyAll(net);
    net.send(
      msg({
        type: MessageType.MsgProp,
        from: 1,
        to: 1,
        entries: [
          {
            term: 0,
            index: 0,
            type: EntryType.ConfChange,
            data: encodeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 1 }),
          },
        ],
      }),
    );
    applyAll(net);
    applyAll(net);
    expect(peer(net, 1).state).toBe(StateType.Follower);
  });

  it('a leader refuses a second conf change while one is pending, and any before committing its own term', () => {
    const net = new Network([1, 2, 3]);
    net.campaign(1);
    const r = peer(net, 1);
    const ccEntry = (nodeId: number) => ({
      term: 0,
      index: 0,
      type: EntryType.ConfChangeV2,
      data: encodeConfChangeV2({ transition: 0, changes: [{ type: ConfChangeType.AddLearnerNode, nodeId }] }),
    });
    // Not yet applied the empty entry of its term: refused (becomes an empty normal entry).
    r.step(msg({ type: MessageType.MsgProp, from: 1, to: 1, entries: [ccEntry(4)] }));
    expect(r.raftLog.allEntries().at(-1)?.type).toBe(EntryType.Normal);
    applyAll(net);
    r.step(msg({ type: MessageType.MsgProp, from: 1, to: 1, entries: [ccEntry(4)] }));
    r.step(msg({ type: MessageType.MsgProp, from: 1, to: 1, entries: [ccEntry(5)] }));
    const types = r.raftLog
      .allEntries()
      .slice(-2)
      .map((e) => e.type);
    expect(types).toEqual([EntryType.ConfChangeV2, EntryType.Normal]);
  });

  it('joint consensus: entering with auto-leave leaves the joint config by itself', () => {
    const net = new Network([1, 2, 3]);
    net.campaign(1);
    applyAll(net);
    const r = peer(net, 1);
    r.step(
      msg({
        type: MessageType.MsgProp,
        from: 1,
        to: 1,
        entries: [
          {
            term: 0,
            index: 0,
            type: EntryType.ConfChangeV2,
            data: encodeConfChangeV2({
              transition: 0,
              changes: [
                { type: ConfChangeType.RemoveNode, nodeId: 3 },
                { type: ConfChangeType.AddLearnerNode, nodeId: 3 },
              ],
            }),
          },
        ],
      }),
    );
    net.send(...readMessages(r));
    applyAll(net);
    expect(r.trk.config.voters[1].size).toBeGreaterThan(0); // joint
    for (let i = 0; i < 3; i++) applyAll(net);
    expect(r.trk.config.voters[1].size).toBe(0); // left automatically
    expect(r.trk.confState()).toMatchObject({ voters: [1, 2], learners: [3] });
  });
});

describe('snapshots (etcd#10225, raft#110)', () => {
  it('a failed snapshot does not leave the follower stuck in StateSnapshot', () => {
    const net = new Network([1, 2]);
    net.campaign(1);
    const r = peer(net, 1);
    const pr = r.trk.progress.get(2)!;
    pr.becomeSnapshot(10);
    r.step(msg({ type: MessageType.MsgSnapStatus, from: 2, to: 1, reject: true }));
    expect(pr.state).toBe(ProgressState.Probe);
    expect(pr.pendingSnapshot).toBe(0);
    // A heartbeat response unpauses it and appends resume.
    r.step(msg({ type: MessageType.MsgHeartbeatResp, from: 2, to: 1, term: r.term }));
    expect(readMessages(r).some((m) => m.type === MessageType.MsgApp && m.to === 2)).toBe(true);
  });

  it('any acknowledgement that lets the log catch the follower up ends StateSnapshot', () => {
    const net = new Network([1, 2]);
    net.campaign(1);
    net.propose(1);
    const r = peer(net, 1);
    const pr = r.trk.progress.get(2)!;
    pr.match = 1;
    pr.becomeSnapshot(100); // a snapshot at an index the follower will never reach
    r.step(msg({ type: MessageType.MsgAppResp, from: 2, to: 1, term: r.term, index: r.raftLog.lastIndex() }));
    expect(pr.state).toBe(ProgressState.Replicate);
  });
});

describe('reads (etcd#7331, §6.4)', () => {
  it('a new leader serves no read until it commits an entry of its term, then at or above it', () => {
    const net = new Network([1, 2, 3]);
    net.ignore(MessageType.MsgAppResp); // the empty entry of the new term cannot commit
    net.campaign(1);
    readIndex(net, 1, 'r1');
    expect(peer(net, 1).readStates).toEqual([]);
    net.recover();
    tickN(peer(net, 1), 1); // a heartbeat round resumes the appends
    net.send(...readMessages(peer(net, 1)));
    const leader = peer(net, 1);
    const rs = leader.readStates;
    expect(rs).toHaveLength(1);
    // Served at a commit index that includes the leader's own empty entry of its term.
    expect(rs[0]!.index).toBe(leader.raftLog.committed);
    expect(leader.raftLog.term(rs[0]!.index)).toBe(leader.term);
  });

  it('a deposed leader cut off from the quorum cannot confirm a read (Safe)', () => {
    const net = new Network([1, 2, 3]);
    net.campaign(1);
    net.propose(1);
    net.isolate(1);
    net.campaign(2);
    readIndex(net, 1, 'stale');
    expect(peer(net, 1).readStates).toEqual([]);
  });

  it('a follower read is forwarded to the leader and returns its commit index', () => {
    const net = new Network([1, 2, 3]);
    net.campaign(1);
    net.propose(1);
    readIndex(net, 2, 'f');
    expect(peer(net, 2).readStates.map((r) => r.index)).toEqual([peer(net, 1).raftLog.committed]);
  });

  it('lease-based reads answer without a heartbeat round', () => {
    const net = new Network([1, 2, 3], () => ({
      checkQuorum: true,
      readOnlyOption: ReadOnlyOption.LeaseBased,
    }));
    net.campaign(1);
    net.propose(1);
    net.ignore(MessageType.MsgHeartbeat);
    readIndex(net, 1, 'lease');
    expect(peer(net, 1).readStates).toHaveLength(1);
  });
});

describe('leader transfer (hashicorp#581, openraft#1805)', () => {
  it('is refused to a learner', () => {
    const net = new Network([1, 2, 3]);
    net.campaign(1);
    peer(net, 1).trk.progress.get(3)!.isLearner = true;
    net.send(msg({ type: MessageType.MsgTransferLeader, from: 3, to: 1 }));
    expect(peer(net, 1).leadTransferee).toBe(0);
  });

  it('catches a lagging transferee up first, then hands over; proposals are dropped meanwhile', () => {
    const net = new Network([1, 2, 3]);
    net.campaign(1);
    net.isolate(3);
    net.propose(1);
    net.recover();
    net.ignore(MessageType.MsgAppResp);
    net.send(msg({ type: MessageType.MsgTransferLeader, from: 3, to: 1 }));
    expect(peer(net, 1).leadTransferee).toBe(3);
    expect(() =>
      peer(net, 1).step(
        msg({
          type: MessageType.MsgProp,
          from: 1,
          to: 1,
          entries: [{ term: 0, index: 0, type: 0, data: enc('x') }],
        }),
      ),
    ).toThrow(/transfer/);
    net.recover();
    net.propose(1, new Uint8Array(0)); // dropped, but the heartbeat/append round lets 3 catch up
    tickN(peer(net, 1), 1);
    net.send(...readMessages(peer(net, 1)));
    expect(peer(net, 3).state).toBe(StateType.Leader);
  });

  it('is aborted after an election timeout if the transferee never catches up', () => {
    const net = new Network([1, 2, 3]);
    net.campaign(1);
    net.isolate(3);
    net.send(msg({ type: MessageType.MsgTransferLeader, from: 3, to: 1 }));
    expect(peer(net, 1).leadTransferee).toBe(3);
    tickN(peer(net, 1), 10);
    expect(peer(net, 1).leadTransferee).toBe(0);
    expect(peer(net, 1).state).toBe(StateType.Leader);
  });
});

describe('commit propagation and flow control', () => {
  it('a lagging follower learns the commit index from heartbeats (raft#138)', () => {
    const net = new Network([1, 2, 3]);
    net.campaign(1);
    net.propose(1);
    // Node 3 missed the append that carried the latest commit.
    peer(net, 3).raftLog.committed = 1;
    tickN(peer(net, 1), 1);
    net.send(...readMessages(peer(net, 1)));
    expect(peer(net, 3).raftLog.committed).toBe(peer(net, 1).raftLog.committed);
  });

  it('maxUncommittedEntriesSize drops proposals beyond the budget', () => {
    const net = new Network([1, 2, 3], () => ({ maxUncommittedEntriesSize: 1000 }));
    net.campaign(1);
    net.ignore(MessageType.MsgAppResp); // nothing commits
    const r = peer(net, 1);
    const prop = () =>
      r.step(
        msg({
          type: MessageType.MsgProp,
          from: 1,
          to: 1,
          entries: [{ term: 0, index: 0, type: 0, data: new Uint8Array(600) }],
        }),
      );
    prop();
    let dropped: unknown;
    try {
      prop();
    } catch (err) {
      dropped = err;
    }
    expect(isRaftError(dropped, 'ERR_PROPOSAL_DROPPED')).toBe(true);
  });

  it('followers forward proposals unless forwarding is disabled', () => {
    const net = new Network([1, 2, 3], (id) => ({ disableProposalForwarding: id === 3 }));
    net.campaign(1);
    const before = peer(net, 1).raftLog.lastIndex();
    net.propose(2);
    expect(peer(net, 1).raftLog.lastIndex()).toBe(before + 1);
    expect(() =>
      peer(net, 3).step(
        msg({
          type: MessageType.MsgProp,
          from: 3,
          to: 3,
          entries: [{ term: 0, index: 0, type: 0, data: enc('x') }],
        }),
      ),
    ).toThrow(/not forwarding/);
  });

  it('forgetLeader lets a follower grant a vote at once (etcd forget_leader)', () => {
    const net = new Network([1, 2, 3], () => ({ checkQuorum: true }));
    net.campaign(1);
    const r2 = peer(net, 2);
    net.send(msg({ type: MessageType.MsgForgetLeader, from: 2, to: 2 }));
    expect(r2.lead).toBe(0);
    net.isolate(1);
    net.campaign(3);
    expect(peer(net, 3).state).toBe(StateType.Leader);
  });
});
