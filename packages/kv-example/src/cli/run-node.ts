import { parseArgs } from 'node:util';
import { KvNode } from '../node/kv-node.js';
import { parsePeers } from './peers.js';
import { consoleLogger } from './log.js';

/** `x-kv node`: one KV server in this process, until SIGINT/SIGTERM. */
export async function runNode(argv: string[]): Promise<number> {
  const { values } = parseArgs({
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
      'snapshot-count': { type: 'string', default: '10000' },
      'snapshot-catchup': { type: 'string', default: '5000' },
      'tick-ms': { type: 'string', default: '100' },
      'log-level': { type: 'string', default: 'info' },
    },
    strict: true,
  });
  const id = Number(values.id);
  if (!Number.isSafeInteger(id) || id <= 0) throw new Error('--id must be a positive integer');
  if (values.peers === undefined || values.data === undefined)
    throw new Error('--peers and --data are required');
  const peers = parsePeers(values.peers);
  const self = peers.get(id);
  const listenPeer = values['listen-peer'] ?? self?.peer;
  const listenClient = values['listen-client'] ?? self?.client;
  if (listenPeer === undefined || listenClient === undefined)
    throw new Error('--listen-peer/--listen-client are required when --peers does not list this node');
  const logger = consoleLogger(`n${id}`, values['log-level']);
  const node = await KvNode.start({
    id,
    clusterId: values['cluster-id'],
    dataDir: values.data,
    listenPeer,
    listenClient,
    // What this node's own --peers entry says is where the others reach it (maybe through a proxy or NAT).
    advertisePeer: values['advertise-peer'] ?? self?.peer ?? listenPeer,
    peers,
    join: values.join,
    snapshotCount: Number(values['snapshot-count']),
    snapshotCatchUpEntries: Number(values['snapshot-catchup']),
    tickMs: Number(values['tick-ms']),
    logger,
  });
  logger.info('serving', { client: `http://${listenClient}`, peer: listenPeer, data: values.data });
  node.raft.on('leader', (lead, term) => logger.info('leader changed', { leader: lead, term }));
  node.raft.on('snapshot', (meta, origin) => logger.info('snapshot', { index: meta.index, origin }));
  const fatal = await new Promise<Error | undefined>((resolve) => {
    node.raft.once('error', (err) => {
      logger.error('fatal', { err: err.message });
      resolve(err);
    });
    process.once('SIGINT', () => resolve(undefined));
    process.once('SIGTERM', () => resolve(undefined));
  });
  await node.stop();
  logger.info('stopped');
  // A node that stopped on a fatal error (wiped data, removed from the cluster, a failed fsync) exits non-zero, so a
  // supervisor does not mistake it for a clean shutdown.
  return fatal === undefined ? 0 : 1;
}
