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
  // A 2 s session timeout (in log time) lets the expiry test run quickly; frequent snapshots and short catch-up
  // make a new member start from a snapshot.
  c = await ProcCluster.start(3, [
    '--session-timeout',
    '2000',
    '--snapshot-count',
    '20',
    '--snapshot-catchup',
    '5',
  ]);
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

async function openSession(node: number): Promise<number> {
  const r = await tagged(`${c.url(node)}/sessions`, 'POST', undefined, {});
  expect(r.status).toBe(200);
  return r.json.sessionId as number;
}

describe('client sessions (real processes)', () => {
  it('applies a retried tagged write once and answers it with the first result, on any node', async () => {
    const session = await openSession(1);
    const tag = { 'x-client-id': String(session), 'x-client-seq': '1' };
    const first = await tagged(`${c.url(1)}/kv/n`, 'POST', { delta: 5 }, tag);
    expect(first).toEqual({ status: 200, json: { value: 5, revision: expect.any(Number) as number } });
    // The retry goes to another node (the client did not hear the first answer): same answer, no second add.
    const retry = await tagged(`${c.url(2)}/kv/n`, 'POST', { delta: 5 }, tag);
    expect(retry).toEqual(first);
    expect((await http(`${c.url(3)}/kv/n`, 'GET')).json.value).toBe('5');
    // The next sequence number is a new write; a PUT retried with a different body still answers the first.
    const put = await tagged(`${c.url(1)}/kv/p`, 'PUT', { value: 'one' }, { ...tag, 'x-client-seq': '2' });
    const putAgain = await tagged(
      `${c.url(3)}/kv/p`,
      'PUT',
      { value: 'two' },
      { ...tag, 'x-client-seq': '2' },
    );
    expect(putAgain).toEqual(put);
    expect((await http(`${c.url(2)}/kv/p`, 'GET')).json.value).toBe('one');
    // Without a tag there is no deduplication: the same request twice adds twice.
    await http(`${c.url(1)}/kv/n`, 'POST', { delta: 5 });
    await http(`${c.url(1)}/kv/n`, 'POST', { delta: 5 });
    expect((await http(`${c.url(1)}/kv/n`, 'GET')).json.value).toBe('15');
    // An acknowledged sequence number (below X-Client-First-Unacked of a later write) is refused, not re-applied.
    await tagged(
      `${c.url(1)}/kv/n`,
      'POST',
      {},
      { ...tag, 'x-client-seq': '3', 'x-client-first-unacked': '3' },
    );
    const stale = await tagged(`${c.url(1)}/kv/n`, 'POST', { delta: 5 }, tag);
    expect(stale.status).toBe(400);
    expect(stale.json.error).toMatchObject({ code: 'SEQ_ACKNOWLEDGED' });
    expect((await http(`${c.url(1)}/kv/n`, 'GET')).json.value).toBe('16');
  });

  it('a member that joined from a snapshot answers a retry with the recorded result (the table is in the snapshot)', async () => {
    const session = await openSession(1);
    const tag = { 'x-client-id': String(session), 'x-client-seq': '1' };
    const first = await tagged(`${c.url(1)}/kv/snap-counter`, 'POST', {}, tag);
    expect(first.status).toBe(200);
    for (let i = 0; i < 60; i++)
      expect((await http(`${c.url(1 + (i % 3))}/kv/fill${i}`, 'PUT', { value: 'x' })).status).toBe(200);
    const n4 = await c.define(4);
    c.spawn(4, true, [1, 2, 3, 4]);
    const add = await until(async () => {
      const r = await http(`${c.url(2)}/members`, 'POST', {
        id: 4,
        peer: n4.peer,
        client: n4.client,
        learner: true,
      });
      return r.status === 503 ? undefined : r;
    }, 'node 4 added');
    expect(add.status).toBe(200);
    const st4 = await until(async () => {
      const st = (await http(`${c.url(4)}/status`, 'GET')).json;
      return (st.appliedIndex ?? 0) > (first.json.revision as number) + 60 ? st : undefined;
    }, 'node 4 caught up');
    // Node 4 never applied the first increment: it came in the snapshot (with the session table).
    expect(st4.snapshotIndex).toBeGreaterThan(first.json.revision as number);
    // The retry's answer is node 4's own apply of the retried entry: the recorded result, not a second add.
    expect(await tagged(`${c.url(4)}/kv/snap-counter`, 'POST', {}, tag)).toEqual(first);
    expect((await http(`${c.url(4)}/kv/snap-counter`, 'GET')).json.value).toBe('1');
    await c.kill(4, 'SIGTERM');
    expect((await http(`${c.url(1)}/members/4`, 'DELETE')).status).toBe(200);
  });

  it('refuses malformed tags with 400 and writes in unknown or expired sessions with 410 SESSION_EXPIRED', async () => {
    for (const headers of [
      { 'x-client-seq': '1' },
      { 'x-client-id': '1', 'x-client-seq': '0' },
      { 'x-client-id': 'x', 'x-client-seq': '1' },
      { 'x-client-id': '1', 'x-client-seq': '2', 'x-client-first-unacked': '3' },
    ]) {
      const r = await tagged(`${c.url(1)}/kv/m`, 'PUT', { value: 'v' }, headers);
      expect(r.status, JSON.stringify(headers)).toBe(400);
    }
    const unknown = await tagged(
      `${c.url(1)}/kv/m`,
      'PUT',
      { value: 'v' },
      { 'x-client-id': '999999', 'x-client-seq': '1' },
    );
    expect(unknown.status).toBe(410);
    expect(unknown.json.error).toMatchObject({ code: 'SESSION_EXPIRED' });
    expect((await http(`${c.url(1)}/kv/m`, 'GET')).status).toBe(404);
    // Expiry is by log time: the session idles past 2 s, then any write stamped later moves log time on.
    const session = await openSession(2);
    const tag = { 'x-client-id': String(session), 'x-client-seq': '1' };
    expect((await tagged(`${c.url(2)}/sessions/${session}/keepalive`, 'POST', undefined, {})).status).toBe(
      200,
    );
    await new Promise((r) => setTimeout(r, 2_500));
    await http(`${c.url(1)}/kv/clock`, 'PUT', { value: 'tick' });
    const late = await tagged(`${c.url(3)}/kv/m`, 'PUT', { value: 'v' }, tag);
    expect(late.status).toBe(410);
    expect((await http(`${c.url(1)}/kv/m`, 'GET')).status).toBe(404);
    const closed = await tagged(`${c.url(1)}/sessions/${session}`, 'DELETE', undefined, {});
    expect(closed.status).toBe(410);
  });

  it('x-kv retries a write after a 504 in the same session and sequence: the counter moves once', async () => {
    // A proxy in front of node 1 that forwards the first write, waits for its answer, and tells the client 504
    // instead (the outcome the client sees is unknown; the write was applied). Later requests pass through.
    const seen: {
      method: string;
      url: string;
      id: string | undefined;
      seq: string | undefined;
      upstream: string;
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
            const write = req.url?.startsWith('/kv/') === true;
            seen.push({
              method: req.method ?? '',
              url: req.url ?? '',
              id: headers['x-client-id'],
              seq: headers['x-client-seq'],
              upstream: text,
            });
            if (write && !faulted) {
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
      expect(writes).toHaveLength(2);
      // Both attempts carried the same session and sequence number; the node answered both with the first result.
      expect(writes[0]!.id).toMatch(/^\d+$/);
      expect([writes[1]!.id, writes[1]!.seq]).toEqual([writes[0]!.id, writes[0]!.seq]);
      expect(writes[1]!.upstream).toBe(writes[0]!.upstream);
      expect(JSON.parse(out.stdout)).toEqual(JSON.parse(writes[0]!.upstream));
      expect(JSON.parse(out.stdout)).toMatchObject({ value: 1 });
      expect((await http(`${c.url(2)}/kv/cli-counter`, 'GET')).json.value).toBe('1');
      // It opened the session first and closed it at the end.
      expect(seen[0]).toMatchObject({ method: 'POST', url: '/sessions' });
      expect(seen.at(-1)).toMatchObject({ method: 'DELETE', url: `/sessions/${writes[0]!.id}` });
      expect(JSON.parse(seen.at(-1)!.upstream)).toEqual({ sessionId: Number(writes[0]!.id), closed: true });
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  });
});
