import { MessageType, type Entry, type Snapshot } from '../raftpb/types.js';
import { RaftError } from '../errors.js';
import { payloadsSize } from '../log/limit-size.js';
import type { Progress } from '../tracker/index.js';
import type { Raft } from './raft.js';

// Sending appends, snapshots and heartbeats to followers, within flow control (etcd's raft.go send paths).

/** Sends an append (or a snapshot) to `to` if its progress allows; returns whether a message was sent. */
export function maybeSendAppend(r: Raft, to: number, sendIfEmpty: boolean): boolean {
  const pr = r.trk.progress.get(to);
  if (pr === undefined || pr.isPaused()) return false;
  const prevIndex = pr.next - 1;
  let prevTerm: number;
  let ents: Entry[] = [];
  try {
    prevTerm = r.raftLog.term(prevIndex);
    // A throttled Replicate state sends only empty appends, to keep probing (see etcd).
    if (pr.state !== 'StateReplicate' || !pr.inflights.full())
      ents = r.raftLog.entries(pr.next, r.maxMsgSize);
  } catch {
    // The log was compacted past pr.next: the follower needs a snapshot.
    return maybeSendSnapshot(r, to, pr);
  }
  if (ents.length === 0 && !sendIfEmpty) return false;
  // Unlike a heartbeat, a MsgApp may carry the full commit index: the follower commits only up to the last
  // entry it matched with this message (maybeAppend), never past what it holds.
  r.send({
    to,
    type: MessageType.MsgApp,
    index: prevIndex,
    logTerm: prevTerm,
    entries: ents,
    commit: r.raftLog.committed,
  });
  pr.sentEntries(ents.length, payloadsSize(ents));
  pr.noteSentCommit(r.raftLog.committed);
  return true;
}

export function maybeSendSnapshot(r: Raft, to: number, pr: Progress): boolean {
  // A snapshot is costly to send: not to a follower not heard from since the last CheckQuorum round. Its next
  // response makes it active again, and a probe then finds that it still needs one.
  if (!pr.recentActive) {
    r.logger.debug('not sending snapshot to an inactive follower', { to });
    return false;
  }
  let snapshot: Snapshot;
  try {
    snapshot = r.raftLog.snapshot();
  } catch (err) {
    if (err instanceof RaftError && err.code === 'ERR_SNAPSHOT_TEMPORARILY_UNAVAILABLE') {
      r.logger.debug('snapshot temporarily unavailable', { to });
      return false;
    }
    throw err;
  }
  if (snapshot.metadata.index === 0) throw new Error('need non-empty snapshot');
  pr.becomeSnapshot(snapshot.metadata.index);
  r.logger.debug('sending snapshot', { to, index: snapshot.metadata.index, term: snapshot.metadata.term });
  r.send({ to, type: MessageType.MsgSnap, snapshot });
  return true;
}

export function sendHeartbeat(r: Raft, to: number, ctx: Uint8Array | undefined): void {
  const pr = r.trk.progress.get(to);
  if (pr === undefined) return;
  // Never tell a follower a commit index beyond what it is known to have (it may lack those entries).
  const commit = Math.min(pr.match, r.raftLog.committed);
  r.send({ to, type: MessageType.MsgHeartbeat, commit, ...(ctx !== undefined ? { context: ctx } : {}) });
  pr.noteSentCommit(commit);
}

export function bcastAppend(r: Raft): void {
  r.trk.visit((id) => {
    if (id !== r.id) maybeSendAppend(r, id, true);
  });
}

export function bcastHeartbeatWithCtx(r: Raft, ctx: Uint8Array | undefined): void {
  r.trk.visit((id) => {
    if (id !== r.id) sendHeartbeat(r, id, ctx);
  });
}
