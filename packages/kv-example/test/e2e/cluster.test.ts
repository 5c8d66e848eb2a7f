// End-to-end: real node processes, real TCP and real WALs in temporary directories.
import { afterEach, describe, expect, it } from 'vitest';
import { parsePrometheusText } from '@x/raft/testing';
import { ProcCluster, http, leaderOf, until } from './harness.js';
import { promtoolCheckMetrics } from './promtool.js';

let cluster: ProcCluster | undefined;
afterEach(async (ctx) => {
  if (cluster !== undefined && ctx.task.result?.state === 'fail') process.stderr.write(cluster.logs());
  await cluster?.stop();
  cluster = undefined;
});

const put = (c: ProcCluster, id: number, key: string, value: string) =>
  http(`${c.url(id)}/kv/${encodeURIComponent(key)}`, 'PUT', { value });
/**
 * A client that retries a put whose outcome is unknown (504) or that found no leader (503), as a real client would:
 * a put of the same value is idempotent. Under CPU contention a leader change can interrupt a write.
 */
/** Retries a request answered 503 or 504 (membership changes are idempotent here). */
async function retrying(fn: () => ReturnType<typeof http>): ReturnType<typeof http> {
  let r = await fn();
  for (let attempt = 0; attempt < 10 && (r.status === 503 || r.status === 504); attempt++) {
    await new Promise((res) => setTimeout(res, 200));
    r = await fn();
  }
  return r;
}

async function putOk(c: ProcCluster, id: number, key: string, value: string): Promise<number> {
  let last = 0;
  for (let attempt = 0; attempt < 10; attempt++) {
    last = (await put(c, id, key, value)).status;
    if (last !== 503 && last !== 504) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  return last;
}
const get = (c: ProcCluster, id: number, key: string, serializable = false) =>
  http(`${c.url(id)}/kv/${encodeURIComponent(key)}${serializable ? '?consistency=serializable' : ''}`, 'GET');

describe('x-kv cluster (processes, TCP, WAL)', () => {
  it('serves writes and linearizable reads on any node, with CAS, 404 and input limits', async () => {
    cluster = await ProcCluster.start(3);
    const c = cluster;
    await leaderOf(c, [1, 2, 3]);
    for (const id of [1, 2, 3]) expect(await putOk(c, id, `k${id}`, `v${id}`)).toBe(200);
    for (const id of [1, 2, 3]) {
      for (const k of [1, 2, 3]) expect((await get(c, id, `k${k}`)).json.value).toBe(`v${k}`);
    }
    const cas = await http(`${c.url(2)}/kv/k1`, 'PUT', { value: 'x', prevValue: 'wrong' });
    expect(cas.status).toBe(409);
    expect(cas.json.error?.code).toBe('CAS_FAILED');
    expect((await http(`${c.url(3)}/kv/k1`, 'PUT', { value: 'x', prevValue: 'v1' })).status).toBe(200);
    expect((await get(c, 1, 'k1')).json.value).toBe('x');
    expect((await get(c, 1, 'missing')).status).toBe(404);
    expect((await http(`${c.url(1)}/kv/${'k'.repeat(2000)}`, 'PUT', { value: 'v' })).status).toBe(400);
    expect((await http(`${c.url(1)}/kv/a`, 'PUT', { nope: 1 })).status).toBe(400);
    const tooBig = await fetch(`${c.url(1)}/kv/a`, { method: 'PUT', body: 'x'.repeat(2 * 1024 * 1024) });
    expect(tooBig.status).toBe(413);
    expect(((await tooBig.json()) as { error: { code: string } }).error.code).toBe('BODY_TOO_LARGE');
    const notJson = await fetch(`${c.url(1)}/kv/a`, { method: 'PUT', body: '{"value":' });
    expect(notJson.status).toBe(400);
    expect((await get(c, 1, 'k1?consistency=bogus')).status).toBe(404); // the ? was encoded into the key
    expect((await http(`${c.url(1)}/kv/k1?consistency=bogus`, 'GET')).status).toBe(400);
    expect((await http(`${c.url(1)}/kv/k1?consistency=serializable`, 'GET')).json.value).toBe('x');
    const status = (await http(`${c.url(1)}/status`, 'GET')).json;
    expect(status).toMatchObject({ id: 1, walSegments: 1 });
    expect(status.appliedIndex).toBeGreaterThan(0);
  });

  it('GET /metrics is valid Prometheus text (our strict parser and promtool) built from RaftNode.metrics()', async () => {
    cluster = await ProcCluster.start(3);
    const c = cluster;
    const leader = await leaderOf(c, [1, 2, 3]);
    for (let i = 0; i < 5; i++) expect(await putOk(c, leader, `m${i}`, 'v')).toBe(200);
    const status = (await http(`${c.url(leader)}/status`, 'GET')).json;
    for (const id of [1, 2, 3]) {
      // Every node has applied the writes before its metrics are read (a linearizable read waits for that).
      expect((await get(c, id, 'm4')).json.value).toBe('v');
      const res = await fetch(`${c.url(id)}/metrics`);
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4');
      const text = await res.text();
      const families = parsePrometheusText(text);
      const value = (name: string, labels: Record<string, string> = {}) =>
        families.get(name)?.samples.find((s) => JSON.stringify(s.labels) === JSON.stringify(labels))?.value;
      expect(value('raft_is_leader')).toBe(id === leader ? 1 : 0);
      expect(value('raft_has_leader')).toBe(1);
      // Health depends on disk speed (a save over 1 s is unhealthy): only its presence is deterministic here.
      expect([0, 1]).toContain(value('raft_healthy'));
      expect(value('raft_applied_index')).toBeGreaterThanOrEqual(status.commitIndex ?? Infinity);
      expect(value('raft_entries_applied_total')).toBe(value('raft_applied_index'));
      expect(value('raft_leader_changes_total')).toBeGreaterThanOrEqual(1);
      expect(value('kv_keys')).toBe(5);
      // putOk retries a 503/504, so the leader may have proposed a write more than once.
      if (id === leader) expect(value('kv_proposals_total')).toBeGreaterThanOrEqual(5);
      else expect(value('kv_proposals_total')).toBe(0);
      // Both histograms saw every save / fsync of this node's WAL, and counted them in the +Inf bucket.
      for (const h of ['raft_storage_save_duration_seconds', 'kv_wal_fsync_duration_seconds']) {
        expect(families.get(h)?.type).toBe('histogram');
        const count = families.get(h)?.samples.find((s) => s.name === `${h}_count`)?.value;
        expect(count).toBeGreaterThan(0);
      }
      // The leader sends to every follower; a follower at least answers the leader.
      for (const peer of (id === leader ? [1, 2, 3].filter((p) => p !== id) : [leader]).map(String))
        expect(value('raft_peer_messages_sent_total', { peer })).toBeGreaterThan(0);
      const lint = promtoolCheckMetrics(text);
      expect(lint.output).toBe('');
      expect(lint.ok).toBe(true);
    }
  });

  it('survives kill -9 of the leader while writing: new leader, no acknowledged write lost, the node catches up', async () => {
    cluster = await ProcCluster.start(3);
    const c = cluster;
    const leader = await leaderOf(c, [1, 2, 3]);
    const acked = new Map<string, string>();
    let stop = false;
    let n = 0;
    const writer = (async () => {
      while (!stop) {
        const key = `w${n++}`;
        for (const id of [1, 2, 3]) {
          try {
            const r = await put(c, id, key, `val-${key}`);
            if (r.status === 200) {
              acked.set(key, `val-${key}`);
              break;
            }
          } catch {
            // node down: try the next one
          }
        }
      }
    })();
    await until(async () => (acked.size >= 30 ? true : undefined), '30 writes');
    await c.kill(leader, 'SIGKILL');
    const survivors = [1, 2, 3].filter((id) => id !== leader);
    const t0 = Date.now();
    const newLeader = await leaderOf(c, survivors);
    const failoverMs = Date.now() - t0;
    const before = acked.size;
    await until(async () => (acked.size >= before + 30 ? true : undefined), '30 more writes after failover');
    stop = true;
    await writer;
    expect(survivors).toContain(newLeader);
    expect(failoverMs).toBeLessThan(15_000);
    for (const [k, v] of acked) expect((await get(c, survivors[0]!, k)).json.value).toBe(v);
    // The killed node restarts from its WAL and catches up.
    c.spawn(leader, false);
    const last = [...acked.keys()].at(-1)!;
    await until(
      async () => ((await get(c, leader, last, true)).json.value === acked.get(last) ? true : undefined),
      'restarted node caught up',
    );
    for (const [k, v] of acked) expect((await get(c, leader, k, true)).json.value).toBe(v);
  });

  it('adds and removes members under load; a new member catches up by snapshot after compaction', async () => {
    cluster = await ProcCluster.start(3, ['--snapshot-count', '40', '--snapshot-catchup', '10']);
    const c = cluster;
    await leaderOf(c, [1, 2, 3]);
    for (let i = 0; i < 150; i++) expect(await putOk(c, 1 + (i % 3), `key${i}`, `v${i}`)).toBe(200);
    const st = (await http(`${c.url(1)}/status`, 'GET')).json;
    expect(st.snapshotIndex).toBeGreaterThan(0);

    const n4 = await c.define(4);
    c.spawn(4, true, [1, 2, 3, 4]);
    const add = await retrying(() =>
      http(`${c.url(2)}/members`, 'POST', { id: 4, peer: n4.peer, client: n4.client }),
    );
    expect(add.status).toBe(200);
    expect(add.json.confState?.voters).toEqual([1, 2, 3, 4]);
    // Load continues while the newcomer catches up.
    for (let i = 150; i < 180; i++) expect(await putOk(c, 1 + (i % 3), `key${i}`, `v${i}`)).toBe(200);
    await until(
      async () => ((await get(c, 4, 'key179', true)).json.value === 'v179' ? true : undefined),
      'node 4 caught up',
    );
    const st4 = (await http(`${c.url(4)}/status`, 'GET')).json;
    expect(st4.snapshotIndex).toBeGreaterThan(0); // it was given a snapshot, not the whole log
    expect((await get(c, 4, 'key0', true)).json.value).toBe('v0');

    const rm = await retrying(() => http(`${c.url(1)}/members/3`, 'DELETE'));
    expect(rm.status).toBe(200);
    expect(rm.json.confState?.voters).toEqual([1, 2, 4]);
    const members = (await http(`${c.url(4)}/members`, 'GET')).json.members as { id: number }[];
    await until(
      async () =>
        ((await http(`${c.url(4)}/members`, 'GET')).json.members as unknown[]).length === 3
          ? true
          : undefined,
      'member list',
    );
    expect(members.map((m) => m.id)).toContain(4);
    // Node 4 got the addresses from the replicated configuration (the leader's snapshot and the log after it).
    const listed = (await http(`${c.url(4)}/members`, 'GET')).json.members as {
      id: number;
      peer?: string;
      client?: string;
    }[];
    for (const id of [1, 2, 4]) {
      const n = c.nodes.get(id)!;
      expect(listed.find((m) => m.id === id)).toMatchObject({ peer: n.peer, client: n.client });
    }
    expect(await putOk(c, 4, 'after-remove', 'ok')).toBe(200);
  });

  it('a restarted node recovers the same state from snapshot plus WAL tail', async () => {
    cluster = await ProcCluster.start(3, ['--snapshot-count', '30', '--snapshot-catchup', '5']);
    const c = cluster;
    await leaderOf(c, [1, 2, 3]);
    for (let i = 0; i < 100; i++) expect(await putOk(c, 1, `r${i % 25}`, `v${i}`)).toBe(200);
    await until(
      async () => ((await get(c, 3, 'r24', true)).json.value === 'v99' ? true : undefined),
      'node 3 applied',
    );
    const before = (await http(`${c.url(3)}/status`, 'GET')).json;
    expect(before.snapshotIndex).toBeGreaterThan(0);
    await c.kill(3, 'SIGTERM');
    c.spawn(3, false);
    await until(
      async () =>
        ((await http(`${c.url(3)}/status`, 'GET')).json.appliedIndex ?? 0) >= (before.appliedIndex ?? 0)
          ? true
          : undefined,
      'node 3 restarted',
    );
    for (let k = 0; k < 25; k++) expect((await get(c, 3, `r${k}`, true)).json.value).toBe(`v${75 + k}`);
  });
});
