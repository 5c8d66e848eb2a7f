import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatPeers } from './peers.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const COLORS = [36, 33, 35, 32, 34, 31, 96, 93, 95];

/** `x-kv cluster --nodes N [--data DIR] [--base-port P]`: N node processes on loopback, logs prefixed, Ctrl-C stops. */
export async function runCluster(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      nodes: { type: 'string', default: '3' },
      data: { type: 'string' },
      'base-port': { type: 'string', default: '12380' },
      'snapshot-count': { type: 'string', default: '10000' },
    },
    strict: true,
  });
  const n = Number(values.nodes);
  if (!Number.isInteger(n) || n < 1 || n > 9) throw new Error('--nodes must be 1..9');
  const base = Number(values['base-port']);
  const dataRoot = values.data ?? (await mkdtemp(join(tmpdir(), 'x-kv-cluster-')));
  const peers = new Map<number, { peer: string; client: string }>();
  for (let i = 1; i <= n; i++)
    peers.set(i, { peer: `127.0.0.1:${base + i * 10}`, client: `127.0.0.1:${base + i * 10 + 1}` });
  const children: ChildProcess[] = [];
  for (const [id] of peers) {
    const child = spawn(
      process.execPath,
      [
        MAIN,
        'node',
        '--id',
        String(id),
        '--peers',
        formatPeers(peers),
        '--data',
        join(dataRoot, `n${id}`),
        '--snapshot-count',
        values['snapshot-count'],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const tag = `\x1b[${COLORS[(id - 1) % COLORS.length] ?? 36}m[n${id}]\x1b[0m `;
    for (const stream of [child.stdout, child.stderr]) {
      if (stream !== null)
        createInterface({ input: stream }).on('line', (line) => process.stdout.write(`${tag}${line}\n`));
    }
    children.push(child);
  }
  process.stdout.write(`x-kv cluster of ${n} nodes, data in ${dataRoot}\n`);
  for (const [id, a] of peers) process.stdout.write(`  node ${id}: http://${a.client}  (peer ${a.peer})\n`);
  process.stdout.write(
    `try: x-kv put hello world --endpoints ${[...peers.values()].map((a) => `http://${a.client}`).join(',')}\n`,
  );
  process.stdout.write('Ctrl-C stops the cluster.\n');
  const exited = children.map(
    (c) => new Promise<number>((resolve) => c.once('exit', (code) => resolve(code ?? 0))),
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
    void Promise.race(exited).then(() => resolve());
  });
  process.stdout.write('stopping...\n');
  for (const c of children) c.kill('SIGTERM');
  const codes = await Promise.all(exited);
  return codes.every((c) => c === 0) ? 0 : 1;
}
