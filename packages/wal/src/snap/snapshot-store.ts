import { createReadStream } from 'node:fs';
import { open, readdir, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import type { SnapshotCodec } from '../codec/types.js';
import { msgpackCodecs, type Snapshot } from '../codec/msgpack.js';
import { WalError } from '../errors.js';
import { mkdirDurable } from '../fs/durable-mkdir.js';
import { fileIo } from '../fs/file-io.js';
import { crc32cUpdate } from '../record/crc.js';
import { SNAP_READ_CHUNK, checkSnapFile, readAt } from './check.js';
import {
  SNAP_SUFFIX,
  describeSnapProblem,
  encodeHeader,
  encodeTrailer,
  parseSnapFileName,
  snapFileName,
} from './format.js';

/** Where snapshot data comes from when saving: bytes in memory, or chunks from a stream or generator. */
export type SnapshotData = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/** A logger with pino's method shape; only `warn` is used here. */
export interface SnapshotStoreLogger {
  warn(obj: Record<string, unknown>, msg?: string): void;
}

/** Options of {@link SnapshotStore.open}. */
export interface SnapshotStoreOptions<N> {
  /** Encodes the snapshot metadata; defaults to the WAL's default msgpack snapshot codec. */
  codec?: SnapshotCodec<N>;
  /** Told when a corrupt snapshot file is set aside as `.broken`. */
  logger?: SnapshotStoreLogger;
}

/** A snapshot file that passed its CRC check; its data is read on demand, whole or as a stream. */
export interface StoredSnapshot<N> {
  metadata: N;
  /** Absolute path of the `.snap` file. */
  file: string;
  /** Byte length of the application's data. */
  dataSize: number;
  /** The data as one buffer (a single allocation of `dataSize` bytes). */
  bytes(): Promise<Uint8Array>;
  /** The data as a stream of chunks; the stream errors at its end if the CRC no longer matches. */
  stream(): Readable;
}

/**
 * A directory of application snapshots, one file per snapshot named `%016x-%016x.snap` (term, index), each
 * holding the snapshot metadata and the data with a CRC-32C.
 *
 * Durability: {@link save} writes a temporary file, fdatasyncs it, renames it into place and fsyncs the
 * directory; its promise resolves only after all of that. The order a Raft node must follow, so that a crash
 * between any two steps leaves a state it can restart from:
 * 1. `snapshots.save(meta, data)` — the snapshot file;
 * 2. `wal.saveSnap(meta)` — the WAL's snapshot record;
 * 3. `wal.release(meta)` — only then may old WAL segments go.
 * On restart, {@link loadNewestAvailable} with `Wal.validSnapshots(dir)` picks the newest snapshot the WAL also
 * knows, so a crash between steps 1 and 2 never selects a snapshot the log has no record of.
 *
 * @example
 * ```ts
 * const snaps = await SnapshotStore.open('/var/lib/app/snap');
 * await snaps.save({ index: 10_000, term: 3 }, stateMachineBytes);
 * await wal.saveSnap({ index: 10_000, term: 3 });
 * await wal.release({ index: 10_000, term: 3 });
 * // after a restart:
 * const snap = await snaps.loadNewestAvailable(await Wal.validSnapshots(walDir));
 * if (snap) restore(await snap.bytes());
 * ```
 */
export class SnapshotStore<N = Snapshot> {
  private constructor(
    /** The directory; it exists once the store is open. */
    readonly dir: string,
    private readonly codec: SnapshotCodec<N>,
    private readonly logger: SnapshotStoreLogger | undefined,
  ) {}

  /**
   * Opens (creating if needed, durably: its parent is fsynced) a snapshot directory and removes temporary files
   * left by a crash mid-save.
   */
  static async open<N = Snapshot>(
    dir: string,
    options: SnapshotStoreOptions<N> = {},
  ): Promise<SnapshotStore<N>> {
    if (typeof dir !== 'string' || dir.length === 0) {
      throw new WalError('ERR_WAL_INVALID_ARGUMENT', 'SnapshotStore.open: dir must be a non-empty string');
    }
    await mkdirDurable(dir);
    const codec = options.codec ?? (msgpackCodecs.snapshot as unknown as SnapshotCodec<N>);
    const store = new SnapshotStore<N>(dir, codec, options.logger);
    for (const name of await readdir(dir)) {
      if (name.endsWith(`${SNAP_SUFFIX}.tmp`)) await fileIo.unlink(join(dir, name));
    }
    return store;
  }

  /**
   * Checks one snapshot file anywhere, under any name (e.g. a backup copy), as {@link load} checks the files of a
   * store (layout, metadata and CRC, streamed), and gives it with its data on demand. Throws ERR_WAL_FILE_NOT_FOUND
   * for a missing file and ERR_WAL_CRC_MISMATCH naming the field and byte offset for a corrupt one.
   */
  static async readFile<N = Snapshot>(
    file: string,
    options: Pick<SnapshotStoreOptions<N>, 'codec'> = {},
  ): Promise<StoredSnapshot<N>> {
    const codec = options.codec ?? (msgpackCodecs.snapshot as unknown as SnapshotCodec<N>);
    const checked = await new SnapshotStore<N>(dirname(file), codec, undefined)
      .check(file)
      .catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        throw new WalError('ERR_WAL_FILE_NOT_FOUND', 'no such snapshot file', { file });
      });
    if (typeof checked !== 'string') return checked;
    throw new WalError('ERR_WAL_CRC_MISMATCH', `corrupt snapshot file ${file}: ${checked}`, { file });
  }

  /** Names of the snapshot files, newest (highest term, then index) first. `.broken` files are left out. */
  async list(): Promise<string[]> {
    const named: { name: string; term: bigint; index: bigint }[] = [];
    for (const name of await readdir(this.dir)) {
      const parsed = parseSnapFileName(name);
      if (parsed !== undefined) named.push({ name, ...parsed });
    }
    named.sort((a, b) => (a.index !== b.index ? cmp(b.index, a.index) : cmp(b.term, a.term)));
    return named.map((n) => n.name);
  }

  /**
   * Saves a snapshot durably and returns its file path. `data` may be a stream, so a snapshot of hundreds of MB
   * is never held in memory by the store. Resolves only after the file and the directory entry are fsync'd.
   */
  async save(metadata: N, data: SnapshotData): Promise<string> {
    const name = snapFileName(this.codec.term(metadata), this.codec.index(metadata));
    const file = join(this.dir, name);
    const tmp = `${file}.tmp`;
    const meta = this.codec.encode(metadata);
    let fh: FileHandle | undefined = await fileIo.open(tmp, 'w');
    try {
      let crc = crc32cUpdate(0, meta);
      let dataLen = 0;
      const header = encodeHeader(meta);
      await fileIo.write(fh, header, 0);
      let pos = header.byteLength;
      const chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array> =
        data instanceof Uint8Array ? [data] : data;
      for await (const chunk of chunks) {
        if (!(chunk instanceof Uint8Array)) {
          throw new WalError(
            'ERR_WAL_INVALID_ARGUMENT',
            `SnapshotStore.save: data chunk is not a Uint8Array (${file})`,
          );
        }
        crc = crc32cUpdate(crc, chunk);
        dataLen += chunk.byteLength;
        await fileIo.write(fh, chunk, pos);
        pos += chunk.byteLength;
      }
      await fileIo.write(fh, encodeTrailer(dataLen, crc), pos);
      await fileIo.datasync(fh);
      await fh.close();
      fh = undefined;
      await fileIo.rename(tmp, file);
      await fileIo.fsyncDir(this.dir);
      return file;
    } catch (err) {
      if (fh !== undefined) await fh.close().catch(() => undefined);
      await fileIo.unlink(tmp).catch(() => undefined);
      throw err;
    }
  }

  /**
   * The newest snapshot whose file is intact, or undefined when there is none. A corrupt file is renamed to
   * `<name>.broken` (kept for inspection) and the next older one is tried.
   */
  async load(): Promise<StoredSnapshot<N> | undefined> {
    return this.loadMatching(() => true);
  }

  /**
   * The newest intact snapshot that the WAL also has a record for (`walSnapshots` is what
   * `Wal.validSnapshots(dir)` returns): a snapshot file saved just before a crash, whose WAL record never made it,
   * is passed over.
   */
  async loadNewestAvailable(walSnapshots: readonly N[]): Promise<StoredSnapshot<N> | undefined> {
    const known = new Set(walSnapshots.map((s) => snapFileName(this.codec.term(s), this.codec.index(s))));
    return this.loadMatching((name) => known.has(name));
  }

  /** Deletes all but the newest `keep` snapshot files; returns the names deleted. `.broken` files are left alone. */
  async purge(keep: number): Promise<string[]> {
    if (!Number.isInteger(keep) || keep < 0) {
      throw new WalError(
        'ERR_WAL_INVALID_ARGUMENT',
        `SnapshotStore.purge: keep must be an integer >= 0, got ${keep}`,
      );
    }
    const removed = (await this.list()).slice(keep);
    for (const name of removed) await fileIo.unlink(join(this.dir, name));
    if (removed.length > 0) await fileIo.fsyncDir(this.dir);
    return removed;
  }

  private async loadMatching(accept: (name: string) => boolean): Promise<StoredSnapshot<N> | undefined> {
    for (const name of await this.list()) {
      if (!accept(name)) continue;
      const file = join(this.dir, name);
      const checked = await this.check(file);
      if (typeof checked !== 'string') return checked;
      this.logger?.warn({ file, reason: checked }, 'corrupt snapshot file set aside as .broken');
      await fileIo.rename(file, `${file}.broken`);
      await fileIo.fsyncDir(this.dir);
    }
    return undefined;
  }

  /** Verifies a file's layout and CRC by streaming it; returns the stored snapshot or why it is corrupt. */
  private async check(file: string): Promise<StoredSnapshot<N> | string> {
    const checked = await checkSnapFile(file, this.codec, { checkData: true });
    if (!checked.ok) return describeSnapProblem(checked.problem);
    const { metadata, metaCrc, layout } = checked;
    const { dataOffset, dataLen, crc: storedCrc } = layout;
    return {
      metadata,
      file,
      dataSize: dataLen,
      bytes: async () => {
        const h = await open(file, 'r');
        try {
          const out = await readAt(h, dataOffset, dataLen);
          if (crc32cUpdate(metaCrc, out) >>> 0 !== storedCrc) {
            throw new WalError(
              'ERR_WAL_CRC_MISMATCH',
              `snapshot ${file}: data changed since it was checked`,
              {
                file,
                offset: dataOffset,
              },
            );
          }
          return out;
        } finally {
          await h.close();
        }
      },
      stream: () => crcCheckedStream(file, dataOffset, dataLen, metaCrc, storedCrc),
    };
  }
}

function cmp(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function crcCheckedStream(
  file: string,
  dataOffset: number,
  dataLen: number,
  metaCrc: number,
  stored: number,
): Readable {
  let crc = metaCrc;
  const checker = new Transform({
    transform(chunk: Buffer, _enc, done) {
      crc = crc32cUpdate(crc, chunk);
      done(null, chunk);
    },
    flush(done) {
      if (crc >>> 0 !== stored) {
        done(
          new WalError('ERR_WAL_CRC_MISMATCH', `snapshot ${file}: CRC mismatch while streaming`, {
            file,
            offset: dataOffset,
          }),
        );
      } else {
        done();
      }
    },
  });
  if (dataLen === 0) {
    checker.end();
    return checker;
  }
  const data = createReadStream(file, {
    start: dataOffset,
    end: dataOffset + dataLen - 1,
    highWaterMark: SNAP_READ_CHUNK,
  });
  data.on('error', (err) => checker.destroy(err));
  return data.pipe(checker);
}
