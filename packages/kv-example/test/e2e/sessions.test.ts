// Client sessions with real `x-kv node` processes: a tagged write retried after an unknown outcome is applied once
// and answered with the first attempt's result; the `x-kv` client retries a write that got a 504 in the same
// session and with the same sequence number.
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reservePort } from '../../../../test-support/ports.js';
import { CLI, ProcCluster, http, leaderOf, until } from './harness.js';

let c: ProcCluster;
beforeAll(async () => {
  // Frequent snapshots and a short catch-up make a new member start from a snapshot. Sessions keep the default
  // 1-hour timeout here, so no test depends on how fast this machine is; expiry has its own cluster below.
  c = await ProcCluster.start(3, ['--snapshot-count', '20', '--snapshot-catchup', '5']);
  await leaderOf(c, [1, 2, 3]);
});
afterAll(() => c.stop());

async function tagged(
  url: string,
  method: string,
  body: unknown,
  headers: Record<string, string>,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    headers: { 'content-type': 'application/json', ...headers },
    signal: AbortSignal.timeout(15_000),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

type Answer = { status: number; json: Record<string, unknown> };

/**
 * Sends a request again while its answer is 503 (nothing done) or 504 (outcome unknown: an election on a loaded
 * machine can cause one). Only for requests that may be repeated: tagged writes (what sessions are for), puts of
 * the same value, session opens (an unused session just expires), membership calls (idempotent in KvNode).
 */
async function settled(send: () => Promise<Answer>): Promise<Answer> {
  let r = await send();
  for (let attempt = 0; attempt < 20 && (r.status === 503 || r.status === 504); attempt++) {
    await new Promise((res) => setTimeout(res, 200));
    r = await send();
  }
  return r;
}

const send = (url: string, method: string, body: unknown, headers: Record<string, string> = {}) =>
  settled(() => tagged(url, method, body, headers));

async function openSession(node: number): Promise<number> {
  const r = await send(`${c.url(node)}/sessions`, 'POST', undefined);
  expect(r.status).toBe(200);
  return r.json.sessionId as number;
}

describe('client sessions (real processes)', () => {
  it('applies a retried tagged write once and answers it with the first result, on any node', async () => {
    const session = await openSession(1);
    const tag = { 'x-client-id': String(session), 'x-client-seq': '1' };
    const first = await send(`${c.url(1)}/kv/n`, 'POST', { delta: 5 }, tag);
    expect(first).toEqual({ status: 200, json: { value: 5, revision: expect.any(Number) as number } });
    // The retry goes to another node (the client did not hear the first answer): same answer, no second add.
    const retry = await send(`${c.url(2)}/kv/n`, 'POST', { delta: 5 }, tag);
    expect(retry).toEqual(first);
    expect((await send(`${c.url(3)}/kv/n`, 'GET', undefined)).json.value).toBe('5');
    // The next sequence number is a new write; a PUT retried with a different body still answers the first.
    const seq2 = { ...tag, 'x-client-seq': '2' };
    const put = await send(`${c.url(1)}/kv/p`, 'PUT', { value: 'one' }, seq2);
    expect(put.status).toBe(200);
    expect(await send(`${c.url(3)}/kv/p`, 'PUT', { value: 'two' }, seq2)).toEqual(put);
    expect((await send(`${c.url(2)}/kv/p`, 'GET', undefined)).json.value).toBe('one');
    // A sequence number the client acknowledged (below X-Client-First-Unacked of a later write) is refused, not
    // re-applied. (Untagged writes are applied every time: the withSessions unit tests and the chaos run with
    // CHAOS_COUNTER_DEDUP=0 show it; here a 504 would make the count of an untagged retry unknown.)
    const seq3 = { ...tag, 'x-client-seq': '3', 'x-client-first-unacked': '3' };
    expect(await send(`${c.url(1)}/kv/n`, 'POST', {}, seq3)).toMatchObject({
      status: 200,
      json: { value: 6 },
    });
    const stale = await send(`${c.url(1)}/kv/n`, 'POST', { delta: 5 }, tag);
    expect(stale.status).toBe(400);
    expect(stale.json.error).toMatchObject({ code: 'SEQ_ACKNOWLEDGED' });
    expect((await send(`${c.url(1)}/kv/n`, 'GET', undefined)).json.value).toBe('6');
  });

  it('a member that joined from a snapshot answers a retry with the recorded result (the table is in the snapshot)', async () => {
    const session = await openSession(1);
    const tag = { 'x-client-id': String(session), 'x-client-seq': '1' };
    const first = await send(`${c.url(1)}/kv/snap-counter`, 'POST', {}, tag);
    expect(first.status).toBe(200);
    for (let i = 0; i < 60; i++)
      expect((await send(`${c.url(1 + (i % 3))}/kv/fill${i}`, 'PUT', { value: 'x' })).status).toBe(200);
    const n4 = await c.define(4);
    c.spawn(4, true, [1, 2, 3, 4]);
    const add = await send(`${c.url(2)}/members`, 'POST', {
      id: 4,
      peer: n4.peer,
      client: n4.client,
      learner: true,
    });
    expect(add.status).toBe(200);
    const st4 = await until(async () => {
      const st = (await http(`${c.url(4)}/status`, 'GET')).json;
      return (st.appliedIndex ?? 0) > (first.json.revision as number) + 60 ? st : undefined;
    }, 'node 4 caught up');
    // Node 4 never applied the first increment: it came in the snapshot (with the session table).
    expect(st4.snapshotIndex).toBeGreaterThan(first.json.revision as number);
    // The retry's answer is node 4's own apply of the retried entry: the recorded result, not a second add.
    expect(await send(`${c.url(4)}/kv/snap-counter`, 'POST', {}, tag)).toEqual(first);
    expect((await send(`${c.url(4)}/kv/snap-counter`, 'GET', undefined)).json.value).toBe('1');
    await c.kill(4, 'SIGTERM');
    expect((await send(`${c.url(1)}/members/4`, 'DELETE', undefined)).status).toBe(200);
  });

  it('refuses malformed tags with 400 and writes in unknown sessions with 410 SESSION_EXPIRED', async () => {
    for (const headers of [
      { 'x-client-seq': '1' },
      { 'x-client-id': '1', 'x-client-seq': '0' },
      { 'x-client-id': 'x', 'x-client-seq': '1' },
      { 'x-client-id': '1', 'x-client-seq': '2', 'x-client-first-unacked': '3' },
    ]) {
      const r = await tagged(`${c.url(1)}/kv/m`, 'PUT', { value: 'v' }, headers);
      expect(r.status, JSON.stringify(headers)).toBe(400);
    }
    const unknown = await send(
      `${c.url(1)}/kv/m`,
      'PUT',
      { value: 'v' },
      { 'x-client-id': '999999', 'x-client-seq': '1' },
    );
    expect(unknown.status).toBe(410);
    expect(unknown.json.error).toMatchObject({ code: 'SESSION_EXPIRED' });
    expect((await send(`${c.url(1)}/kv/m`, 'GET', undefined)).status).toBe(404);
    const session = await openSession(2);
    expect(await send(`${c.url(3)}/sessions/${session}/keepalive`, 'POST', undefined)).toMatchObject({
      status: 200,
      json: { sessionId: session },
    });
    expect((await send(`${c.url(1)}/sessions/${session}`, 'DELETE', undefined)).status).toBe(200);
    const closed = await send(
      `${c.url(1)}/kv/m`,
      'PUT',
      { value: 'v' },
      { 'x-client-id': String(session), 'x-client-seq': '1' },
    );
    expect(closed.status).toBe(410);
    expect((await send(`${c.url(1)}/sessions/${session}/keepalive`, 'POST', undefined)).status).toBe(410);
    expect((await send(`${c.url(1)}/kv/m`, 'GET', undefined)).status).toBe(404);
  });

  it('expires a session idle for longer than --session-timeout of log time', async () => {
    const one = await ProcCluster.start(1, ['--session-timeout', '1000']);
    try {
      await leaderOf(one, [1]);
      const url = one.url(1);
      const opened = await send(`${url}/sessions`, 'POST', undefined);
      expect(opened.status).toBe(200);
      // The session's last activity is its register entry, stamped before the answer came; the put below is
      // stamped at least 1.5 s later, which moves log time past the timeout (however slow the machine is).
      await new Promise((r) => setTimeout(r, 1_500));
      expect((await send(`${url}/kv/clock`, 'PUT', { value: 'tick' })).status).toBe(200);
      const tag = { 'x-client-id': String(opened.json.sessionId), 'x-client-seq': '1' };
      const late = await send(`${url}/kv/m`, 'PUT', { value: 'v' }, tag);
      expect(late.status).toBe(410);
      expect(late.json.error).toMatchObject({ code: 'SESSION_EXPIRED' });
      expect((await send(`${url}/kv/m`, 'GET', undefined)).status).toBe(404);
    } finally {
      await one.stop();
    }
  });

  it('x-kv retries a write after a 504 in the same session and sequence: the counter moves once', async () => {
    // A proxy in front of node 1 that forwards each request and, for the first write the node answered 200 (it
    // was applied), tells the client 504 instead: the outcome the client sees is unknown. Everything else passes.
    const seen: {
      method: string;
      url: string;
      id: string | undefined;
      seq: string | undefined;
      status: number;
      upstream: string;
      faulted: boolean;
    }[] = [];
    const port = await reservePort();
    let faulted = false;
    const proxy: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => {
        const headers: Record<string, string> = {};
        for (const h of ['content-type', 'x-client-id', 'x-client-seq', 'x-client-first-unacked'])
          if (typeof req.headers[h] === 'string') headers[h] = req.headers[h];
        const body = chunks.length > 0 ? { body: Buffer.concat(chunks) } : {};
        void fetch(`${c.url(1)}${req.url ?? '/'}`, { method: req.method ?? 'GET', headers, ...body }).then(
          async (up) => {
            const text = await up.text();
            const fault = req.url?.startsWith('/kv/') === true && up.status === 200 && !faulted;
            seen.push({
              method: req.method ?? '',
              url: req.url ?? '',
              id: headers['x-client-id'],
              seq: headers['x-client-seq'],
              status: up.status,
              upstream: text,
              faulted: fault,
            });
            if (fault) {
              faulted = true;
              res.writeHead(504, { 'content-type': 'application/json' });
              res.end(JSON.stringify({ error: { code: 'TIMEOUT', message: 'injected by the test proxy' } }));
              return;
            }
            res.writeHead(up.status, {
              'content-type': up.headers.get('content-type') ?? 'application/json',
            });
            res.end(text);
          },
          () => res.destroy(),
        );
      });
    });
    await new Promise<void>((r) => proxy.listen(port, '127.0.0.1', r));
    try {
      const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const p = spawn(process.execPath, [
          CLI,
          'incr',
          'cli-counter',
          '--endpoints',
          `http://127.0.0.1:${port}`,
        ]);
        let stdout = '';
        let stderr = '';
        p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        p.on('close', (code) => resolve({ code, stdout, stderr }));
      });
      expect(out.stderr).toBe('');
      expect(out.code).toBe(0);
      const writes = seen.filter((s) => s.url === '/kv/cli-counter');
      const f = writes.findIndex((w) => w.faulted);
      // The client was told 504 for a write that was applied, and sent it again (at least once more).
      expect(f).toBeGreaterThanOrEqual(0);
      expect(JSON.parse(writes[f]!.upstream)).toMatchObject({ value: 1 });
      expect(writes.length).toBeGreaterThan(f + 1);
      // Every attempt carried the same session and sequence number; every later answer was the first result.
      expect(writes[0]!.id).toMatch(/^\d+$/);
      for (const w of writes) expect([w.id, w.seq]).toEqual([writes[0]!.id, '1']);
      for (const w of writes.slice(f + 1).filter((x) => x.status === 200))
        expect(w.upstream).toBe(writes[f]!.upstream);
      expect(JSON.parse(out.stdout)).toEqual(JSON.parse(writes[f]!.upstream));
      expect((await send(`${c.url(2)}/kv/cli-counter`, 'GET', undefined)).json.value).toBe('1');
      // It opened the session first and closed it at the end.
      expect(seen[0]).toMatchObject({ method: 'POST', url: '/sessions' });
      expect(seen.at(-1)).toMatchObject({ method: 'DELETE', url: `/sessions/${writes[0]!.id}` });
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  });
});
