import { EntryType, MessageType } from '../raftpb/types.js';
import type { Raft } from './raft.js';
import { CampaignType } from './state-type.js';

// Starting elections (§5.2) and pre-vote campaigns (dissertation §9.6).

const CAMPAIGN_TRANSFER_CTX = new TextEncoder().encode(CampaignType.Transfer);

function voteRespType(t: MessageType): MessageType {
  return t === MessageType.MsgVote ? MessageType.MsgVoteResp : MessageType.MsgPreVoteResp;
}

/**
 * True when committed entries not yet applied include a conf change: the node must not campaign then, since it
 * would count votes under a configuration that is no longer the cluster's (changes take effect when applied).
 */
export function hasUnappliedConfChanges(r: Raft): boolean {
  const log = r.raftLog;
  let lo = log.applied + 1;
  const hi = log.committed + 1;
  // Page through the unapplied committed entries, reusing the apply size limit as the page size.
  while (lo < hi) {
    const ents = log.slice(lo, hi, log.maxApplyingEntsSize);
    if (ents.length === 0) break;
    for (const e of ents)
      if (e.type === EntryType.ConfChange || e.type === EntryType.ConfChangeV2) return true;
    lo += ents.length;
  }
  return false;
}

export function campaign(r: Raft, t: CampaignType): void {
  let term: number;
  let voteMsg: MessageType;
  if (t === CampaignType.PreElection) {
    r.becomePreCandidate();
    voteMsg = MessageType.MsgPreVote;
    // Pre-votes are for the next term, before r.term is incremented.
    term = r.term + 1;
  } else {
    r.becomeCandidate();
    voteMsg = MessageType.MsgVote;
    term = r.term;
  }
  const ids = [...new Set([...r.trk.config.voters[0], ...r.trk.config.voters[1]])].sort((a, b) => a - b);
  const lastIndex = r.raftLog.lastIndex();
  const lastTerm = r.raftLog.lastTerm();
  // Both halves of a joint configuration vote (§4.3): the election needs a majority of each.
  for (const id of ids) {
    if (id === r.id) {
      // The self-vote counts once it is durable: it comes back through msgsAfterAppend in advance().
      r.send({ to: id, term, type: voteRespType(voteMsg) });
      continue;
    }
    r.logger.info('sending vote request', { id: r.id, to: id, term, type: voteMsg, lastIndex, lastTerm });
    r.send({
      to: id,
      term,
      type: voteMsg,
      index: lastIndex,
      logTerm: lastTerm,
      ...(t === CampaignType.Transfer ? { context: CAMPAIGN_TRANSFER_CTX } : {}),
    });
  }
}
