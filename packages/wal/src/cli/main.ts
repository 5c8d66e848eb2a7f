// The CLI's logic, with no side effects on import; `bin.ts` is the executable that calls `run`.
import { parseArgs } from 'node:util';
import { dump, repair, stats, verify } from './commands.js';
import type { CodecName } from './codecs.js';
import { processIo, type CliIo } from './io.js';
import { snapInfo, snapVerify } from './snap-commands.js';

const USAGE = `usage: x-wal <command> <dir|file> [options]
  dump <dir>    one line per record: segment, offset, type, index/term, size, crc  [--json] [--codec msgpack|etcd|raw]
  verify <dir>  check every record and the CRC chain; exit 1 with the first error's file and offset  [--codec ...]
  repair <dir>  cut a torn tail of the last segment (keeps a .broken copy); exit 1, naming why, unless readable after  [--codec ...]
  stats <dir>   segments, bytes, records by type, entries, index range, last hard state  [--json] [--codec ...]
  snap info <file>    a snapshot file's index, term, conf state, sizes and stored CRC (data not read)  [--json] [--codec msgpack|etcd]
  snap verify <file>  check a snapshot file's framing, metadata and CRC; exit 1 naming the field and byte offset  [--codec ...]`;

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
  const codec = values.codec as CodecName;
  if (positionals[0] === 'snap') {
    const [, sub, file, ...rest] = positionals;
    if (file === undefined || rest.length > 0 || !['msgpack', 'etcd', 'raw'].includes(codec)) {
      io.err(USAGE);
      return 2;
    }
    if (sub === 'info') return snapInfo(io, file, { json: values.json, codec });
    if (sub === 'verify') return snapVerify(io, file, { codec });
    io.err(`unknown command snap ${sub ?? ''}\n${USAGE}`);
    return 2;
  }
  const [cmd, dir, ...extra] = positionals;
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
