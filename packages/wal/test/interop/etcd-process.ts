// Runs Debian's etcd 3.4 (package etcd-server, etcdctl from etcd-client) as a child process on loopback, for the
// optional live interop tests. Every port is on 127.0.0.1 and picked free by the OS; the process is ours and is
// stopped by its pid.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Whether `name ...args` runs (the binary is on PATH). */
function runs(name: string, ...args: string[]): boolean {
  try {
    execFileSync(name, args, { stdio: 'ignore', timeout: 10_000, env: { ...process.env, ETCDCTL_API: '3' } });
    return true;
  } catch {
    return false;
  }
}

/** True when both `etcd` and `etcdctl` are installed; the live tests skip otherwise. */
export const etcdAvailable = runs('etcd', '--version') && runs('etcdctl', 'version');

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  return address.port;
}

/** `etcdctl endpoint status -w fields`, with the 64-bit ids kept exact (as bigint). */
export interface EtcdStatus {
  memberId: bigint;
  clusterId: bigint;
  raftTerm: bigint;
  raftIndex: bigint;
  revision: bigint;
}

/** A running single-member etcd whose data dir is `dataDir`. */
export class EtcdProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly endpoint: string,
    private readonly log: string[],
  ) {}

  /** Starts etcd on `dataDir` (new or existing) as member `name`, and waits until it serves requests. */
  static async start(dataDir: string, name: string, extraArgs: readonly string[] = []): Promise<EtcdProcess> {
    const client = `http://127.0.0.1:${await freePort()}`;
    const peer = `http://127.0.0.1:${await freePort()}`;
    const args = [
      ...['--name', name, '--data-dir', dataDir],
      ...['--listen-client-urls', client, '--advertise-client-urls', client],
      ...['--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer],
      ...['--initial-cluster', `${name}=${peer}`],
      ...extraArgs,
    ];
    const child = spawn('etcd', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const log: string[] = [];
    const keep = (chunk: Buffer): void => {
      log.push(chunk.toString());
      if (log.length > 200) log.shift();
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const etcd = new EtcdProcess(child, client, log);
    // Bounded wait for readiness (not a timing assertion): etcd replays its WAL before it serves.
    for (let i = 0; i < 120; i++) {
      if (child.exitCode !== null) break;
      try {
        etcd.ctl('endpoint', 'health');
        return etcd;
      } catch {
        await sleep(250);
      }
    }
    await etcd.stop();
    throw new Error(`etcd did not become healthy; its log ends:\n${log.join('').slice(-2000)}`);
  }

  /** Runs etcdctl (API v3) against this member; returns stdout. */
  ctl(...args: string[]): string {
    return execFileSync('etcdctl', ['--endpoints', this.endpoint, ...args], {
      env: { ...process.env, ETCDCTL_API: '3' },
      encoding: 'utf8',
      timeout: 20_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  /** The member's status, read with `-w fields` (plain decimal text, so 64-bit ids are not rounded by JSON). */
  status(): EtcdStatus {
    const text = this.ctl('endpoint', 'status', '-w', 'fields');
    const field = (name: string): bigint => {
      const m = new RegExp(`"${name}" : (\\d+)`).exec(text);
      if (m?.[1] === undefined) throw new Error(`etcdctl status has no ${name}:\n${text}`);
      return BigInt(m[1]);
    };
    return {
      memberId: field('MemberID'),
      clusterId: field('ClusterID'),
      raftTerm: field('RaftTerm'),
      raftIndex: field('RaftIndex'),
      revision: field('Revision'),
    };
  }

  /** A clean stop (SIGTERM, which etcd handles by closing its WAL); SIGKILL if it has not exited in 20 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }
}
