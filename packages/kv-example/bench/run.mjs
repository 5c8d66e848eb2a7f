#!/usr/bin/env node
// @x/kv-example benchmark: `pnpm bench:kv` (builds first). Three local x-kv node processes, durable (fsync on), under
// a closed-loop HTTP load with keep-alive: 100 B PUTs at 1, 16, 64 and 256 concurrent clients, and linearizable GETs
// at 64. When `etcd` is on PATH (Debian: etcd-server), the same load runs against a local 3-member etcd in the same
// run (through its JSON gateway) and each row prints the ratio. CPU per process is read from /proc.
// The load comes from bench/lean-client.mjs (raw keep-alive sockets): node:http's client cost ~80 µs of CPU per
// request here, on the same two cores as the servers.
// Both clusters run for the whole benchmark, both warmed, and they are measured in alternation: each row runs on
// one system while the other sits idle, then on the other, in BENCH_ROUNDS rounds (the order flips every round).
// Each row prints the ratio of every round and their median: run back to back, the ratio moved with the shared
// disk's drift between the two halves.
// Env: BENCH_SECONDS (per row, default 5), BENCH_QUICK=1 (2 s rows), BENCH_ROUNDS (default 3).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LeanConnection } from './lean-client.mjs';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const seconds = Number(process.env.BENCH_SECONDS ?? (process.env.BENCH_QUICK === '1' ? 2 : 5));
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const VALUE = 'v'.repeat(100);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

function cpuTicks(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks (100/s)
  } catch {
    return 0;
  }
}

/** Closed loop: `clients` each send one request, wait, repeat, for `seconds`. */
async function load(target, clients, kind) {
  const conns = Array.from({ length: clients }, () => new LeanConnection(target.port));
  const lat = [];
  let errors = 0;
  const before = target.pids.map(cpuTicks);
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      let i = 0;
      while (performance.now() < deadline) {
        const s = performance.now();
        const [method, path, body] =
          kind === 'put' ? target.put(`k${c}-${i++ % 100}`, VALUE) : target.get(`k${c % 16}-0`);
        try {
          const code = await conns[c].request(method, path, body);
          if (code >= 300 && !(kind === 'get' && code === 404)) errors++;
          else lat.push(performance.now() - s);
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = target.pids.map((p, i) => ((cpuTicks(p) - before[i]) / 100 / elapsed) * 100);
  for (const conn of conns) conn.close();
  lat.sort((a, b) => a - b);
  const pct = (q) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] ?? NaN;
  return { ops: lat.length / elapsed, p50: pct(0.5), p99: pct(0.99), errors, cpu };
}

async function startXkv(root) {
  const ids = [1, 2, 3];
  const ports = [];
  for (const id of ids) ports.push({ id, peer: await freePort(), client: await freePort() });
  const peers = ports.map((p) => `${p.id}=127.0.0.1:${p.peer}/127.0.0.1:${p.client}`).join(',');
  const procs = ports.map((p) =>
    spawn(
      process.execPath,
      [
        CLI,
        'node',
        '--id',
        String(p.id),
        '--peers',
        peers,
        '--data',
        join(root, `n${p.id}`),
        '--log-level',
        'warn',
      ],
      { stdio: 'ignore' },
    ),
  );
  let leader;
  for (let i = 0; i < 200 && leader === undefined; i++) {
    await sleep(100);
    try {
      const st = await new Promise((resolve, reject) =>
        http
          .get({ host: '127.0.0.1', port: ports[0].client, path: '/status' }, (res) => {
            let b = '';
            res.on('data', (d) => (b += d));
            res.on('end', () => resolve(JSON.parse(b)));
          })
          .on('error', reject),
      );
      if (st.leader) leader = ports.find((p) => p.id === st.leader);
    } catch {
      // not up yet
    }
  }
  if (leader === undefined) throw new Error('x-kv cluster elected no leader');
  return {
    name: 'x-kv',
    port: leader.client,
    pids: procs.map((p) => p.pid),
    put: (k, v) => ['PUT', `/kv/${k}`, JSON.stringify({ value: v })],
    get: (k) => ['GET', `/kv/${k}`, undefined],
    stop: async () => {
      for (const p of procs) p.kill('SIGTERM');
      await sleep(500);
    },
  };
}

async function startEtcd(root) {
  if (spawnSync('etcd', ['--version']).status !== 0) return undefined;
  const ids = [1, 2, 3];
  const ports = [];
  for (const id of ids) ports.push({ id, peer: await freePort(), client: await freePort() });
  const cluster = ports.map((p) => `e${p.id}=http://127.0.0.1:${p.peer}`).join(',');
  const procs = ports.map((p) =>
    spawn(
      'etcd',
      [
        '--name',
        `e${p.id}`,
        '--data-dir',
        join(root, `e${p.id}`),
        '--listen-client-urls',
        `http://127.0.0.1:${p.client}`,
        '--advertise-client-urls',
        `http://127.0.0.1:${p.client}`,
        '--listen-peer-urls',
        `http://127.0.0.1:${p.peer}`,
        '--initial-advertise-peer-urls',
        `http://127.0.0.1:${p.peer}`,
        '--initial-cluster',
        cluster,
        '--initial-cluster-state',
        'new',
        '--log-level',
        'error',
      ],
      { stdio: 'ignore' },
    ),
  );
  const b64 = (s) => Buffer.from(s).toString('base64');
  let leaderPort;
  for (let i = 0; i < 100 && leaderPort === undefined; i++) {
    await sleep(200);
    for (const p of ports) {
      try {
        const st = await new Promise((resolve, reject) => {
          const req = http.request(
            { host: '127.0.0.1', port: p.client, method: 'POST', path: '/v3/maintenance/status' },
            (res) => {
              let b = '';
              res.on('data', (d) => (b += d));
              res.on('end', () => resolve(JSON.parse(b)));
            },
          );
          req.on('error', reject);
          req.end('{}');
        });
        if (st.leader && st.leader === st.header?.member_id) leaderPort = p.client;
      } catch {
        // not up yet
      }
    }
  }
  if (leaderPort === undefined) throw new Error('etcd elected no leader');
  return {
    name: 'etcd',
    port: leaderPort,
    pids: procs.map((p) => p.pid),
    put: (k, v) => ['POST', '/v3/kv/put', JSON.stringify({ key: b64(k), value: b64(v) })],
    get: (k) => ['POST', '/v3/kv/range', JSON.stringify({ key: b64(k) })],
    stop: async () => {
      for (const p of procs) p.kill('SIGTERM');
      await sleep(500);
    },
  };
}

const ROWS = [
  ...[1, 16, 64, 256].map((c) => ({ row: `PUT 100 B, ${c} clients`, clients: c, kind: 'put' })),
  { row: 'linearizable GET, 64 clients', clients: 64, kind: 'get' },
];
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? NaN
    : s.length % 2 === 1
      ? s[(s.length - 1) / 2]
      : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const root = mkdtempSync(join(tmpdir(), 'x-kv-bench-'));
/** Per system, per row: the measurement of each round. */
const results = new Map();
const targets = [];
try {
  targets.push(await startXkv(root));
  const etcdTarget = await startEtcd(root);
  if (etcdTarget === undefined)
    console.log(
      'etcd not found on PATH: running x-kv only (apt-get install etcd-server etcd-client for the comparison)',
    );
  else targets.push(etcdTarget);
  // Let start-up work settle (x-kv zero-fills its first and next 64 MB segments; etcd fallocates) and warm up.
  await sleep(3000);
  for (const t of targets) {
    await load(t, 16, 'put');
    results.set(
      t.name,
      ROWS.map(() => []),
    );
  }
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const [i, r] of ROWS.entries()) {
      for (const t of order) results.get(t.name)[i].push(await load(t, r.clients, r.kind));
    }
  }
} finally {
  for (const t of targets) await t.stop();
  rmSync(root, { recursive: true, force: true });
}

const f = (n, d = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
    : '-';
console.log(
  `@x/kv-example bench (node ${process.version}, ${seconds} s per row, ${rounds} alternating rounds, 3 nodes on one machine, fsync on)`,
);
const head = [
  'load',
  'x-kv ops/s',
  'p50 ms',
  'p99 ms',
  'cpu % (n1 n2 n3)',
  'etcd ops/s',
  'p50 ms',
  'p99 ms',
  'cpu %',
  'ratio per round',
  'median',
];
const ours = results.get('x-kv');
const theirs = results.get('etcd');
/** A system's row, as the median over rounds of each figure. */
const med = (ms) => ({
  ops: median(ms.map((m) => m.ops)),
  p50: median(ms.map((m) => m.p50)),
  p99: median(ms.map((m) => m.p99)),
  cpu: ms[0].cpu.map((_, k) => median(ms.map((m) => m.cpu[k]))),
});
const lines = ROWS.map((row, i) => {
  const r = med(ours[i]);
  const e = theirs === undefined ? undefined : med(theirs[i]);
  const ratios = theirs === undefined ? [] : ours[i].map((m, k) => m.ops / theirs[i][k].ops);
  return [
    row.row,
    f(r.ops),
    f(r.p50, 2),
    f(r.p99, 2),
    r.cpu.map((c) => f(c)).join(' '),
    e ? f(e.ops) : '-',
    e ? f(e.p50, 2) : '-',
    e ? f(e.p99, 2) : '-',
    e ? e.cpu.map((c) => f(c)).join(' ') : '-',
    e ? ratios.map((x) => `${f(x, 2)}x`).join(' ') : '-',
    e ? `${f(median(ratios), 2)}x` : '-',
  ];
});
const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
console.log(head.map((h, i) => h.padEnd(widths[i])).join('  '));
for (const l of lines) console.log(l.map((c, i) => c.padEnd(widths[i])).join('  '));
console.log('(each figure is the median over rounds; ratio = x-kv ops/s over etcd ops/s in the same round)');
const errs = [...results.values()].flat(2).reduce((a, m) => a + m.errors, 0);
if (errs > 0) console.log(`(${errs} failed requests excluded from the figures)`);
