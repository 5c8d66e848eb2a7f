// Runs real `x-kv node` processes (the built CLI) on loopback with WALs in a temporary directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { reservePort } from '../../../../test-support/ports.js';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface ProcNode {
  id: number;
  peer: string;
  client: string;
  proc: ChildProcess | undefined;
  log: string[];
  exitCodes: (number | null)[];
}

export class ProcCluster {
  readonly nodes = new Map<number, ProcNode>();

  private constructor(
    readonly dir: string,
    private readonly extraArgs: string[],
  ) {}

  static async start(n: number, extraArgs: string[] = []): Promise<ProcCluster> {
    const c = await ProcCluster.create(n, extraArgs);
    for (const id of c.nodes.keys()) c.spawn(id, false);
    return c;
  }

  /** Nodes 1..n with ports and data directories reserved, none started. */
  static async create(n: number, extraArgs: string[] = []): Promise<ProcCluster> {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run the build first (npm test builds)`);
    const c = new ProcCluster(await mkdtemp(join(tmpdir(), 'x-kv-e2e-')), extraArgs);
    for (let id = 1; id <= n; id++) await c.define(id);
    return c;
  }

  /** Resolves with node `id`'s exit code once its current process exits. */
  exited(id: number): Promise<number | null> {
    const proc = this.nodes.get(id)?.proc;
    if (proc === undefined) return Promise.reject(new Error(`node ${id} was never started`));
    if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(proc.exitCode);
    return new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
  }

  async define(id: number): Promise<ProcNode> {
    const node: ProcNode = {
      id,
      peer: `127.0.0.1:${await reservePort()}`,
      client: `127.0.0.1:${await reservePort()}`,
      proc: undefined,
      log: [],
      exitCodes: [],
    };
    this.nodes.set(id, node);
    return node;
  }

  peersSpec(ids: number[] = [...this.nodes.keys()]): string {
    return ids.map((id) => `${id}=${this.nodes.get(id)!.peer}/${this.nodes.get(id)!.client}`).join(',');
  }

  spawn(id: number, join: boolean, peerIds?: number[], extraArgs: string[] = this.extraArgs): void {
    const node = this.nodes.get(id)!;
    const args = [
      CLI,
      'node',
      '--id',
      String(id),
      '--peers',
      this.peersSpec(peerIds),
      '--data',
      this.dataDir(id),
      '--tick-ms',
      '50',
      ...(join ? ['--join'] : []),
      ...extraArgs,
    ];
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout?.on('data', (d: Buffer) => node.log.push(d.toString()));
    proc.stderr?.on('data', (d: Buffer) => node.log.push(d.toString()));
    proc.once('exit', (code) => node.exitCodes.push(code));
    node.proc = proc;
  }

  dataDir(id: number): string {
    return join(this.dir, `n${id}`);
  }

  /** The API's URL: https when the nodes were started with `--cert-file`. */
  url(id: number): string {
    return `${this.extraArgs.includes('--cert-file') ? 'https' : 'http'}://${this.nodes.get(id)!.client}`;
  }

  async kill(id: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.nodes.get(id)?.proc;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill(signal);
    await exited;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.nodes.keys()].map((id) => this.kill(id, 'SIGTERM')));
    await rm(this.dir, { recursive: true, force: true });
  }

  logs(): string {
    return [...this.nodes.values()].map((n) => `--- node ${n.id}\n${n.log.join('')}`).join('\n');
  }
}

/** The fields the API's JSON answers carry (each present where it applies). */
export interface ApiBody {
  key?: string;
  value?: string;
  revision?: number;
  modRevision?: number;
  deleted?: boolean;
  id?: number;
  leader?: number;
  appliedIndex?: number;
  commitIndex?: number;
  snapshotIndex?: number;
  walSegments?: number;
  confState?: { voters: number[]; learners: number[] };
  members?: { id: number; role: string }[];
  removed?: number[];
  error?: { code: string; message: string };
}

export async function http(
  url: string,
  method: string,
  body?: unknown,
): Promise<{ status: number; json: ApiBody }> {
  const res = await fetch(url, {
    method,
    ...(body !== undefined
      ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }
      : {}),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, json: (text.length > 0 ? JSON.parse(text) : {}) as ApiBody };
}

export async function until<T>(fn: () => Promise<T | undefined>, what: string, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The id of the node every live node agrees leads. */
export async function leaderOf(c: ProcCluster, ids: number[]): Promise<number> {
  return until(async () => {
    const leads = await Promise.all(
      ids.map(async (id) => (await http(`${c.url(id)}/status`, 'GET')).json.leader ?? 0),
    );
    const l = leads[0];
    return l !== undefined && l !== 0 && ids.includes(l) && leads.every((x) => x === l) ? l : undefined;
  }, 'an agreed leader');
}
