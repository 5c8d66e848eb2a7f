// `pnpm bench:snapshot`: a large state snapshotted, sent to a new member over TcpTransport and installed, each node
// in its own process, with the peak RSS growth of each process. Size: SNAPSHOT_MIB (default 1024).
//
// The state machine is @x/raft/testing's BlobMachine: SNAPSHOT_MIB of deterministic bytes generated as they are
// read (its state costs no memory, so every byte of RSS growth is the snapshot path's), checked byte for byte by
// the member's restore. Each node: MemoryDurableStorage for the log (the log is a few entries), @x/wal's
// SnapshotStore (fdatasync on) for snapshots in a temporary directory, TcpTransport on 127.0.0.1 with the snapshot
// store's directory as `snapshotDir`.
//
// Steps (wall-clock, ms from performance.timeOrigin + performance.now(), comparable across the processes):
//   take      leader: snapshotNow() = generate + write + fdatasync + rename the snapshot file
//   transfer  from the member's temporary file appearing (polled every 5 ms) to its SnapshotStore.save starting: the
//             leader streams its file over TCP, the member writes its temporary file and checks size + CRC-32
//             (before that the leader's SnapshotStore.load() reads the whole file once to check its CRC-32C)
//   store     member: the received file copied into its SnapshotStore (CRC, fdatasync, rename, dir fsync)
//   restore   member: BlobMachine.restore reading the file back and checking every byte
// RSS: each process samples process.memoryUsage() every 10 ms; growth = peak RSS during its steps - RSS just before.
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const MiB = 1024 * 1024;
const SIZE = Number(process.env.SNAPSHOT_MIB ?? 1024) * MiB;
const now = () => performance.timeOrigin + performance.now();

/** Samples this process's memory every 10 ms; `growth()` is the peak minus the RSS at `start()`. */
function rssWatch() {
  let base = process.memoryUsage();
  let peak = { rss: 0, heapUsed: 0, arrayBuffers: 0 };
  const sample = () => {
    const m = process.memoryUsage();
    peak = {
      rss: Math.max(peak.rss, m.rss),
      heapUsed: Math.max(peak.heapUsed, m.heapUsed),
      arrayBuffers: Math.max(peak.arrayBuffers, m.arrayBuffers),
    };
  };
  let timer;
  return {
    start() {
      base = process.memoryUsage();
      peak = { rss: base.rss, heapUsed: base.heapUsed, arrayBuffers: base.arrayBuffers };
      timer = setInterval(sample, 10);
    },
    stop() {
      clearInterval(timer);
      sample();
      return {
        baseRssMiB: base.rss / MiB,
        peakRssMiB: peak.rss / MiB,
        rssGrowthMiB: (peak.rss - base.rss) / MiB,
        heapGrowthMiB: (peak.heapUsed - base.heapUsed) / MiB,
        arrayBuffersGrowthMiB: (peak.arrayBuffers - base.arrayBuffers) / MiB,
      };
    },
  };
}

async function node(role, id, port, peers, dir) {
  const { RaftNode, TcpTransport, MemoryDurableStorage } = await import('../dist/node/index.js');
  const { BlobMachine } = await import('../dist/testing/index.js');
  const { SnapshotStore } = await import('../../wal/dist/index.js');
  const store = await SnapshotStore.open(join(dir, 'snap'));
  const times = {};
  // Times the member's copy into its store (the only save it makes).
  const snapshots = {
    save: async (meta, data) => {
      times.saveStart = now();
      const file = await store.save(meta, data);
      times.saveEnd = now();
      return file;
    },
    load: () => store.load(),
    purge: (keep) => store.purge(keep),
  };
  const sm = role === 'leader' ? new BlobMachine(SIZE, 7) : new BlobMachine(0, 0);
  const restore = sm.restore.bind(sm);
  sm.restore = async (data, meta) => {
    times.restoreStart = now();
    await restore(data, meta);
    times.restoreEnd = now();
  };
  const address = `127.0.0.1:${port}`;
  const transport = new TcpTransport({
    id,
    clusterId: 'bench',
    listen: address,
    advertise: address,
    snapshotDir: store.dir,
  });
  if (role === 'member') {
    // When the incoming snapshot's temporary file appears: the transfer's start.
    const { readdir } = await import('node:fs/promises');
    const poll = setInterval(async () => {
      const names = await readdir(store.dir);
      if (times.partSeen === undefined && names.some((n) => n.endsWith('.part'))) {
        times.partSeen = now();
        clearInterval(poll);
      }
    }, 5);
  }
  const raft = await RaftNode.start({
    id,
    mode: role === 'leader' ? 'auto' : 'join',
    peers,
    storage: new MemoryDurableStorage(),
    snapshots,
    stateMachine: sm,
    transport,
    snapshotCatchUpEntries: 0,
    requestTimeoutMs: 600_000,
  });
  const watch = rssWatch();
  const reply = (m) => process.send?.(m);
  process.on('message', async (m) => {
    try {
      if (m.cmd === 'snapshot') {
        // The member is added first (it is not running yet), so the snapshot's configuration holds it; the whole
        // log is compacted behind the snapshot, so the member can only catch up from it.
        await raft.waitForLeader();
        for (let i = 0; i < 10; i++) await raft.propose(Uint8Array.of(i));
        await raft.addMember({ id: m.id, address: m.address, asLearner: true });
        watch.start();
        const t0 = now();
        await raft.snapshotNow();
        reply({ took: now() - t0 });
      } else if (m.cmd === 'watch') {
        watch.start();
        reply({ ok: true });
        while (sm.restores === 0) await new Promise((r) => setTimeout(r, 10));
        reply({ times, restoredBytes: sm.restoredBytes, memory: watch.stop() });
      } else if (m.cmd === 'failed') {
        reply({ failed: raft.metrics().snapshots.failed });
      } else if (m.cmd === 'memory') {
        reply({ memory: watch.stop(), failed: raft.metrics().snapshots.failed });
      } else if (m.cmd === 'stop') {
        await raft.stop();
        reply({ ok: true });
        process.exit(0);
      }
    } catch (err) {
      reply({ error: String(err?.stack ?? err) });
    }
  });
  reply({ ready: true });
}

function spawn(args) {
  const child = fork(fileURLToPath(import.meta.url), args, { stdio: 'inherit' });
  const inbox = [];
  const waiters = [];
  child.on('message', (m) => {
    if (m.error) {
      console.error(m.error);
      process.exit(1);
    }
    const w = waiters.shift();
    if (w) w(m);
    else inbox.push(m);
  });
  const next = () =>
    inbox.length > 0 ? Promise.resolve(inbox.shift()) : new Promise((r) => waiters.push(r));
  return { child, next, ask: (m) => (child.send(m), next()) };
}

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'snap-bench-'));
  const p1 = 17_000 + Math.floor(Math.random() * 20_000); // BENCH ports: p1 (leader) and p1 + 1 (member)
  const port2 = p1 + 1;
  const leaderAddr = `127.0.0.1:${p1}`;
  const peers = JSON.stringify([{ id: 1, address: leaderAddr }]);
  try {
    const leader = spawn(['leader', '1', String(p1), peers, join(dir, 'n1')]);
    await leader.next();
    const took = (await leader.ask({ cmd: 'snapshot', id: 2, address: `127.0.0.1:${port2}` })).took;
    const failedBefore = (await leader.ask({ cmd: 'failed' })).failed;
    const member = spawn(['member', '2', String(port2), peers, join(dir, 'n2')]);
    await member.next();
    await member.ask({ cmd: 'watch' });
    const done = await member.next();
    const leaderMem = await leader.ask({ cmd: 'memory' });
    await Promise.all([leader.ask({ cmd: 'stop' }), member.ask({ cmd: 'stop' })]);
    if (done.restoredBytes !== SIZE)
      throw new Error(`restored ${done.restoredBytes} bytes, expected ${SIZE}`);
    const mbps = (ms) => (SIZE / 1e6 / (ms / 1000)).toFixed(0);
    const t = done.times;
    const rows = [
      ['take (leader: generate, write, fdatasync)', took],
      ['transfer (leader file → TCP → member temp file, CRC)', t.saveStart - t.partSeen],
      ['store (member: temp file → SnapshotStore, fdatasync)', t.saveEnd - t.saveStart],
      ['restore (member: read back, check every byte)', t.restoreEnd - t.restoreStart],
      ['receive to restored (transfer + store + restore)', t.restoreEnd - t.partSeen],
    ];
    console.log(`snapshot of ${SIZE / MiB} MiB (Node ${process.version}, ${dir})`);
    for (const [name, ms] of rows)
      console.log(`  ${name.padEnd(56)} ${ms.toFixed(0).padStart(7)} ms  ${mbps(ms).padStart(5)} MB/s`);
    const fmt = (m) =>
      `RSS ${m.baseRssMiB.toFixed(0)} → peak ${m.peakRssMiB.toFixed(0)} MiB (growth ${m.rssGrowthMiB.toFixed(0)} MiB; ` +
      `heapUsed +${m.heapGrowthMiB.toFixed(0)}, arrayBuffers +${m.arrayBuffersGrowthMiB.toFixed(0)} MiB)`;
    console.log(`  leader process (take + send):                 ${fmt(leaderMem.memory)}`);
    console.log(`  member process (receive + store + restore):   ${fmt(done.memory)}`);
    console.log(
      `  failed snapshot sends: ${failedBefore} while the member was not running, ${leaderMem.failed - failedBefore} after`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const [role, id, port, peers, dir] = process.argv.slice(2);
if (role === undefined) await main();
else await node(role, Number(id), Number(port), JSON.parse(peers), dir);
