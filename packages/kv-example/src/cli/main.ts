#!/usr/bin/env node
import { runClient } from './client.js';
import { runCluster } from './cluster.js';
import { runNode } from './run-node.js';

const USAGE = `usage:
  x-kv cluster --nodes 3 [--data DIR] [--base-port 12380] [--snapshot-count N]
  x-kv node --id N --peers 1=host:peerPort/host:clientPort,... --data DIR [--listen-client h:p] [--listen-peer h:p] [--advertise-peer h:p] [--join]
  x-kv put KEY VALUE | get KEY [--serializable] | del KEY | cas KEY VALUE (--prev-value V | --prev-revision R)
  x-kv members list | members add ID PEER_ADDR CLIENT_ADDR [--learner] | members remove ID
  x-kv status | snapshot           (client commands take --endpoints http://h:p,... or $X_KV_ENDPOINTS)
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'cluster':
      return runCluster(rest);
    case 'node':
      return runNode(rest);
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      return runClient(cmd, rest);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`x-kv: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    process.exitCode = 2;
  },
);
