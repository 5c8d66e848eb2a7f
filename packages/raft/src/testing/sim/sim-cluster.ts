import { isRaftError } from '../../errors.js';
import { MemoryDurableStorage } from '../../node/memory-durable-storage.js';
import { MemorySnapshotStore } from '../../node/memory-snapshot-store.js';
import { RaftNode } from '../../node/raft-node.js';
import type { DurableStorage, StateMachine } from '../../node/types.js';
import { seededRandom, type RandomSource } from '../../random.js';
import { StateType } from '../../raft/state-type.js';
import { EntryType, type ConfState } from '../../raftpb/types.js';
import { SafetyLedger, fnv, fnvBytes } from '../invariants.js';
import { SimNetwork, simAddress, type SimTransport } from './sim-network.js';
import { VirtualClock, type ClockScope } from './virtual-clock.js';

/** Options of a {@link SimCluster}: the cluster's shape and the `RaftNode` options every node runs with. */
export interface SimClusterOptions<R, S extends StateMachine<R>> {
  seed: number;
  /** Voters of the first configuration, ids 1..nodes. Default 3. */
  nodes?: number;
  /** Extra ids (nodes+1, ...) started empty in mode 'join': membership changes may add them. Default 0. */
  spareNodes?: number;
  /** A fresh state machine for node `id` (called again for each restart: a process starts with empty memory). */
  stateMachine: (id: number) => S;
  /** Virtual milliseconds per tick. Default 10. */
  tickMs?: number;
  electionTick?: number;
  heartbeatTick?: number;
  /** Default 25 (small, so runs snapshot, compact and send snapshots). */
  snapshotCount?: number;
  /** Default 10. */
  snapshotCatchUpEntries?: number;
  /** Default 2,000 virtual ms. */
  requestTimeoutMs?: number;
  maxApplyBacklog?: number;
  /** `RaftNode`'s `applyConcurrency`. Default 1. */
  applyConcurrency?: number;
  /** How long each fdatasync of the simulated disks takes, in virtual ms. Default 1. */
  syncDelayMs?: number;
}

/** One running process of a simulated server. */
export interface SimProcess<R, S> {
  readonly node: RaftNode<R>;
  /** The application's state machine (unwrapped): what reads query. */
  readonly stateMachine: S;
  readonly scope: ClockScope;
  readonly transport: SimTransport;
  readonly incarnation: number;
  /** Payload hashes of the entries this process applied, by index (a resolved proposal must be among them). */
  readonly appliedHere: Map<number, number>;
  /** The last index applied here and the state-chain hash after it (State Machine Safety). */
  applied: number;
  chain: number;
  /** The index of the last snapshot restored here (entries at or below it reached the state machine in it). */
  since: number;
}

/** A simulated machine: its disks survive crashes; its process does not. */
export interface SimServer<R, S> {
  readonly id: number;
  /** Started empty in mode 'join' (added by a membership change), rather than a first voter. */
  readonly spare: boolean;
  storage: MemoryDurableStorage;
  snapshots: MemorySnapshotStore;
  incarnations: number;
  process: SimProcess<R, S> | undefined;
  /** An fdatasync failure was injected: the node's failure that follows is expected. */
  fsyncFailed: boolean;
  /** Being started (between a crash's restart time and `RaftNode.start` resolving). */
  starting: boolean;
  /**
   * What the node handed its storage, by index: whether the entry carries an application payload (a normal
   * entry with data), so the applier must pass it to `apply`. Overwritten as the log is; survives restarts.
   */
  readonly saved: Map<number, boolean>;
  savedLast: number;
}

/**
 * Real `RaftNode`s (the class services run, with its Ready loop, applier, snapshots and membership helpers) on
 * simulated ports: a {@link VirtualClock}, a {@link SimNetwork}, and memory disks that lose unsynced writes, tear
 * them and fail fsyncs on crash. Checks as it goes: Election Safety (§5.2), State Machine Safety (§5.4.3: every
 * node applies the same entry at each index; a restored snapshot carries the same state), entries applied in
 * increasing order, a proposal resolving only after its entry was applied on that node, and no node failing
 * unless a fault was injected. A violation throws an {@link InvariantViolation} naming the seed.
 */
export class SimCluster<R, S extends StateMachine<R>> {
  readonly clock = new VirtualClock();
  readonly rng: RandomSource;
  readonly net: SimNetwork;
  readonly ledger: SafetyLedger;
  readonly servers = new Map<number, SimServer<R, S>>();
  /** Ids removed from the configuration (never reused). */
  readonly retired = new Set<number>();
  private readonly trace: string[] = [];
  /** First-seen applied indexes, increasing, with the chain hash after each (for snapshot restores). */
  private readonly chainIndexes: number[] = [];
  private readonly o: Required<Omit<SimClusterOptions<R, S>, 'stateMachine'>>;
  private readonly firstVoters: { id: number; address: string }[];

  constructor(private readonly opts: SimClusterOptions<R, S>) {
    this.o = {
      seed: opts.seed,
      nodes: opts.nodes ?? 3,
      spareNodes: opts.spareNodes ?? 0,
      tickMs: opts.tickMs ?? 10,
      electionTick: opts.electionTick ?? 10,
      heartbeatTick: opts.heartbeatTick ?? 1,
      snapshotCount: opts.snapshotCount ?? 25,
      snapshotCatchUpEntries: opts.snapshotCatchUpEntries ?? 10,
      requestTimeoutMs: opts.requestTimeoutMs ?? 2_000,
      maxApplyBacklog: opts.maxApplyBacklog ?? 5_000,
      applyConcurrency: opts.applyConcurrency ?? 1,
      syncDelayMs: opts.syncDelayMs ?? 1,
    };
    this.rng = seededRandom(opts.seed);
    this.net = new SimNetwork(this.clock, seededRandom(opts.seed ^ 0x5bd1e995));
    this.ledger = new SafetyLedger(opts.seed, () => this.trace.slice(-30));
    this.firstVoters = Array.from({ length: this.o.nodes }, (_, i) => ({
      id: i + 1,
      address: simAddress(i + 1),
    }));
    for (let id = 1; id <= this.o.nodes + this.o.spareNodes; id++) {
      this.servers.set(id, {
        id,
        spare: id > this.o.nodes,
        storage: new MemoryDurableStorage({ clock: this.clock, syncDelayMs: this.o.syncDelayMs }),
        snapshots: new MemorySnapshotStore({ clock: this.clock }),
        incarnations: 0,
        process: undefined,
        fsyncFailed: false,
        starting: false,
        saved: new Map(),
        savedLast: 0,
      });
    }
  }

  get seed(): number {
    return this.o.seed;
  }

  /** Starts every server (first voters bootstrap, spares wait to be added). */
  async start(): Promise<void> {
    for (const id of this.servers.keys()) await this.boot(id);
  }

  /** Notes an event in the trace that a violation prints. */
  log(s: string): void {
    this.trace.push(`t=${this.clock.now()} ${s}`);
    if (this.trace.length > 300) this.trace.splice(0, 150);
  }

  /** Runs the simulation for `ms` virtual milliseconds. */
  runFor(ms: number): Promise<void> {
    return this.clock.runUntil(this.clock.now() + ms);
  }

  /** Fails the run (after the event running now) with a violation of `property`. */
  violate(property: string, detail: string): void {
    this.clock.fail(this.ledger.violation(property, detail));
  }

  private async boot(id: number): Promise<void> {
    const server = this.servers.get(id)!;
    if (server.process !== undefined || server.starting) return;
    server.starting = true;
    const incarnation = ++server.incarnations;
    const scope = this.clock.scope();
    const transport = this.net.transport(id, scope);
    const stateMachine = this.opts.stateMachine(id);
    const proc: { current: SimProcess<R, S> | undefined } = { current: undefined };
    const tracked = this.track(id, stateMachine, () => proc.current, scope);
    const snapshot = await server.snapshots.loadNewestAvailable(server.storage.snapshotRecords());
    this.log(`start ${id} (incarnation ${incarnation}, snapshot ${snapshot?.metadata.index ?? 0})`);
    let node: RaftNode<R>;
    try {
      node = await RaftNode.start<R>({
        id,
        mode: server.spare ? 'join' : 'auto',
        peers: this.firstVoters,
        storage: this.observe(server),
        ...(snapshot !== undefined ? { snapshot } : {}),
        snapshots: server.snapshots,
        stateMachine: tracked.stateMachine,
        transport,
        clock: scope,
        random: seededRandom((this.o.seed * 1_000_003 + id * 7_919 + incarnation * 104_729) >>> 0),
        tickMs: this.o.tickMs,
        electionTick: this.o.electionTick,
        heartbeatTick: this.o.heartbeatTick,
        snapshotCount: this.o.snapshotCount,
        snapshotCatchUpEntries: this.o.snapshotCatchUpEntries,
        requestTimeoutMs: this.o.requestTimeoutMs,
        maxApplyBacklog: this.o.maxApplyBacklog,
        applyConcurrency: this.o.applyConcurrency,
      });
    } catch (err) {
      server.starting = false;
      this.violate('restart', `node ${id} refused to start: ${String(err)}`);
      return;
    }
    server.starting = false;
    const p: SimProcess<R, S> = {
      node,
      stateMachine,
      scope,
      transport,
      incarnation,
      appliedHere: tracked.appliedHere,
      applied: tracked.start.applied,
      chain: tracked.start.chain,
      since: tracked.start.since,
    };
    proc.current = p;
    server.process = p;
    node.on('role', (role, term) => {
      if (!scope.alive) return;
      this.log(`node ${id} is ${role} in term ${term}`);
      if (role === StateType.Leader) {
        try {
          this.ledger.recordLeader(term, id);
        } catch (err) {
          this.clock.fail(err);
        }
      }
    });
    node.on('error', (err) => {
      if (!scope.alive) return;
      if (server.fsyncFailed) {
        // The injected fdatasync failure is fatal, as it must be: the machine "reboots" (power loss semantics).
        this.log(`node ${id} stopped on the injected fsync failure: ${err.message}`);
        this.crash(id, { tear: true, restartAfterMs: 50 + this.rng.nextInt(200) });
        return;
      }
      this.violate('no unexpected failure', `node ${id} failed: ${err.message}`);
    });
  }

  /**
   * Wraps a state machine to check what the applier does: entries in increasing index order, the same entry at
   * each index on every node (a chain hash over the applied entries), restores to states that existed.
   */
  private track(
    id: number,
    sm: S,
    current: () => SimProcess<R, S> | undefined,
    scope: ClockScope,
  ): {
    stateMachine: StateMachine<R>;
    appliedHere: Map<number, number>;
    start: { applied: number; chain: number; since: number };
  } {
    const appliedHere = new Map<number, number>();
    // Until the process object exists (a restore runs inside RaftNode.start), its counters live here.
    const start = { applied: 0, chain: 0x811c9dc5, since: 0 };
    const state = (): { applied: number; chain: number; since: number } => current() ?? start;
    return {
      appliedHere,
      start,
      stateMachine: {
        apply: (data, index) => {
          const s = state();
          if (scope.alive) {
            if (index <= s.applied) {
              this.violate('apply order', `node ${id} applied ${index} after ${s.applied}`);
            }
            const payload = fnvBytes(0x811c9dc5, data);
            s.chain = fnv(fnv(s.chain, index), payload);
            s.applied = index;
            appliedHere.set(index, payload);
            this.recordChain(id, index, s.chain);
          }
          return sm.apply(data, index);
        },
        snapshot: () => sm.snapshot(),
        restore: (data, metadata) => {
          const s = state();
          if (scope.alive) {
            s.applied = metadata.index;
            s.since = metadata.index;
            s.chain = this.chainAt(metadata.index);
            this.log(`node ${id} restored the snapshot at ${metadata.index}`);
          }
          return sm.restore(data, metadata);
        },
      },
    };
  }

  /** The server's storage as this process sees it, noting what each save writes (see {@link SimServer.saved}). */
  private observe(server: SimServer<R, S>): DurableStorage {
    const storage = server.storage;
    return {
      readAll: () => storage.readAll(),
      save: (state, entries) => {
        const first = entries[0];
        if (first !== undefined) {
          // A write at `first` replaces the log from there on.
          for (let i = first.index; i <= server.savedLast; i++) server.saved.delete(i);
          for (const e of entries)
            server.saved.set(e.index, e.type === EntryType.Normal && e.data.byteLength > 0);
          server.savedLast = entries[entries.length - 1]!.index;
        }
        return storage.save(state, entries);
      },
      saveSnap: (snap) => storage.saveSnap(snap),
      release: (snap) => storage.release(snap),
      sync: () => storage.sync(),
      close: () => storage.close(),
    };
  }

  private recordChain(id: number, index: number, chain: number): void {
    const last = this.chainIndexes[this.chainIndexes.length - 1] ?? 0;
    if (index > last) this.chainIndexes.push(index);
    try {
      this.ledger.recordApplied(id, index, undefined, chain);
    } catch (err) {
      this.clock.fail(err);
    }
  }

  /** The chain hash of the state after every entry up to `index` (the last entry applied at or below it). */
  private chainAt(index: number): number {
    const xs = this.chainIndexes;
    let lo = 0;
    let hi = xs.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (xs[mid]! <= index) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? 0x811c9dc5 : this.ledger.appliedHash.get(xs[found]!)!;
  }

  /**
   * Kills `id`'s process at once (power loss): its timers die, its connections drop, its disk keeps only what was
   * synced (with `tear`, also a random prefix of the unsynced writes, the last one possibly cut). Requests pending
   * on it reject (their outcome is unknown). Restarts after `restartAfterMs` unless it is undefined.
   */
  crash(id: number, o: { tear?: boolean; restartAfterMs?: number } = {}): void {
    const server = this.servers.get(id);
    const p = server?.process;
    if (server === undefined || p === undefined) return;
    this.log(`crash ${id}${o.tear === true ? ' (torn)' : ''}`);
    this.clock.record(0xc0ffee + id);
    p.scope.kill();
    void p.transport.stop();
    server.process = undefined;
    server.fsyncFailed = false;
    server.storage = server.storage.crash(o.tear === true ? this.rng : undefined);
    server.snapshots = server.snapshots.crash();
    // The dead process's pending requests reject (ERR_STOPPED: outcome unknown); nothing it does reaches a disk.
    p.node.stop().catch(() => undefined);
    if (o.restartAfterMs !== undefined) this.restartAfter(id, o.restartAfterMs);
  }

  /** Starts `id` again after `ms` (from what its disks hold). */
  restartAfter(id: number, ms: number): void {
    this.clock.setTimeout(() => void this.boot(id), ms);
  }

  /** Restarts every crashed server now. */
  restartAll(): void {
    for (const s of this.servers.values()) if (s.process === undefined) this.restartAfter(s.id, 0);
  }

  /** `id`'s next fdatasync fails (EIO): the node must stop (never retry); it then reboots from its synced disk. */
  failFsync(id: number): void {
    const server = this.servers.get(id);
    if (server?.process === undefined) return;
    this.log(`fsync failure on ${id}`);
    server.fsyncFailed = true;
    server.storage.failWrites(new InjectedFault(`EIO: fdatasync failed (injected on node ${id})`));
  }

  /** Ids of servers whose process runs. */
  liveIds(): number[] {
    return [...this.servers.values()].filter((s) => s.process !== undefined).map((s) => s.id);
  }

  process(id: number): SimProcess<R, S> | undefined {
    return this.servers.get(id)?.process;
  }

  /** The live node that leads in the highest term, if any. */
  leader(): SimProcess<R, S> | undefined {
    let best: SimProcess<R, S> | undefined;
    let bestTerm = -1;
    for (const s of this.servers.values()) {
      const st = s.process?.node.status();
      if (st?.softState.raftState === StateType.Leader && st.hardState.term > bestTerm) {
        best = s.process;
        bestTerm = st.hardState.term;
      }
    }
    return best;
  }

  /**
   * Liveness and agreement after the faults healed: a leader, and every live member of its configuration applied
   * up to `atLeast` (the highest index acknowledged to a client) with the same state chain as everyone else.
   */
  async checkConverged(atLeast: number): Promise<ConfState> {
    const leader = this.leader();
    if (leader === undefined) throw this.ledger.violation('liveness', 'no leader after the faults healed');
    const cs = leader.node.membership();
    const target = Math.max(atLeast, leader.applied);
    for (const id of [...cs.voters, ...cs.learners]) {
      const p = this.process(id);
      if (p === undefined)
        throw this.ledger.violation('liveness', `member ${id} is not running after healing`);
      const applied = p.node.status().appliedIndex;
      if (applied < target) {
        throw this.ledger.violation('liveness', `member ${id} applied ${applied} < ${target} after healing`);
      }
      const server = this.servers.get(id)!;
      for (let i = p.since + 1; i <= p.applied; i++) {
        if (server.saved.get(i) === true && !p.appliedHere.has(i)) {
          throw this.ledger.violation(
            'apply every entry',
            `member ${id} applied ${p.applied} but skipped entry ${i}`,
          );
        }
      }
      if (p.applied > 0 && this.ledger.appliedHash.get(p.applied) !== p.chain) {
        throw this.ledger.violation('State Machine Safety', `member ${id} state differs at ${p.applied}`);
      }
    }
    await this.checkLogMatching();
    return cs;
  }

  /**
   * Log Matching (§5.3) over what the running nodes' disks hold: where two logs have an entry with the same index
   * and term, they hold the same entries up to there (compared by term at each index both hold).
   */
  async checkLogMatching(): Promise<void> {
    const logs: { id: number; terms: Map<number, number> }[] = [];
    for (const s of this.servers.values()) {
      if (s.process === undefined) continue;
      const { entries } = await s.storage.readAll();
      logs.push({ id: s.id, terms: new Map(entries.map((e) => [e.index, e.term])) });
    }
    for (let a = 0; a < logs.length; a++) {
      for (let b = a + 1; b < logs.length; b++) {
        const x = logs[a]!;
        const y = logs[b]!;
        const common = [...x.terms.keys()].filter((i) => y.terms.has(i)).sort((p, q) => q - p);
        let matchedAbove = false;
        for (const i of common) {
          const same = x.terms.get(i) === y.terms.get(i);
          if (matchedAbove && !same) {
            throw this.ledger.violation(
              'Log Matching',
              `nodes ${x.id} and ${y.id} hold the same entry above index ${i} but differ at it`,
            );
          }
          if (same) matchedAbove = true;
        }
      }
    }
  }

  /** Stops every node (the end of a run). */
  async stop(): Promise<void> {
    for (const s of this.servers.values()) {
      const p = s.process;
      if (p === undefined) continue;
      p.scope.kill();
      s.process = undefined;
      p.node.stop().catch(() => undefined);
    }
    await this.clock.runUntil(this.clock.now() + 1);
  }
}

/** An error a simulation injected (a failed fdatasync): operations may reject with it. */
export class InjectedFault extends Error {
  override readonly name = 'InjectedFault';
}

/** Whether `err` is one a simulated operation may meet: a typed RaftError or an injected fault (else it is a bug). */
export function isExpectedFailure(err: unknown): boolean {
  return isRaftError(err) || err instanceof InjectedFault;
}
