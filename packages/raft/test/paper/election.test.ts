// Raft paper conformance, leader election (Ongaro & Ousterhout, "In Search of an Understandable Consensus
// Algorithm", §5.1-§5.2, §5.4.1), after etcd's raft_paper_test.go. Pre-vote and check-quorum are off, as in the paper.
import { describe, expect, it } from 'vitest';
import { VoteResult } from '../../src/quorum/index.js';
import { StateType } from '../../src/raft/state-type.js';
import { MessageType } from '../../src/raftpb/types.js';
import { Raft } from '../../src/raft/raft.js';
import { seededRandom } from '../../src/random.js';
import { ents, msg, newTestRaft, raftWithLog, readMessages, storageWith } from './harness.js';

type Role = 'follower' | 'candidate' | 'leader';

function inRole(role: Role): Raft {
  const r = newTestRaft(1, 10, 1, storageWith([1, 2, 3]));
  if (role === 'follower') r.becomeFollower(1, 2);
  if (role === 'candidate') r.becomeCandidate();
  if (role === 'leader') {
    r.becomeCandidate();
    r.becomeLeader();
  }
  return r;
}

describe('§5.1 terms', () => {
  it.each(['follower', 'candidate', 'leader'] as const)(
    'a %s that sees a higher term adopts it and becomes a follower',
    (role) => {
      const r = inRole(role);
      r.step(msg({ type: MessageType.MsgApp, term: 2, from: 2, to: 1 }));
      expect(r.term).toBe(2);
      expect(r.state).toBe(StateType.Follower);
    },
  );

  it('a message with a stale term is ignored', () => {
    const r = newTestRaft(1, 10, 1, storageWith([1, 2]));
    let called = false;
    r.becomeFollower(2, 0);
    const before = r.raftLog.lastIndex();
    r.step(msg({ type: MessageType.MsgApp, term: 1, from: 2, to: 1, entries: ents(1) }));
    called = r.raftLog.lastIndex() !== before;
    expect(called).toBe(false);
    expect(readMessages(r)).toEqual([]);
  });
});

describe('§5.2 leader election', () => {
  it('servers start as followers', () => {
    expect(newTestRaft(1, 10, 1, storageWith([1, 2, 3])).state).toBe(StateType.Follower);
  });

  it('the leader broadcasts heartbeats every heartbeat timeout', () => {
    const hb = 1;
    const r = newTestRaft(1, 10, hb, storageWith([1, 2, 3]));
    r.becomeCandidate();
    r.becomeLeader();
    r.raftLog.append([{ term: 0, index: r.raftLog.lastIndex() + 1, type: 0, data: new Uint8Array(0) }]);
    r.raftLog.commitTo(r.raftLog.lastIndex());
    readMessages(r);
    for (let i = 0; i < hb; i++) r.tick();
    const msgs = readMessages(r).sort((a, b) => a.to - b.to);
    expect(msgs.map((m) => [m.type, m.to, m.term])).toEqual([
      [MessageType.MsgHeartbeat, 2, 1],
      [MessageType.MsgHeartbeat, 3, 1],
    ]);
  });

  it.each(['follower', 'candidate'] as const)(
    'a %s that hears nothing for an election timeout starts an election: new term, votes for itself, asks everyone',
    (role) => {
      const et = 10;
      const r = newTestRaft(1, et, 1, storageWith([1, 2, 3]));
      if (role === 'follower') r.becomeFollower(1, 2);
      else r.becomeCandidate();
      for (let i = 1; i < 2 * et; i++) r.tick();
      advanceAll(r);
      expect(r.term).toBe(2);
      expect(r.state).toBe(StateType.Candidate);
      expect(r.trk.votes.get(r.id)).toBe(true);
      const msgs = readMessages(r).sort((a, b) => a.to - b.to);
      expect(msgs.map((m) => [m.type, m.to, m.term])).toEqual([
        [MessageType.MsgVote, 2, 2],
        [MessageType.MsgVote, 3, 2],
      ]);
    },
  );

  // Cluster size, votes received (besides its own), expected state.
  const oneRound: [number, Record<number, boolean>, StateType][] = [
    [1, {}, StateType.Leader],
    [3, { 2: true, 3: true }, StateType.Leader],
    [3, { 2: true }, StateType.Leader],
    [5, { 2: true, 3: true, 4: true, 5: true }, StateType.Leader],
    [5, { 2: true, 3: true, 4: true }, StateType.Leader],
    [5, { 2: true, 3: true }, StateType.Leader],
    [3, { 2: false, 3: false }, StateType.Follower],
    [5, { 2: false, 3: false, 4: false, 5: false }, StateType.Follower],
    [5, { 2: true, 3: false, 4: false, 5: false }, StateType.Follower],
    [3, {}, StateType.Candidate],
    [5, { 2: true }, StateType.Candidate],
    [5, { 2: false, 3: false }, StateType.Candidate],
    [5, {}, StateType.Candidate],
  ];
  it.each(oneRound)(
    'a candidate in a %i-node cluster with votes %j ends as %s (win, lose, or wait)',
    (size, votes, want) => {
      const ids = Array.from({ length: size }, (_, i) => i + 1);
      const r = newTestRaft(1, 10, 1, storageWith(ids));
      r.step(msg({ type: MessageType.MsgHup, from: 1, to: 1 }));
      advanceAll(r);
      for (const [id, granted] of Object.entries(votes)) {
        r.step(
          msg({ type: MessageType.MsgVoteResp, from: Number(id), to: 1, term: r.term, reject: !granted }),
        );
      }
      expect(r.state).toBe(want);
      expect(r.term).toBe(1);
    },
  );

  it('a follower grants at most one vote per term, first come first served', () => {
    for (const [vote, nvote, wreject] of [
      [0, 2, false],
      [0, 3, false],
      [2, 2, false],
      [3, 3, false],
      [2, 3, true],
      [3, 2, true],
    ] as const) {
      const r = newTestRaft(1, 10, 1, storageWith([1, 2, 3]));
      r.loadState({ term: 1, vote, commit: 0 });
      r.step(msg({ type: MessageType.MsgVote, from: nvote, to: 1, term: 1 }));
      const [resp] = readMessages(r);
      expect(resp).toMatchObject({ type: MessageType.MsgVoteResp, to: nvote, term: 1, reject: wreject });
    }
  });

  it('a candidate steps down on an append from a leader of its term or higher', () => {
    for (const term of [1, 2]) {
      const r = newTestRaft(1, 10, 1, storageWith([1, 2, 3]));
      r.step(msg({ type: MessageType.MsgHup, from: 1, to: 1 }));
      r.step(msg({ type: MessageType.MsgApp, from: 2, to: 1, term }));
      expect(r.state).toBe(StateType.Follower);
      expect(r.term).toBe(term);
    }
  });

  it.each(['follower', 'candidate'] as const)(
    'election timeouts of a %s are randomized over [et, 2et)',
    (role) => {
      const et = 10;
      const seen = new Set<number>();
      const r = newTestRaft(1, et, 1, storageWith([1, 2, 3]));
      for (let round = 0; round < 50 * et; round++) {
        if (role === 'follower') r.becomeFollower(r.term + 1, 2);
        else r.becomeCandidate();
        let time = 0;
        while (readMessages(r).length === 0) {
          r.tick();
          advanceAll(r);
          time++;
        }
        seen.add(time);
      }
      for (let d = et + 1; d < 2 * et; d++) expect(seen.has(d)).toBe(true);
      expect([...seen].every((t) => t >= et && t <= 2 * et)).toBe(true);
    },
  );

  it.each(['follower', 'candidate'] as const)(
    'election timeouts rarely collide in a 5-node cluster (%s), at most 30 percent',
    (role) => {
      const et = 10;
      const size = 5;
      let conflicts = 0;
      const rounds = 1000;
      const nodes = Array.from(
        { length: size },
        (_, i) =>
          new Raft({
            id: i + 1,
            electionTick: et,
            heartbeatTick: 1,
            storage: storageWith([1, 2, 3, 4, 5]),
            random: seededRandom(1000 + i),
          }),
      );
      for (let round = 0; round < rounds; round++) {
        for (const r of nodes) {
          if (role === 'follower') r.becomeFollower(r.term + 1, 0);
          else r.becomeCandidate();
        }
        let timedOut = 0;
        while (timedOut === 0) {
          for (const r of nodes) {
            r.tick();
            advanceAll(r);
            if (readMessages(r).length > 0) timedOut++;
          }
        }
        if (timedOut > 1) conflicts++;
      }
      expect(conflicts / rounds).toBeLessThanOrEqual(0.3);
    },
  );
});

describe('§5.4.1 election restriction', () => {
  it('vote requests carry the candidate last log index and term', () => {
    for (const log of [ents(1), ents(1, 2), ents(1, 1, 2, 3)]) {
      const s = storageWith([1, 2, 3]);
      s.append(log);
      const r = newTestRaft(1, 10, 1, s);
      r.reset(log[log.length - 1]!.term);
      r.step(msg({ type: MessageType.MsgHup, from: 1, to: 1 }));
      const msgs = readMessages(r);
      for (const m of msgs)
        expect(m).toMatchObject({
          type: MessageType.MsgVote,
          index: log.length,
          logTerm: log[log.length - 1]!.term,
        });
    }
  });

  it('a voter refuses a candidate whose log is less up to date', () => {
    const log = ents(2, 2); // voter: last (index 2, term 2)
    const cases: [number, number, boolean][] = [
      [1, 3, true], // lower last term: refuse, however long
      [1, 1, true],
      [2, 1, true], // same last term, shorter: refuse
      [2, 2, false], // same last term and length: grant
      [2, 3, false], // same last term, longer: grant
      [3, 1, false], // higher last term: grant, however short
      [3, 2, false],
    ];
    for (const [logTerm, index, wreject] of cases) {
      const r = raftWithLog(
        1,
        [1, 2],
        log.map((e) => e.term),
      );
      r.step(msg({ type: MessageType.MsgVote, from: 2, to: 1, term: 3, logTerm, index }));
      const [resp] = readMessages(r);
      expect({ logTerm, index, reject: resp?.reject }).toEqual({ logTerm, index, reject: wreject });
    }
  });

  it('the vote tally helper agrees with quorum rules', () => {
    const r = newTestRaft(1, 10, 1, storageWith([1, 2, 3]));
    r.becomeCandidate();
    expect(r.poll(1, true).result).toBe(VoteResult.Pending);
    expect(r.poll(2, true).result).toBe(VoteResult.Won);
  });
});

function advanceAll(r: Raft): void {
  // Step self-votes, as the node would after persisting its vote.
  for (;;) {
    const self = r.msgsAfterAppend.filter((m) => m.to === r.id);
    r.msgsAfterAppend = r.msgsAfterAppend.filter((m) => m.to !== r.id);
    if (self.length === 0) return;
    for (const m of self) r.step(m);
  }
}
