import {
  encodeCloseSession,
  encodeKeepAlive,
  encodeRegisterSession,
  encodeSessionCommand,
  encodeUntaggedCommand,
  type SessionResult,
  type SessionTag,
} from '@x/raft';
import type { KvNode } from '../node/kv-node.js';
import { encodeCommand, type KvCommand } from '../store/commands.js';
import type { KvResult } from '../store/kv-state.js';
import { ApiError, json } from './errors.js';
import type { Http1Request, Http1Response } from './http1.js';

// Client sessions over HTTP (Raft dissertation §6.3). A client opens a session (POST /sessions → {sessionId}) and
// sends each write with `X-Client-Id: <sessionId>` and `X-Client-Seq: <n>` (a new n per write, the same on every
// retry of it; optionally `X-Client-First-Unacked: <m>`, the lowest n it has no answer for, default n). A retry of
// a write that was applied answers with the first attempt's result, not a second write.

/** The session tag of a write, from its headers; undefined for a write without one. 400 for a malformed tag. */
export function sessionTag(req: Http1Request): SessionTag | undefined {
  const id = req.headers.get('x-client-id');
  const seq = req.headers.get('x-client-seq');
  const firstUnacked = req.headers.get('x-client-first-unacked');
  if (id === undefined && seq === undefined && firstUnacked === undefined) return undefined;
  if (id === undefined || seq === undefined)
    throw new ApiError(400, 'BAD_REQUEST', 'X-Client-Id and X-Client-Seq go together');
  const tag: SessionTag = { sessionId: positive(id, 'X-Client-Id'), seq: positive(seq, 'X-Client-Seq') };
  if (firstUnacked !== undefined) {
    tag.firstUnacked = positive(firstUnacked, 'X-Client-First-Unacked');
    if (tag.firstUnacked > tag.seq)
      throw new ApiError(400, 'BAD_REQUEST', 'X-Client-First-Unacked must not exceed X-Client-Seq');
  }
  return tag;
}

function positive(text: string, header: string): number {
  const n = /^[1-9]\d{0,15}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n))
    throw new ApiError(400, 'BAD_REQUEST', `${header} must be a positive integer`);
  return n;
}

/**
 * Proposes `cmd` (tagged with `tag` when given) stamped with this node's clock, and answers with what applying it
 * returned: for a retried tagged write, the result recorded when it was first applied.
 */
export async function proposeCommand(
  node: KvNode,
  cmd: KvCommand,
  tag: SessionTag | undefined,
): Promise<KvResult> {
  const payload = encodeCommand(cmd);
  const out = await propose(
    node,
    tag === undefined
      ? encodeUntaggedCommand(payload, Date.now())
      : encodeSessionCommand(tag, payload, Date.now()),
  );
  if (out.kind === 'result') return out.result;
  throw refusal(out);
}

/** `POST /sessions`, `POST /sessions/:id/keepalive`, `DELETE /sessions/:id`; undefined for other routes. */
export async function sessionRoute(
  node: KvNode,
  method: string,
  path: string,
): Promise<Http1Response | undefined> {
  if (path === '/sessions' && method === 'POST') {
    const out = await propose(node, encodeRegisterSession(Date.now()));
    if (out.kind !== 'registered') throw refusal(out);
    return json(200, { sessionId: out.sessionId });
  }
  const m = /^\/sessions\/([^/]+)(\/keepalive)?$/.exec(path);
  if (m === null) return undefined;
  const id = positive(m[1] ?? '', 'session id');
  if (m[2] !== undefined && method === 'POST') {
    const out = await propose(node, encodeKeepAlive(id, Date.now()));
    if (out.kind !== 'keptAlive') throw refusal(out);
    return json(200, { sessionId: id });
  }
  if (m[2] === undefined && method === 'DELETE') {
    const out = await propose(node, encodeCloseSession(id, Date.now()));
    if (out.kind !== 'closed') throw refusal(out);
    return json(200, { sessionId: id, closed: true });
  }
  throw new ApiError(405, 'METHOD_NOT_ALLOWED', `${method} is not supported on ${path}`);
}

async function propose(node: KvNode, data: Uint8Array): Promise<SessionResult<KvResult>> {
  node.metrics.proposals++;
  try {
    return (await node.raft.proposeForResult(data)).result;
  } catch (err) {
    node.metrics.failedProposals++;
    throw err;
  }
}

/** 410 SESSION_EXPIRED: the session is gone (register again); 400 SEQ_ACKNOWLEDGED: a client bug. */
function refusal(out: SessionResult<KvResult>): ApiError {
  if (out.kind === 'error' && out.code === 'ERR_SESSION_EXPIRED')
    return new ApiError(410, 'SESSION_EXPIRED', out.message);
  if (out.kind === 'error') return new ApiError(400, 'SEQ_ACKNOWLEDGED', out.message);
  return new ApiError(500, 'INTERNAL', `unexpected apply result ${out.kind}`);
}
