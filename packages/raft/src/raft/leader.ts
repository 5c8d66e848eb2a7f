import { ReadOnlyOption } from '../config.js';
import { RaftError } from '../errors.js';
import { VoteResult } from '../quorum/index.js';
import { EntryType, MessageType, asV2, type Message } from '../raftpb/types.js';
import { ProgressState } from '../tracker/index.js';
import { confChangeOfEntry, type Raft } from './raft.js';

/** The leader's step function (etcd's stepLeader). */
export function stepLeader(r: Raft, m: Message): void {
  // Message types that need no progress for m.from.
  switch (m.type) {
    case MessageType.MsgBeat:
      r.bcastHeartbeat();
      return;
    case MessageType.MsgCheckQuorum:
      if (!r.trk.quorumActive()) {
        r.logger.warn('stepped down to follower since quorum is not active', { id: r.id, term: r.term });
        r.becomeFollower(r.term, 0);
      }
      // Everyone but us is inactive until heard from again before the next check.
      r.trk.visit((id, pr) => {
        if (id !== r.id) pr.recentActive = false;
      });
      return;
    case MessageType.MsgProp:
      propose(r, m);
      return;
    case MessageType.MsgReadIndex:
      // A single voter is its own quorum: no other node can have been elected, so no confirmation round.
      if (r.trk.isSingleton()) {
        const resp = r.responseToReadIndexReq(m, r.raftLog.committed);
        if (resp !== undefined) r.send(resp);
        return;
      }
      // §6.4: a new leader does not know the commit index until it commits an entry of its own term.
      if (!r.committedEntryInCurrentTerm()) {
        r.pendingReadIndexMessages.push(m);
        return;
      }
      sendMsgReadIndexResponse(r, m);
      return;
    case MessageType.MsgForgetLeader:
      return;
  }

  const pr = r.trk.progress.get(m.from);
  if (pr === undefined) {
    r.logger.debug('no progress available', { id: r.id, from: m.from });
    return;
  }
  switch (m.type) {
    case MessageType.MsgAppResp: {
      // Also reached from advance(): the leader acknowledging its own durable entries.
      pr.recentActive = true;
      if (m.reject) {
        // rejectHint/logTerm: the follower's guess of where the logs match; skip its whole divergent tail.
        let nextProbeIdx = m.rejectHint;
        if (m.logTerm > 0) nextProbeIdx = r.raftLog.findConflictByTerm(m.rejectHint, m.logTerm).index;
        if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
          if (pr.state === ProgressState.Replicate) pr.becomeProbe();
          r.sendAppend(m.from);
        }
        return;
      }
      // In Probe, an ack of exactly `match` (the answer to a probe that carried nothing new) also shows where the
      // logs agree: without this clause a caught-up follower in Probe would never move to Replicate.
      if (pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === ProgressState.Probe)) {
        if (pr.state === ProgressState.Probe) {
          pr.becomeReplicate();
        } else if (pr.state === ProgressState.Snapshot && pr.match + 1 >= r.raftLog.firstIndex()) {
          // Any snapshot (or append) that lets the log catch the follower up ends the Snapshot state, whatever
          // index it was at (etcd raft#110).
          pr.becomeProbe();
          pr.becomeReplicate();
        } else if (pr.state === ProgressState.Replicate) {
          pr.inflights.freeLE(m.index);
        }
        if (r.maybeCommit()) {
          // A new commit index: followers learn it from the next MsgApp; held reads may now be answered.
          releasePendingReadIndexMessages(r);
          r.bcastAppend();
        } else if (r.id !== m.from && pr.canBumpCommit(r.raftLog.committed)) {
          r.sendAppend(m.from);
        }
        if (r.id !== m.from) {
          while (r.maybeSendAppend(m.from, false)) {
            // keep sending while flow control allows
          }
        }
        if (m.from === r.leadTransferee && pr.match === r.raftLog.lastIndex()) {
          r.logger.info('sent MsgTimeoutNow after the transferee caught up', { id: r.id, to: m.from });
          r.sendTimeoutNow(m.from);
        }
      }
      return;
    }
    case MessageType.MsgHeartbeatResp: {
      pr.recentActive = true;
      pr.msgAppFlowPaused = false;
      if (pr.match < r.raftLog.lastIndex() || pr.state === ProgressState.Probe) r.sendAppend(m.from);
      if (r.readOnly.option !== ReadOnlyOption.Safe || m.context === undefined || m.context.byteLength === 0)
        return;
      const acks = r.readOnly.recvAck(m.from, m.context);
      if (acks === undefined || r.voteResult(acks) !== VoteResult.Won) return;
      for (const rs of r.readOnly.advance(m)) {
        const resp = r.responseToReadIndexReq(rs.req, rs.index);
        if (resp !== undefined) r.send(resp);
      }
      return;
    }
    case MessageType.MsgSnapStatus:
      if (pr.state !== ProgressState.Snapshot) return;
      if (m.reject) {
        // Forget the snapshot first, or probing would start from an index the follower never got.
        pr.pendingSnapshot = 0;
      }
      pr.becomeProbe();
      // Finished: wait for the follower's MsgAppResp. Failed: wait a heartbeat before retrying.
      pr.msgAppFlowPaused = true;
      return;
    case MessageType.MsgUnreachable:
      // An optimistic MsgApp was probably lost.
      if (pr.state === ProgressState.Replicate) pr.becomeProbe();
      return;
    case MessageType.MsgTransferLeader: {
      if (pr.isLearner) {
        r.logger.info('refused to transfer leadership to a learner', { id: r.id, to: m.from });
        return;
      }
      const transferee = m.from;
      const last = r.leadTransferee;
      if (last !== 0) {
        if (last === transferee) return;
        r.abortLeaderTransfer();
      }
      if (transferee === r.id) return;
      // Thesis §3.10: bring the transferee's log up to date, then tell it to campaign at once (MsgTimeoutNow).
      r.logger.info('starts to transfer leadership', { id: r.id, term: r.term, to: transferee });
      // The transfer must finish within an election timeout (tickHeartbeat aborts it after that).
      r.electionElapsed = 0;
      r.leadTransferee = transferee;
      if (pr.match === r.raftLog.lastIndex()) r.sendTimeoutNow(transferee);
      else r.sendAppend(transferee);
      return;
    }
  }
}

function propose(r: Raft, m: Message): void {
  if (m.entries.length === 0) throw new Error('stepped empty MsgProp');
  if (!r.trk.progress.has(r.id)) {
    throw new RaftError(
      'ERR_PROPOSAL_DROPPED',
      'this leader was removed from the configuration; dropping proposal',
    );
  }
  if (r.leadTransferee !== 0) {
    throw new RaftError(
      'ERR_PROPOSAL_DROPPED',
      `leadership transfer to ${r.leadTransferee} is in progress; dropping proposal`,
    );
  }
  // Entries are stamped with term and index by appendEntry; copy them so a caller's (or a forwarder's) objects
  // are never mutated.
  const ents = m.entries.map((e) => ({ term: 0, index: 0, type: e.type, data: e.data }));
  // Conf change rules: one at a time (the next is decided under the configuration the last one produced, §4.1);
  // none before this leader committed an entry of its term (the §4.1 erratum: otherwise single-server changes by
  // leaders of different terms can yield configurations whose majorities do not overlap); joint configs entered
  // and left in turn. A refused change becomes an empty normal entry: the batch keeps its order and indexes.
  for (let i = 0; i < ents.length; i++) {
    const e = ents[i]!;
    const cc = confChangeOfEntry(e);
    if (cc === undefined) continue;
    const alreadyPending = r.pendingConfIndex > r.raftLog.applied;
    const alreadyJoint = r.trk.config.voters[1].size > 0;
    const wantsLeaveJoint = asV2(cc).changes.length === 0;
    let failed = '';
    if (alreadyPending)
      failed = `possible unapplied conf change at index ${r.pendingConfIndex} (applied to ${r.raftLog.applied})`;
    else if (!r.committedEntryInCurrentTerm())
      failed = 'the leader has not committed an entry of its term yet';
    else if (alreadyJoint && !wantsLeaveJoint) failed = 'must transition out of joint config first';
    else if (!alreadyJoint && wantsLeaveJoint) failed = 'not in joint state; refusing empty conf change';
    if (failed !== '' && !r.disableConfChangeValidation) {
      r.logger.info('ignoring conf change', { id: r.id, reason: failed });
      ents[i] = { term: 0, index: 0, type: EntryType.Normal, data: new Uint8Array(0) };
    } else {
      // The index this entry gets in appendEntry below.
      r.pendingConfIndex = r.raftLog.lastIndex() + i + 1;
    }
  }
  if (!r.appendEntry(ents))
    throw new RaftError(
      'ERR_PROPOSAL_DROPPED',
      'uncommitted entries exceed maxUncommittedEntriesSize; dropping proposal',
    );
  r.bcastAppend();
}

/** Answers read-index requests held until this leader committed an entry of its term. */
export function releasePendingReadIndexMessages(r: Raft): void {
  if (r.pendingReadIndexMessages.length === 0) return;
  if (!r.committedEntryInCurrentTerm()) return;
  const msgs = r.pendingReadIndexMessages;
  r.pendingReadIndexMessages = [];
  for (const m of msgs) sendMsgReadIndexResponse(r, m);
}

function sendMsgReadIndexResponse(r: Raft, m: Message): void {
  // The read index is the commit index now (§6.4 step 1): every write acknowledged before the read arrived is
  // at or below it, since this leader has committed an entry of its term.
  if (r.readOnly.option === ReadOnlyOption.Safe) {
    // Confirm leadership with a heartbeat round to a quorum (§6.4 step 2): a quorum that still follows this leader
    // after the read arrived means no newer leader existed then. The leader acks its own.
    const ctx = m.entries[0]?.data;
    r.readOnly.addRequest(r.raftLog.committed, m);
    r.readOnly.recvAck(r.id, ctx);
    r.bcastHeartbeatWithCtx(ctx);
    return;
  }
  // LeaseBased: trust the lease that checkQuorum maintains.
  const resp = r.responseToReadIndexReq(m, r.raftLog.committed);
  if (resp !== undefined) r.send(resp);
}
