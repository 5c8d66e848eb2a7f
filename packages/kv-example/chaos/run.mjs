#!/usr/bin/env node
// Jepsen-style fault harness for the x-kv cluster: `pnpm test:chaos` (builds first).
// Five node processes with real WALs; every directed peer link goes through a LinkProxy the harness owns, so
// partitions are real at the socket level. Seeded nemeses (kill -9 + restart, SIGSTOP/SIGCONT, partitions, isolating
// the leader) run while clients read, write and compare-and-swap a few keys over HTTP, recording invoke and
// completion times (timeouts are unknown outcomes). Schedule: quiet, faults, heal, quiet, final reads. Checks: the
// history is linearizable, every node ends with the same state, writes succeed again after healing, and no node
// exited on its own. On failure: the seed, and the history, nemesis timeline and node logs in chaos-out/<seed>/.
// Env: CHAOS_SEED, CHAOS_SECONDS (fault phase, default 20), CHAOS_RUNS (default 1), CHAOS_NODES (default 5),
// CHAOS_WIPE=1 (also wipe one node's data directory and restart it with its old id).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '@x/raft';
import { casRegisterModel, checkLinearizable, historyFromEvents, partitionBy } from '@x/raft/testing';
import { LinkProxy } from './proxy.mjs';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const OUT = fileURLToPath(new URL('../chaos-out/', import.meta.url));
const SECONDS = Number(process.env.CHAOS_SECONDS ?? 20);
const RUNS = Number(process.env.CHAOS_RUNS ?? 1);
const N = Number(process.env.CHAOS_NODES ?? 5);
const KEYS = ['a', 'b', 'c'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

async function call(port, method, path, body, timeoutMs = 1500) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    ...(body ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : {} };
}

async function runOnce(seed) {
  const rng = seededRandom(seed);
  const pick = (arr) => arr[rng.nextInt(arr.length)];
  const root = mkdtempSync(join(tmpdir(), `x-kv-chaos-${seed}-`));
  const t0 = performance.now();
  const now = () => Math.round(performance.now() - t0);
  const timeline = [];
  const note = (what) => timeline.push(`${now()} ms ${what}`);
  const ids = Array.from({ length: N }, (_, i) => i + 1);
  const nodes = new Map();
  for (const id of ids)
    nodes.set(id, {
      id,
      peer: await freePort(),
      client: await freePort(),
      log: [],
      proc: undefined,
      stopped: false,
      expectedExit: false,
      unexpected: [],
    });
  // proxies.get(`${i}:${j}`): node i's route to node j.
  const proxies = new Map();
  for (const i of ids)
    for (const j of ids)
      if (i !== j) proxies.set(`${i}:${j}`, new LinkProxy(await freePort(), nodes.get(j).peer));
  for (const p of proxies.values()) await p.start();

  const spawnNode = (id) => {
    const n = nodes.get(id);
    const peers = ids
      .map((j) =>
        j === id
          ? `${j}=127.0.0.1:${n.peer}/127.0.0.1:${n.client}`
          : `${j}=127.0.0.1:${proxies.get(`${id}:${j}`).listenPort}/127.0.0.1:${nodes.get(j).client}`,
      )
      .join(',');
    const proc = spawn(
      process.execPath,
      [
        CLI,
        'node',
        '--id',
        String(id),
        '--peers',
        peers,
        '--data',
        join(root, `n${id}`),
        '--tick-ms',
        '50',
        '--snapshot-count',
        '200',
        '--snapshot-catchup',
        '50',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    proc.stdout.on('data', (d) => n.log.push(d.toString()));
    proc.stderr.on('data', (d) => n.log.push(d.toString()));
    n.expectedExit = false;
    proc.once('exit', (code, signal) => {
      if (!n.expectedExit) n.unexpected.push(`exit code=${code} signal=${signal} at ${now()} ms`);
    });
    n.proc = proc;
  };
  for (const id of ids) spawnNode(id);

  const events = [];
  let stopClients = false;
  let written = 0;
  const client = async (c) => {
    let k = 0;
    while (!stopClients) {
      const key = pick(KEYS);
      const node = nodes.get(pick(ids.filter((id) => id !== wiped?.id)));
      const kind = rng.nextInt(10);
      const proc = c;
      if (kind < 4) {
        events.push({ process: proc, type: 'invoke', input: { key, op: { op: 'read' } }, time: now() });
        try {
          const r = await call(node.client, 'GET', `/kv/${key}`);
          if (r.status === 200) events.push({ process: proc, type: 'ok', output: r.json.value, time: now() });
          else if (r.status === 404) events.push({ process: proc, type: 'ok', output: null, time: now() });
          else events.push({ process: proc, type: 'fail', time: now() });
        } catch {
          events.push({ process: proc, type: 'fail', time: now() }); // a read that did not complete has no effect
        }
      } else {
        const value = `${c}-${k++}`;
        const cas = kind >= 8;
        const prevValue = cas ? pick([null, ...KEYS.map((_, i) => `${pick(ids)}-${i}`)]) : undefined;
        const op = cas ? { op: 'cas', from: prevValue, to: value } : { op: 'write', value };
        events.push({ process: proc, type: 'invoke', input: { key, op }, time: now() });
        try {
          const body = cas
            ? prevValue === null
              ? { value, prevRevision: 0 }
              : { value, prevValue }
            : { value };
          const r = await call(node.client, 'PUT', `/kv/${key}`, body);
          if (r.status === 200) {
            written++;
            events.push({ process: proc, type: 'ok', output: cas ? true : null, time: now() });
          } else if (r.status === 409) events.push({ process: proc, type: 'ok', output: false, time: now() });
          else if (r.status === 503 && r.json.error?.code === 'NO_LEADER')
            events.push({ process: proc, type: 'fail', time: now() });
          else events.push({ process: proc, type: 'info', time: now() }); // 504, stopped: outcome unknown
        } catch {
          events.push({ process: proc, type: 'info', time: now() });
        }
      }
    }
  };

  const heal = () => {
    for (const p of proxies.values()) p.unblock();
    for (const n of nodes.values()) {
      if (n.stopped) {
        n.proc.kill('SIGCONT');
        n.stopped = false;
      }
      if (n !== wiped && (n.proc.exitCode !== null || n.proc.signalCode !== null)) spawnNode(n.id);
    }
    note('heal');
  };
  let wiped;
  const nemesis = async () => {
    const deadline = performance.now() + SECONDS * 1000;
    while (performance.now() < deadline) {
      await sleep(1000 + rng.nextInt(2000));
      // The wipe nemesis runs only with CHAOS_WIPE=1 (see RELIABILITY.md).
      const choice = rng.nextInt(process.env.CHAOS_WIPE === '1' ? 6 : 5);
      const victim = nodes.get(pick(ids.filter((id) => id !== wiped?.id)));
      if (choice === 5 && wiped === undefined && victim.proc.exitCode === null) {
        // A node whose data directory is wiped restarts with its old id: it must stop with a clear error (not vote
        // with a log it no longer has), and the rest of the cluster must stay available. It stays down.
        note(`wipe n${victim.id}`);
        wiped = victim;
        victim.expectedExit = true;
        victim.proc.kill('SIGKILL');
        await new Promise((r) =>
          victim.proc.exitCode !== null || victim.proc.signalCode !== null
            ? r()
            : victim.proc.once('exit', r),
        );
        rmSync(join(root, `n${victim.id}`), { recursive: true, force: true });
        spawnNode(victim.id);
        victim.expectedExit = true;
      } else if (choice === 0 && victim.proc.exitCode === null && victim.proc.signalCode === null) {
        note(`kill -9 n${victim.id}`);
        victim.expectedExit = true;
        victim.proc.kill('SIGKILL');
        setTimeout(
          () => {
            if (!stopClients) {
              note(`restart n${victim.id}`);
              spawnNode(victim.id);
            }
          },
          500 + rng.nextInt(1500),
        );
      } else if (choice === 1 && !victim.stopped) {
        note(`SIGSTOP n${victim.id}`);
        victim.stopped = true;
        victim.proc.kill('SIGSTOP');
        setTimeout(
          () => {
            if (victim.stopped) {
              note(`SIGCONT n${victim.id}`);
              victim.proc.kill('SIGCONT');
              victim.stopped = false;
            }
          },
          500 + rng.nextInt(1500),
        );
      } else if (choice === 2 || choice === 3) {
        for (const p of proxies.values()) p.unblock();
        const shuffled = [...ids];
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = rng.nextInt(i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
        }
        const cut = 1 + rng.nextInt(N - 1);
        const a = shuffled.slice(0, cut);
        const b = shuffled.slice(cut);
        note(`partition ${a.join(',')} | ${b.join(',')}${choice === 3 ? ' (one-way)' : ''}`);
        for (const x of a)
          for (const y of b) {
            proxies.get(`${x}:${y}`).block();
            if (choice === 2) proxies.get(`${y}:${x}`).block();
          }
      } else {
        for (const p of proxies.values()) p.unblock();
        note('heal links');
      }
    }
  };

  let failure;
  try {
    await sleep(2000);
    note('faults start');
    const clients = Array.from({ length: 6 }, (_, c) => client(c));
    await nemesis();
    heal();
    // Liveness: a write must succeed within 15 s of healing.
    const healedAt = performance.now();
    let live = false;
    while (!live && performance.now() - healedAt < 15000) {
      for (const n of nodes.values()) {
        try {
          if ((await call(n.client, 'PUT', '/kv/liveness', { value: 'x' }, 2000)).status === 200) live = true;
        } catch {
          // keep trying
        }
        if (live) break;
      }
      if (!live) await sleep(300);
    }
    await sleep(3000);
    stopClients = true;
    await Promise.all(clients);
    note('clients stopped');
    if (!live) failure = 'liveness: no write succeeded within 15 s after healing';
    // Every node converges to the same state (serializable reads of each key, once applied indexes agree).
    const deadline = performance.now() + 15000;
    let states;
    const alive = ids.filter((id) => id !== wiped?.id);
    if (wiped !== undefined) {
      const exited = wiped.proc.exitCode !== null || wiped.proc.signalCode !== null;
      const said = /ERR_INCARNATION_CHANGED|tocommit/.test(wiped.log.join(''));
      if (!exited || !said)
        failure ??= `wiped node n${wiped.id} did not stop with a clear error (exited: ${exited})`;
      else
        note(
          `n${wiped.id} stopped: ${wiped.log
            .join('')
            .split('\n')
            .find((l) => l.includes('tocommit'))
            ?.slice(0, 160)}`,
        );
    }
    for (;;) {
      const st = await Promise.all(
        alive.map((id) =>
          call(nodes.get(id).client, 'GET', '/status').then(
            (r) => r.json,
            () => undefined,
          ),
        ),
      );
      if (
        st.every(
          (s) => s !== undefined && s.appliedIndex === st[0].appliedIndex && s.appliedIndex >= s.commitIndex,
        )
      ) {
        states = await Promise.all(
          alive.map(async (id) =>
            Promise.all(
              KEYS.map(
                async (k) =>
                  (await call(nodes.get(id).client, 'GET', `/kv/${k}?consistency=serializable`)).json.value ??
                  null,
              ),
            ),
          ),
        );
        if (states.every((s) => JSON.stringify(s) === JSON.stringify(states[0]))) break;
      }
      if (performance.now() > deadline) {
        failure ??= `nodes did not converge: ${JSON.stringify(st.map((s) => s && [s.appliedIndex, s.commitIndex]))} ${JSON.stringify(states)}`;
        break;
      }
      await sleep(300);
    }
    // The history, with final linearizable reads.
    for (const key of KEYS) {
      events.push({ process: 100, type: 'invoke', input: { key, op: { op: 'read' } }, time: now() });
      const r = await call(nodes.get(alive[0]).client, 'GET', `/kv/${key}`, undefined, 5000);
      events.push({
        process: 100,
        type: r.status === 200 || r.status === 404 ? 'ok' : 'fail',
        output: r.status === 200 ? r.json.value : null,
        time: now(),
      });
    }
    const unexpected = [...nodes.values()].flatMap((n) => n.unexpected.map((u) => `n${n.id}: ${u}`));
    if (unexpected.length > 0) failure ??= `processes exited on their own: ${unexpected.join('; ')}`;
    const ops = historyFromEvents(events, { dropUnknown: (i) => i.op.op === 'read' });
    const base = casRegisterModel(null);
    const model = {
      init: base.init,
      step: (s, input, output) => base.step(s, input.op, output),
      hash: (s) => JSON.stringify(s),
      partition: (o) => partitionBy(o, (x) => x.input.key),
      describe: (input, output) => `${input.key}: ${base.describe(input.op, output)}`,
    };
    const result = checkLinearizable(model, ops);
    const summary = `seed ${seed}: ${ops.length} operations (${written} acknowledged writes), ${timeline.length} nemesis events, linearizable: ${result.ok}`;
    console.log(summary);
    if (!result.ok) failure ??= `not linearizable:\n${result.explanation.text}`;
    if (failure !== undefined) {
      const dir = join(OUT, String(seed));
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'history.json'), JSON.stringify(events, null, 1));
      writeFileSync(join(dir, 'nemesis.txt'), timeline.join('\n'));
      for (const n of nodes.values()) writeFileSync(join(dir, `n${n.id}.log`), n.log.join(''));
      console.error(
        `FAILED (seed ${seed}): ${failure}\nhistory, nemesis timeline and node logs: ${dir}\nrerun: CHAOS_SEED=${seed} pnpm test:chaos`,
      );
    }
    return { ok: failure === undefined, ops: ops.length, written, nemeses: timeline.length };
  } finally {
    stopClients = true;
    for (const n of nodes.values()) {
      n.expectedExit = true;
      if (n.stopped) n.proc.kill('SIGCONT');
      n.proc.kill('SIGKILL');
    }
    for (const p of proxies.values()) await p.close();
    rmSync(root, { recursive: true, force: true });
  }
}

const first = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000);
let failed = 0;
for (let r = 0; r < RUNS; r++) {
  const res = await runOnce(first + r);
  if (!res.ok) failed++;
}
console.log(`chaos: ${RUNS - failed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
