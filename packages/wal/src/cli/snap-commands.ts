// `x-wal snap info|verify FILE`: one snapshot file written by SnapshotStore (see ../snap/format.ts for its layout).
import type { SnapshotCodec } from '../codec/types.js';
import { WalError, isWalError } from '../errors.js';
import { checkSnapFile, hex32, type CheckedSnapFile } from '../snap/check.js';
import { describeSnapProblem } from '../snap/format.js';
import { codecsOf, type CodecName } from './codecs.js';
import { toJson, type CliIo } from './io.js';

/** The snapshot metadata codec for `--codec` (raw has none: a snapshot's metadata is always decoded). */
function snapCodecOf(name: CodecName): SnapshotCodec<unknown> {
  const codecs = codecsOf(name);
  if (codecs === undefined) {
    throw new WalError(
      'ERR_WAL_INVALID_ARGUMENT',
      '--codec raw does not apply to snapshot files (use msgpack or etcd)',
    );
  }
  return codecs.snapshot;
}

/** Checks `file`; a corrupt file becomes a WalError naming the file, the field and its byte offset. */
async function checked(
  file: string,
  codec: SnapshotCodec<unknown>,
  checkData: boolean,
): Promise<CheckedSnapFile<unknown>> {
  let result;
  try {
    result = await checkSnapFile(file, codec, { checkData });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new WalError('ERR_WAL_FILE_NOT_FOUND', 'no such snapshot file', { file });
    }
    throw err;
  }
  if (result.ok) return result;
  const p = result.problem;
  throw new WalError(
    p.field === 'metadata' ? 'ERR_WAL_CODEC' : 'ERR_WAL_CRC_MISMATCH',
    `corrupt snapshot file: ${describeSnapProblem(p)}`,
    { file, offset: p.offset },
  );
}

function report(io: CliIo, err: unknown): number {
  if (isWalError(err)) {
    io.err(err.message);
    return 1;
  }
  throw err;
}

/** What `snap info` prints (and `--json` holds). */
function describe(
  file: string,
  codec: SnapshotCodec<unknown>,
  c: CheckedSnapFile<unknown>,
): Record<string, unknown> {
  const m = c.metadata as { confState?: unknown };
  return {
    file,
    index: codec.index(c.metadata),
    term: codec.term(c.metadata),
    confState: m.confState ?? null,
    fileSize: c.fileSize,
    metadataSize: c.layout.metaLen,
    dataSize: c.layout.dataLen,
    dataOffset: c.layout.dataOffset,
    crc: hex32(c.layout.crc),
  };
}

/**
 * `x-wal snap info FILE`: index, term, membership, sizes and the stored CRC, from the header, metadata and trailer
 * alone (the data is not read, so it is quick on a large file; `snap verify` checks the CRC). Exit 1 when the
 * frame or the metadata is corrupt.
 */
export async function snapInfo(
  io: CliIo,
  file: string,
  opts: { json: boolean; codec: CodecName },
): Promise<number> {
  try {
    const codec = snapCodecOf(opts.codec);
    const info = describe(file, codec, await checked(file, codec, false));
    if (opts.json) io.out(toJson(info));
    else
      for (const [k, v] of Object.entries(info))
        io.out(`${k.padEnd(12)} ${typeof v === 'string' ? v : toJson(v)}`);
    return 0;
  } catch (err) {
    return report(io, err);
  }
}

/** `x-wal snap verify FILE`: exit 0 when the frame, metadata and CRC check out; 1 naming the file, field and offset. */
export async function snapVerify(io: CliIo, file: string, opts: { codec: CodecName }): Promise<number> {
  try {
    const codec = snapCodecOf(opts.codec);
    const c = await checked(file, codec, true);
    io.out(
      `ok: ${file} verified; index ${String(codec.index(c.metadata))} term ${String(codec.term(c.metadata))}, ${c.layout.dataLen} data bytes, crc ${hex32(c.layout.crc)}`,
    );
    return 0;
  } catch (err) {
    return report(io, err);
  }
}
