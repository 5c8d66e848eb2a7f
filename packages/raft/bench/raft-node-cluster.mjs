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
 * An I/O latency of at least `ms` per call, at almost no CPU of its own, as a disk or database round trip would
 * cost the process: a clock ticks every `ms`, and a call's promise resolves at the second tick after it (a full
 * period later at least); the calls between two ticks share one promise, as writes that complete together (a group
 * commit). A timer per call costs about 1.3 us here; with three replicas applying every entry that was more CPU than
 * the whole runtime spends per commit, and the bench would have measured the mock.
 */
class Latency {
  constructor(ms) {
    /** Resolves at the next tick; `after` at the one after it. */
    this.next = settleable();
    this.after = settleable();
    this.timer = setInterval(() => {
      this.next.resolve();
      this.next = this.after;
      this.after = settleable();
    }, ms);
  }
  stop() {
    clearInterval(this.timer);
  }
  wait() {
    return this.after.promise;
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
 * tick with one shared promise (a group commit), or, with `promisePerApply`, each write with a promise of its own.
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
    for (const n of this.nodes) await n.stop(); // waits for a running apply: the latency's clock still ticks
    for (const m of this.machines) m.latency?.stop();
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

/**
 * Keeps `inflight` proposals of `payload` outstanding on the cluster's leader (proposed minus committed at the
 * leader), for `warmMs` and then for `measureMs`. Resolves with what the measured window saw: { commits, applied,
 * seconds, refused, backlog } (backlog: entries waiting to be applied at the window's end). Any proposal error
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
      } else if (start !== undefined && now - start.t >= measureMs) {
        return resolve({
          commits: st.hardState.commit - start.commit,
          applied: st.appliedIndex - start.applied,
          seconds: (now - start.t) / 1000,
          refused,
          backlog: st.applyBacklog,
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
