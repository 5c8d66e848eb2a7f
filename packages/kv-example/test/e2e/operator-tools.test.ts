// The operator's tools with real processes: a removed member stays refused after every peer restarted,
// `--force-new-cluster` after losing quorum for good, and backup / restore into a new cluster.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, ProcCluster, http, leaderOf, until } from './harness.js';

const X_WAL = fileURLToPath(new URL('../../../wal/dist/cli/bin.js', import.meta.url));

let clusters: ProcCluster[] = [];
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') for (const c of clusters) process.stderr.write(c.logs());
  await Promise.all(clusters.map((c) => c.stop()));
  clusters = [];
});

async function started(c: Promise<ProcCluster>): Promise<ProcCluster> {
  const cluster = await c;
  clusters.push(cluster);
  return cluster;
}

/** Runs a CLI (node script) to its end: exit code and output. */
function run(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A put retried while the answer is 503/504 (a put of the same value is idempotent). */
async function putOk(c: ProcCluster, id: number, key: string, value: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const r = await http(`${c.url(id)}/kv/${key}`, 'PUT', { value });
    if (r.status === 200) return;
    if ((r.status !== 503 && r.status !== 504) || attempt >= 20) throw new Error(`put ${key}: ${r.status}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

const valueOf = async (c: ProcCluster, id: number, key: string, serializable = false) =>
  (await http(`${c.url(id)}/kv/${key}${serializable ? '?consistency=serializable' : ''}`, 'GET')).json.value;

describe('operator tools (processes, TCP, WAL)', () => {
  it('a removed member is refused, and stops, after every remaining member restarted from snapshots', async () => {
    const c = await started(ProcCluster.start(3, ['--snapshot-count', '20', '--snapshot-catchup', '5']));
    const leader = await leaderOf(c, [1, 2, 3]);
    const gone = leader === 3 ? 2 : 3;
    const rest = [1, 2, 3].filter((id) => id !== gone);
    for (let i = 0; i < 10; i++) await putOk(c, leader, `a${i}`, 'v');
    const goneExit = c.exited(gone);
    const rm = await http(`${c.url(leader)}/members/${gone}`, 'DELETE');
    expect(rm.status).toBe(200);
    const removedAt = (await http(`${c.url(leader)}/status`, 'GET')).json.commitIndex ?? 0;
    expect(await goneExit).toBe(1); // refused by its peers, it stops (ERR_MEMBER_REMOVED)
    // Enough writes that both remaining members snapshot past the removal: a restart reads it from a snapshot.
    for (let i = 0; i < 60; i++) await putOk(c, rest[i % 2]!, `b${i}`, 'v');
    for (const id of rest) {
      await until(
        async () =>
          ((await http(`${c.url(id)}/status`, 'GET')).json.snapshotIndex ?? 0) > removedAt ? true : undefined,
        `node ${id} snapshots past the removal`,
      );
    }
    for (const id of rest) await c.kill(id, 'SIGTERM');
    for (const id of rest) c.nodes.get(id)!.log.length = 0;
    // Same command lines as before: --peers still lists the removed member's address.
    for (const id of rest) c.spawn(id, false);
    await leaderOf(c, rest);
    for (const id of rest) {
      const members = (await http(`${c.url(id)}/members`, 'GET')).json;
      expect(members.removed).toEqual([gone]);
      expect(members.members?.map((m) => m.id)).toEqual(rest);
    }
    // The removed member, with its data, tries to come back: refused and logged by its peers, it stops.
    c.nodes.get(gone)!.log.length = 0;
    c.spawn(gone, false);
    expect(await c.exited(gone)).toBe(1);
    expect(c.nodes.get(gone)!.log.join('')).toContain('ERR_MEMBER_REMOVED');
    await until(
      async () =>
        rest.some((id) => /refused peer connection.*ERR_MEMBER_REMOVED/.test(c.nodes.get(id)!.log.join('')))
          ? true
          : undefined,
      'a peer logs the refusal',
    );
    // Its id cannot be added back.
    const again = await http(`${c.url(rest[0]!)}/members`, 'POST', {
      id: gone,
      peer: c.nodes.get(gone)!.peer,
      client: c.nodes.get(gone)!.client,
    });
    expect(again.status).toBe(400);
    await putOk(c, rest[0]!, 'after', 'ok');
  });

  it('--force-new-cluster: a survivor of 3 keeps every write it applied, serves alone, then takes a new member', async () => {
    const c = await started(ProcCluster.start(3, ['--snapshot-count', '25', '--snapshot-catchup', '5']));
    const leader = await leaderOf(c, [1, 2, 3]);
    const survivor = leader === 1 ? 2 : 1;
    for (let i = 0; i < 40; i++) await putOk(c, 1 + (i % 3), `k${i}`, `v${i}`);
    const commit = (await http(`${c.url(leader)}/status`, 'GET')).json.commitIndex ?? 0;
    await until(
      async () =>
        ((await http(`${c.url(survivor)}/status`, 'GET')).json.appliedIndex ?? 0) >= commit
          ? true
          : undefined,
      'the survivor applied every acknowledged write',
    );
    // All three die; two of them for good.
    for (const id of [1, 2, 3]) await c.kill(id, 'SIGKILL');
    const others = [1, 2, 3].filter((id) => id !== survivor);
    c.spawn(survivor, false, undefined, ['--force-new-cluster']);
    await leaderOf(c, [survivor]);
    expect(c.nodes.get(survivor)!.log.join('')).toContain('forcing a new cluster');
    for (let i = 0; i < 40; i++) expect(await valueOf(c, survivor, `k${i}`)).toBe(`v${i}`);
    const members = (await http(`${c.url(survivor)}/members`, 'GET')).json;
    expect(members.members?.map((m) => m.id)).toEqual([survivor]);
    expect(members.removed).toEqual(others);
    await putOk(c, survivor, 'alone', 'yes');

    // A new member is added the usual way and catches up.
    const n4 = await c.define(4);
    c.spawn(4, true, [survivor, 4]);
    const add = await http(`${c.url(survivor)}/members`, 'POST', { id: 4, peer: n4.peer, client: n4.client });
    expect(add.status).toBe(200);
    expect(add.json.confState?.voters).toEqual([survivor, 4].sort());
    await putOk(c, survivor, 'with4', 'yes');
    await until(
      async () => ((await valueOf(c, 4, 'with4', true)) === 'yes' ? true : undefined),
      'node 4 caught up',
    );
    for (let i = 0; i < 40; i++) expect(await valueOf(c, 4, `k${i}`, true)).toBe(`v${i}`);
    expect(await valueOf(c, 4, 'alone', true)).toBe('yes');
  });

  it('x-kv backup saves a checked snapshot file (x-wal snap verify passes); x-kv restore makes a new cluster of it', async () => {
    const c = await started(ProcCluster.start(3, ['--snapshot-count', '20']));
    const leader = await leaderOf(c, [1, 2, 3]);
    for (let i = 0; i < 30; i++) await putOk(c, leader, `k${i}`, `v${i}`);
    const file = join(c.dir, 'backup.snap');
    const follower = leader === 1 ? 2 : 1;
    const saved = await run(CLI, ['backup', file, '--endpoints', c.url(follower)]);
    expect(saved.stderr).toBe('');
    expect(saved.code).toBe(0);
    const printed = JSON.parse(saved.stdout) as { index: number; voters: number[] };
    expect(printed.voters).toEqual([1, 2, 3]);
    const verify = await run(X_WAL, ['snap', 'verify', file]);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toContain(`index ${printed.index}`);
    await putOk(c, leader, 'after-backup', 'x'); // not in the backup
    for (const id of [1, 2, 3]) await c.kill(id, 'SIGTERM');

    // A damaged copy is refused, naming the problem; so is a data directory that is not empty.
    const bytes = await readFile(file);
    bytes[bytes.length - 30] = bytes[bytes.length - 30]! ^ 0xff;
    const damaged = join(c.dir, 'damaged.snap');
    await writeFile(damaged, bytes);
    const fresh = await started(ProcCluster.create(3));
    const peers = fresh.peersSpec();
    const bad = await run(CLI, [
      'restore',
      damaged,
      '--data',
      fresh.dataDir(1),
      '--id',
      '1',
      '--peers',
      peers,
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('crc');
    const used = await run(CLI, ['restore', file, '--data', c.dataDir(1), '--id', '1', '--peers', peers]);
    expect(used.code).toBe(1);
    expect(used.stderr).toContain('not empty');

    for (const id of [1, 2, 3]) {
      const r = await run(CLI, [
        'restore',
        file,
        '--data',
        fresh.dataDir(id),
        '--id',
        String(id),
        '--peers',
        peers,
      ]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ id, index: printed.index, voters: [1, 2, 3] });
    }
    for (const id of [1, 2, 3]) fresh.spawn(id, false);
    const newLeader = await leaderOf(fresh, [1, 2, 3]);
    for (let i = 0; i < 30; i++) expect(await valueOf(fresh, 1 + (i % 3), `k${i}`)).toBe(`v${i}`);
    expect((await http(`${fresh.url(2)}/kv/after-backup`, 'GET')).status).toBe(404);
    await putOk(fresh, newLeader, 'new', 'cluster');
    const listed = (await http(`${fresh.url(3)}/members`, 'GET')).json.members as {
      id: number;
      peer?: string;
    }[];
    expect(listed.map((m) => [m.id, m.peer])).toEqual([1, 2, 3].map((id) => [id, fresh.nodes.get(id)!.peer]));
  });
});
