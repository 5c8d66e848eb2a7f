import http from 'node:http';
import type { KvNode } from '../node/kv-node.js';
import { encodeCommand, type KvCommand } from '../store/commands.js';
import type { KvResult } from '../store/kv-state.js';
import { ApiError, errorFromRaft, sendError, sendJson } from './errors.js';

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
 * - `GET /members`, `POST /members` `{id, peer, client, learner?}`, `DELETE /members/:id`
 * - `GET /status`, `GET /metrics` (Prometheus text), `POST /snapshot`
 */
export function createHttpApi(node: KvNode): http.Server {
  return http.createServer((req, res) => {
    handle(node, req, res).catch((err: unknown) => sendError(res, errorFromRaft(err)));
  });
}

async function handle(node: KvNode, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  // Split the target by hand: `new URL` per request is a measurable share of a busy leader's CPU.
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? undefined : new URLSearchParams(target.slice(q + 1));
  const method = req.method ?? 'GET';
  if (path.startsWith('/kv/')) {
    const key = decodeKey(path.slice(4));
    if (method === 'GET') return getKey(node, key, query, res);
    if (method === 'PUT') return putKey(node, key, await readJson(req), res);
    if (method === 'DELETE') {
      const r = await propose(node, { op: 'del', key });
      if (r.op !== 'del') throw new Error('unexpected result');
      return sendJson(res, 200, { deleted: r.deleted, revision: r.revision });
    }
    throw new ApiError(405, 'METHOD_NOT_ALLOWED', `${method} is not supported on /kv/:key`);
  }
  if (path === '/members' && method === 'GET') return sendJson(res, 200, { members: node.members() });
  if (path === '/members' && method === 'POST') {
    const body = await readJson(req);
    const id = body.id;
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0)
      throw new ApiError(400, 'BAD_REQUEST', 'id must be a positive integer');
    if (typeof body.peer !== 'string' || typeof body.client !== 'string') {
      throw new ApiError(400, 'BAD_REQUEST', 'peer and client addresses are required');
    }
    const confState = await node.addMember(id, body.peer, body.client, body.learner === true);
    return sendJson(res, 200, { confState });
  }
  const memberMatch = /^\/members\/(\d+)$/.exec(path);
  if (memberMatch !== null && method === 'DELETE') {
    const confState = await node.removeMember(Number(memberMatch[1]));
    return sendJson(res, 200, { confState });
  }
  if (path === '/status' && method === 'GET') return sendJson(res, 200, await node.statusReport());
  if (path === '/metrics' && method === 'GET') {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(node.metrics.render());
    return;
  }
  if (path === '/snapshot' && method === 'POST') return sendJson(res, 200, await node.snapshotNow());
  throw new ApiError(404, 'NOT_FOUND', `no route for ${method} ${path}`);
}

async function getKey(
  node: KvNode,
  key: string,
  query: URLSearchParams | undefined,
  res: http.ServerResponse,
): Promise<void> {
  const consistency = query?.get('consistency') ?? 'linearizable';
  if (consistency !== 'linearizable' && consistency !== 'serializable') {
    throw new ApiError(400, 'BAD_REQUEST', 'consistency must be linearizable or serializable');
  }
  if (consistency === 'linearizable') await node.raft.read();
  const v = node.state.get(key);
  if (v === undefined) throw new ApiError(404, 'KEY_NOT_FOUND', `key ${JSON.stringify(key)} not found`);
  sendJson(res, 200, { key, ...v });
}

async function putKey(
  node: KvNode,
  key: string,
  body: Record<string, unknown>,
  res: http.ServerResponse,
): Promise<void> {
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
    const r = await propose(node, { op: 'put', key, value });
    return sendJson(res, 200, { revision: r.revision });
  }
  const r = await propose(node, { op: 'cas', key, value, prevValue, prevRevision });
  if (r.op !== 'cas') throw new Error('unexpected result');
  if (!r.ok)
    return sendJson(res, 409, {
      error: { code: 'CAS_FAILED', message: 'compare failed' },
      current: r.current ?? null,
    });
  sendJson(res, 200, { revision: r.revision });
}

async function propose(node: KvNode, cmd: KvCommand): Promise<KvResult> {
  node.counters.proposals.inc();
  try {
    return (await node.raft.proposeForResult(encodeCommand(cmd))).result;
  } catch (err) {
    node.counters.failedProposals.inc();
    throw err;
  }
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

async function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  // Plain 'data'/'end' events: an async iterator per request costs a busy leader more than the parse does.
  const text = await new Promise<string>((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > LIMITS.bodyBytes) {
        req.removeAllListeners('data');
        req.resume();
        reject(new ApiError(400, 'BODY_TOO_LARGE', `body exceeds ${LIMITS.bodyBytes} bytes`));
      } else parts.push(chunk);
    });
    req.once('end', () =>
      resolve(
        parts.length === 1
          ? (parts[0] ?? Buffer.alloc(0)).toString('utf8')
          : Buffer.concat(parts).toString('utf8'),
      ),
    );
    req.once('error', reject);
  });
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ApiError(400, 'BAD_REQUEST', 'body is not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ApiError(400, 'BAD_REQUEST', 'body must be a JSON object');
  return v as Record<string, unknown>;
}
