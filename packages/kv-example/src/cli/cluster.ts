import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { formatPeers } from './peers.js';
import { NODE_TLS_OPTIONS, nodeTlsArgs, nodeTlsFromFlags } from './tls-flags.js';
import { parseCommandLine, UsageError } from './usage.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const COLORS = [36, 33, 35, 32, 34, 31, 96, 93, 95];
/** The default data directory, in the working directory (as etcd's `default.etcd`): a restart finds it again. */
export const DEFAULT_CLUSTER_DATA = 'x-kv-data';
/** What a cluster's data directory records of how it was started, so a restart cannot silently change it. */
const LAYOUT_FILE = 'cluster.json';

interface Layout {
  nodes: number;
  basePort: number;
}

/**
 * `x-kv cluster --nodes N [--data DIR] [--fresh] [--base-port P]`: N node processes on loopback, logs prefixed.
 * The data stays in DIR (default `./x-kv-data`), so starting again resumes the same cluster; `--fresh` wipes it
 * first. SIGINT, SIGTERM and SIGHUP stop every node cleanly; the nodes also stop by themselves when this process
 * dies (their stdin closes), so none outlives it.
 */
export async function runCluster(argv: string[]): Promise<number> {
  const { values } = parseCommandLine({
    args: argv,
    options: {
      nodes: { type: 'string', default: '3' },
      data: { type: 'string', default: DEFAULT_CLUSTER_DATA },
      fresh: { type: 'boolean', default: false },
      'base-port': { type: 'string', default: '12380' },
      'snapshot-count': { type: 'string', default: '10000' },
      ...NODE_TLS_OPTIONS,
    },
    strict: true,
  });
  // Checked here too, so a mistake is told once rather than by every node; the nodes all get the same files (on one
  // machine one certificate can serve them all: peers check the CA, not the name).
  const nodeTls = nodeTlsFromFlags(values);
  const scheme = nodeTls.client !== undefined ? 'https' : 'http';
  const n = Number(values.nodes);
  if (!Number.isInteger(n) || n < 1 || n > 9) throw new UsageError('--nodes must be 1..9');
  const base = Number(values['base-port']);
  if (!Number.isInteger(base) || base < 1 || base + n * 10 + 1 > 65535)
    throw new UsageError('--base-port must leave room for 10 ports per node below 65536');
  const dataRoot = resolve(values.data);
  if (values.fresh) await wipeClusterData(dataRoot);
  const resumed = await claimLayout(dataRoot, { nodes: n, basePort: base });

  const peers = new Map<number, { peer: string; client: string }>();
  for (let i = 1; i <= n; i++)
    peers.set(i, { peer: `127.0.0.1:${base + i * 10}`, client: `127.0.0.1:${base + i * 10 + 1}` });
  const children = new Map<number, ChildProcess>();
  for (const [id] of peers) {
    const args = [MAIN, 'node', '--id', String(id), '--peers', formatPeers(peers)];
    args.push('--data', join(dataRoot, `n${id}`), '--snapshot-count', values['snapshot-count']);
    args.push('--stop-on-stdin-close', ...nodeTlsArgs(values));
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const tag = `\x1b[${COLORS[(id - 1) % COLORS.length] ?? 36}m[n${id}]\x1b[0m `;
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => process.stdout.write(`${tag}${line}\n`));
    }
    children.set(id, child);
  }
  process.stdout.write(
    `x-kv cluster of ${n} nodes, data in ${dataRoot} (${resumed ? 'resumed: the data of the last run' : 'new'}; --fresh starts over)\n`,
  );
  for (const [id, a] of peers)
    process.stdout.write(
      `  node ${id}: ${scheme}://${a.client}  (peer ${nodeTls.peer !== undefined ? 'mutual TLS ' : ''}${a.peer}, pid ${children.get(id)?.pid})\n`,
    );
  process.stdout.write(
    `try: x-kv put hello world --endpoints ${[...peers.values()].map((a) => `${scheme}://${a.client}`).join(',')}` +
      `${scheme === 'https' ? ' --cacert CA_FILE' : ''}${nodeTls.client?.requestCert === true ? ' --cert CLIENT_CERT --key CLIENT_KEY' : ''}\n`,
  );
  process.stdout.write('Ctrl-C stops the cluster.\n');
  let stopping = false;
  // A node killed by the SIGTERM we sent (before its handlers were installed, in its first moments) stopped as
  // asked: nothing was acknowledged by it yet.
  const exited = [...children.values()].map(
    (c) =>
      new Promise<number>((done) =>
        c.once('exit', (code, signal) => done(code ?? (stopping && signal === 'SIGTERM' ? 0 : 1))),
      ),
  );
  await new Promise<void>((done) => {
    // `on`, not `once`: Ctrl-C reaches this process both from the terminal and from `npm start`'s forwarding.
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => done());
    // A parent that dies without a signal to us (npm, or a supervisor killed outright) reparents us: stop too.
    const parent = process.ppid;
    const watch = setInterval(() => {
      if (process.ppid !== parent) done();
    }, 200);
    watch.unref();
    void Promise.race(exited).then(() => done());
  });
  process.stdout.write('stopping...\n');
  stopping = true;
  for (const c of children.values()) c.kill('SIGTERM');
  const codes = await Promise.all(exited);
  return codes.every((c) => c === 0) ? 0 : 1;
}

/**
 * Records the layout in a new data directory, or checks it against the one recorded: nodes bootstrapped with
 * other peers, or a changed count, would not be the same cluster. True when the directory held a cluster.
 */
async function claimLayout(dataRoot: string, layout: Layout): Promise<boolean> {
  const file = join(dataRoot, LAYOUT_FILE);
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text !== undefined) {
    const had = JSON.parse(text) as Layout;
    if (had.nodes !== layout.nodes || had.basePort !== layout.basePort)
      throw new UsageError(
        `${dataRoot} holds a cluster of ${had.nodes} nodes on base port ${had.basePort}: start it with ` +
          `--nodes ${had.nodes} --base-port ${had.basePort}, or add --fresh to delete it and start over`,
      );
    return true;
  }
  await mkdir(dataRoot, { recursive: true });
  const leftovers = (await readdir(dataRoot)).filter((f) => !f.startsWith('.'));
  if (leftovers.length > 0)
    throw new UsageError(
      `${dataRoot} is not empty and holds no ${LAYOUT_FILE}: choose another --data directory`,
    );
  await writeFile(`${file}.tmp`, `${JSON.stringify(layout)}\n`);
  await rename(`${file}.tmp`, file);
  return false;
}

/** Deletes a cluster's data directory, refusing one that does not look like it (so a typo never wipes a home). */
async function wipeClusterData(dataRoot: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dataRoot);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const foreign = names.filter((f) => f !== LAYOUT_FILE && f !== `${LAYOUT_FILE}.tmp` && !/^n\d+$/.test(f));
  if (foreign.length > 0)
    throw new UsageError(
      `--fresh: ${dataRoot} holds ${foreign.slice(0, 3).join(', ')}, which an x-kv cluster does not write; not deleting it`,
    );
  await rm(dataRoot, { recursive: true, force: true });
}
