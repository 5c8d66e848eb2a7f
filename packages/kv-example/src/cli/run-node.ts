import { KvNode } from '../node/kv-node.js';
import { parsePeers } from './peers.js';
import { consoleLogger } from './log.js';
import { NODE_TLS_OPTIONS, nodeTlsFromFlags } from './tls-flags.js';
import { parseCommandLine, UsageError } from './usage.js';

/** `x-kv node`: one KV server in this process, until SIGINT/SIGTERM. */
export async function runNode(argv: string[]): Promise<number> {
  const { values } = parseCommandLine({
    args: argv,
    options: {
      id: { type: 'string' },
      'cluster-id': { type: 'string', default: 'x-kv' },
      peers: { type: 'string' },
      data: { type: 'string' },
      'listen-client': { type: 'string' },
      'listen-peer': { type: 'string' },
      'advertise-peer': { type: 'string' },
      join: { type: 'boolean', default: false },
      'force-new-cluster': { type: 'boolean', default: false },
      'snapshot-count': { type: 'string', default: '10000' },
      'snapshot-catchup': { type: 'string', default: '5000' },
      'tick-ms': { type: 'string', default: '100' },
      'session-timeout': { type: 'string', default: '3600000' },
      'log-level': { type: 'string', default: 'info' },
      'stop-on-stdin-close': { type: 'boolean', default: false },
      ...NODE_TLS_OPTIONS,
    },
    strict: true,
  });
  const id = Number(values.id);
  if (!Number.isSafeInteger(id) || id <= 0) throw new UsageError('--id must be a positive integer');
  if (values.peers === undefined || values.data === undefined)
    throw new UsageError('--peers and --data are required');
  const peers = parsePeers(values.peers);
  const self = peers.get(id);
  const listenPeer = values['listen-peer'] ?? self?.peer;
  const listenClient = values['listen-client'] ?? self?.client;
  if (listenPeer === undefined || listenClient === undefined)
    throw new UsageError('--listen-peer/--listen-client are required when --peers does not list this node');
  // TLS flags and files are checked before anything starts: a typo fails at once, naming the flag and the file.
  const nodeTls = nodeTlsFromFlags(values);
  const logger = consoleLogger(`n${id}`, values['log-level']);
  if (values['force-new-cluster']) {
    logger.warn(
      '--force-new-cluster: restarting as the only member of the cluster, keeping this data (unsafe)',
      {
        hint: 'use it only when the other members are lost for good; start without it from now on',
      },
    );
  }
  // Listen for a stop before starting: a SIGTERM during startup (a quick Ctrl-C) must stop the node cleanly,
  // not kill it with the default action. `on`, not `once`: a terminal's Ctrl-C and a supervisor's SIGTERM may
  // both arrive, and a second must not kill the process mid-stop.
  let requestStop: () => void = () => undefined;
  const stopRequested = new Promise<void>((resolve) => (requestStop = resolve));
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => requestStop());
  // Started by `x-kv cluster`: its death closes our stdin, and we stop with it.
  if (values['stop-on-stdin-close']) process.stdin.on('end', () => requestStop()).resume();
  let node: KvNode;
  try {
    node = await KvNode.start({
      id,
      clusterId: values['cluster-id'],
      dataDir: values.data,
      listenPeer,
      listenClient,
      // What this node's own --peers entry says is where the others reach it (maybe through a proxy or NAT).
      advertisePeer: values['advertise-peer'] ?? self?.peer ?? listenPeer,
      peers,
      join: values.join,
      forceNewCluster: values['force-new-cluster'],
      snapshotCount: Number(values['snapshot-count']),
      snapshotCatchUpEntries: Number(values['snapshot-catchup']),
      tickMs: Number(values['tick-ms']),
      ...(nodeTls.peer !== undefined ? { peerTls: nodeTls.peer } : {}),
      ...(nodeTls.client !== undefined ? { clientTls: nodeTls.client } : {}),
      sessionTimeoutMs: Number(values['session-timeout']),
      logger,
    });
  } catch (err) {
    process.stdin.destroy(); // else a resumed stdin keeps a failed start's process alive
    throw err;
  }
  logger.info('serving', {
    client: `${nodeTls.client !== undefined ? 'https' : 'http'}://${listenClient}`,
    peer: `${nodeTls.peer !== undefined ? 'mutual TLS ' : ''}${listenPeer}`,
    ...(nodeTls.client?.requestCert === true ? { clientCertAuth: true } : {}),
    data: values.data,
  });
  node.raft.on('leader', (lead, term) => logger.info('leader changed', { leader: lead, term }));
  node.raft.on('snapshot', (meta, origin) => logger.info('snapshot', { index: meta.index, origin }));
  const fatal = await new Promise<Error | undefined>((resolve) => {
    node.raft.once('error', (err) => {
      logger.error('fatal', { err: err.message });
      resolve(err);
    });
    void stopRequested.then(() => resolve(undefined));
  });
  await node.stop();
  process.stdin.destroy();
  logger.info('stopped');
  // A node that stopped on a fatal error (wiped data, removed from the cluster, a failed fsync) exits non-zero, so a
  // supervisor does not mistake it for a clean shutdown.
  return fatal === undefined ? 0 : 1;
}
