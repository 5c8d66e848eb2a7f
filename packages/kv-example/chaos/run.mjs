#!/usr/bin/env node
// Jepsen-style fault harness for the x-kv cluster: `pnpm test:chaos` (builds first).
// Five node processes with real WALs, each behind a FrontProxy the harness owns, so partitions are real at the socket
// level. Seeded nemeses (nemeses.mjs: kill -9 of a node, the leader or a majority; SIGSTOP/SIGCONT; random, one-way,
// isolate-the-leader, bridge and ring partitions; slow links; replacing a member under load; a node whose data is
// wiped restarting with its old id) run one after another while clients read, write and compare-and-swap a few keys
// over HTTP (workload.mjs), and, at the same time under the same nemeses, counter clients increment two counters
// in client sessions, retrying unknown outcomes with the same session and sequence number (counter.mjs). Schedule,
// as Jepsen's: quiet, faults, heal, liveness, quiet, final reads. Checks: the history is linearizable, each counter
// is within its exact bounds (>= increments acknowledged, <= those plus the ones abandoned with an unknown outcome),
// writes succeed again within 15 s of healing, every member ends with the same state, the wiped node stopped by
// itself with a clear error, and no process exited on its own. On failure: the seed, and the history, nemesis
// timeline and node logs in chaos-out/<seed>/.
// Env: CHAOS_SEED, CHAOS_SECONDS (fault phase, default 90), CHAOS_RUNS (default 1), CHAOS_NODES (default 5),
// CHAOS_WIPE=0 (leave out the wipe nemesis), CHAOS_COUNTER=0 (leave out the counter clients),
// CHAOS_COUNTER_DEDUP=0 (counter retries without session headers: shows the check catching double increments).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '@x/raft';
import { ChaosCluster, call, sleep } from './cluster.mjs';
import { memberIds, nemeses, removeMember, wipeAndRejoin } from './nemeses.mjs';
import { COUNTER_KEYS, CounterWorkload } from './counter.mjs';
import { KEYS, Workload } from './workload.mjs';

const OUT = fileURLToPath(new URL('../chaos-out/', import.meta.url));
const SECONDS = Number(process.env.CHAOS_SECONDS ?? 90);
const RUNS = Number(process.env.CHAOS_RUNS ?? 1);
const N = Number(process.env.CHAOS_NODES ?? 5);
const WIPE = process.env.CHAOS_WIPE !== '0';
const CLIENTS = 6;
const COUNTER_CLIENTS = process.env.CHAOS_COUNTER === '0' ? 0 : 3;
const COUNTER_DEDUP = process.env.CHAOS_COUNTER_DEDUP !== '0';

/** Nemeses and their weights in the random draw. */
const DRAW = [
  ['killOne', 2],
  ['killLeader', 1],
  ['killMajority', 1],
  ['pause', 2],
  ['splitRandom', 2],
  ['oneWay', 1],
  ['isolateLeader', 1],
  ['bridge', 1],
  ['ring', 1],
  ['slowLinks', 1],
  ['replaceMember', 1],
];

function draw(rng) {
  const total = DRAW.reduce((s, [, w]) => s + w, 0);
  let r = rng.nextInt(total);
  for (const [name, w] of DRAW) {
    if (r < w) return name;
    r -= w;
  }
  return DRAW[0][0];
}

async function runOnce(seed) {
  const rng = seededRandom(seed);
  const pick = (xs) => xs[rng.nextInt(xs.length)];
  const root = mkdtempSync(join(tmpdir(), `x-kv-chaos-${seed}-`));
  const t0 = performance.now();
  const now = () => Math.round(performance.now() - t0);
  const timeline = [];
  const note = (what) => timeline.push(`${now()} ms ${what}`);
  const cluster = new ChaosCluster(root, note, now);
  const bootIds = [];
  for (let i = 0; i < N; i++) bootIds.push((await cluster.define(false)).id);
  for (const id of bootIds) cluster.spawn(id, bootIds);
  const failures = [];
  const ctx = { cluster, rng, pick, note, bootIds, failures, pendingRemovals: new Set() };
  const workload = new Workload(cluster, rng, now);
  // Its own random source: the counter clients' draws must not shift the nemesis schedule a seed gives.
  const counters = new CounterWorkload(cluster, seededRandom(seed ^ 0x5eed), { dedup: COUNTER_DEDUP });
  try {
    await sleep(2000);
    note('faults start');
    workload.start(CLIENTS);
    counters.start(COUNTER_CLIENTS);
    // Seeded moments for the two nemeses every run must include; the rest are drawn.
    const end = performance.now() + SECONDS * 1000;
    const replaceAt = performance.now() + SECONDS * 1000 * (0.1 + rng.nextInt(15) / 100);
    const wipeAt = WIPE ? performance.now() + SECONDS * 1000 * (0.35 + rng.nextInt(25) / 100) : Infinity;
    let replaced = false;
    let wiped = false;
    while (performance.now() < end) {
      await sleep(300 + rng.nextInt(1200));
      if (!wiped && performance.now() >= wipeAt) {
        wiped = true;
        cluster.healAll(bootIds); // every peer up, so some peer remembers the old incarnation
        await sleep(1500);
        await wipeAndRejoin(ctx);
        continue;
      }
      const name = !replaced && performance.now() >= replaceAt ? 'replaceMember' : draw(rng);
      if (name === 'replaceMember') replaced = true;
      await nemeses[name](ctx);
    }
    cluster.healAll(bootIds);
    note('heal');
    await settleMembership(ctx);
    // Liveness: a write must succeed within 15 s of healing.
    const healedAt = performance.now();
    let live = false;
    while (!live && performance.now() - healedAt < 15000) {
      for (const id of cluster.up()) {
        const ok = await call(cluster.nodes.get(id).client, 'PUT', '/kv/liveness', { value: 'x' }, 2000).then(
          (r) => r.status === 200,
          () => false,
        );
        if ((live = ok)) break;
      }
      if (!live) await sleep(300);
    }
    if (!live) failures.push('liveness: no write succeeded within 15 s after healing');
    await sleep(3000);
    await Promise.all([workload.stop(), counters.stop()]);
    note('clients stopped');
    const converged = await convergence(cluster);
    if (converged !== undefined) failures.push(converged);
    await workload.finalReads(cluster.nodes.get(cluster.up()[0] ?? bootIds[0]));
    const counted = COUNTER_CLIENTS > 0 ? await counters.check() : undefined;
    if (counted !== undefined) failures.push(...counted.failures);
    const unexpected = [...cluster.nodes.values()].flatMap((n) => n.unexpected.map((u) => `n${n.id}: ${u}`));
    if (unexpected.length > 0) failures.push(`processes exited on their own: ${unexpected.join('; ')}`);
    const { ops, result } = workload.check();
    console.log(
      `seed ${seed}: ${ops} operations (${workload.acknowledgedWrites} acknowledged writes), ` +
        `${timeline.length} nemesis events, members at the end ${cluster.members().join(',')}, linearizable: ${result.ok}` +
        (counted !== undefined ? `\n  ${counters.summary(counted.final)}` : ''),
    );
    if (!result.ok) failures.push(`not linearizable:\n${result.explanation.text}`);
    if (failures.length > 0) {
      const dir = join(OUT, String(seed));
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'history.json'), JSON.stringify(workload.events, null, 1));
      writeFileSync(join(dir, 'nemesis.txt'), timeline.join('\n'));
      for (const n of cluster.nodes.values()) writeFileSync(join(dir, `n${n.id}.log`), n.log.join(''));
      console.error(
        `FAILED (seed ${seed}):\n- ${failures.join('\n- ')}\nhistory, nemesis timeline and node logs: ${dir}\n` +
          `rerun: CHAOS_SEED=${seed} CHAOS_SECONDS=${SECONDS}${COUNTER_DEDUP ? '' : ' CHAOS_COUNTER_DEDUP=0'} pnpm test:chaos`,
      );
    } else if (process.env.CHAOS_VERBOSE === '1') console.log(timeline.join('\n'));
    return { ok: failures.length === 0 };
  } finally {
    workload.stopped = true;
    counters.stopped = true;
    await cluster.close();
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * After healing: finishes removals that had no definite answer, and makes the harness's member list what the
 * cluster's leader says (a joiner whose addition never took effect is stopped).
 */
async function settleMembership(ctx) {
  const { cluster, note } = ctx;
  for (const id of ctx.pendingRemovals) {
    ctx.pendingRemovals.delete(id);
    if (!(await removeMember(ctx, id))) ctx.failures.push(`could not remove n${id} after healing`);
  }
  await sleep(1000);
  const deadline = performance.now() + 10000;
  let ids;
  while (ids === undefined && performance.now() < deadline) {
    ids = await memberIds(cluster);
    if (ids === undefined) await sleep(300);
  }
  if (ids === undefined) return ctx.failures.push('no member answered GET /members after healing');
  for (const id of cluster.members())
    if (!ids.includes(id)) {
      note(`n${id} is not a member after all; stopping it`);
      cluster.nodes.get(id).retired = true;
      await cluster.kill(id);
    }
  // Members the harness saw no definite answer for, which the cluster has after all: start them too.
  for (const id of ids.filter((x) => !cluster.members().includes(x))) {
    const n = cluster.nodes.get(id);
    if (n === undefined)
      return ctx.failures.push(`the cluster lists n${id}, which the harness never defined`);
    n.member = true;
    if (!cluster.running(id)) cluster.spawn(id, ctx.bootIds);
  }
}

/** Every member ends with the same state: serializable reads of each key once the applied indexes agree. */
async function convergence(cluster) {
  const deadline = performance.now() + 20000;
  let last;
  for (;;) {
    const members = cluster.members();
    const st = await Promise.all(
      members.map((id) =>
        call(cluster.nodes.get(id).client, 'GET', '/status').then(
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
      const states = await Promise.all(
        members.map((id) =>
          Promise.all(
            [...KEYS, ...COUNTER_KEYS].map((k) =>
              call(cluster.nodes.get(id).client, 'GET', `/kv/${k}?consistency=serializable`).then(
                (r) => r.json.value ?? null,
                () => '<no answer>',
              ),
            ),
          ),
        ),
      );
      if (states.every((s) => JSON.stringify(s) === JSON.stringify(states[0]))) return undefined;
      last = states;
    }
    if (performance.now() > deadline)
      return `members did not converge: ${JSON.stringify(st.map((s, i) => [members[i], s?.appliedIndex, s?.commitIndex]))} ${JSON.stringify(last)}`;
    await sleep(300);
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
