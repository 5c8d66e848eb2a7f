import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { withSessions, type ConfState, type Logger, type SessionResult, type SessionTable } from '@x/raft';
import { RaftNode, TcpTransport, type PeerTlsOptions } from '@x/raft/node';
import { SnapshotStore, Wal, WalError } from '@x/wal';
import { KvState, type KvResult } from '../store/kv-state.js';
import { kvResultCodec } from '../store/result-codec.js';
import { createHttpApi } from '../server/http-api.js';
import type { Http1Server, Http1TlsOptions } from '../server/http1.js';
import { KvMetrics } from './metrics.js';
import { dataIncarnation } from './data-incarnation.js';
import { BACKUP_DIR_PREFIX, removeStaleBackups } from './backup-file.js';

/** Options of {@link KvNode.start}. */
export interface KvNodeOptions {
  id: number;
  clusterId: string;
  /** Holds `wal/` and `snap/`. */
  dataDir: string;
  /** `host:port` for raft peer traffic. */
  listenPeer: string;
  /** `host:port` for the HTTP API. */
  listenClient: string;
  /**
   * `host:port` where peers reach this node's raft traffic (sent in the peer handshake, so a peer that missed the
   * change adding this node answers it there). Default: `listenPeer`.
   */
  advertisePeer?: string;
  /** Initial members (id → addresses), this node included. */
  peers: ReadonlyMap<number, { peer: string; client: string }>;
  /**
   * Join an existing cluster (added by `POST /members`) instead of bootstrapping a new one. Only matters when the
   * data directory holds no raft state yet; a node with state always restarts from it.
   */
  join?: boolean;
  /**
   * Unsafe, the last resort after losing quorum for good: restart as the only member of the cluster, keeping this
   * node's data (`RaftNodeOptions.forceNewCluster`, etcd's `--force-new-cluster`).
   */
  forceNewCluster?: boolean;
  /**
   * How long a request waits for a leader when this node knows none (after a restart, during an election) before
   * answering 503 NO_LEADER. Default: two election timeouts.
   */
  waitForLeaderMs?: number;
  /** Mutual TLS for raft peer traffic: PEM file paths (every peer's certificate must chain to `ca`). */
  peerTls?: PeerTlsOptions;
  /** HTTPS for the API (with `requestCert`, only clients with a certificate signed by `ca` are served). */
  clientTls?: Http1TlsOptions;
  snapshotCount?: number;
  snapshotCatchUpEntries?: number;
  tickMs?: number;
  electionTick?: number;
  /**
   * A client session idle for longer than this (in log time: the largest write timestamp applied) expires; later
   * writes in it answer 410 SESSION_EXPIRED. Every member must use the same value. Default 1 hour.
   */
  sessionTimeoutMs?: number;
  logger?: Logger;
}

/**
 * One KV server: a WAL, a snapshot store, a TCP transport, a RaftNode and the KV state machine, with the HTTP API.
 */
export class KvNode {
  private server: Http1Server | undefined;
  private constructor(
    /** The HTTP API bumps its counters; `GET /metrics` renders it with the raft node's metrics. */
    readonly metrics: KvMetrics,
    readonly opts: KvNodeOptions,
    readonly raft: RaftNode<SessionResult<KvResult>>,
    readonly state: KvState,
    /** Client sessions (Raft dissertation §6.3): which tagged writes were applied, and their results. */
    readonly sessions: () => SessionTable,
    private readonly transport: TcpTransport,
  ) {}

  static async start(opts: KvNodeOptions): Promise<KvNode> {
    const state = new KvState();
    const metrics = new KvMetrics();
    const walOptions = { onFsync: (ms: number) => metrics.walFsync.observe(ms / 1000) };
    const walDir = join(opts.dataDir, 'wal');
    // The wiring: snapshot store, WAL (created or reopened at the newest snapshot it knows), transport, node.
    const snapshots = await SnapshotStore.open(join(opts.dataDir, 'snap'));
    await removeStaleBackups(opts.dataDir);
    const exists = await Wal.exist(walDir);
    const snapshot = exists
      ? await snapshots.loadNewestAvailable(await Wal.validSnapshots(walDir))
      : undefined;
    const wal = exists
      ? await openRepairing(walDir, snapshot?.metadata, walOptions)
      : await Wal.create(walDir, new TextEncoder().encode(opts.clusterId), walOptions);
    const incarnation = await dataIncarnation(opts.dataDir);
    const transport = new TcpTransport({
      incarnation,
      id: opts.id,
      clusterId: opts.clusterId,
      listen: opts.listenPeer,
      advertise: opts.advertisePeer ?? opts.listenPeer,
      peers: new Map([...opts.peers].map(([id, a]) => [id, a.peer])),
      ...(opts.peerTls !== undefined ? { tls: opts.peerTls } : {}),
      ...(opts.logger ? { logger: opts.logger } : {}),
      snapshotDir: snapshots.dir, // a snapshot from the leader arrives on the disk it is saved to
    });
    // Every entry carries a session envelope: a write tagged with a client session applies at most once.
    const stateMachine = withSessions(
      {
        apply: (data: Uint8Array, index: number) => state.apply(data, index),
        snapshot: () => state.snapshot(),
        restore: (chunks: AsyncIterable<Uint8Array>) => state.restore(chunks),
      },
      { results: kvResultCodec, timeoutMs: opts.sessionTimeoutMs ?? 60 * 60 * 1000 },
    );
    const raft = await RaftNode.start<SessionResult<KvResult>>({
      id: opts.id,
      // RaftNode replicates each member's address (and client URL, as metadata) in the configuration: nodes added
      // later and restarted ones learn them from the log or a snapshot. Addresses given here win on this node.
      peers: [...opts.peers].map(([id, a]) => ({ id, address: a.peer, metadata: { client: a.client } })),
      // RaftNode reads the WAL itself: a directory with raft state restarts from it, never bootstraps over it.
      mode: opts.join === true ? 'join' : 'auto',
      ...(opts.forceNewCluster === true ? { forceNewCluster: true } : {}),
      storage: wal,
      snapshot,
      snapshots,
      stateMachine,
      transport,
      tickMs: opts.tickMs ?? 100,
      electionTick: opts.electionTick ?? 10,
      waitForLeaderMs: opts.waitForLeaderMs ?? 2 * (opts.electionTick ?? 10) * (opts.tickMs ?? 100),
      snapshotCount: opts.snapshotCount ?? 10_000,
      snapshotCatchUpEntries: opts.snapshotCatchUpEntries ?? 5_000,
      ...(opts.logger ? { logger: opts.logger } : {}),
    });
    const node = new KvNode(metrics, opts, raft, state, () => stateMachine.sessions, transport);
    node.server = createHttpApi(node);
    const [host, port] = splitHostPort(opts.listenClient);
    await node.server.listen(port, host);
    return node;
  }

  /** The Prometheus text `GET /metrics` serves. */
  renderMetrics(): string {
    return this.metrics.render(this.raft, this.state.size);
  }

  /** Members with addresses and roles, from the configuration RaftNode replicates. */
  members(): { id: number; peer?: string; client?: string; role: 'voter' | 'learner' }[] {
    return this.raft.members().map((m) => ({
      id: m.id,
      ...(m.address !== undefined ? { peer: m.address } : {}),
      ...(m.metadata?.client !== undefined ? { client: m.metadata.client } : {}),
      role: m.role,
    }));
  }

  /**
   * Adds a member (as a learner or a voter); its addresses are replicated with the change. Idempotent for clients
   * that retry after an unknown outcome: the same id with the same peer address, already in the configuration,
   * answers with the configuration (another address is refused: ids are never reused).
   */
  async addMember(id: number, peer: string, client: string, learner: boolean): Promise<ConfState> {
    const known = this.raft.members().find((m) => m.id === id);
    if (known !== undefined && known.address === peer) return this.raft.membership();
    return this.raft.addMember({ id, address: peer, asLearner: learner, metadata: { client } });
  }

  /** Makes learner `id` a voter once it has caught up (on the leader). */
  promote(id: number): Promise<ConfState> {
    return this.raft.promote(id);
  }

  /** Removes member `id`; idempotent (an id not in the configuration answers with the configuration). */
  async removeMember(id: number): Promise<ConfState> {
    if (!this.raft.members().some((m) => m.id === id)) return this.raft.membership();
    return this.raft.removeMember(id);
  }

  /**
   * A backup of the state (`RaftNode.backup`: after a linearizable read barrier) as one snapshot file, in a new
   * directory under the data directory; `discard` deletes it (a crash leaves it to the next start to delete).
   */
  async backup(): Promise<{ path: string; size: number; discard: () => Promise<void> }> {
    const dir = await mkdtemp(join(this.opts.dataDir, BACKUP_DIR_PREFIX));
    const discard = () => rm(dir, { recursive: true, force: true });
    try {
      const { path } = await this.raft.backup(await SnapshotStore.open(dir));
      return { path, size: (await stat(path)).size, discard };
    } catch (err) {
      await discard();
      throw err;
    }
  }

  async snapshotNow(): Promise<unknown> {
    return this.raft.snapshotNow();
  }

  async statusReport(): Promise<Record<string, unknown>> {
    const s = this.raft.status();
    const segments = (await readdir(join(this.opts.dataDir, 'wal'))).filter((f) => f.endsWith('.wal')).length;
    const snapFiles = (await readdir(join(this.opts.dataDir, 'snap'))).filter((f) =>
      f.endsWith('.snap'),
    ).length;
    return {
      id: this.opts.id,
      role: s.softState.raftState,
      term: s.hardState.term,
      leader: s.softState.lead,
      commitIndex: s.hardState.commit,
      appliedIndex: s.appliedIndex,
      snapshotIndex: s.snapshotIndex,
      walSegments: segments,
      snapshotFiles: snapFiles,
      keys: this.state.size,
      sessions: this.sessions().size,
    };
  }

  async stop(): Promise<void> {
    await this.server?.close();
    await this.raft.stop();
  }
}

async function openRepairing(
  dir: string,
  snap: { index: number; term: number } | undefined,
  options: { onFsync: (ms: number) => void },
): Promise<Wal> {
  try {
    return await Wal.open(dir, snap, options);
  } catch (err) {
    // A torn tail from a crash: cut it (keeping a .broken copy) once, as etcd does, then open again.
    if (err instanceof WalError && err.code === 'ERR_WAL_UNEXPECTED_EOF' && (await Wal.repair(dir))) {
      return Wal.open(dir, snap, options);
    }
    throw err;
  }
}

function splitHostPort(addr: string): [string, number] {
  const i = addr.lastIndexOf(':');
  const port = Number(addr.slice(i + 1));
  if (i < 0 || !Number.isInteger(port)) throw new Error(`invalid address ${addr}: expected host:port`);
  return [addr.slice(0, i).replace(/^\[|\]$/g, ''), port];
}
