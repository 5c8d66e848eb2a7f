// Nemeses for the chaos harness. Each one applies a fault, holds it for a seeded while, and undoes it (restart,
// resume, heal), so they run one after another and the timeline says exactly what was in force when. The choice and
// every parameter come from the run's seeded RNG.
import { call, sleep } from './cluster.mjs';

function shuffle(rng, xs) {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const hold = (ctx) => sleep(500 + ctx.rng.nextInt(2500));

/** Cuts both directions between every node of `a` and every node of `b`. */
function cutBetween(cluster, a, b) {
  for (const x of a)
    for (const y of b) {
      cluster.block(x, y);
      cluster.block(y, x);
    }
}

async function killAndRestart(ctx, victims, label) {
  const { cluster, note } = ctx;
  note(`kill -9 ${label} ${victims.map((v) => `n${v}`).join(',')}`);
  await Promise.all(victims.map((v) => cluster.kill(v)));
  await hold(ctx);
  for (const v of victims)
    if (cluster.members().includes(v) && !cluster.running(v)) {
      note(`restart n${v}`);
      cluster.spawn(v, ctx.bootIds);
    }
}

async function partition(ctx, label, apply) {
  const { cluster, note } = ctx;
  cluster.healLinks();
  note(`partition ${label}`);
  apply();
  await hold(ctx);
  cluster.healLinks();
  note('heal links');
}

export const nemeses = {
  async killOne(ctx) {
    const up = ctx.cluster.up();
    if (up.length > 0) await killAndRestart(ctx, [ctx.pick(up)], 'node');
  },
  async killLeader(ctx) {
    const lead = await ctx.cluster.leader();
    if (lead !== undefined) await killAndRestart(ctx, [lead], 'leader');
  },
  async killMajority(ctx) {
    const members = ctx.cluster.members();
    const victims = shuffle(ctx.rng, ctx.cluster.up()).slice(0, Math.floor(members.length / 2) + 1);
    await killAndRestart(ctx, victims, 'majority');
  },
  async pause(ctx) {
    const { cluster, note } = ctx;
    const lead = ctx.rng.nextInt(2) === 0 ? await cluster.leader() : undefined;
    const up = cluster.up();
    const victim = lead ?? (up.length > 0 ? ctx.pick(up) : undefined);
    if (victim === undefined || !cluster.pause(victim)) return;
    note(`SIGSTOP n${victim}${lead !== undefined ? ' (leader)' : ''}`);
    await hold(ctx);
    note(`SIGCONT n${victim}`);
    cluster.resume(victim);
  },
  async splitRandom(ctx) {
    const ids = shuffle(ctx.rng, ctx.cluster.members());
    const cut = 1 + ctx.rng.nextInt(ids.length - 1);
    const [a, b] = [ids.slice(0, cut), ids.slice(cut)];
    await partition(ctx, `${a.join(',')} | ${b.join(',')}`, () => cutBetween(ctx.cluster, a, b));
  },
  async oneWay(ctx) {
    const ids = shuffle(ctx.rng, ctx.cluster.members());
    const cut = 1 + ctx.rng.nextInt(ids.length - 1);
    const [a, b] = [ids.slice(0, cut), ids.slice(cut)];
    await partition(ctx, `${a.join(',')} -/-> ${b.join(',')} (one-way)`, () => {
      for (const x of a) for (const y of b) ctx.cluster.block(x, y);
    });
  },
  async isolateLeader(ctx) {
    const lead = await ctx.cluster.leader();
    if (lead === undefined) return;
    const rest = ctx.cluster.members().filter((id) => id !== lead);
    await partition(ctx, `leader n${lead} | ${rest.join(',')}`, () => cutBetween(ctx.cluster, [lead], rest));
  },
  async bridge(ctx) {
    // Two halves that cannot talk, and one node that talks to both (Jepsen's "bridge").
    const ids = shuffle(ctx.rng, ctx.cluster.members());
    if (ids.length < 3) return;
    const mid = Math.floor(ids.length / 2);
    const [a, bridge, b] = [ids.slice(0, mid), ids[mid], ids.slice(mid + 1)];
    await partition(ctx, `bridge ${a.join(',')} <${bridge}> ${b.join(',')}`, () =>
      cutBetween(ctx.cluster, a, b),
    );
  },
  async ring(ctx) {
    // Each node reaches only its two neighbours on a shuffled ring: every node sees a majority, no two the same one.
    const ids = shuffle(ctx.rng, ctx.cluster.members());
    if (ids.length < 4) return;
    await partition(ctx, `ring ${ids.join('-')}`, () => {
      ids.forEach((x, i) => {
        ids.forEach((y, j) => {
          const d = Math.abs(i - j);
          if (x !== y && d !== 1 && d !== ids.length - 1) ctx.cluster.block(x, y);
        });
      });
    });
  },
  async slowLinks(ctx) {
    const { cluster, rng, note } = ctx;
    const ids = cluster.members();
    const links = [];
    for (const x of ids) for (const y of ids) if (x !== y && rng.nextInt(3) === 0) links.push([x, y]);
    const ms = 20 + rng.nextInt(280);
    note(`slow links +${ms} ms: ${links.map(([x, y]) => `${x}->${y}`).join(' ')}`);
    for (const [x, y] of links) cluster.slow(x, y, ms);
    await hold(ctx);
    cluster.healLinks();
    note('heal links');
  },
  /** Replaces a member under load: remove it and add a new one (new id, empty data), in a seeded order. */
  async replaceMember(ctx) {
    const { cluster, note } = ctx;
    const victim = ctx.pick(cluster.members());
    if (victim === undefined) return;
    const removeFirst = ctx.rng.nextInt(2) === 0;
    if (removeFirst) {
      if (!(await removeMember(ctx, victim))) return;
      await addMember(ctx);
    } else {
      if ((await addMember(ctx)) === undefined) return;
      await removeMember(ctx, victim);
    }
    note(`membership now ${cluster.members().join(',')}`);
  },
};

/** Removes `victim` through the API, then kills its process. Returns whether the removal was confirmed. */
export async function removeMember(ctx, victim) {
  const { cluster, note } = ctx;
  const n = cluster.nodes.get(victim);
  n.member = false; // clients stop using it now: a member being removed may still answer for a moment
  n.expectedExit = true; // once removed, it may stop by itself (its peers refuse it with ERR_MEMBER_REMOVED)
  note(`remove n${victim}`);
  const r = await cluster.membership('DELETE', `/members/${victim}`);
  if (r?.status !== 200) {
    note(`remove n${victim}: no definite answer (${r?.status ?? 'timeout'}); retried at the end`);
    ctx.pendingRemovals.add(victim);
    return false;
  }
  n.retired = true;
  await cluster.kill(victim);
  note(`removed n${victim}`);
  return true;
}

/** Adds a new member (new id, empty data directory) and starts it with --join. Returns its id once added. */
export async function addMember(ctx) {
  const { cluster, note } = ctx;
  const n = await cluster.define(true);
  note(`add n${n.id}`);
  const body = { id: n.id, peer: `127.0.0.1:${n.proxy.listenPort}`, client: `127.0.0.1:${n.client}` };
  const r = await cluster.membership('POST', '/members', body);
  n.member = true;
  cluster.spawn(n.id, ctx.bootIds);
  if (r?.status !== 200) {
    note(`add n${n.id}: no definite answer (${r?.status ?? 'timeout'}); settled at the end`);
    return undefined;
  }
  note(`added n${n.id}`);
  return n.id;
}

/**
 * Wipes a member's data directory and restarts it with its old id and command line. It must stop by itself with a
 * clear error (its peers refuse the changed incarnation, or its leader finds its log lost committed entries), and
 * then rejoins the only supported way: the old id is removed and a new member is added.
 */
export async function wipeAndRejoin(ctx) {
  const { cluster, note } = ctx;
  const victim = ctx.pick(cluster.up());
  if (victim === undefined) return;
  const n = cluster.nodes.get(victim);
  note(`wipe n${victim} (kill -9, rm -rf its data, restart with the same id)`);
  n.member = false;
  await cluster.kill(victim);
  cluster.wipe(victim);
  cluster.spawn(victim, ctx.bootIds);
  n.expectedExit = true; // it is expected to stop by itself; checked below
  const deadline = performance.now() + 20000;
  while (cluster.running(victim) && performance.now() < deadline) await sleep(100);
  const log = n.log.join('');
  const line = log.split('\n').find((l) => /ERR_INCARNATION_CHANGED|tocommit/.test(l));
  if (cluster.running(victim) || line === undefined) {
    ctx.failures.push(
      `wiped node n${victim} did not stop with a clear error within 20 s (running: ${cluster.running(victim)})`,
    );
    await cluster.kill(victim);
  } else {
    if (n.proc.exitCode !== 1)
      ctx.failures.push(`wiped node n${victim} exited with ${n.proc.exitCode}, not 1`);
    note(`n${victim} stopped by itself: ${line.slice(0, 200)}`);
  }
  if (await removeMember(ctx, victim)) await addMember(ctx);
}

/** Reads `/members` from the members until one answers; the ids it lists. */
export async function memberIds(cluster) {
  for (const id of cluster.up()) {
    try {
      const r = await call(cluster.nodes.get(id).client, 'GET', '/members', undefined, 2000);
      if (r.status === 200) return r.json.members.map((m) => m.id);
    } catch {
      // next
    }
  }
  return undefined;
}
