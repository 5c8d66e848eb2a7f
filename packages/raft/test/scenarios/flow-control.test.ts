// Flow control and status: maxSizePerMsg, maxInflightMsgs, reportUnreachable, explicit joint consensus, and the
// per-follower progress in status().
import { describe, expect, it } from 'vitest';
import { encodeConfChangeV2 } from '../../src/codec/conf-change-codec.js';
import { confChangeOfEntry, type Raft } from '../../src/raft/raft.js';
import {
  ConfChangeTransition,
  ConfChangeType,
  EntryType,
  MessageType,
  asV2,
} from '../../src/raftpb/types.js';
import { ProgressState } from '../../src/tracker/index.js';
import { Network, msg, nextEnts, readMessages } from '../paper/harness.js';

const peer = (net: Network, id: number): Raft => net.peers.get(id)!;
const prop = (r: Raft, size: number): void =>
  r.step(
    msg({
      type: MessageType.MsgProp,
      from: r.id,
      to: r.id,
      entries: [{ term: 0, index: 0, type: 0, data: new Uint8Array(size) }],
    }),
  );

function applyAll(net: Network): void {
  for (const [id, r] of net.peers) {
    nextEnts(r, net.storage.get(id)!, (e) => {
      const cc = confChangeOfEntry(e);
      if (cc !== undefined) r.applyConfChange(asV2(cc));
    });
    const out = readMessages(r);
    if (out.length > 0) net.send(...out);
  }
}

describe('flow control', () => {
  it('maxSizePerMsg splits a backlog into several appends', () => {
    const net = new Network([1, 2], () => ({ maxSizePerMsg: 2048 }));
    net.campaign(1);
    applyAll(net);
    const r = peer(net, 1);
    net.isolate(2);
    for (let i = 0; i < 10; i++) prop(r, 1000);
    readMessages(r);
    // The follower falls back to probing; once it answers, the leader sends the backlog in size-limited messages.
    r.trk.progress.get(2)!.becomeProbe();
    r.step(msg({ type: MessageType.MsgHeartbeatResp, from: 2, to: 1, term: r.term }));
    r.step(msg({ type: MessageType.MsgAppResp, from: 2, to: 1, term: r.term, index: 1 }));
    const apps = readMessages(r).filter((m) => m.type === MessageType.MsgApp && m.to === 2);
    expect(apps.length).toBeGreaterThan(1);
    for (const m of apps)
      expect(m.entries.reduce((s, e) => s + e.data.byteLength, 0)).toBeLessThanOrEqual(2048);
  });

  it('maxInflightMsgs stops appends to a follower until it acknowledges', () => {
    const net = new Network([1, 2], () => ({ maxInflightMsgs: 2 }));
    net.campaign(1);
    applyAll(net);
    const r = peer(net, 1);
    expect(r.trk.progress.get(2)!.state).toBe(ProgressState.Replicate);
    for (let i = 0; i < 5; i++) prop(r, 10);
    const apps = readMessages(r).filter(
      (m) => m.type === MessageType.MsgApp && m.to === 2 && m.entries.length > 0,
    );
    expect(apps).toHaveLength(2);
    expect(r.trk.progress.get(2)!.isPaused()).toBe(true);
    r.step(
      msg({
        type: MessageType.MsgAppResp,
        from: 2,
        to: 1,
        term: r.term,
        index: apps[1]!.index + apps[1]!.entries.length,
      }),
    );
    expect(readMessages(r).some((m) => m.type === MessageType.MsgApp && m.to === 2)).toBe(true);
  });

  it('reportUnreachable moves a replicating follower back to probing', () => {
    const net = new Network([1, 2]);
    net.campaign(1);
    applyAll(net);
    const r = peer(net, 1);
    expect(r.trk.progress.get(2)!.state).toBe(ProgressState.Replicate);
    r.step(msg({ type: MessageType.MsgUnreachable, from: 2, to: 1 }));
    expect(r.trk.progress.get(2)!.state).toBe(ProgressState.Probe);
  });
});

describe('joint consensus, explicit', () => {
  it('JointExplicit stays joint until an empty ConfChangeV2 leaves it', () => {
    const net = new Network([1, 2, 3]);
    net.campaign(1);
    applyAll(net);
    const r = peer(net, 1);
    const propose = (data: Uint8Array) => {
      r.step(
        msg({
          type: MessageType.MsgProp,
          from: 1,
          to: 1,
          entries: [{ term: 0, index: 0, type: EntryType.ConfChangeV2, data }],
        }),
      );
      net.send(...readMessages(r));
      for (let i = 0; i < 3; i++) applyAll(net);
    };
    propose(
      encodeConfChangeV2({
        transition: ConfChangeTransition.JointExplicit,
        changes: [{ type: ConfChangeType.RemoveNode, nodeId: 3 }],
      }),
    );
    expect(r.trk.confState()).toMatchObject({ voters: [1, 2], votersOutgoing: [1, 2, 3], autoLeave: false });
    propose(new Uint8Array(0)); // an empty V2 leaves the joint configuration
    expect(r.trk.confState()).toMatchObject({ voters: [1, 2], votersOutgoing: [] });
  });
});
