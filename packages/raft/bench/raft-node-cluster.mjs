// The RaftNode rows of `pnpm bench:raft`: three RaftNodes in one process over a MemoryNetwork, on
// MemoryDurableStorage or on real @x/wal WALs in a temporary directory, ticking on real timers as RaftNode does.
//
// What is counted, in every row: commits/s = how far the leader's commit index (status().hardState.commit) moved
// during the measured window, divided by the window's length. "N in flight" = the driver keeps proposed minus
// committed (at the leader) at N, the same definition as the RawNode cluster rows. A proposal's promise resolves
// later, when the leader has applied it; the driver does not wait for that, so a slow state machine does not by
// itself hold proposals back. What does is RaftNode's apply queue bound: `propose` rejects with ERR_APPLY_BACKLOG
// while maxApplyBacklog entries wait to be applied. The driver holds back before that (it proposes only while
// (commit - applied) + its uncommitted proposals < maxApplyBacklog, as a client backing off on ERR_APPLY_BACKLOG
// would) and counts any refusal it still gets. The slow state machine's `apply` resolves after an I/O latency of
// at least 1 ms (class Latency below; each row prints the applied/s it got).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { readSnapshotBytes } from '../dist/index.js';
import { MemoryDurableStorage, MemoryNetwork, MemorySnapshotStore, RaftNode } from '../dist/node/index.js';
import { SnapshotStore, Wal } from '../../wal/dist/index.js';

/** Tick settings and raft limits shared with the RawNode cluster rows (run.mjs), so rows differ only in runtime. */
export const TICKS = { electionTick: 10, heartbeatTick: 1 };
export const RAFT_LIMITS = { maxInflightMsgs: 4096, maxSizePerMsg: 1 << 20 };
/** RaftNode's default tick length; the runtime ticks with setInterval. */
const TICK_MS = Number(process.env.TICK_MS ?? 100);
const DEFAULT_MAX_APPLY_BACKLOG = 5_000;

/**
 * An I/O latency of at least `ms` per call, measured on performance.now(), at almost no CPU of its own, as a disk or
 * database round trip would cost the process. The calls of one turn of the event loop share one promise (writes
 * that complete together: a group commit); a poller that runs once per turn (setImmediate) while any group waits
 * closes the turn's group, stamping it `ms` from then (after its last call), and resolves every group whose time
 * has come. So each call waits `ms` plus at most about one turn, never less.
 *
 * Two earlier designs measured the mock more than the runtime, or got the latency wrong: a timer per call cost
 * about 1.3 us here (with three replicas applying every entry, more CPU than the whole runtime spends per commit);
 * a `setInterval(ms)` clock resolving calls at its second tick drifted under load to a 1.24-1.28 ms period and gave
 * latencies of 0.82 ms (p10, under the `ms` promised: libuv's timers run on a millisecond loop clock), 1.5 ms
 * (p50), 3.2-3.6 ms (p90) and 1.8-1.9 ms on average.
 *
 * Every 1,000th call's latency is kept in `samples` (ms), for the bench to print.
 */
class Latency {
  constructor(ms) {
    this.ms = ms;
    /** The group the calls of this turn join (created by the turn's first call). */
    this.open = undefined;
    /** Closed groups, oldest first: { deadline, resolve, sampled }. */
    this.closed = [];
    this.polling = false;
    this.calls = 0;
    /** Call times (performance.now()) of the sampled calls in the open group. */
    this.sampled = [];
    this.samples = [];
    this.poll = () => {
      this.polling = false;
      const now = performance.now();
      if (this.open !== undefined) {
        this.closed.push({ deadline: now + this.ms, resolve: this.open.resolve, sampled: this.sampled });
        this.open = undefined;
        this.sampled = [];
      }
      while (this.closed.length > 0 && this.closed[0].deadline <= now) {
        const g = this.closed.shift();
        for (const t of g.sampled) this.samples.push(now - t);
        g.resolve();
      }
      if (this.closed.length > 0) this.schedule();
    };
  }
  schedule() {
    if (this.polling) return;
    this.polling = true;
    setImmediate(this.poll);
  }
  wait() {
    if (this.open === undefined) {
      this.open = settleable();
      this.schedule();
    }
    if (++this.calls % 1000 === 0) this.sampled.push(performance.now());
    return this.open.promise;
  }
}

function settleable() {
  let resolve;
  const promise = new Promise((r) => (resolve = r));
  return { promise, resolve };
}

const SETTLED = Promise.resolve();

/**
 * A counter. `apply` is synchronous, or (async) returns a promise that resolves after an I/O latency of `applyMs`
 * (at once when 0: the cost of an async state machine without the wait). An async one acknowledges the writes of one
 * event-loop turn with one shared promise (a group commit), or, with `promisePerApply`, each write with a promise of
 * its own.
 */
class CounterMachine {
  constructor(applyMs, asyncApply, promisePerApply) {
    this.count = 0;
    this.asyncApply = asyncApply || applyMs > 0;
    this.promisePerApply = promisePerApply;
    this.latency = applyMs === 0 ? undefined : new Latency(applyMs);
  }
  apply() {
    if (!this.asyncApply) return ++this.count;
    // The write is issued in log order (counted now) and acknowledged when its latency has passed.
    const n = ++this.count;
    if (this.promisePerApply)
      return this.latency === undefined ? Promise.resolve(n) : this.latency.wait().then(() => n);
    return this.latency === undefined ? SETTLED : this.latency.wait();
  }
  snapshot() {
    return new TextEncoder().encode(String(this.count));
  }
  async restore(chunks) {
    this.count = Number(new TextDecoder().decode(await readSnapshotBytes(chunks)));
  }
}

/** Three RaftNodes started on one network, their leader, and the proposals the driver has outstanding on it. */
class Cluster {
  constructor(nodes, machines, leader, maxApplyBacklog, dir) {
    this.nodes = nodes;
    this.machines = machines;
    this.leader = leader;
    this.maxApplyBacklog = maxApplyBacklog;
    this.dir = dir;
    /** The first proposal error that was not a backpressure refusal (the bench fails on it). */
    this.failed = undefined;
    this.stopping = false;
    this.outstanding = 0;
    this.onIdle = [];
    this.onError = undefined;
    this.onFulfilled = () => this.settled();
    this.onRejected = (err) => {
      this.settled();
      this.onError?.(err);
    };
  }

  /** Proposes `payload` on the leader; counts it as outstanding until it settles; `onError` gets a rejection. */
  propose(payload, onError) {
    this.outstanding++;
    this.onError = onError;
    // The same two reactions for every proposal: the driver adds no closure of its own per proposal to what the
    // node allocates (with a slow apply, hundreds of thousands of proposals wait at once).
    this.leader.propose(payload).then(this.onFulfilled, this.onRejected);
  }

  settled() {
    if (--this.outstanding === 0) for (const f of this.onIdle.splice(0)) f();
  }

  /** Resolves once every proposal made through {@link propose} has settled (applied on the leader, or refused). */
  idle() {
    return this.outstanding === 0 ? Promise.resolve() : new Promise((f) => this.onIdle.push(f));
  }

  /** Throws the first unexpected proposal error, if there was one (call after each row). */
  check() {
    if (this.failed !== undefined) throw this.failed;
  }

  fail(err) {
    if (!this.stopping) this.failed ??= err; // stop() rejects what is pending with ERR_STOPPED: expected
  }

  async stop() {
    this.stopping = true;
    // Waits for a running apply: the latency's poller still runs, and stops by itself once no group waits.
    for (const n of this.nodes) await n.stop();
    if (this.dir !== undefined) await rm(this.dir, { recursive: true, force: true });
  }
}

/** Starts three RaftNodes (a new cluster) on `storage`, 'memory' or 'wal', and waits for a leader. */
export async function startCluster({
  storage,
  applyMs = 0,
  asyncApply = false,
  promisePerApply = false,
  maxApplyBacklog = DEFAULT_MAX_APPLY_BACKLOG,
  applyConcurrency = 1,
  snapshotCount = undefined,
}) {
  const ids = [1, 2, 3];
  const network = new MemoryNetwork();
  const dir = storage === 'wal' ? await mkdtemp(join(tmpdir(), 'raft-bench-')) : undefined;
  const machines = ids.map(() => new CounterMachine(applyMs, asyncApply, promisePerApply));
  const nodes = await Promise.all(
    ids.map(async (id) => {
      const durable =
        dir === undefined
          ? new MemoryDurableStorage()
          : await Wal.create(join(dir, `n${id}`), new TextEncoder().encode('bench'));
      // Snapshots as a service takes them (RaftNode's defaults, etcd's: every 10,000 applied entries, 5,000 kept
      // behind for slow followers), so each in-memory log stays bounded as the RawNode rows' does.
      const snapshots =
        dir === undefined ? new MemorySnapshotStore() : await SnapshotStore.open(join(dir, `snap${id}`));
      return RaftNode.start({
        snapshots,
        id,
        peers: ids.map((p) => ({ id: p })),
        storage: durable,
        stateMachine: machines[id - 1],
        transport: network.transport(id),
        tickMs: TICK_MS,
        ...TICKS,
        maxApplyBacklog,
        applyConcurrency,
        ...(snapshotCount === undefined ? {} : { snapshotCount }),
        raft: RAFT_LIMITS,
      });
    }),
  );
  const cluster = new Cluster(nodes, machines, undefined, maxApplyBacklog, dir);
  try {
    const { leader } = await nodes[0].waitForLeader(10_000);
    cluster.leader = nodes[leader - 1];
    await cluster.leader.waitForLeader(10_000);
    if (cluster.leader.status().softState.raftState !== 'StateLeader')
      throw new Error(`bench: node ${leader} was reported leader but is not`);
    // Resolves once applied, so the leader's first (empty) entry of its term is committed too: the drivers count
    // commits from here, all of them proposals.
    await cluster.leader.propose(new Uint8Array(1));
    return cluster;
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

/** The sampled apply latencies (ms) as { n, min, p50, p90, p99, mean }, or undefined when there are none. */
function latencySummary(samples) {
  if (samples.length === 0) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  return { n: sorted.length, min: sorted[0], p50: at(0.5), p90: at(0.9), p99: at(0.99), mean };
}

/**
 * Keeps `inflight` proposals of `payload` outstanding on the cluster's leader (proposed minus committed at the
 * leader), for `warmMs` and then for `measureMs`. Resolves with what the measured window saw: { commits, applied,
 * seconds, refused, backlog, latency } (backlog: entries waiting to be applied at the window's end; latency: the
 * sampled apply latencies of the window, see Latency). Any proposal error
 * other than ERR_APPLY_BACKLOG (e.g. a lost leadership) fails the run: at once, or at `cluster.check()`.
 */
export function drive(cluster, { inflight, payload, warmMs, measureMs }) {
  const { leader, maxApplyBacklog } = cluster;
  const base = leader.status().hardState.commit;
  const began = performance.now();
  let proposed = 0;
  let refused = 0;
  let start; // the measured window's start: { t, commit, applied }
  return new Promise((resolve, reject) => {
    const onRefused = (err) => {
      if (err?.code !== 'ERR_APPLY_BACKLOG') return cluster.fail(err);
      proposed--;
      if (start !== undefined) refused++;
    };
    const pump = () => {
      if (cluster.failed !== undefined) return reject(cluster.failed);
      const now = performance.now();
      const st = leader.status();
      if (start === undefined && now - began >= warmMs) {
        start = { t: now, commit: st.hardState.commit, applied: st.appliedIndex };
        for (const m of cluster.machines) if (m.latency !== undefined) m.latency.samples = [];
      } else if (start !== undefined && now - start.t >= measureMs) {
        return resolve({
          commits: st.hardState.commit - start.commit,
          applied: st.appliedIndex - start.applied,
          seconds: (now - start.t) / 1000,
          refused,
          backlog: st.applyBacklog,
          latency: latencySummary(cluster.machines.flatMap((m) => m.latency?.samples ?? [])),
        });
      }
      // Committed entries reach the apply queue with the next Ready, so commit - applied (not applyBacklog) is
      // what the node will count against maxApplyBacklog by the time these proposals are stepped.
      const uncommitted = () => proposed - (st.hardState.commit - base);
      const unapplied = st.hardState.commit - st.appliedIndex;
      while (uncommitted() < inflight && unapplied + uncommitted() < maxApplyBacklog) {
        proposed++;
        cluster.propose(payload, onRefused);
      }
      setImmediate(pump);
    };
    pump();
  });
}
