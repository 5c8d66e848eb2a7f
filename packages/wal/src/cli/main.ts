// The CLI's logic, with no side effects on import; `bin.ts` is the executable that calls `run`.
import { parseArgs } from 'node:util';
import { dump, repair, stats, verify } from './commands.js';
import type { CodecName } from './codecs.js';
import { processIo, type CliIo } from './io.js';

const USAGE = `usage: x-wal <command> <dir> [options]
  dump <dir>    one line per record: segment, offset, type, index/term, size, crc  [--json] [--codec msgpack|etcd|raw]
  verify <dir>  check every record and the CRC chain; exit 1 with the first error's file and offset  [--codec ...]
  repair <dir>  cut a torn tail of the last segment (keeps a .broken copy); exit 1, naming why, unless readable after  [--codec ...]
  stats <dir>   segments, bytes, records by type, entries, index range, last hard state  [--json] [--codec ...]`;

/** Runs the CLI; returns the exit code. */
export async function run(argv: string[], io: CliIo = processIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        codec: { type: 'string', default: 'msgpack' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    });
  } catch (err) {
    io.err(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  const [cmd, dir, ...extra] = positionals;
  const codec = values.codec as CodecName;
  if (
    cmd === undefined ||
    dir === undefined ||
    extra.length > 0 ||
    !['msgpack', 'etcd', 'raw'].includes(codec)
  ) {
    io.err(USAGE);
    return 2;
  }
  switch (cmd) {
    case 'dump':
      return dump(io, dir, { json: values.json, codec });
    case 'verify':
      return verify(io, dir, { codec });
    case 'repair':
      return repair(io, dir, { codec });
    case 'stats':
      return stats(io, dir, { json: values.json, codec });
    default:
      io.err(`unknown command ${cmd}\n${USAGE}`);
      return 2;
  }
}
