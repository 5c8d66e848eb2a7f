import { stat } from 'node:fs/promises';
import { WalError, isWalError } from '../errors.js';
import { RecordType } from '../record/record-type.js';
import { listSegments, type SegmentName } from '../segment/names.js';
import { SegmentScanner } from '../segment/scan.js';
import { Wal } from '../wal.js';
import { codecsOf, describePayload, TYPE_NAMES, type CodecName } from './codecs.js';
import { toJson, type CliIo } from './io.js';

function reportError(io: CliIo, err: unknown): number {
  if (isWalError(err)) {
    io.err(err.message); // the message starts with the code
    return 1;
  }
  throw err;
}

/** The directory's segments; ERR_WAL_FILE_NOT_FOUND when it holds none (a mistyped path is not an empty log). */
async function segmentsOf(dir: string): Promise<SegmentName[]> {
  const segments = await listSegments(dir);
  if (segments.length === 0) throw new WalError('ERR_WAL_FILE_NOT_FOUND', `no WAL segment files (${dir})`);
  return segments;
}

/** `x-wal dump`: one line per record. */
export async function dump(
  io: CliIo,
  dir: string,
  opts: { json: boolean; codec: CodecName },
): Promise<number> {
  const codecs = codecsOf(opts.codec);
  let n = 0;
  try {
    const scanner = new SegmentScanner(await segmentsOf(dir));
    for await (const r of scanner.records()) {
      const info = {
        segment: r.file.slice(r.file.lastIndexOf('/') + 1),
        offset: r.offset,
        type: TYPE_NAMES[r.type] ?? `type${r.type}`,
        ...describePayload(codecs, r.type, r.data),
        size: r.data?.byteLength ?? 0,
        crc: r.crc,
      };
      if (opts.json) io.out(toJson(info));
      else {
        const extra = Object.entries(info)
          .filter(([k]) => !['segment', 'offset', 'type', 'size', 'crc'].includes(k))
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(' ');
        io.out(
          `${info.segment} ${String(info.offset).padStart(10)} ${info.type.padEnd(8)} ${extra.padEnd(30)} size=${info.size} crc=${info.crc.toString(16).padStart(8, '0')}`,
        );
      }
      if (io.errIsTTY && ++n % 10_000 === 0) io.err(`\r${n} records...`);
    }
  } catch (err) {
    return reportError(io, err);
  }
  return 0;
}

/** `x-wal verify`: exit 0 when every record checks out, 1 with the first error's code, file and offset. */
export async function verify(io: CliIo, dir: string, opts: { codec: CodecName }): Promise<number> {
  try {
    const codecs = codecsOf(opts.codec);
    const state = await Wal.verify(dir, undefined, codecs !== undefined ? { codecs } : {});
    io.out(`ok: ${dir} verified${state !== undefined ? `; hard state ${toJson(state)}` : ''}`);
    return 0;
  } catch (err) {
    return reportError(io, err);
  }
}

/** `x-wal repair`: cuts a torn tail of the last segment (keeping a .broken copy); exit 1 unless readable after. */
export async function repair(io: CliIo, dir: string, opts: { codec: CodecName }): Promise<number> {
  try {
    const codecs = codecsOf(opts.codec);
    const report = await Wal.repairReport(dir, codecs !== undefined ? { codecs } : {});
    const cut =
      report.cut !== undefined
        ? `a torn tail was cut at byte ${report.cut.offset} of ${report.cut.file} (the original is kept as ${report.cut.file}.broken)`
        : undefined;
    if (report.readable) {
      io.out(`ok: ${dir} is readable${cut !== undefined ? `; ${cut}` : ' (nothing to repair)'}`);
      return 0;
    }
    io.err(
      `not repaired: ${dir} is not readable: ${report.problem?.message ?? 'unknown'}` +
        (cut !== undefined ? `\n(${cut}, but that was not enough)` : '\n(nothing was changed)'),
    );
    return 1;
  } catch (err) {
    return reportError(io, err);
  }
}

/** `x-wal stats`: segments, bytes, records by type, entries and their index range, the last hard state. */
export async function stats(
  io: CliIo,
  dir: string,
  opts: { json: boolean; codec: CodecName },
): Promise<number> {
  const codecs = codecsOf(opts.codec);
  let segments: SegmentName[];
  let bytes = 0;
  const byType: Record<string, number> = {};
  let firstIndex: unknown;
  let lastIndex: unknown;
  let lastState: Record<string, unknown> | undefined;
  let n = 0;
  try {
    segments = await segmentsOf(dir);
    for (const s of segments) bytes += (await stat(s.path)).size;
    for await (const r of new SegmentScanner(segments).records()) {
      const name = TYPE_NAMES[r.type] ?? `type${r.type}`;
      byType[name] = (byType[name] ?? 0) + 1;
      if (r.type === RecordType.Entry) {
        const d = describePayload(codecs, r.type, r.data);
        firstIndex ??= d.index;
        lastIndex = d.index;
      } else if (r.type === RecordType.State) lastState = describePayload(codecs, r.type, r.data);
      if (io.errIsTTY && ++n % 10_000 === 0) io.err(`\r${n} records...`);
    }
  } catch (err) {
    return reportError(io, err);
  }
  const report = {
    dir,
    segments: segments.length,
    bytes,
    records: byType,
    entries: byType.entry ?? 0,
    firstIndex,
    lastIndex,
    lastState,
  };
  if (opts.json) io.out(toJson(report));
  else
    for (const [k, v] of Object.entries(report))
      io.out(`${k.padEnd(11)} ${typeof v === 'string' || typeof v === 'number' ? String(v) : toJson(v)}`);
  return 0;
}
