// `x-kv backup FILE` (etcdctl snapshot save) and `x-kv restore FILE --data DIR --id N --peers ...` (etcdutl snapshot
// restore).
import { createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { SnapshotStore } from '@x/wal';
import { restoreDataDir } from '../node/backup-file.js';
import { NoEndpointError, describeFailure } from './client.js';
import { exchange } from './http-client.js';
import { parsePeers } from './peers.js';
import type { ClientTls } from './tls-flags.js';
import { parseCommandLine, UsageError } from './usage.js';

/** What a saved or restored backup is, as the commands print it. */
function describe(meta: { index: number; term: number; confState?: { voters: number[] } }) {
  return { index: meta.index, term: meta.term, voters: meta.confState?.voters ?? [] };
}

async function fsyncPath(path: string, flags: string): Promise<void> {
  const fh = await open(path, flags);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Streams `GET /backup` from the first endpoint that answers into `FILE.part`, fsyncs it, checks it whole (layout,
 * metadata, CRC) and renames it to `file` (then fsyncs the directory): a `file` that exists is a complete, checked
 * backup. `timeoutMs` bounds the wait for each endpoint's answer to begin, not the transfer.
 */
export async function runBackup(
  file: string,
  endpoints: string[],
  tls: ClientTls | undefined,
  timeoutMs: number,
): Promise<number> {
  const part = `${file}.part`;
  const failures: { endpoint: string; reason: string }[] = [];
  for (const ep of endpoints) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new DOMException('timed out', 'TimeoutError')), timeoutMs);
    try {
      const res = await exchange(new URL('/backup', ep), {
        method: 'GET',
        signal: abort.signal,
        tls,
        sink: async (body) => {
          clearTimeout(timer); // the answer began: a large backup takes what it takes
          await pipeline(body, createWriteStream(part));
        },
      });
      if (res.status !== 200) {
        failures.push({ endpoint: ep, reason: `HTTP ${res.status} ${res.text}` });
        continue;
      }
      await fsyncPath(part, 'r+');
      const snapshot = await SnapshotStore.readFile(part);
      await rename(part, file);
      await fsyncPath(dirname(file), 'r');
      process.stdout.write(
        `${JSON.stringify({ file, from: ep, ...describe(snapshot.metadata), dataSize: snapshot.dataSize }, null, 2)}\n`,
      );
      return 0;
    } catch (err) {
      failures.push({ endpoint: ep, reason: describeFailure(err, timeoutMs) });
    } finally {
      clearTimeout(timer);
      await rm(part, { force: true });
    }
  }
  throw new NoEndpointError(failures);
}

/** `x-kv restore FILE --data DIR --id N --peers 1=peer/client,... [--cluster-id ID]`: one new member's data. */
export async function runRestore(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: {
      data: { type: 'string' },
      id: { type: 'string' },
      peers: { type: 'string' },
      'cluster-id': { type: 'string', default: 'x-kv' },
    },
    strict: true,
  });
  const file = positionals[0];
  if (file === undefined || positionals.length > 1) throw new UsageError('restore takes one FILE');
  if (values.data === undefined || values.peers === undefined || values.id === undefined)
    throw new UsageError('restore needs --data, --id and --peers');
  const id = Number(values.id);
  if (!Number.isSafeInteger(id) || id <= 0) throw new UsageError('--id must be a positive integer');
  const peers = parsePeers(values.peers);
  if (!peers.has(id)) throw new UsageError(`--peers does not list --id ${id}`);
  const meta = await restoreDataDir({
    file,
    dataDir: values.data,
    id,
    peers,
    clusterId: values['cluster-id'],
  });
  process.stdout.write(`${JSON.stringify({ data: values.data, id, ...describe(meta) }, null, 2)}\n`);
  return 0;
}
