// The chaos cluster: x-kv node processes with real WALs, each behind a FrontProxy, started, killed, paused, wiped,
// added and removed by the harness. Node ids only grow: a replacement member gets a new id and an empty directory.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FrontProxy } from './proxy.mjs';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/** One HTTP request to a node's client port; rejects on a network error or timeout. */
export async function call(port, method, path, body, timeoutMs = 1500, headers = {}) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : {} };
}

const exited = (proc) => proc === undefined || proc.exitCode !== null || proc.signalCode !== null;

export class ChaosCluster {
  /** @param {string} root data directories live here @param {(what: string) => void} note timeline */
  constructor(root, note, now) {
    this.root = root;
    this.note = note;
    this.now = now;
    /** Every node ever started, by id. @type {Map<number, any>} */
    this.nodes = new Map();
    this.nextId = 1;
  }

  /** Allocates ports and a proxy for a new node id (not started). `join`: it joins a running cluster. */
  async define(join) {
    const id = this.nextId++;
    const n = {
      id,
      join,
      peer: await freePort(),
      client: await freePort(),
      proxy: undefined,
      log: [],
      proc: undefined,
      paused: false,
      expectedExit: false,
      unexpected: [],
      /** A member the harness routes clients to; false once it is being removed, wiped or was never added. */
      member: !join,
      retired: false,
    };
    n.proxy = new FrontProxy(await freePort(), n.peer);
    await n.proxy.start();
    this.nodes.set(id, n);
    return n;
  }

  /** The --peers entry of node `id`: peers (and the node itself, as its advertised address) go through its proxy. */
  entry(id) {
    const n = this.nodes.get(id);
    return `${id}=127.0.0.1:${n.proxy.listenPort}/127.0.0.1:${n.client}`;
  }

  /** Starts node `id`. Original members bootstrap with ids `bootIds`; joiners list the current members. */
  spawn(id, bootIds) {
    const n = this.nodes.get(id);
    const ids = n.join ? [...this.members(), id] : bootIds;
    const peers = [...new Set(ids)].map((j) => this.entry(j)).join(',');
    const args = [
      CLI,
      'node',
      '--id',
      String(id),
      '--peers',
      peers,
      '--listen-peer',
      `127.0.0.1:${n.peer}`,
      '--listen-client',
      `127.0.0.1:${n.client}`,
      '--data',
      this.dataDir(id),
      '--tick-ms',
      '50',
      '--snapshot-count',
      '200',
      '--snapshot-catchup',
      '50',
      ...(n.join ? ['--join'] : []),
    ];
    n.args ??= args; // a restart reuses the command line the node first had (as an operator's unit file would)
    const proc = spawn(process.execPath, n.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout.on('data', (d) => n.log.push(d.toString()));
    proc.stderr.on('data', (d) => n.log.push(d.toString()));
    n.expectedExit = false;
    n.paused = false;
    proc.once('exit', (code, signal) => {
      if (!n.expectedExit) n.unexpected.push(`exit code=${code} signal=${signal} at ${this.now()} ms`);
    });
    n.proc = proc;
  }

  dataDir(id) {
    return join(this.root, `n${id}`);
  }

  running(id) {
    return !exited(this.nodes.get(id)?.proc);
  }

  /** Ids the harness counts as members: clients, partitions and checks use these. */
  members() {
    return [...this.nodes.values()].filter((n) => n.member && !n.retired).map((n) => n.id);
  }

  /** Members whose process is up and not paused. */
  up() {
    return this.members().filter((id) => this.running(id) && !this.nodes.get(id).paused);
  }

  async kill(id) {
    const n = this.nodes.get(id);
    n.expectedExit = true;
    if (exited(n.proc)) return;
    if (n.paused) n.proc.kill('SIGCONT');
    n.paused = false;
    const gone = new Promise((r) => n.proc.once('exit', r));
    n.proc.kill('SIGKILL');
    await gone;
  }

  pause(id) {
    const n = this.nodes.get(id);
    if (exited(n.proc) || n.paused) return false;
    n.paused = true;
    n.proc.kill('SIGSTOP');
    return true;
  }

  resume(id) {
    const n = this.nodes.get(id);
    if (!n.paused) return;
    n.paused = false;
    if (!exited(n.proc)) n.proc.kill('SIGCONT');
  }

  /** Cuts the directed link from → to (messages `from` sends to `to`). */
  block(from, to) {
    this.nodes.get(to)?.proxy.block(from);
  }

  slow(from, to, ms) {
    this.nodes.get(to)?.proxy.delay(from, ms);
  }

  healLinks() {
    for (const n of this.nodes.values()) n.proxy.heal();
  }

  /** Resumes paused members and restarts members that are down. */
  healAll(bootIds) {
    this.healLinks();
    for (const id of this.members()) {
      this.resume(id);
      if (!this.running(id)) {
        this.note(`restart n${id}`);
        this.spawn(id, bootIds);
      }
    }
  }

  /** The current leader as the members report it (highest term wins), or undefined. */
  async leader() {
    const st = await Promise.all(
      this.up().map((id) =>
        call(this.nodes.get(id).client, 'GET', '/status', undefined, 800).then(
          (r) => r.json,
          () => undefined,
        ),
      ),
    );
    let best;
    for (const s of st) if (s?.role === 'StateLeader' && (best === undefined || s.term > best.term)) best = s;
    return best?.id;
  }

  /**
   * Sends a membership request to members until one answers with a definite result (2xx, or a 4xx that is not
   * retryable), or `ms` pass. Returns the last answer, or undefined if none was definite.
   */
  async membership(method, path, body, ms = 20000) {
    const deadline = performance.now() + ms;
    let i = 0;
    while (performance.now() < deadline) {
      const up = this.up();
      const target = up[i++ % Math.max(1, up.length)];
      if (target !== undefined) {
        try {
          const r = await call(this.nodes.get(target).client, method, path, body, 3000);
          if (r.status < 300 || (r.status >= 400 && r.status < 500)) return r;
        } catch {
          // unknown outcome: membership requests are idempotent, so try again
        }
      }
      await sleep(200);
    }
    return undefined;
  }

  async close() {
    for (const n of this.nodes.values()) {
      n.expectedExit = true;
      if (!exited(n.proc)) {
        if (n.paused) n.proc.kill('SIGCONT');
        n.proc.kill('SIGKILL');
      }
    }
    for (const n of this.nodes.values()) await n.proxy.close();
  }

  wipe(id) {
    rmSync(this.dataDir(id), { recursive: true, force: true });
  }
}
