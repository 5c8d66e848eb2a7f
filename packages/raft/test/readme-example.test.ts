// The README's examples, run as tests so the documentation cannot rot: the code between the markers must be the
// README's code blocks (checked below, ignoring formatting), and it runs.
import { readFile, rm, mkdtemp, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  readSnapshotBytes,
  EntryType,
  MemoryStorage,
  RawNode,
  decodeConfChange,
  isRaftError,
  type Message,
} from '../src/index.js';
import {
  MemoryDurableStorage,
  MemoryNetwork,
  MemorySnapshotStore,
  RaftNode,
  TcpTransport,
  type StateMachine,
} from '../src/node/index.js';
import { SnapshotStore, Wal } from '../../wal/src/index.js';

// --- README RaftNode example start ---
/** Starts node `id` of a cluster of `peers`, keeping its data in `dir`: the first time, and after every restart. */
async function startNode<R>(
  dir: string,
  id: number,
  peers: { id: number; address: string }[],
  stateMachine: StateMachine<R>,
  mode: 'auto' | 'join' = 'auto',
): Promise<RaftNode<R>> {
  const snapshots = await SnapshotStore.open(`${dir}/snap`);
  const exists = await Wal.exist(`${dir}/wal`);
  // The WAL is opened at the newest snapshot it has a record of; the node restores the state machine from it.
  const snapshot = exists
    ? await snapshots.loadNewestAvailable(await Wal.validSnapshots(`${dir}/wal`))
    : undefined;
  const wal = exists
    ? await Wal.open(`${dir}/wal`, snapshot?.metadata)
    : await Wal.create(`${dir}/wal`, new TextEncoder().encode('kv'));
  const address = peers.find((p) => p.id === id)!.address;
  const transport = new TcpTransport({
    id,
    clusterId: 'kv',
    listen: address,
    advertise: address,
    peers: new Map(peers.map((p) => [p.id, p.address])),
  });
  // The node reads the WAL itself: empty, it bootstraps a cluster of `peers` (or, with mode 'join', waits to be
  // added); not empty, it restarts from it.
  return RaftNode.start({ id, mode, peers, storage: wal, snapshot, snapshots, stateMachine, transport });
}
// --- README RaftNode example end ---

/** A list of strings; `apply` returns the list's new length. */
class ListMachine implements StateMachine<number> {
  items: string[] = [];
  apply(data: Uint8Array): number {
    return this.items.push(new TextDecoder().decode(data));
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.items));
  }
  async restore(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    this.items = JSON.parse(new TextDecoder().decode(await readSnapshotBytes(chunks))) as string[];
  }
}

/** The README's code blocks following `marker`, without import lines and formatting, to compare with this file's. */
async function readmeBlock(marker: string): Promise<string> {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const at = readme.indexOf(marker);
  if (at < 0) throw new Error(`README.md lacks ${marker}`);
  const start = readme.indexOf('```ts\n', at) + '```ts\n'.length;
  return normalize(readme.slice(start, readme.indexOf('```', start)));
}
async function testBlock(name: string): Promise<string> {
  const src = await readFile(new URL(import.meta.url), 'utf8');
  const start = src.indexOf(`// --- README ${name} start ---`);
  const end = src.indexOf(`// --- README ${name} end ---`);
  return normalize(src.slice(src.indexOf('\n', start) + 1, end));
}
/** Drops imports, comments, whitespace and trailing commas: what prettier may change between the two copies. */
function normalize(code: string): string {
  return code
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('import '))
    .map((l) => l.replace(/\/\/.*$/, ''))
    .join('')
    .replace(/\s+/g, '')
    .replace(/,([)\]}])/g, '$1');
}

it('the README example: three nodes elect a leader and replicate a proposal', () => {
  // --- README example start ---
  const ids = [1, 2, 3];
  const nodes = new Map<number, { node: RawNode; storage: MemoryStorage; applied: string[] }>();
  for (const id of ids) {
    const storage = new MemoryStorage();
    const node = new RawNode({
      id,
      electionTick: 10,
      heartbeatTick: 1,
      storage,
      preVote: true,
      checkQuorum: true,
    });
    node.bootstrap(ids.map((peer) => ({ id: peer }))); // a brand-new cluster; on restart, skip this
    nodes.set(id, { node, storage, applied: [] });
  }
  const network: Message[] = [];

  /** One pass of the Ready loop on every node. */
  function handleReadies(): void {
    for (const { node, storage, applied } of nodes.values()) {
      while (node.hasReady()) {
        const rd = node.ready();
        // 1. Persist entries, then hard state and snapshot (a real node writes its WAL here, fsync if rd.mustSync).
        if (rd.snapshot) storage.applySnapshot(rd.snapshot);
        storage.append(rd.entries);
        if (rd.hardState) storage.setHardState(rd.hardState);
        // 2. Send messages, only now that the state they depend on is durable.
        network.push(...rd.messages);
        // 3. Apply committed entries; conf changes go back to raft.
        for (const entry of rd.committedEntries) {
          if (entry.type === EntryType.ConfChange) node.applyConfChange(decodeConfChange(entry.data));
          else if (entry.data.byteLength > 0) applied.push(new TextDecoder().decode(entry.data));
        }
        // 4. Tell raft this Ready is done.
        node.advance(rd);
      }
    }
    for (const m of network.splice(0)) nodes.get(m.to)?.node.step(m);
  }

  for (let tick = 0; tick < 50; tick++) {
    for (const { node } of nodes.values()) node.tick(); // a timer calls tick() every ~100 ms in real life
    handleReadies();
  }
  const leader = [...nodes.values()].find(({ node }) => node.status().softState.raftState === 'StateLeader')!;
  leader.node.propose(new TextEncoder().encode('hello'));
  for (let i = 0; i < 5; i++) handleReadies();
  // --- README example end ---

  for (const { applied } of nodes.values()) expect(applied).toEqual(['hello']);
});

describe('the README RaftNode example', () => {
  const dirs: string[] = [];
  const nodes: RaftNode<number>[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.stop().catch(() => undefined);
    for (const c of cleanups.splice(0)) await c().catch(() => undefined);
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it('is the code in README.md', async () => {
    expect(await testBlock('RaftNode example')).toBe(await readmeBlock('<!-- RaftNode example -->'));
    expect(await testBlock('example')).toBe(await readmeBlock('<!-- Ready loop example -->'));
    expect(await testBlock('memory example')).toBe(await readmeBlock('<!-- Memory storage example -->'));
    expect(await testBlock('membership example')).toBe(await readmeBlock('<!-- Membership example -->'));
  });

  it('the membership example: add a learner, promote it, hand leadership over, remove the old leader', async () => {
    const network = new MemoryNetwork();
    const ids = [1, 2, 3];
    const started = await Promise.all(
      ids.map((id) =>
        RaftNode.start({
          id,
          peers: ids.map((p) => ({ id: p, address: `10.0.0.${p}:7000` })),
          storage: new MemoryDurableStorage(),
          stateMachine: new ListMachine(),
          transport: network.transport(id),
          tickMs: 10,
        }),
      ),
    );
    nodes.push(...started);
    const { leader: leaderId } = await started[0]!.waitForLeader();
    const leader = started[leaderId - 1]!;
    await leader.waitForLeader();
    await leader.propose(new TextEncoder().encode('x=1'));
    const storage = new MemoryDurableStorage();
    const stateMachine = new ListMachine();
    const transport = network.transport(4);
    // --- README membership example start ---
    // On the leader: node 4 joins as a learner; its address travels in the conf change and stays in the replicated
    // configuration (log and snapshots), so every node, also after a restart, knows it without your code.
    await leader.addMember({ id: 4, address: '10.0.0.4:7000', asLearner: true });
    const node4 = await RaftNode.start({ id: 4, mode: 'join', storage, stateMachine, transport });
    await leader.promote(4); // waits until node 4 is within maxLagEntries (default 1,000), then makes it a voter
    const { leader: next } = await leader.transferLeadership(); // to the most up-to-date voter; resolves once it leads
    await leader.removeMember(leader.id); // the old leader leaves; its peers drop it from their transports
    // --- README membership example end ---
    nodes.push(node4);
    expect(next).not.toBe(leader.id);
    expect(leader.members()).toEqual(
      [1, 2, 3, 4]
        .filter((id) => id !== leader.id)
        .map((id) => ({ id, role: 'voter', address: `10.0.0.${id}:7000` })),
    );
  });

  it("imports every name in the README's snippets from the entry point that exports it", async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    const entries: Record<string, string> = {
      '@x/raft': fileURLToPath(new URL('../src/index.ts', import.meta.url)),
      '@x/raft/node': fileURLToPath(new URL('../src/node/index.ts', import.meta.url)),
      '@x/raft/testing': fileURLToPath(new URL('../src/testing/index.ts', import.meta.url)),
    };
    // The compiler's view of each entry's exports: values and types alike.
    const program = ts.createProgram(Object.values(entries), {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      noEmit: true,
    });
    const checker = program.getTypeChecker();
    const exportsOf = (file: string): string[] =>
      checker
        .getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(file)!)!)
        .map((e) => e.name);
    const imports = [...readme.matchAll(/^import \{([^}]*)\} from '(@x\/raft[^']*)';/gm)];
    expect(new Set(imports.map((m) => m[2]))).toEqual(new Set(Object.keys(entries)));
    for (const [, list, specifier] of imports) {
      const exported = exportsOf(entries[specifier!]!);
      const names = list!.split(',').map((n) => n.trim().replace(/^type\s+/, ''));
      for (const name of names.filter((n) => n !== ''))
        expect(exported, `${name} from ${specifier}`).toContain(name);
    }
  });

  it('a node killed (dropped without close) and started again the same way loses no acknowledged write', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'raft-readme-'));
    dirs.push(dir);
    const peers = [{ id: 1, address: '127.0.0.1:0' }];
    const kv = new ListMachine();
    const node = await startNode(dir, 1, peers, kv);
    await node.waitForLeader(); // before a leader is known, propose() and read() reject with ERR_NO_LEADER
    const index = await node.propose(new TextEncoder().encode('x=1')); // resolves once applied here
    await node.read(); // a linearizable read barrier (ReadIndex): kv now holds every acknowledged write
    nodes.push(node);
    expect(node.startedAs).toBe('bootstrap');
    const acked = [index];
    for (let i = 2; i <= 5; i++) {
      acked.push(await node.propose(new TextEncoder().encode(`x=${i}`)));
      if (i === 3) await node.snapshotNow(); // the restart then restores a snapshot and replays the WAL after it
    }
    const termBefore = node.status().hardState.term;

    // Kill: the node stops ticking and sending, but its WAL is never closed (no final sync, lock not released).
    // The page cache keeps what was written, as it does for a SIGKILLed process; the dead holder's lock is stale.
    const skipClose = vi.spyOn(Wal.prototype, 'close').mockImplementationOnce(() => Promise.resolve());
    await node.stop();
    const killed = skipClose.mock.contexts[0] as Wal | undefined; // the WAL the node did not close
    skipClose.mockRestore();
    expect(killed).toBeInstanceOf(Wal);
    // Its file handles are closed once the restarted node is gone (only so the test process does not leak them).
    cleanups.push(() => killed!.close());
    nodes.splice(nodes.indexOf(node), 1);
    await unlink(join(dir, 'wal', 'wal.lock'));

    // Restarted exactly as it was first started: it must not bootstrap over the WAL.
    const kv2 = new ListMachine();
    const leaders: { leader: number; term: number }[] = [];
    const again = await startNode(dir, 1, peers, kv2);
    nodes.push(again);
    again.on('leader', (leader, term) => leaders.push({ leader, term }));
    expect(again.startedAs).toBe('restart');
    const { term } = await again.waitForLeader();
    await again.read();
    expect(kv2.items).toEqual(['x=1', 'x=2', 'x=3', 'x=4', 'x=5']);
    expect(again.status().appliedIndex).toBeGreaterThanOrEqual(acked[4]!);
    // The leader event names the term the node leads in after the restart, not 0.
    expect(term).toBeGreaterThan(termBefore);
    expect(leaders.at(-1)).toEqual({ leader: 1, term: again.status().hardState.term });
  });

  it('the in-memory storage example: an acknowledged write survives a power loss', async () => {
    const network = new MemoryNetwork();
    const transport = network.transport(1);
    const stateMachine = new ListMachine();
    const fresh = new ListMachine();
    // --- README memory example start ---
    const storage = new MemoryDurableStorage();
    const snapshots = new MemorySnapshotStore();
    const node = await RaftNode.start({
      id: 1,
      peers: [{ id: 1 }],
      storage,
      snapshots,
      stateMachine,
      transport,
    });
    await node.waitForLeader();
    await node.propose(new TextEncoder().encode('x=1')); // acknowledged: it survives a power loss
    // A power loss, then the stop of the dead node (it syncs nothing now):
    const [disk, snaps] = [storage.crash(), snapshots.crash()];
    await node.stop();
    const snapshot = await snaps.loadNewestAvailable(disk.snapshotRecords());
    const again = await RaftNode.start({
      id: 1,
      mode: 'restart',
      storage: disk,
      snapshot,
      snapshots: snaps,
      stateMachine: fresh,
      transport: network.transport(1),
    });
    // --- README memory example end ---
    nodes.push(again);
    await again.waitForLeader();
    await again.read();
    expect(fresh.items).toEqual(['x=1']);
  });

  it('refuses to bootstrap over a WAL that holds state, and to restart from an empty one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'raft-readme-'));
    dirs.push(dir);
    const peers = [{ id: 1, address: '127.0.0.1:0' }];
    const node = await startNode(dir, 1, peers, new ListMachine());
    nodes.push(node);
    await node.waitForLeader();
    await node.propose(new TextEncoder().encode('kept'));
    await node.stop();
    nodes.splice(0);

    const wal = await Wal.open(join(dir, 'wal'));
    const bootstrap = RaftNode.start({
      id: 1,
      peers,
      mode: 'bootstrap',
      storage: wal,
      stateMachine: new ListMachine(),
      transport: new TcpTransport({ id: 1, clusterId: 'kv', listen: '127.0.0.1:0' }),
    });
    await expect(bootstrap).rejects.toSatisfy((e: unknown) => isRaftError(e, 'ERR_STORAGE_NOT_EMPTY'));
    await wal.close();
    expect((await Wal.openForRead(join(dir, 'wal')).then((w) => w.readAll())).entries.length).toBeGreaterThan(
      1,
    );

    const empty = await Wal.create(join(dir, 'other-wal'), new Uint8Array(0));
    const restart = RaftNode.start({
      id: 1,
      peers,
      mode: 'restart',
      storage: empty,
      stateMachine: new ListMachine(),
      transport: new TcpTransport({ id: 1, clusterId: 'kv', listen: '127.0.0.1:0' }),
    });
    await expect(restart).rejects.toSatisfy((e: unknown) => isRaftError(e, 'ERR_STORAGE_EMPTY'));
    await empty.close();
  });
});
