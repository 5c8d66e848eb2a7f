import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, until } from './harness.js';
import { reservePortRun } from '../../../../test-support/ports.js';

// `npm start` as a user runs it: scripts/run.mjs starts `x-kv cluster`, which starts the node processes. Its data
// must survive a restart, and stopping it (a signal to run.mjs, or the cluster process dying) must stop every node.
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const RUN = fileURLToPath(new URL('../../../../scripts/run.mjs', import.meta.url));
const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'x-kv-cluster-cli-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

interface Started {
  proc: ChildProcess;
  out: () => string;
  exit: Promise<number | null>;
  /** Node pids and client URLs, as the cluster printed them. */
  pids: number[];
  urls: string[];
}

/** Starts `node argv` (or `cmd argv`) and waits for the cluster's banner (or the process's exit, for refusals). */
async function start(argv: string[], cmd = process.execPath): Promise<Started> {
  const proc = spawn(cmd, argv, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, X_RUN_SKIP_SETUP: '1' },
  });
  let text = '';
  proc.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  const exit = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  await Promise.race([
    until(async () => (text.includes('Ctrl-C stops') ? true : undefined), 'the banner'),
    exit,
  ]);
  const nodes = [...text.matchAll(/node \d+: (http:\/\/\S+) .*pid (\d+)\)/g)];
  return {
    proc,
    out: () => text,
    exit,
    pids: nodes.map((m) => Number(m[2])),
    urls: nodes.map((m) => m[1] ?? ''),
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function putSomewhere(urls: string[], key: string, value: string): Promise<void> {
  await until(async () => {
    for (const u of urls) {
      const r = await http(`${u}/kv/${key}`, 'PUT', { value }).catch(() => undefined);
      if (r?.status === 200) return true;
    }
    return undefined;
  }, `a write of ${key}`);
}

async function getSomewhere(urls: string[], key: string): Promise<{ status: number; value?: string }> {
  return until(async () => {
    for (const u of urls) {
      const r = await http(`${u}/kv/${key}`, 'GET').catch(() => undefined);
      if (r !== undefined && (r.status === 200 || r.status === 404))
        return { status: r.status, ...(r.json.value !== undefined ? { value: r.json.value } : {}) };
    }
    return undefined;
  }, `a read of ${key}`);
}

describe('npm start (scripts/run.mjs cluster)', () => {
  it('keeps its data across a restart, and a SIGTERM to run.mjs stops every node before it exits', async () => {
    const data = join(root, 'restart');
    const base = String(await reservePortRun(3, 10));
    const first = await start([RUN, 'cluster', '--data', data, '--base-port', base]);
    expect(first.out()).toContain(`data in ${data} (new`);
    expect(first.pids).toHaveLength(3);
    await putSomewhere(first.urls, 'survivor', 'written before the restart');
    first.proc.kill('SIGTERM');
    expect(await first.exit).toBe(0);
    // run.mjs exits only after the cluster, which exits only after its nodes: none is left.
    expect(first.pids.filter(alive)).toEqual([]);

    const second = await start([RUN, 'cluster', '--data', data, '--base-port', base]);
    expect(second.out()).toContain(`data in ${data} (resumed`);
    expect(await getSomewhere(second.urls, 'survivor')).toEqual({
      status: 200,
      value: 'written before the restart',
    });
    second.proc.kill('SIGHUP');
    expect(await second.exit).toBe(0);
    expect(second.pids.filter(alive)).toEqual([]);

    const fresh = await start([RUN, 'cluster', '--data', data, '--base-port', base, '--fresh']);
    expect(fresh.out()).toContain(`data in ${data} (new`);
    expect((await getSomewhere(fresh.urls, 'survivor')).status).toBe(404);
    fresh.proc.kill('SIGINT');
    expect(await fresh.exit).toBe(0);
    expect(fresh.pids.filter(alive)).toEqual([]);
  });

  it('a SIGTERM to npm itself (npm start) stops every node: npm does not pass it on, run.mjs sees its parent go', async () => {
    const data = join(root, 'npm');
    const base = String(await reservePortRun(3, 10));
    const c = await start(['start', '--', '--data', data, '--base-port', base], 'npm');
    expect(c.pids).toHaveLength(3);
    c.proc.kill('SIGTERM');
    await c.exit;
    await until(async () => (c.pids.some(alive) ? undefined : true), 'the nodes to exit', 30_000);
  });

  it('nodes stop by themselves when the cluster process is killed outright (SIGKILL)', async () => {
    const data = join(root, 'orphans');
    const base = String(await reservePortRun(3, 10));
    const c = await start([CLI, 'cluster', '--data', data, '--base-port', base]);
    expect(c.pids).toHaveLength(3);
    c.proc.kill('SIGKILL');
    await c.exit;
    // Their stdin (a pipe from the cluster) closed: each stops cleanly; nothing else has to reap them.
    await until(async () => (c.pids.some(alive) ? undefined : true), 'the nodes to exit', 30_000);
  });

  it('refuses to start a different cluster over existing data, and --fresh refuses a directory it did not write', async () => {
    const data = join(root, 'layout');
    const base = String(await reservePortRun(3, 10));
    const c = await start([CLI, 'cluster', '--data', data, '--base-port', base]);
    c.proc.kill('SIGTERM');
    expect(await c.exit).toBe(0);
    const other = await start([CLI, 'cluster', '--data', data, '--base-port', base, '--nodes', '5']);
    expect(await other.exit).toBe(2);
    expect(other.out()).toContain('holds a cluster of 3 nodes');
    expect(other.pids).toEqual([]);

    const home = join(root, 'not-a-cluster');
    await mkdir(home);
    await writeFile(join(home, 'thesis.tex'), 'precious');
    const wipe = await start([CLI, 'cluster', '--data', home, '--fresh', '--base-port', base]);
    expect(await wipe.exit).toBe(2);
    expect(wipe.out()).toContain('thesis.tex');
  });
});
