import { isRaftError } from '../errors.js';
import { seededRandom, type RandomSource } from '../random.js';
import { RawNode } from '../raw-node.js';
import { confChangeOfEntry } from '../raft/raft.js';
import { StateType } from '../raft/state-type.js';
import {
  ConfChangeTransition,
  MessageType,
  type ConfChangeType,
  emptyConfState,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
} from '../raftpb/types.js';
import { MemoryStorage } from '../storage/memory-storage.js';
import { EventQueue } from './sim/event-queue.js';
import { SafetyLedger, applyHash, fnv } from './invariants.js';
import { checkConverged, checkLogMatching } from './checks.js';

/** How the simulated network misbehaves. Delays are in virtual time units (a tick is `tickInterval` units). */
export interface NetworkFaults {
  dropRate: number;
  duplicateRate: number;
  minDelay: number;
  maxDelay: number;
}

/** Options of a {@link Simulation}. */
export interface SimulationOptions {
  seed: number;
  /** Voters of the initial configuration, ids 1..nodes. */
  nodes: number;
  /** Extra ids (nodes+1 ...) started empty, which membership changes may add. */
  spareNodes?: number;
  electionTick?: number;
  heartbeatTick?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  /** Virtual time units per tick. Default 10. */
  tickInterval?: number;
  network?: Partial<NetworkFaults>;
  /** Each node snapshots and compacts its log every this many applied entries (0: never). Default 40. */
  snapshotEvery?: number;
  /** Entries kept behind a snapshot. Default 5. */
  compactKeep?: number;
  maxSizePerMsg?: number;
  maxInflightMsgs?: number;
}

/** One simulated server: a RawNode (absent while crashed) over the "disk" that survives crashes. */
export interface SimNode {
  readonly id: number;
  raw: RawNode | undefined;
  /** What the Ready loop handed to storage: exactly what survives a crash. */
  disk: MemoryStorage;
  /** The state machine: a hash over every entry applied, and the last applied index. */
  stateHash: number;
  appliedIndex: number;
  confState: ConfState;
  /** Bumped on each restart so stale timer events are ignored. */
  epoch: number;
  /**
   * The hard state as of the last sync. A commit-only change is written without fsync (etcd's MustSync): a crash
   * may lose it, and the node restarts from this one.
   */
  syncedHardState: HardState;
  /** Set by {@link Simulation.tearNextWrite}: the next persist with entries is torn and the node crashes. */
  tearNextWrite: boolean;
  /** Set by {@link Simulation.damage}: the log was damaged in the middle (corruption, not a crash). */
  damaged: boolean;
  /** Why the node refused to start, if it did. */
  refused: string | undefined;
}

type SimEvent =
  | { kind: 'tick'; id: number; epoch: number }
  | { kind: 'deliver'; msg: Message }
  | { kind: 'snapStatus'; leader: number; to: number; ok: boolean }
  | { kind: 'restart'; id: number };

/**
 * A deterministic cluster of RawNodes: one seeded RNG, a virtual clock, an event queue, and a network that drops,
 * delays, duplicates, reorders and partitions messages. Nodes crash and restart keeping only what their Ready
 * loop handed to storage. Every step is checked against Raft's safety properties (Election Safety, Log Matching,
 * Leader Completeness, State Machine Safety, commit never moving back); a violation throws an
 * {@link InvariantViolation} naming the seed. The same seed and calls replay exactly (compare {@link traceHash}).
 *
 * @example
 * ```ts
 * const sim = new Simulation({ seed: 7, nodes: 3, network: { dropRate: 0.05 } });
 * sim.runFor(2_000);
 * sim.partition([1], [2, 3]);
 * for (let i = 0; i < 20; i++) sim.propose();
 * sim.runFor(5_000);
 * sim.heal();
 * sim.runFor(5_000);
 * sim.checkConverged(); // a leader, and every acknowledged proposal applied on every member
 * ```
 */
export class Simulation {
  readonly rng: RandomSource;
  readonly nodes = new Map<number, SimNode>();
  readonly ledger: SafetyLedger;
  now = 0;
  /** Hash of every event processed: equal for two runs with the same seed and calls. */
  traceHash = 0x811c9dc5;
  /** Proposal id -> whether its proposer applied it (acknowledged to a client). */
  readonly proposals = new Map<number, { proposer: number; acked: boolean; index: number }>();
  net: NetworkFaults;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly blocked = new Set<string>();
  private readonly trace: string[] = [];
  private nextProposal = 1;
  private readonly o: Required<Omit<SimulationOptions, 'network'>>;

  constructor(opts: SimulationOptions) {
    this.o = {
      seed: opts.seed,
      nodes: opts.nodes,
      spareNodes: opts.spareNodes ?? 0,
      electionTick: opts.electionTick ?? 10,
      heartbeatTick: opts.heartbeatTick ?? 1,
      preVote: opts.preVote ?? true,
      checkQuorum: opts.checkQuorum ?? true,
      tickInterval: opts.tickInterval ?? 10,
      snapshotEvery: opts.snapshotEvery ?? 40,
      compactKeep: opts.compactKeep ?? 5,
      maxSizePerMsg: opts.maxSizePerMsg ?? 4096,
      maxInflightMsgs: opts.maxInflightMsgs ?? 16,
    };
    this.net = { dropRate: 0, duplicateRate: 0, minDelay: 1, maxDelay: 5, ...opts.network };
    this.rng = seededRandom(opts.seed);
    this.ledger = new SafetyLedger(opts.seed, () => this.trace.slice(-25));
    const voters = Array.from({ length: opts.nodes }, (_, i) => ({ id: i + 1 }));
    for (let id = 1; id <= opts.nodes + this.o.spareNodes; id++) {
      const node: SimNode = {
        id,
        raw: undefined,
        disk: new MemoryStorage(),
        stateHash: 0,
        appliedIndex: 0,
        confState: emptyConfState(),
        epoch: 0,
        syncedHardState: { term: 0, vote: 0, commit: 0 },
        tearNextWrite: false,
        damaged: false,
        refused: undefined,
      };
      this.nodes.set(id, node);
      this.boot(node);
      if (id <= opts.nodes) node.raw!.bootstrap(voters);
      this.process(node);
    }
  }

  private config(node: SimNode, applied: number) {
    return {
      id: node.id,
      electionTick: this.o.electionTick,
      heartbeatTick: this.o.heartbeatTick,
      storage: node.disk,
      applied,
      preVote: this.o.preVote,
      checkQuorum: this.o.checkQuorum,
      maxSizePerMsg: this.o.maxSizePerMsg,
      maxInflightMsgs: this.o.maxInflightMsgs,
      random: seededRandom(this.o.seed * 31 + node.id * 7919 + node.epoch),
    };
  }

  private boot(node: SimNode): void {
    if (node.damaged) {
      // The WAL's rule (FAST'18): damage in the middle of the log is corruption, never truncated away; the node
      // refuses to start rather than vote with a log it no longer has.
      node.refused = `node ${node.id}: ERR_WAL_CRC_MISMATCH in the middle of its log; refusing to start`;
      this.log(`refused ${node.id}`);
      return;
    }
    node.epoch++;
    const snap = node.disk.snapshot();
    node.appliedIndex = snap.metadata.index;
    node.stateHash = snap.metadata.index === 0 ? 0 : decodeSnapState(snap.data).hash;
    node.confState = snap.metadata.confState;
    node.raw = new RawNode(this.config(node, snap.metadata.index));
    // Ticks start at a random phase so nodes do not tick in lockstep.
    this.queue.push(this.now + 1 + this.rng.nextInt(this.o.tickInterval), {
      kind: 'tick',
      id: node.id,
      epoch: node.epoch,
    });
  }

  private log(s: string): void {
    this.trace.push(`t=${this.now} ${s}`);
    if (this.trace.length > 200) this.trace.splice(0, 100);
  }

  /** Runs events until virtual time `until`. */
  runUntil(until: number): void {
    for (;;) {
      const t = this.queue.peekTime();
      if (t === undefined || t > until) break;
      const ev = this.queue.pop()!;
      this.now = ev.time;
      this.handle(ev.item);
    }
    this.now = Math.max(this.now, until);
  }

  runFor(duration: number): void {
    this.runUntil(this.now + duration);
  }

  private handle(ev: SimEvent): void {
    switch (ev.kind) {
      case 'tick': {
        const node = this.nodes.get(ev.id)!;
        if (node.raw === undefined || node.epoch !== ev.epoch) return;
        this.traceHash = fnv(fnv(this.traceHash, 1), ev.id);
        node.raw.tick();
        this.process(node);
        this.queue.push(this.now + this.o.tickInterval, ev);
        return;
      }
      case 'deliver': {
        const m = ev.msg;
        const node = this.nodes.get(m.to);
        if (node?.raw === undefined || this.blocked.has(`${m.from}:${m.to}`)) return;
        this.traceHash = fnv(
          fnv(fnv(fnv(fnv(this.traceHash, 2), m.type), m.from), m.to),
          m.term * 65_537 + m.index,
        );
        this.log(
          `deliver ${m.type} ${m.from}->${m.to} term=${m.term} index=${m.index} n=${m.entries.length}${m.reject ? ' reject' : ''}`,
        );
        try {
          node.raw.step(m);
        } catch (err) {
          if (!isRaftError(err) || err.code === 'ERR_LOG_CORRUPT')
            throw this.ledger.violation('no-crash', `node ${node.id} threw on a message: ${String(err)}`);
        }
        this.process(node);
        if (m.type === MessageType.MsgSnap)
          this.queue.push(this.now + 1, { kind: 'snapStatus', leader: m.from, to: m.to, ok: true });
        return;
      }
      case 'snapStatus': {
        const leader = this.nodes.get(ev.leader);
        if (leader?.raw === undefined) return;
        leader.raw.reportSnapshot(ev.to, ev.ok ? 'finish' : 'failure');
        this.process(leader);
        return;
      }
      case 'restart': {
        const node = this.nodes.get(ev.id)!;
        if (node.raw !== undefined) return;
        this.log(`restart ${node.id}`);
        this.traceHash = fnv(fnv(this.traceHash, 3), node.id);
        this.boot(node);
        this.process(node);
        return;
      }
    }
  }

  /** Carries out every Ready of `node` per the contract: persist, send, apply, advance. */
  private process(node: SimNode): void {
    const raw = node.raw;
    if (raw === undefined) return;
    while (raw.hasReady()) {
      const rd = raw.ready();
      // 1. Persist.
      if (node.tearNextWrite && rd.entries.length > 0 && rd.snapshot === undefined) {
        // A crash in the middle of the write: a prefix of the entries reached the disk, the hard state (written
        // after them) and the fsync did not, and nothing of this Ready was sent or applied.
        node.tearNextWrite = false;
        node.disk.append(rd.entries.slice(0, this.rng.nextInt(rd.entries.length)));
        this.crash(node.id, 50 + this.rng.nextInt(300));
        return;
      }
      if (rd.snapshot !== undefined) node.disk.applySnapshot(rd.snapshot);
      if (rd.entries.length > 0) node.disk.append(rd.entries);
      if (rd.hardState !== undefined) {
        const prev = node.disk.hardState();
        if (rd.hardState.commit < prev.commit) {
          throw this.ledger.violation(
            'commit monotonic',
            `node ${node.id} commit went from ${prev.commit} to ${rd.hardState.commit}`,
          );
        }
        if (rd.hardState.term < prev.term)
          throw this.ledger.violation('term monotonic', `node ${node.id} term went back`);
        node.disk.setHardState(rd.hardState);
      }
      if (rd.mustSync || rd.snapshot !== undefined) node.syncedHardState = node.disk.hardState();
      if (rd.softState?.raftState === StateType.Leader) this.onLeader(node);
      // 2. Send.
      for (const m of rd.messages) {
        if (m.type === MessageType.MsgSnap && !includes(m.snapshot?.metadata.confState, m.to)) {
          // The newest snapshot predates this member, and a follower refuses a snapshot whose configuration
          // lacks it: take a fresh one (as RaftNode does) and report this attempt failed so raft retries.
          this.snapshotNow(node);
          this.queue.push(this.now + 1, { kind: 'snapStatus', leader: node.id, to: m.to, ok: false });
          continue;
        }
        this.send(m);
      }
      // 3. Apply.
      if (rd.snapshot !== undefined) {
        const s = decodeSnapState(rd.snapshot.data);
        node.stateHash = s.hash;
        node.appliedIndex = rd.snapshot.metadata.index;
        node.confState = rd.snapshot.metadata.confState;
        this.ledger.recordApplied(node.id, node.appliedIndex, undefined, node.stateHash);
      }
      for (const e of rd.committedEntries) this.apply(node, e);
      // 4. Advance.
      raw.advance(rd);
      this.maybeSnapshot(node);
    }
  }

  private apply(node: SimNode, e: Entry): void {
    if (e.index !== node.appliedIndex + 1) {
      throw this.ledger.violation(
        'apply order',
        `node ${node.id} applied ${e.index} after ${node.appliedIndex}`,
      );
    }
    node.stateHash = applyHash(node.stateHash, e);
    node.appliedIndex = e.index;
    this.ledger.recordApplied(node.id, e.index, e.term, node.stateHash);
    const cc = confChangeOfEntry(e);
    if (cc !== undefined) {
      node.confState = node.raw!.applyConfChange(cc);
    } else if (e.data.byteLength === 8) {
      const id = new DataView(e.data.buffer, e.data.byteOffset, 8).getFloat64(0);
      const p = this.proposals.get(id);
      if (p !== undefined && p.proposer === node.id && !p.acked) {
        p.acked = true;
        p.index = e.index;
      }
    }
  }

  private maybeSnapshot(node: SimNode): void {
    const every = this.o.snapshotEvery;
    if (every === 0) return;
    const snapIndex = node.disk.snapshot().metadata.index;
    if (node.appliedIndex - snapIndex < every) return;
    this.snapshotNow(node);
  }

  private snapshotNow(node: SimNode): void {
    if (node.appliedIndex <= node.disk.snapshot().metadata.index) return;
    // Saving a snapshot syncs the log, so everything written before it is durable.
    node.syncedHardState = node.disk.hardState();
    node.disk.createSnapshot(
      node.appliedIndex,
      node.confState,
      encodeSnapState(node.appliedIndex, node.stateHash),
    );
    const compactTo = node.appliedIndex - this.o.compactKeep;
    if (compactTo > node.disk.firstIndex()) node.disk.compact(compactTo);
  }

  /** Leader Completeness (§5.4): a new leader's log holds every entry applied anywhere. */
  private onLeader(node: SimNode): void {
    const st = node.raw!.basicStatus();
    this.ledger.recordLeader(st.hardState.term, node.id);
    this.log(`leader ${node.id} term=${st.hardState.term}`);
    const first = node.disk.firstIndex();
    for (const [index, term] of this.ledger.appliedTerm) {
      if (index < first) continue;
      let have: number;
      try {
        have = node.disk.term(index);
      } catch {
        throw this.ledger.violation(
          'Leader Completeness',
          `leader ${node.id} (term ${st.hardState.term}) lacks committed entry ${index}`,
        );
      }
      if (have !== term) {
        throw this.ledger.violation(
          'Leader Completeness',
          `leader ${node.id} has term ${have} at committed index ${index}, not ${term}`,
        );
      }
    }
  }

  private send(m: Message): void {
    const delay = (): number =>
      this.net.minDelay + this.rng.nextInt(Math.max(1, this.net.maxDelay - this.net.minDelay + 1));
    const lost =
      this.blocked.has(`${m.from}:${m.to}`) || this.rng.nextInt(1_000_000) < this.net.dropRate * 1_000_000;
    if (lost) {
      if (m.type === MessageType.MsgSnap)
        this.queue.push(this.now + delay(), { kind: 'snapStatus', leader: m.from, to: m.to, ok: false });
      return;
    }
    this.queue.push(this.now + delay(), { kind: 'deliver', msg: m });
    if (this.rng.nextInt(1_000_000) < this.net.duplicateRate * 1_000_000)
      this.queue.push(this.now + delay(), { kind: 'deliver', msg: m });
  }

  /** Submits a client proposal to `id` (default: a random live node); returns its proposal id. */
  propose(id?: number): number {
    const live = this.liveIds();
    const target = id ?? live[this.rng.nextInt(live.length)];
    const pid = this.nextProposal++;
    const node = target === undefined ? undefined : this.nodes.get(target);
    if (node?.raw === undefined) return pid;
    const data = new Uint8Array(8);
    new DataView(data.buffer).setFloat64(0, pid);
    try {
      node.raw.propose(data);
      this.proposals.set(pid, { proposer: node.id, acked: false, index: 0 });
    } catch (err) {
      if (!isRaftError(err, 'ERR_PROPOSAL_DROPPED')) throw err;
    }
    this.process(node);
    return pid;
  }

  /** Proposes a membership change on the current leader (ignored when there is none or raft refuses it). */
  changeMembership(type: ConfChangeType, nodeId: number): boolean {
    const leader = this.leader();
    if (leader?.raw === undefined) return false;
    this.log(`conf change ${type} ${nodeId} via ${leader.id}`);
    try {
      leader.raw.proposeConfChange({ transition: ConfChangeTransition.Auto, changes: [{ type, nodeId }] });
    } catch (err) {
      if (!isRaftError(err, 'ERR_PROPOSAL_DROPPED')) throw err;
      return false;
    }
    this.process(leader);
    return true;
  }

  /** Crashes a node: its RawNode and everything not handed to storage are lost. Restarts after `downFor`. */
  crash(id: number, downFor: number): void {
    const node = this.nodes.get(id);
    if (node?.raw === undefined) return;
    this.log(`crash ${id}`);
    this.traceHash = fnv(fnv(this.traceHash, 4), id);
    node.raw = undefined;
    // Writes since the last sync (a commit-only hard state) may be lost.
    if (this.rng.nextInt(2) === 0) node.disk.setHardState(node.syncedHardState);
    this.queue.push(this.now + downFor, { kind: 'restart', id });
  }

  /** The next write of `id` that carries entries is torn by a crash: a prefix reaches the disk, the rest does not. */
  tearNextWrite(id: number): void {
    const node = this.nodes.get(id);
    if (node?.raw !== undefined) node.tearNextWrite = true;
  }

  /**
   * Damages `id`'s log in the middle (bit rot): the node crashes, and on restart its WAL reports corruption and it
   * refuses to start. The rest of the cluster must stay safe and available.
   */
  damage(id: number): void {
    const node = this.nodes.get(id);
    if (node === undefined) return;
    this.log(`damage ${id}`);
    node.damaged = true;
    this.crash(id, 10);
  }

  /** Nodes that refused to start (damaged logs). */
  refusedIds(): number[] {
    return [...this.nodes.values()].filter((n) => n.refused !== undefined).map((n) => n.id);
  }

  /** Cuts every link between the groups (both directions). */
  partition(...groups: number[][]): void {
    this.log(`partition ${groups.map((g) => g.join(',')).join(' | ')}`);
    for (const a of groups)
      for (const b of groups)
        if (a !== b) for (const x of a) for (const y of b) this.blocked.add(`${x}:${y}`);
  }

  heal(): void {
    this.log('heal');
    this.blocked.clear();
  }

  /** Restarts every crashed node now. */
  restartAll(): void {
    for (const n of this.nodes.values())
      if (n.raw === undefined && n.refused === undefined)
        this.queue.push(this.now, { kind: 'restart', id: n.id });
  }

  liveIds(): number[] {
    return [...this.nodes.values()].filter((n) => n.raw !== undefined).map((n) => n.id);
  }

  /** The live node that is leader in the highest term, if any. */
  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    let bestTerm = -1;
    for (const n of this.nodes.values()) {
      const st = n.raw?.basicStatus();
      if (st?.softState.raftState === StateType.Leader && st.hardState.term > bestTerm) {
        best = n;
        bestTerm = st.hardState.term;
      }
    }
    return best;
  }

  /** Log Matching (§5.3) across live nodes' stored logs; throws an InvariantViolation. */
  checkLogMatching(): void {
    checkLogMatching(this);
  }

  /**
   * Liveness after faults heal: a leader, and every acknowledged proposal applied on every live member of its
   * configuration (their state hashes agree with the ledger at their applied index). Also checks Log Matching.
   */
  checkConverged(): void {
    checkConverged(this);
  }
}

function includes(cs: ConfState | undefined, id: number): boolean {
  return (
    cs !== undefined && (cs.voters.includes(id) || cs.learners.includes(id) || cs.votersOutgoing.includes(id))
  );
}

/** Snapshot data of the simulated state machine: the applied index and the state hash there. */
function encodeSnapState(index: number, hash: number): Uint8Array {
  const b = new Uint8Array(12);
  const dv = new DataView(b.buffer);
  dv.setFloat64(0, index);
  dv.setUint32(8, hash);
  return b;
}

function decodeSnapState(b: Uint8Array): { index: number; hash: number } {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { index: dv.getFloat64(0), hash: dv.getUint32(8) };
}
