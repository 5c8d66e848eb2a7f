// The gate that keeps RaftNode's conf-change promises in step with raft's own applied index.
import { describe, expect, it } from 'vitest';
import { ConfChangeGate } from '../../src/node/conf-change-gate.js';
import { emptyConfState, type ConfState } from '../../src/raftpb/types.js';

function gate(): { g: ConfChangeGate; state: { applied: number; leader: boolean }; resolved: number[] } {
  const state = { applied: 0, leader: false };
  const resolved: number[] = [];
  const g = new ConfChangeGate({
    raftApplied: () => state.applied,
    isLeader: () => state.leader,
    resolve: (seq: number, _cs: ConfState) => resolved.push(seq),
  });
  return { g, state, resolved };
}

const settled = async (p: Promise<void>): Promise<boolean> => {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
};

describe('ConfChangeGate', () => {
  it('resolves a conf change only once raft counts it applied, in index order', () => {
    const { g, state, resolved } = gate();
    g.applied(5, 1, emptyConfState());
    g.applied(7, 2, emptyConfState());
    expect(resolved).toEqual([]);
    state.applied = 5;
    g.advanced();
    expect(resolved).toEqual([1]);
    state.applied = 9;
    g.advanced();
    expect(resolved).toEqual([1, 2]);
  });

  it("holds a new leader's conf changes until its term's first entry is applied; not a follower's", async () => {
    const { g, state } = gate();
    expect(await settled(g.ready())).toBe(true); // follower: forwarded at once
    state.leader = true;
    g.elected(10);
    state.applied = 9;
    const waiting = g.ready();
    g.advanced();
    expect(await settled(waiting)).toBe(false);
    state.applied = 10;
    g.advanced();
    expect(await settled(waiting)).toBe(true);
    expect(await settled(g.ready())).toBe(true);
  });

  it('lets waiters go when the node stops leading or stops', async () => {
    const { g, state } = gate();
    state.leader = true;
    g.elected(4);
    const a = g.ready();
    state.leader = false;
    g.advanced();
    expect(await settled(a)).toBe(true);
    state.leader = true;
    const b = g.ready();
    g.releaseAll();
    expect(await settled(b)).toBe(true);
  });
});
