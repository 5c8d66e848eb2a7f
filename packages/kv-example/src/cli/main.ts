#!/usr/bin/env node
// The `x-kv` executable. It runs whatever way it was started (npm's bin symlink, npx, `pnpm exec`, by path).
import { runClient } from './client.js';
import { runCluster } from './cluster.js';
import { runNode } from './run-node.js';
import { runRestore } from './backup.js';
import { UsageError } from './usage.js';

const USAGE = `usage:
  x-kv cluster --nodes 3 [--data DIR] [--fresh] [--base-port 12380] [--snapshot-count N] [node TLS flags, given to every node]
  x-kv node --id N --peers 1=host:peerPort/host:clientPort,... --data DIR [--listen-client h:p] [--listen-peer h:p] [--advertise-peer h:p] [--join]
      [--force-new-cluster]   (unsafe, after losing quorum for good: restart as the only member, keeping this data)
      peer mutual TLS (all three): --peer-cert-file F --peer-key-file F --peer-trusted-ca-file F
      HTTPS API: --cert-file F --key-file F [--client-cert-auth --trusted-ca-file F]
  x-kv put KEY VALUE | get KEY [--serializable] | del KEY | cas KEY VALUE (--prev-value V | --prev-revision R)
  x-kv incr KEY [--delta N]        (writes run in a client session: a retry after a timeout applies once)
  x-kv members list | members add ID PEER_ADDR CLIENT_ADDR [--learner] | members promote ID | members remove ID
  x-kv backup FILE                 (a consistent snapshot of the cluster's state, saved as one CRC-checked file)
  x-kv restore FILE --data DIR --id N --peers 1=host:peerPort/host:clientPort,... [--cluster-id ID]
                                   (offline: makes member N's data directory of a new cluster from a backup)
  x-kv status | snapshot           (client commands take --endpoints http(s)://h:p,... or $X_KV_ENDPOINTS, and --timeout MS;
                                    over HTTPS --cacert F to trust a CA, --cert F --key F to present a client certificate)
exit status: 0 ok, 1 failed (no endpoint answered, an error answer, a node's fatal error), 2 usage mistake
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'cluster':
      return runCluster(rest);
    case 'node':
      return runNode(rest);
    case 'restore':
      return runRestore(rest);
    case undefined:
      process.stderr.write(USAGE);
      return 2;
    case '-h':
    case '--help':
      process.stdout.write(USAGE);
      return 0;
    default:
      return runClient(cmd, rest);
  }
}

/** The error in one line per cause; its code (ERR_...) printed once, at the front. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code !== '' && !err.message.startsWith(code)
    ? `${code}: ${err.message}`
    : err.message;
}

// A reader that stops early (`x-kv members list | head -1`) closes the pipe: that ends the output quietly, status 0.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    process.exitCode = 1;
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`x-kv: ${err.message}\n${USAGE}`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`x-kv: ${describe(err)}\n`);
      process.exitCode = 1;
    }
  },
);
