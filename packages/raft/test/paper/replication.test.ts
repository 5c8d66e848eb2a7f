// Raft paper conformance, log replication and safety (§5.3, §5.4.2, Figures 7 and 8), after etcd's
// raft_paper_test.go.
import { describe, expect, it } from 'vitest';
import { StateType } from '../../src/raft/state-type.js';
import { MessageType, type Entry } from '../../src/raftpb/types.js';
import {
  Network,
  enc,
  ents,
  msg,
  newTestRaft,
  nextEnts,
  raftWithLog,
  readMessages,
  storageWith,
} from './harness.js';
import type { Raft } from '../../src/raft/raft.js';

function leaderOf(ids: number[]): { r: Raft; s: ReturnType<typeof storageWith> } {
  const s = storageWith(ids);
  const r = newTestRaft(1, 10, 1, s);
  r.becomeCandidate();
  r.becomeLeader();
  r.bcastAppend();
  return { r, s };
}

/** Has every follower acknowledge whatever the leader sends them, until the leader has nothing more to send. */
function ackAll(r: Raft, msgs = readMessages(r)): void {
  while (msgs.length > 0) {
    for (const m of msgs) if (m.type === MessageType.MsgApp) r.step(acceptAndReply(m));
    msgs = readMessages(r);
  }
}

function acceptAndReply(m: { from: number; to: number; term: number; index: number; entries: Entry[] }) {
  return msg({
    type: MessageType.MsgAppResp,
    from: m.to,
    to: m.from,
    term: m.term,
    index: m.index + m.entries.length,
  });
}

function terms(r: Raft): number[] {
  return r.raftLog.allEntries().map((e) => e.term);
}

describe('§5.3 log replication', () => {
  it('the leader appends a proposal and sends it to every follower', () => {
    const { r, s } = leaderOf([1, 2, 3]);
    ackAll(r);
    nextEnts(r, s);
    r.step(
      msg({
        type: MessageType.MsgProp,
        from: 1,
        to: 1,
        entries: [{ term: 0, index: 0, type: 0, data: enc('some data') }],
      }),
    );
    const msgs = readMessages(r).sort((a, b) => a.to - b.to);
    expect(
      msgs.map((m) => [m.type, m.to, m.index, m.logTerm, m.entries.map((e) => [e.index, e.term])]),
    ).toEqual([
      [MessageType.MsgApp, 2, 1, 1, [[2, 1]]],
      [MessageType.MsgApp, 3, 1, 1, [[2, 1]]],
    ]);
    expect(r.raftLog.nextUnstableEnts().map((e) => e.index)).toEqual([2]);
  });

  it('the leader commits an entry once a majority has it, and tells followers the commit index', () => {
    const { r, s } = leaderOf([1, 2, 3]);
    ackAll(r);
    nextEnts(r, s);
    r.step(
      msg({
        type: MessageType.MsgProp,
        from: 1,
        to: 1,
        entries: [{ term: 0, index: 0, type: 0, data: enc('x') }],
      }),
    );
    nextEnts(r, s);
    ackAll(r);
    expect(r.raftLog.committed).toBe(2);
    const committed = nextEnts(r, s);
    expect(committed.map((e) => e.index)).toEqual([2]);
    // The next appends carry the new commit index.
    r.step(
      msg({
        type: MessageType.MsgProp,
        from: 1,
        to: 1,
        entries: [{ term: 0, index: 0, type: 0, data: enc('y') }],
      }),
    );
    for (const m of readMessages(r)) expect(m.commit).toBe(2);
  });

  // Cluster size, acknowledgements (besides the leader's own), whether the entry commits.
  const commitCases: [number, Record<number, boolean>, boolean][] = [
    [1, {}, true],
    [3, {}, false],
    [3, { 2: true }, true],
    [3, { 2: true, 3: true }, true],
    [5, {}, false],
    [5, { 2: true }, false],
    [5, { 2: true, 3: true }, true],
    [5, { 2: true, 3: true, 4: true, 5: true }, true],
  ];
  it.each(commitCases)(
    'with %i nodes and acks %j, the entry is committed: %s (exactly at a majority)',
    (size, acks, want) => {
      const ids = Array.from({ length: size }, (_, i) => i + 1);
      const { r, s } = leaderOf(ids);
      ackAll(r);
      nextEnts(r, s);
      const li = r.raftLog.lastIndex();
      r.step(
        msg({
          type: MessageType.MsgProp,
          from: 1,
          to: 1,
          entries: [{ term: 0, index: 0, type: 0, data: enc('x') }],
        }),
      );
      nextEnts(r, s);
      for (const m of readMessages(r)) if (acks[m.to] === true) r.step(acceptAndReply(m));
      expect(r.raftLog.committed > li).toBe(want);
    },
  );

  it('committing an entry commits every earlier entry of the leader log, including older terms (§5.3)', () => {
    for (const prior of [[], [2], [1, 1], [1]]) {
      const s = storageWith([1, 2, 3]);
      s.append(ents(...prior));
      const r = newTestRaft(1, 10, 1, s);
      r.loadState({ term: 2, vote: 0, commit: 0 });
      r.becomeCandidate();
      r.becomeLeader();
      r.bcastAppend();
      r.step(
        msg({
          type: MessageType.MsgProp,
          from: 1,
          to: 1,
          entries: [{ term: 0, index: 0, type: 0, data: enc('x') }],
        }),
      );
      nextEnts(r, s);
      ackAll(r);
      const committed = nextEnts(r, s);
      expect(committed.map((e) => e.index)).toEqual(
        Array.from({ length: prior.length + 2 }, (_, i) => i + 1),
      );
    }
  });

  it('a follower applies committed entries in log order', () => {
    const s = storageWith([1, 2, 3]);
    const r = newTestRaft(1, 10, 1, s);
    r.becomeFollower(1, 2);
    const batch: Entry[] = [1, 2, 3].map((i) => ({ term: 1, index: i, type: 0, data: enc(`d${i}`) }));
    r.step(
      msg({
        type: MessageType.MsgApp,
        from: 2,
        to: 1,
        term: 1,
        logTerm: 0,
        index: 0,
        commit: 2,
        entries: batch,
      }),
    );
    expect(nextEnts(r, s).map((e) => e.index)).toEqual([1, 2]);
    r.step(
      msg({
        type: MessageType.MsgApp,
        from: 2,
        to: 1,
        term: 1,
        logTerm: 1,
        index: 3,
        commit: 3,
        entries: [],
      }),
    );
    expect(nextEnts(r, s).map((e) => e.index)).toEqual([3]);
  });

  it('a follower rejects an append whose previous entry it lacks, with a hint (consistency check)', () => {
    const r = raftWithLog(1, [1, 2, 3], [1, 2]); // (1,1) (2,2)
    r.becomeFollower(2, 2);
    const cases: [number, number, boolean, number][] = [
      // prev term, prev index, reject, hint
      [0, 0, false, 0],
      [1, 1, false, 0],
      [2, 2, false, 0],
      [1, 2, true, 1], // term mismatch at 2: our entry at 1 (term 1) may match
      [3, 3, true, 2], // index beyond our log: hint our last index
    ];
    for (const [logTerm, index, wreject, whint] of cases) {
      r.step(msg({ type: MessageType.MsgApp, from: 2, to: 1, term: 2, logTerm, index, commit: 1 }));
      const [resp] = readMessages(r);
      expect({ logTerm, index, reject: resp?.reject, hint: resp?.rejectHint }).toEqual({
        logTerm,
        index,
        reject: wreject,
        hint: wreject ? whint : 0,
      });
    }
  });

  it('a follower truncates a conflicting suffix and appends the leader entries', () => {
    const cases: [number, number, Entry[], number[]][] = [
      [2, 2, [{ term: 3, index: 3, type: 0, data: new Uint8Array(0) }], [1, 2, 3]],
      [
        1,
        1,
        [
          { term: 3, index: 2, type: 0, data: new Uint8Array(0) },
          { term: 4, index: 3, type: 0, data: new Uint8Array(0) },
        ],
        [1, 3, 4],
      ],
      [0, 0, [{ term: 1, index: 1, type: 0, data: new Uint8Array(0) }], [1, 2]],
      [0, 0, [{ term: 3, index: 1, type: 0, data: new Uint8Array(0) }], [3]],
    ];
    for (const [logTerm, index, entries, want] of cases) {
      const r = raftWithLog(1, [1, 2, 3], [1, 2]);
      r.becomeFollower(2, 0);
      r.step(msg({ type: MessageType.MsgApp, from: 2, to: 1, term: 2, logTerm, index, entries }));
      expect(terms(r)).toEqual(want);
    }
  });

  it('Figure 7: every follower log (a)-(f) converges with the leader log', () => {
    const leaderTerms = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    const followers: number[][] = [
      [1, 1, 1, 4, 4, 5, 5, 6, 6], // (a)
      [1, 1, 1, 4], // (b)
      [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6], // (c)
      [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7], // (d)
      [1, 1, 1, 4, 4, 4, 4], // (e)
      [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3], // (f)
    ];
    for (const fterms of followers) {
      const lead = raftWithLog(1, [1, 2, 3], leaderTerms);
      lead.loadState({ term: 8, vote: 0, commit: lead.raftLog.lastIndex() });
      const follower = raftWithLog(2, [1, 2, 3], fterms);
      follower.loadState({ term: 7, vote: 0, commit: 0 });
      // A third node that votes for the leader, so it can win term 9.
      const net = new Network(
        [1, 2, 3],
        () => ({}),
        new Map([
          [1, lead],
          [2, follower],
          [3, newTestRaft(3, 10, 1, storageWith([1, 2, 3]))],
        ]),
      );
      net.campaign(1);
      net.propose(1, new Uint8Array(0));
      expect(lead.state).toBe(StateType.Leader);
      expect(terms(follower)).toEqual(terms(lead));
    }
  });

  it('Figure 8 (§5.4.2): a leader never commits an entry of a previous term by counting replicas', () => {
    // Leader of term 2 has an entry of term 1 at index 1 replicated on a majority, but it must not count it
    // committed until an entry of term 2 is committed.
    const s = storageWith([1, 2, 3]);
    s.append(ents(1));
    const r = newTestRaft(1, 10, 1, s);
    r.loadState({ term: 1, vote: 0, commit: 0 });
    r.becomeCandidate();
    r.becomeLeader(); // term 2, appends an empty entry at index 2
    r.bcastAppend();
    const msgs = readMessages(r);
    // A follower acknowledges only index 1 (the old-term entry).
    r.step(msg({ type: MessageType.MsgAppResp, from: 2, to: 1, term: r.term, index: 1 }));
    expect(r.raftLog.committed).toBe(0);
    // Once the term-2 entry is on a majority, both commit.
    nextEnts(r, s);
    for (const m of msgs) r.step(acceptAndReply(m));
    expect(r.raftLog.committed).toBe(2);
  });
});
