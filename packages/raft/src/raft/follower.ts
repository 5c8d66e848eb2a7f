import { ReadOnlyOption } from '../config.js';
import { RaftError } from '../errors.js';
import { VoteResult } from '../quorum/index.js';
import { MessageType, type Message } from '../raftpb/types.js';
import type { Raft } from './raft.js';
import { CampaignType } from './state-type.js';
import { StateType } from './state-type.js';

/** The candidate's and pre-candidate's step function (etcd's stepCandidate). */
export function stepCandidate(r: Raft, m: Message): void {
  // Only responses to our own kind of campaign count; a pre-candidate that became a candidate may still get
  // stale pre-vote responses of this term.
  const myVoteResp =
    r.state === StateType.PreCandidate ? MessageType.MsgPreVoteResp : MessageType.MsgVoteResp;
  switch (m.type) {
    case MessageType.MsgProp:
      throw new RaftError('ERR_PROPOSAL_DROPPED', `no leader at term ${r.term}; dropping proposal`);
    case MessageType.MsgApp:
      // §5.2: an append of our term (or higher, handled in step) means another node won.
      r.becomeFollower(m.term, m.from);
      handleAppendEntries(r, m);
      return;
    case MessageType.MsgHeartbeat:
      r.becomeFollower(m.term, m.from);
      handleHeartbeat(r, m);
      return;
    case MessageType.MsgSnap:
      r.becomeFollower(m.term, m.from);
      handleSnapshot(r, m);
      return;
    case myVoteResp: {
      const { granted, rejected, result } = r.poll(m.from, !m.reject);
      r.logger.info('received votes', { id: r.id, type: m.type, granted, rejected });
      if (result === VoteResult.Won) {
        if (r.state === StateType.PreCandidate) {
          r.campaign(CampaignType.Election);
        } else {
          r.becomeLeader();
          r.bcastAppend();
        }
      } else if (result === VoteResult.Lost) {
        // A pre-vote response carries a future term; stay at ours.
        r.becomeFollower(r.term, 0);
      }
      return;
    }
    case MessageType.MsgTimeoutNow:
      r.logger.debug('ignored MsgTimeoutNow', { id: r.id, state: r.state, from: m.from });
      return;
  }
}

/** The follower's step function (etcd's stepFollower). */
export function stepFollower(r: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.MsgProp:
      if (r.lead === 0)
        throw new RaftError('ERR_PROPOSAL_DROPPED', `no leader at term ${r.term}; dropping proposal`);
      if (r.disableProposalForwarding) {
        throw new RaftError(
          'ERR_PROPOSAL_DROPPED',
          `not forwarding to leader ${r.lead} at term ${r.term}; dropping proposal`,
        );
      }
      r.send({ ...m, to: r.lead });
      return;
    case MessageType.MsgApp:
      // Same term (step() handled the others): the sender is this term's one leader.
      r.electionElapsed = 0;
      r.lead = m.from;
      handleAppendEntries(r, m);
      return;
    case MessageType.MsgHeartbeat:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleHeartbeat(r, m);
      return;
    case MessageType.MsgSnap:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleSnapshot(r, m);
      return;
    case MessageType.MsgTransferLeader:
      if (r.lead === 0) {
        r.logger.info('no leader; dropping leader transfer', { id: r.id, term: r.term });
        return;
      }
      r.send({ ...m, to: r.lead });
      return;
    case MessageType.MsgForgetLeader:
      if (r.readOnly.option === ReadOnlyOption.LeaseBased) {
        // Forgetting the leader would let this node vote while the old leader still serves lease reads.
        r.logger.error('ignoring MsgForgetLeader due to ReadOnlyLeaseBased', { id: r.id });
        return;
      }
      if (r.lead !== 0) {
        r.logger.info('forgetting leader', { id: r.id, lead: r.lead, term: r.term });
        r.lead = 0;
      }
      return;
    case MessageType.MsgTimeoutNow:
      // Leadership transfer: campaign now, without pre-vote (we know the leader wants us to win).
      r.logger.info('received MsgTimeoutNow and starts an election', {
        id: r.id,
        term: r.term,
        from: m.from,
      });
      r.hup(CampaignType.Transfer);
      return;
    case MessageType.MsgReadIndex:
      if (r.lead === 0) {
        r.logger.info('no leader; dropping read index request', { id: r.id, term: r.term });
        return;
      }
      r.send({ ...m, to: r.lead });
      return;
    case MessageType.MsgReadIndexResp:
      if (m.entries.length !== 1) {
        r.logger.error('invalid MsgReadIndexResp', { id: r.id, from: m.from, entries: m.entries.length });
        return;
      }
      r.readStates.push({ index: m.index, requestCtx: m.entries[0]!.data });
      return;
  }
}

/** §5.3: the consistency check, appending on a match, or a rejection with a hint where the logs may match. */
export function handleAppendEntries(r: Raft, m: Message): void {
  // A stale append (a retransmission): our log up to `committed` is final and matches the leader's, so answer
  // with `committed` and let the leader move `next` past it.
  if (m.index < r.raftLog.committed) {
    r.send({ to: m.from, type: MessageType.MsgAppResp, index: r.raftLog.committed });
    return;
  }
  const lastNew = r.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
  if (lastNew !== undefined) {
    r.send({ to: m.from, type: MessageType.MsgAppResp, index: lastNew });
    return;
  }
  // The hint: the largest (index, term) with index <= m.index and term <= m.logTerm, skipping our whole
  // uncommitted tail of later terms in one round trip.
  const hint = r.raftLog.findConflictByTerm(Math.min(m.index, r.raftLog.lastIndex()), m.logTerm);
  r.send({
    to: m.from,
    type: MessageType.MsgAppResp,
    index: m.index,
    reject: true,
    rejectHint: hint.index,
    logTerm: hint.term,
  });
}

export function handleHeartbeat(r: Raft, m: Message): void {
  // No consistency check needed: the leader never sends a commit above our `match` (sendHeartbeat), so we hold
  // those entries and they match its log.
  r.raftLog.commitTo(m.commit);
  r.send({
    to: m.from,
    type: MessageType.MsgHeartbeatResp,
    ...(m.context !== undefined ? { context: m.context } : {}),
  });
}

export function handleSnapshot(r: Raft, m: Message): void {
  const s = m.snapshot;
  if (s !== undefined && r.restore(s)) {
    r.send({ to: m.from, type: MessageType.MsgAppResp, index: r.raftLog.lastIndex() });
  } else {
    // Stale or already covered by our log: acknowledge what we have committed, so the leader leaves Snapshot state.
    r.send({ to: m.from, type: MessageType.MsgAppResp, index: r.raftLog.committed });
  }
}
