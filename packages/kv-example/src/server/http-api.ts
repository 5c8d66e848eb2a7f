import type { KvNode } from '../node/kv-node.js';
import type { SessionTag } from '@x/raft';
import { ApiError, errorFromRaft, errorResponse, json } from './errors.js';
import { Http1Server, type Http1Request, type Http1Response } from './http1.js';
import { proposeCommand as propose, sessionRoute, sessionTag } from './sessions.js';

/** Limits on client input (400 beyond them). */
export const LIMITS = { keyBytes: 1024, valueBytes: 1024 * 1024, bodyBytes: 1024 * 1024 + 4096 } as const;

/**
 * The HTTP/JSON client API of one KV node. Writes and linearizable reads may go to any node: a follower's
 * proposals and ReadIndex requests travel to the leader inside raft (MsgProp / MsgReadIndex), and the follower
 * answers once the result is applied locally, so clients need no redirect handling.
 *
 * - `PUT /kv/:key` `{"value": "...", "prevValue"?: "...", "prevRevision"?: n}` → `{revision}`; with a prev* field it
 *   is a compare-and-swap: 409 `{error:{code:"CAS_FAILED"}, current}` when it does not match.
 * - `GET /kv/:key[?consistency=serializable]` → `{key, value, modRevision, createRevision}` (linearizable by default)
 * - `DELETE /kv/:key` → `{deleted, revision}`
 * - `POST /kv/:key` `{"delta"?: n}` → `{value, revision}`: adds `delta` (default 1) to an integer value; 409
 *   `NOT_AN_INTEGER` with `current` when the value is not one
 * - writes (PUT, DELETE, POST on /kv/:key) may carry a client session tag (`X-Client-Id`, `X-Client-Seq`,
 *   `X-Client-First-Unacked`; see sessions.ts): a retry is then applied at most once. `POST /sessions` →
 *   `{sessionId}`, `POST /sessions/:id/keepalive`, `DELETE /sessions/:id`; 410 `SESSION_EXPIRED` for a session gone
 * - `GET /members`, `POST /members` `{id, peer, client, learner?}`, `POST /members/:id/promote` (on the leader),
 *   `DELETE /members/:id`
 * - `GET /status`, `GET /metrics` (Prometheus text), `POST /snapshot`
 * - `GET /backup`: a consistent snapshot of the state (every write acknowledged before the request) as one
 *   snapshot file in @x/wal's format, streamed (`x-kv backup` saves it; `x-wal snap verify` checks it)
 */
export function createHttpApi(node: KvNode): Http1Server {
  return new Http1Server(
    (req) => handle(node, req).catch((err: unknown) => errorResponse(errorFromRaft(err))),
    {
      maxBodyBytes: LIMITS.bodyBytes,
      ...(node.opts.clientTls !== undefined ? { tls: node.opts.clientTls } : {}),
      onTlsRefused: (r) =>
        node.opts.logger?.warn('refused client connection', { ...r, reason: `TLS handshake: ${r.reason}` }),
    },
  );
}

async function handle(node: KvNode, req: Http1Request): Promise<Http1Response> {
  // Split the target by hand: `new URL` per request is a measurable share of a busy leader's CPU.
  const target = req.target;
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? undefined : new URLSearchParams(target.slice(q + 1));
  const method = req.method;
  if (path.startsWith('/kv/')) {
    const key = decodeKey(path.slice(4));
    if (method === 'GET') return getKey(node, key, query);
    if (method === 'PUT') return putKey(node, key, parseJson(req.body), sessionTag(req));
    if (method === 'POST')
      return incrKey(node, key, req.body.length === 0 ? {} : parseJson(req.body), sessionTag(req));
    if (method === 'DELETE') {
      const r = await propose(node, { op: 'del', key }, sessionTag(req));
      if (r.op !== 'del') throw new Error('unexpected result');
      return json(200, { deleted: r.deleted, revision: r.revision });
    }
    throw new ApiError(405, 'METHOD_NOT_ALLOWED', `${method} is not supported on /kv/:key`);
  }
  if (path === '/members' && method === 'GET')
    return json(200, { members: node.members(), removed: node.raft.removedMembers() });
  if (path === '/members' && method === 'POST') {
    const body = parseJson(req.body);
    const id = body.id;
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0)
      throw new ApiError(400, 'BAD_REQUEST', 'id must be a positive integer');
    if (typeof body.peer !== 'string' || typeof body.client !== 'string') {
      throw new ApiError(400, 'BAD_REQUEST', 'peer and client addresses are required');
    }
    const confState = await node.addMember(id, body.peer, body.client, body.learner === true);
    return json(200, { confState });
  }
  const promoteMatch = /^\/members\/(\d+)\/promote$/.exec(path);
  if (promoteMatch !== null && method === 'POST') {
    return json(200, { confState: await node.promote(Number(promoteMatch[1])) });
  }
  const memberMatch = /^\/members\/(\d+)$/.exec(path);
  if (memberMatch !== null && method === 'DELETE') {
    const confState = await node.removeMember(Number(memberMatch[1]));
    return json(200, { confState });
  }
  if (path.startsWith('/sessions')) {
    const answer = await sessionRoute(node, method, path);
    if (answer !== undefined) return answer;
  }
  if (path === '/status' && method === 'GET') return json(200, await node.statusReport());
  if (path === '/metrics' && method === 'GET')
    return { status: 200, contentType: 'text/plain; version=0.0.4', body: node.renderMetrics() };
  if (path === '/snapshot' && method === 'POST') return json(200, await node.snapshotNow());
  if (path === '/backup' && method === 'GET') return backup(node);
  throw new ApiError(404, 'NOT_FOUND', `no route for ${method} ${path}`);
}

async function getKey(node: KvNode, key: string, query: URLSearchParams | undefined): Promise<Http1Response> {
  const consistency = query?.get('consistency') ?? 'linearizable';
  if (consistency !== 'linearizable' && consistency !== 'serializable') {
    throw new ApiError(400, 'BAD_REQUEST', 'consistency must be linearizable or serializable');
  }
  if (consistency === 'linearizable') await node.raft.read();
  const v = node.state.get(key);
  if (v === undefined) throw new ApiError(404, 'KEY_NOT_FOUND', `key ${JSON.stringify(key)} not found`);
  return json(200, { key, ...v });
}

async function putKey(
  node: KvNode,
  key: string,
  body: Record<string, unknown>,
  tag: SessionTag | undefined,
): Promise<Http1Response> {
  const { value, prevValue, prevRevision } = body;
  if (typeof value !== 'string')
    throw new ApiError(400, 'BAD_REQUEST', 'body must be JSON {"value": string}');
  if (Buffer.byteLength(value) > LIMITS.valueBytes) {
    throw new ApiError(400, 'VALUE_TOO_LARGE', `value exceeds ${LIMITS.valueBytes} bytes`);
  }
  if (prevValue !== undefined && typeof prevValue !== 'string')
    throw new ApiError(400, 'BAD_REQUEST', 'prevValue must be a string');
  if (
    prevRevision !== undefined &&
    !(typeof prevRevision === 'number' && Number.isSafeInteger(prevRevision) && prevRevision >= 0)
  ) {
    throw new ApiError(400, 'BAD_REQUEST', 'prevRevision must be an integer >= 0');
  }
  if (prevValue === undefined && prevRevision === undefined) {
    const r = await propose(node, { op: 'put', key, value }, tag);
    return json(200, { revision: r.revision });
  }
  const r = await propose(node, { op: 'cas', key, value, prevValue, prevRevision }, tag);
  if (r.op !== 'cas') throw new Error('unexpected result');
  if (!r.ok)
    return json(409, {
      error: { code: 'CAS_FAILED', message: 'compare failed' },
      current: r.current ?? null,
    });
  return json(200, { revision: r.revision });
}

async function incrKey(
  node: KvNode,
  key: string,
  body: Record<string, unknown>,
  tag: SessionTag | undefined,
): Promise<Http1Response> {
  const delta = body.delta ?? 1;
  if (typeof delta !== 'number' || !Number.isSafeInteger(delta))
    throw new ApiError(400, 'BAD_REQUEST', 'delta must be an integer');
  const r = await propose(node, { op: 'incr', key, delta }, tag);
  if (r.op !== 'incr') throw new Error('unexpected result');
  if (!r.ok)
    return json(409, {
      error: { code: 'NOT_AN_INTEGER', message: 'the value is not an integer, or the sum is too large' },
      current: r.current ?? null,
    });
  return json(200, { value: r.value, revision: r.revision });
}

function decodeKey(raw: string): string {
  let key: string;
  try {
    key = decodeURIComponent(raw);
  } catch {
    throw new ApiError(400, 'BAD_REQUEST', 'key is not valid percent-encoding');
  }
  if (key.length === 0) throw new ApiError(400, 'BAD_REQUEST', 'key must not be empty');
  if (Buffer.byteLength(key) > LIMITS.keyBytes)
    throw new ApiError(400, 'KEY_TOO_LARGE', `key exceeds ${LIMITS.keyBytes} bytes`);
  return key;
}

function parseJson(body: Buffer): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ApiError(400, 'BAD_REQUEST', 'body is not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ApiError(400, 'BAD_REQUEST', 'body must be a JSON object');
  return v as Record<string, unknown>;
}

/** Streams a fresh backup file, then deletes it. */
async function backup(node: KvNode): Promise<Http1Response> {
  const b = await node.backup();
  const file = {
    path: b.path,
    size: b.size,
    finished: (err?: Error) => {
      if (err !== undefined) node.opts.logger?.warn('backup not sent', { err: err.message });
      b.discard().catch((e: unknown) => node.opts.logger?.warn('backup not deleted', { err: String(e) }));
    },
  };
  return { status: 200, contentType: 'application/octet-stream', body: '', file };
}
