#!/usr/bin/env node
// Server-side CPU per request of the KV API's HTTP layer: our Http1Server (dist/server/http1.js) beside node:http
// (the baseline) in the same run, each in a child process answering a small JSON body to keep-alive PUTs from the
// lean client. CPU is the child's user+system time from /proc. `node packages/kv-example/bench/http-server.mjs`
// after a build; BENCH_SECONDS per row (default 3).
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { LeanConnection } from './lean-client.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const reply = () => JSON.stringify({ revision: 1 });

if (process.argv[2] === 'node:http') {
  const srv = http.createServer((req, res) => {
    const parts = [];
    req.on('data', (c) => parts.push(c));
    req.on('end', () => {
      JSON.parse(Buffer.concat(parts).toString('utf8'));
      const text = reply();
      res.writeHead(200, [
        'content-type',
        'application/json',
        'content-length',
        String(Buffer.byteLength(text)),
      ]);
      res.end(text);
    });
  });
  srv.listen(0, '127.0.0.1', () => process.send(srv.address().port));
} else if (process.argv[2] === 'http1') {
  const { Http1Server } = await import('../dist/server/http1.js');
  const srv = new Http1Server(async (req) => {
    JSON.parse(req.body.toString('utf8'));
    return { status: 200, contentType: 'application/json', body: reply() };
  });
  await srv.listen(0, '127.0.0.1');
  process.send(srv.address().port);
} else {
  const body = JSON.stringify({ value: 'v'.repeat(100) });
  const rows = [];
  for (const kind of ['node:http', 'http1']) {
    const child = fork(fileURLToPath(import.meta.url), [kind]);
    const port = await new Promise((r) => child.once('message', r));
    const ticks = () => {
      const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return Number(f[11]) + Number(f[12]);
    };
    for (const clients of [16, 256]) {
      const conns = Array.from({ length: clients }, () => new LeanConnection(port));
      let ops = 0;
      const t0 = performance.now();
      const c0 = ticks();
      await Promise.all(
        conns.map(async (c, i) => {
          while (performance.now() - t0 < seconds * 1000) {
            await c.request('PUT', `/kv/k${i}`, body);
            ops++;
          }
        }),
      );
      const s = (performance.now() - t0) / 1000;
      const cpu = (ticks() - c0) / 100;
      rows.push({ kind, clients, rps: ops / s, usPerReq: (cpu / ops) * 1e6 });
      for (const c of conns) c.close();
    }
    child.kill();
  }
  console.log(`HTTP layer, server CPU per request (node ${process.version}, ${seconds} s per row)`);
  for (const clients of [16, 256]) {
    const base = rows.find((r) => r.kind === 'node:http' && r.clients === clients);
    const ours = rows.find((r) => r.kind === 'http1' && r.clients === clients);
    console.log(
      `${String(clients).padStart(3)} clients: node:http ${base.usPerReq.toFixed(1)} µs/req (${base.rps.toFixed(0)} req/s), ` +
        `Http1Server ${ours.usPerReq.toFixed(1)} µs/req (${ours.rps.toFixed(0)} req/s): ${(base.usPerReq / ours.usPerReq).toFixed(2)}x less CPU`,
    );
  }
}
