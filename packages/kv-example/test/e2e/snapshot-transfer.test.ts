// End-to-end: a new member killed half-way through receiving the leader's snapshot leaves a partial file that its
// restart deletes, never trusts; the leader sends the snapshot again and the member installs it.
import { readdir } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { reservePort } from '../../../../test-support/ports.js';
import { ProcCluster, http, leaderOf, until } from './harness.js';

let cluster: ProcCluster | undefined;
const closers: (() => Promise<unknown>)[] = [];
afterEach(async (ctx) => {
  if (cluster !== undefined && ctx.task.result?.state === 'fail') process.stderr.write(cluster.logs());
  for (const close of closers.splice(0)) await close();
  await cluster?.stop();
  cluster = undefined;
});

/**
 * A TCP proxy to `target`. The first connection that carries more than `stallAfter` bytes towards the target (the
 * snapshot connection: the others carry small raft messages) forwards that many and then nothing more, holding the
 * connection open, so the receiver is caught half-way for as long as the test wants. `stalled` resolves then.
 */
async function stallingProxy(
  target: string,
  stallAfter: number,
): Promise<{ address: string; stalled: Promise<void> }> {
  const [host, port] = target.split(':') as [string, string];
  const listen = await reservePort();
  let stalledOnce = false;
  let onStall = (): void => undefined;
  const stalled = new Promise<void>((r) => (onStall = r));
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host, port: Number(port) });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    }
    let sent = 0;
    let stalledHere = false;
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.on('data', (b: Buffer) => {
      if (stalledHere) return;
      if (!stalledOnce && sent + b.byteLength > stallAfter) {
        stalledOnce = true;
        stalledHere = true;
        upstream.write(b.subarray(0, stallAfter - sent), () => onStall());
        return;
      }
      sent += b.byteLength;
      upstream.write(b);
    });
    upstream.on('data', (b: Buffer) => client.write(b));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(listen, '127.0.0.1', r));
  closers.push(
    () =>
      new Promise((r) => {
        server.close(r);
        for (const s of sockets) s.destroy();
      }),
  );
  return { address: `127.0.0.1:${listen}`, stalled };
}

const partFiles = async (dir: string): Promise<string[]> =>
  (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.part'));

describe('snapshot transfer between real processes', () => {
  it('a member killed mid-transfer restarts without its partial file and installs the resent snapshot', async () => {
    cluster = await ProcCluster.start(1, ['--snapshot-count', '20', '--snapshot-catchup', '5']);
    const c = cluster;
    await leaderOf(c, [1]);
    const value = 'v'.repeat(100 * 1024);
    for (let i = 0; i < 40; i++) {
      const r = await http(`${c.url(1)}/kv/key${i}`, 'PUT', { value: `${i}:${value}` });
      expect(r.status).toBe(200);
    }
    await http(`${c.url(1)}/snapshot`, 'POST'); // the state (4 MiB) is in a snapshot, the log compacted behind it
    const n2 = await c.define(2);
    const proxy = await stallingProxy(n2.peer, 1024 * 1024);
    c.spawn(2, true, [1, 2]);
    const add = await http(`${c.url(1)}/members`, 'POST', { id: 2, peer: proxy.address, client: n2.client });
    expect(add.status).toBe(200);

    // Caught half-way: the member holds a partial file of the snapshot.
    await proxy.stalled;
    const snapDir = join(c.dataDir(2), 'snap');
    await until(async () => ((await partFiles(snapDir)).length === 1 ? true : undefined), 'the partial file');
    await c.kill(2); // SIGKILL: no cleanup runs
    expect(await partFiles(snapDir)).toHaveLength(1); // left behind by the dead process

    c.spawn(2, true, [1, 2]);
    await until(
      async () =>
        (await http(`${c.url(2)}/kv/key39?consistency=serializable`, 'GET')).json.value?.startsWith('39:')
          ? true
          : undefined,
      'node 2 installed the snapshot',
      60_000,
    );
    expect((await http(`${c.url(2)}/kv/key0?consistency=serializable`, 'GET')).json.value).toBe(`0:${value}`);
    expect((await http(`${c.url(2)}/status`, 'GET')).json.snapshotIndex).toBeGreaterThan(0);
    expect(await partFiles(snapDir)).toEqual([]);
    expect(n2.log.join('')).toContain('deleted partial incoming snapshots');
  });
});
