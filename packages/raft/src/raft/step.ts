import { MessageType, type Message } from '../raftpb/types.js';
import type { Raft } from './raft.js';
import { CampaignType } from './state-type.js';

// Raft.step: the checks every message goes through before its role sees it (etcd's raft.Step).

const CAMPAIGN_TRANSFER_CTX = new TextEncoder().encode(CampaignType.Transfer);

function voteRespType(t: MessageType): MessageType {
  return t === MessageType.MsgVote ? MessageType.MsgVoteResp : MessageType.MsgPreVoteResp;
}

function bytesEqual(a: Uint8Array | undefined, b: Uint8Array): boolean {
  if (a === undefined || a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Steps a message: term checks for every message (§5.1), votes, then the role's step function. */
export function stepMessage(r: Raft, m: Message): void {
  if (m.term === 0) {
    // A local message.
  } else if (m.term > r.term) {
    if (m.type === MessageType.MsgVote || m.type === MessageType.MsgPreVote) {
      const force = bytesEqual(m.context, CAMPAIGN_TRANSFER_CTX);
      const inLease = r.checkQuorum && r.lead !== 0 && r.electionElapsed < r.electionTimeout;
      if (!force && inLease) {
        // §6 (dissertation 4.2.3): within the minimum election timeout of hearing from a leader, a vote request
        // neither updates the term nor is granted: a removed or partitioned node cannot disrupt the cluster.
        r.logger.info('ignored vote request: lease is not expired', {
          id: r.id,
          from: m.from,
          term: m.term,
          remaining: r.electionTimeout - r.electionElapsed,
        });
        return;
      }
    }
    if (m.type === MessageType.MsgPreVote) {
      // Never change our term in response to a PreVote.
    } else if (m.type === MessageType.MsgPreVoteResp && !m.reject) {
      // A granted pre-vote is for a future term; the term changes only once a quorum grants.
    } else {
      r.logger.info('received a message with higher term', {
        id: r.id,
        term: r.term,
        msgTerm: m.term,
        from: m.from,
        type: m.type,
      });
      // Only a term's leader sends these, and a term has at most one leader (§5.2): the sender leads `m.term`.
      const fromLeader =
        m.type === MessageType.MsgApp ||
        m.type === MessageType.MsgHeartbeat ||
        m.type === MessageType.MsgSnap;
      r.becomeFollower(m.term, fromLeader ? m.from : 0);
    }
  } else if (m.term < r.term) {
    if (
      (r.checkQuorum || r.preVote) &&
      (m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgApp)
    ) {
      // A stale leader (e.g. after a partition): tell it our term so it steps down, instead of leaving it
      // unaware while we (with checkQuorum/preVote) may never bump terms ourselves.
      r.send({ to: m.from, type: MessageType.MsgAppResp });
    } else if (m.type === MessageType.MsgPreVote) {
      r.send({ to: m.from, term: r.term, type: MessageType.MsgPreVoteResp, reject: true });
    } else {
      r.logger.debug('ignored a message with lower term', {
        id: r.id,
        term: r.term,
        msgTerm: m.term,
        from: m.from,
        type: m.type,
      });
    }
    return;
  }

  switch (m.type) {
    case MessageType.MsgHup:
      r.hup(r.preVote ? CampaignType.PreElection : CampaignType.Election);
      return;
    case MessageType.MsgVote:
    case MessageType.MsgPreVote: {
      // A repeat of our vote, no vote and no leader in this term, or a pre-vote for a future term...
      const canVote =
        r.vote === m.from ||
        (r.vote === 0 && r.lead === 0) ||
        (m.type === MessageType.MsgPreVote && m.term > r.term);
      // ...and the candidate's log is at least as up to date as ours (§5.4.1).
      if (canVote && r.raftLog.isUpToDate(m.index, m.logTerm)) {
        // Vote responses carry the request's term (a pre-vote's future term). The grant leaves only once the
        // Ready holding the new vote is durable (send() holds vote responses): a restart cannot forget it.
        r.send({ to: m.from, term: m.term, type: voteRespType(m.type) });
        if (m.type === MessageType.MsgVote) {
          // Figure 2: a follower's election timer restarts when it grants a vote, not only when a leader is heard.
          r.electionElapsed = 0;
          r.vote = m.from;
        }
      } else {
        r.send({ to: m.from, term: r.term, type: voteRespType(m.type), reject: true });
      }
      return;
    }
    default:
      r.stepByRole(m);
  }
}
