// Progress: the leader's per-follower replication state machine (Probe / Replicate / Snapshot), with the
// Raft paper's nextIndex/matchIndex (Figure 2, section 5.3) and etcd v3.6's flow control on top.
import { describe, expect, it } from 'vitest';
import { Inflights, Progress, ProgressState } from '../../src/tracker/index.js';
import type { ProgressState as State } from '../../src/tracker/index.js';

function progress(state: State, match: number, next: number, inflightSize = 256, maxBytes = 0): Progress {
  const pr = new Progress({ match, next, inflights: new Inflights(inflightSize, maxBytes) });
  pr.state = state;
  return pr;
}

const { Probe, Replicate, Snapshot } = ProgressState;

describe('Progress', () => {
  it('formats as etcd does', () => {
    const ins = new Inflights(1, 0);
    ins.add(123, 1);
    const pr = new Progress({ match: 1, next: 2, inflights: ins, isLearner: true });
    pr.state = Snapshot;
    pr.pendingSnapshot = 123;
    pr.msgAppFlowPaused = true;
    expect(pr.toString()).toBe(
      'StateSnapshot match=1 next=2 learner paused pendingSnap=123 inactive inflight=1[full]',
    );
    const plain = progress(Replicate, 5, 6);
    plain.recentActive = true;
    expect(plain.toString()).toBe('StateReplicate match=5 next=6');
  });

  // [state, msgAppFlowPaused, isPaused]
  const pausedTable: [State, boolean, boolean][] = [
    [Probe, false, false],
    [Probe, true, true],
    [Replicate, false, false],
    [Replicate, true, true],
    [Snapshot, false, true], // waiting for a snapshot always pauses appends
    [Snapshot, true, true],
  ];
  it.each(pausedTable)('isPaused in %s with paused=%s is %s', (state, paused, want) => {
    const pr = progress(state, 0, 1);
    pr.msgAppFlowPaused = paused;
    expect(pr.isPaused()).toBe(want);
  });

  it('maybeDecrTo and maybeUpdate resume a paused flow', () => {
    const pr = progress(Probe, 0, 2);
    pr.msgAppFlowPaused = true;
    expect(pr.maybeDecrTo(1, 1)).toBe(true);
    expect(pr.msgAppFlowPaused).toBe(false);
    pr.msgAppFlowPaused = true;
    expect(pr.maybeUpdate(2)).toBe(true);
    expect(pr.msgAppFlowPaused).toBe(false);
  });

  // [from state, pendingSnapshot, next after becomeProbe]; match is 1, next was 5
  const probeTable: [string, State, number, number][] = [
    ['from Replicate: probe after match', Replicate, 0, 2],
    ['after a snapshot was delivered: probe after the snapshot', Snapshot, 10, 11],
    ['after a failed snapshot (pending cleared): probe after match', Snapshot, 0, 2],
  ];
  it.each(probeTable)('becomeProbe %s', (_name, state, pending, wantNext) => {
    const pr = progress(state, 1, 5);
    pr.pendingSnapshot = pending;
    pr.noteSentCommit(4);
    pr.inflights.add(4, 10);
    pr.becomeProbe();
    expect(pr.state).toBe(Probe);
    expect(pr.match).toBe(1);
    expect(pr.next).toBe(wantNext);
    expect(pr.pendingSnapshot).toBe(0);
    expect(pr.inflights.count()).toBe(0);
    // sentCommit never claims more than what precedes next.
    expect(pr.sentCommit).toBe(Math.min(4, wantNext - 1));
  });

  it('becomeReplicate starts right after match with an empty window', () => {
    const pr = progress(Probe, 1, 5);
    pr.msgAppFlowPaused = true;
    pr.becomeReplicate();
    expect(pr.state).toBe(Replicate);
    expect(pr.match).toBe(1);
    expect(pr.next).toBe(2);
    expect(pr.msgAppFlowPaused).toBe(false);
  });

  it('becomeSnapshot records the pending snapshot and treats it as sent', () => {
    const pr = progress(Probe, 1, 5);
    pr.becomeSnapshot(10);
    expect(pr.state).toBe(Snapshot);
    expect(pr.match).toBe(1);
    expect(pr.pendingSnapshot).toBe(10);
    expect(pr.next).toBe(11);
    expect(pr.sentCommit).toBe(10);
    expect(pr.isPaused()).toBe(true);
  });

  // [acked index, ok, match, next]; starting from match=3 next=5
  const updateTable: [number, boolean, number, number][] = [
    [2, false, 3, 5], // stale: match never decreases
    [3, false, 3, 5], // duplicate
    [4, true, 4, 5], // match rises, next already beyond it
    [5, true, 5, 6], // match rises and pushes next (invariant match < next)
  ];
  it.each(updateTable)('maybeUpdate(%i) -> %s, match=%i next=%i', (n, ok, match, next) => {
    const pr = progress(Probe, 3, 5);
    expect(pr.maybeUpdate(n)).toBe(ok);
    expect(pr.match).toBe(match);
    expect(pr.next).toBe(next);
  });

  // [why, state, match, next, rejected, matchHint, ok, next after]
  const decrTable: [string, State, number, number, number, number, boolean, number][] = [
    ['replicate: rejection at match is stale', Replicate, 5, 10, 5, 5, false, 10],
    ['replicate: rejection below match is stale', Replicate, 5, 10, 4, 4, false, 10],
    ['replicate: genuine rejection goes back to match+1', Replicate, 5, 10, 9, 9, true, 6],
    ['replicate: the hint is not used', Replicate, 5, 10, 9, 7, true, 6],
    ['probe: rejection not for next-1 is stale', Probe, 0, 0, 0, 0, false, 0],
    ['probe: rejection not for next-1 is stale (reordered)', Probe, 0, 10, 5, 5, false, 10],
    ['probe: hint at rejected steps back one', Probe, 0, 10, 9, 9, true, 9],
    ['probe: next 2 steps back to 1', Probe, 0, 2, 1, 1, true, 1],
    ['probe: next never goes below 1', Probe, 0, 1, 0, 0, true, 1],
    ['probe: a lower hint jumps to hint+1', Probe, 0, 10, 9, 2, true, 3],
    ['probe: hint 0 goes back to 1', Probe, 0, 10, 9, 0, true, 1],
    ['probe: never below match+1, whatever the hint', Probe, 4, 10, 9, 1, true, 5],
  ];
  it.each(decrTable)('maybeDecrTo: %s', (_why, state, match, next, rejected, hint, ok, wantNext) => {
    const pr = progress(state, match, next);
    pr.noteSentCommit(Math.max(next - 1, 0));
    expect(pr.maybeDecrTo(rejected, hint)).toBe(ok);
    expect(pr.match).toBe(match);
    expect(pr.next).toBe(wantNext);
    // A genuine rejection regresses sentCommit below the new next.
    if (ok) expect(pr.sentCommit).toBe(Math.min(Math.max(next - 1, 0), wantNext - 1));
  });

  it('sentEntries in Replicate advances next and pauses when the window fills', () => {
    const pr = progress(Replicate, 5, 6, 2);
    pr.sentEntries(3, 300);
    expect(pr.next).toBe(9);
    expect(pr.inflights.indexList()).toEqual([8]);
    expect(pr.isPaused()).toBe(false);
    pr.sentEntries(1, 100);
    expect(pr.next).toBe(10);
    expect(pr.isPaused()).toBe(true); // window of 2 is full
    // An ack frees the window and resumes the flow.
    expect(pr.maybeUpdate(8)).toBe(true);
    pr.inflights.freeLE(8);
    expect(pr.isPaused()).toBe(false);
    // An empty append (commit only) adds nothing to the window and pauses only if it is full.
    pr.sentEntries(0, 0);
    expect(pr.next).toBe(10);
    expect(pr.inflights.count()).toBe(1);
    expect(pr.isPaused()).toBe(false);
  });

  it('sentEntries in Replicate pauses on the byte limit', () => {
    const pr = progress(Replicate, 0, 1, 100, 1000);
    pr.sentEntries(1, 600);
    expect(pr.isPaused()).toBe(false);
    pr.sentEntries(1, 600); // soft limit: accepted, then full
    expect(pr.isPaused()).toBe(true);
  });

  it('sentEntries in Probe pauses after a non-empty probe only', () => {
    const pr = progress(Probe, 0, 1);
    pr.sentEntries(0, 0);
    expect(pr.isPaused()).toBe(false);
    pr.sentEntries(2, 10);
    expect(pr.isPaused()).toBe(true);
    expect(pr.next).toBe(1); // probes do not advance next
    expect(pr.inflights.count()).toBe(0);
  });

  it('sentEntries in Snapshot is a caller bug', () => {
    const pr = progress(Snapshot, 0, 1);
    expect(() => pr.sentEntries(1, 1)).toThrow(/StateSnapshot/);
  });

  // [sentCommit, next, commit index to send, can bump]
  const bumpTable: [number, number, number, boolean][] = [
    [0, 5, 3, true],
    [3, 5, 3, false], // already sent
    [3, 5, 2, false], // lower than sent
    [3, 5, 4, true],
    [4, 5, 7, false], // the follower's commit is already at next-1; it cannot go further without entries
    [4, 5, 4, false],
  ];
  it.each(bumpTable)('canBumpCommit: sentCommit=%i next=%i index=%i -> %s', (sent, next, index, want) => {
    const pr = progress(Replicate, 0, next);
    pr.noteSentCommit(sent);
    expect(pr.canBumpCommit(index)).toBe(want);
  });

  it('becomeProbe after a delivered snapshot resumes after it even if match lags (reportSnapshot Finish)', () => {
    const pr = progress(Replicate, 3, 8);
    pr.becomeSnapshot(20);
    pr.becomeProbe();
    expect(pr.next).toBe(21);
    expect(pr.sentCommit).toBe(20);
    // A later ack past the snapshot moves it on as usual.
    expect(pr.maybeUpdate(20)).toBe(true);
    pr.becomeReplicate();
    expect(pr.next).toBe(21);
  });

  it('clone is deep', () => {
    const pr = progress(Replicate, 2, 5);
    pr.sentEntries(1, 10);
    const c = pr.clone();
    pr.sentEntries(1, 10);
    pr.isLearner = true;
    expect(c.next).toBe(6);
    expect(c.inflights.count()).toBe(1);
    expect(c.isLearner).toBe(false);
    expect(c.state).toBe(Replicate);
  });
});
