import { resolve } from 'node:path';
import { msgpackCodecs, type Entry, type HardState, type Snapshot } from '../codec/msgpack.js';
import type { Codecs } from '../codec/types.js';
import { WalError } from '../errors.js';
import type { CrcOffloadMode } from '../segment/crc-offload.js';

/**
 * A logger with pino's method shape (`warn(obj, msg)`); only `warn` is required.
 *
 * @example
 * ```ts
 * const logger: WalLogger = { warn: (obj, msg) => console.warn(msg, obj) };
 * ```
 */
export interface WalLogger {
  warn(obj: Record<string, unknown>, msg?: string): void;
  info?(obj: Record<string, unknown>, msg?: string): void;
}

/**
 * Options of every `Wal` entry point.
 *
 * @example
 * ```ts
 * const wal = await Wal.open(dir, snap, {
 *   segmentSizeBytes: 16 * 1024 * 1024,
 *   logger: pino(), // warned about fdatasyncs over 1 s
 *   onFsync: (ms) => fsyncHistogram.observe(ms / 1000),
 * });
 * ```
 */
export interface WalOptions<E = Entry, S = HardState, N = Snapshot> {
  /** Record codecs; default {@link msgpackCodecs}. */
  codecs?: Codecs<E, S, N>;
  /** A segment is cut once a save leaves it at or past this size; default 64,000,000 bytes (etcd's). */
  segmentSizeBytes?: number;
  /** `release` keeps this many segments before the one the snapshot falls in; default 0. */
  keepExtraSegments?: number;
  /** Warned when an fdatasync takes over 1 s, and told about repairs. */
  logger?: WalLogger;
  /** Called with every fdatasync's duration in milliseconds (for metrics). */
  onFsync?: (ms: number) => void;
  /** Where fdatasync runs; default `'threadpool'`. See {@link SyncMode}. */
  syncMode?: SyncMode;
  /**
   * Where a read checks the CRC chain of the segments before the last one: `'auto'` (default) on a worker thread
   * when there are at least two of them, so that a long replay decodes on the main thread while another core
   * checks; `'always'` on a worker whenever there is one; `'never'` on the main thread. With a worker, those
   * segments are read into SharedArrayBuffers, so replayed entries' `data` may be views on one. The result, and
   * the error on corruption, are the same in all three.
   */
  crcWorker?: CrcOffloadMode;
  /** How new segments are allocated; default `'auto'`. See {@link Preallocate}. */
  preallocate?: Preallocate;
}

/**
 * How the background pipeline prepares each next segment file:
 * - `'zero-filled'`: written with zeros to the segment size and fdatasync'd before use, so appends overwrite
 *   allocated space and an fdatasync has no file-size metadata to flush (the cheapest per small sync).
 * - `'none'`: an empty file that appends grow (every byte is written once, not twice).
 * - `'auto'` (default): zero-filled while the tail segment's writes average under 64 KiB per fdatasync
 *   (sync-bound workloads), empty after larger ones (throughput-bound workloads, where the fill's second copy of
 *   every byte costs more than the growth's metadata). Decided when the next segment is started, a quarter of
 *   the way into the current one.
 *
 * Durability and the format are the same in all three: fdatasync covers a growing file's size, and readers treat
 * the end of a file like a zero length word.
 */
export type Preallocate = 'auto' | 'zero-filled' | 'none';

/**
 * Where a save's fdatasync runs:
 * - `'threadpool'` (default): on libuv's thread pool. The event loop keeps running while the disk syncs (a Raft
 *   node keeps serving its network and timers), at the price of a thread hand-off per sync (50-350 µs on this
 *   project's nested-virtualized VM: a sync-bound single writer reached 0.55-0.8x the syncs/s of a bare
 *   `fdatasyncSync` loop there).
 * - `'inline'`: `fdatasyncSync` on the main thread. No hand-off, so one writer's syncs/s come close to the bare
 *   loop's, but the event loop is blocked for the whole of every fsync (0.1 ms to seconds on a slow disk): timers,
 *   sockets and other callbacks wait. For a process whose one job is writing the log, or a benchmark.
 *
 * Durability is the same in both: a save resolves only after its fdatasync returned, in call order.
 */
export type SyncMode = 'threadpool' | 'inline';

/** Default segment size: 64,000,000 bytes, as etcd. */
export const DEFAULT_SEGMENT_SIZE_BYTES = 64 * 1000 * 1000;

/** An fdatasync slower than this is warned about. */
export const SLOW_FSYNC_MS = 1000;

/** Options with defaults applied. */
export interface ResolvedOptions<E, S, N> {
  codecs: Codecs<E, S, N>;
  segmentSizeBytes: number;
  keepExtraSegments: number;
  logger: WalLogger | undefined;
  onFsync: ((ms: number) => void) | undefined;
  syncMode: SyncMode;
  preallocate: Preallocate;
  crcWorker: CrcOffloadMode;
}

/** Applies defaults and validates. */
export function resolveOptions<E, S, N>(options: WalOptions<E, S, N> | undefined): ResolvedOptions<E, S, N> {
  const o = options ?? {};
  const segmentSizeBytes = o.segmentSizeBytes ?? DEFAULT_SEGMENT_SIZE_BYTES;
  if (!Number.isSafeInteger(segmentSizeBytes) || segmentSizeBytes < 64) {
    throw new WalError(
      'ERR_WAL_INVALID_ARGUMENT',
      `segmentSizeBytes must be an integer >= 64, got ${segmentSizeBytes}`,
    );
  }
  const keepExtraSegments = o.keepExtraSegments ?? 0;
  if (!Number.isSafeInteger(keepExtraSegments) || keepExtraSegments < 0) {
    throw new WalError(
      'ERR_WAL_INVALID_ARGUMENT',
      `keepExtraSegments must be an integer >= 0, got ${keepExtraSegments}`,
    );
  }
  const syncMode = o.syncMode ?? 'threadpool';
  if (syncMode !== 'threadpool' && syncMode !== 'inline') {
    throw new WalError(
      'ERR_WAL_INVALID_ARGUMENT',
      `syncMode must be 'threadpool' or 'inline', got ${String(syncMode)}`,
    );
  }
  const preallocate = o.preallocate ?? 'auto';
  if (preallocate !== 'auto' && preallocate !== 'zero-filled' && preallocate !== 'none') {
    throw new WalError(
      'ERR_WAL_INVALID_ARGUMENT',
      `preallocate must be 'auto', 'zero-filled' or 'none', got ${String(preallocate)}`,
    );
  }
  const crcWorker = o.crcWorker ?? 'auto';
  if (crcWorker !== 'auto' && crcWorker !== 'always' && crcWorker !== 'never') {
    throw new WalError(
      'ERR_WAL_INVALID_ARGUMENT',
      `crcWorker must be 'auto', 'always' or 'never', got ${String(crcWorker)}`,
    );
  }
  return {
    syncMode,
    preallocate,
    crcWorker,
    codecs: o.codecs ?? (msgpackCodecs as unknown as Codecs<E, S, N>),
    segmentSizeBytes,
    keepExtraSegments,
    logger: o.logger,
    onFsync: o.onFsync,
  };
}

/** Validates a directory argument and makes it absolute (so `<dir>.tmp` is a sibling even for `wal/`). */
export function normalizeDir(dir: unknown, what: string): string {
  if (typeof dir !== 'string' || dir.length === 0) {
    throw new WalError('ERR_WAL_INVALID_ARGUMENT', `${what}: dir must be a non-empty string`);
  }
  return resolve(dir);
}
