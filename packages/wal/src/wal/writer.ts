import { rename, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { WalError } from '../errors.js';
import { RecordType } from '../record/record-type.js';
import { fileIo, fsyncDir } from '../segment/file-io.js';
import { segmentFileName } from '../segment/names.js';
import type { SegmentPipeline } from '../segment/pipeline.js';
import { FrameBuffer } from './frame-buffer.js';
import { SLOW_FSYNC_MS, type WalLogger } from './options.js';

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

/** Records gathered for one write; the arrays are reused from batch to batch. */
class Batch {
  readonly types: number[] = [];
  readonly payloads: (Uint8Array | undefined)[] = [];
  readonly waiters: Waiter[] = [];
  /** Whether any call in the batch needs fdatasync before it resolves. */
  mustSync = false;
  /** The log's last index after this batch, when a call in it changed it. */
  lastIndex: number | undefined;

  clear(): void {
    this.types.length = 0;
    this.payloads.length = 0;
    this.waiters.length = 0;
    this.mustSync = false;
    this.lastIndex = undefined;
  }
}

/** Where the writer starts: the open tail segment and the chain state read from disk. */
export interface WriterInit {
  dir: string;
  fh: FileHandle;
  /** Path of the tail segment. */
  path: string;
  seq: number;
  /** End of the last valid record in the tail segment: where the next write goes. */
  offset: number;
  crc: number;
  metadata: Uint8Array;
  stateBytes: Uint8Array | undefined;
  lastIndex: number;
  segmentSizeBytes: number;
  pipeline: SegmentPipeline;
  logger: WalLogger | undefined;
  onFsync: ((ms: number) => void) | undefined;
}

/**
 * The write path: group commit into the tail segment, and cuts.
 *
 * Calls are staged in call order into the gathering batch. One flush runs at a time: it takes the whole gathering
 * batch, frames it into one buffer, writes it with one positional write and, if any call needs it, one
 * fdatasync; then it resolves the batch's promises in order. While a flush is in flight the next batch gathers.
 * A failed write, fdatasync or cut fails the writer for good: every pending and later call rejects with
 * ERR_WAL_FAILED and fdatasync is never retried (after a failed fsync the page cache may lie).
 */
export class SegmentWriter {
  /** Set once a write, fsync or cut failed. */
  failed: WalError | undefined;
  private gathering = new Batch();
  private spare = new Batch();
  private readonly frames: FrameBuffer;
  private flushing = false;
  /** Bytes written since the last fdatasync (a commit-only state). */
  private dirty = false;
  private fh: FileHandle;
  private path: string;
  private seq: number;
  private offset: number;
  private stateBytes: Uint8Array | undefined;
  private lastIndex: number;

  constructor(private readonly init: WriterInit) {
    this.fh = init.fh;
    this.path = init.path;
    this.seq = init.seq;
    this.offset = init.offset;
    this.stateBytes = init.stateBytes;
    this.lastIndex = init.lastIndex;
    this.frames = new FrameBuffer(init.crc);
  }

  /** Stages a record in the gathering batch (call {@link commit} after the call's records). */
  push(type: number, payload: Uint8Array | undefined): void {
    this.gathering.types.push(type);
    this.gathering.payloads.push(payload);
  }

  /** How many records are staged: a mark to {@link rollback} to when encoding a call's records fails. */
  mark(): number {
    return this.gathering.types.length;
  }

  /** Drops records staged after `mark`. */
  rollback(mark: number): void {
    this.gathering.types.length = mark;
    this.gathering.payloads.length = mark;
  }

  /**
   * Ends a call: its promise resolves once the records staged so far are written (and fdatasync'd when
   * `mustSync`, or when another call in the same batch needs it).
   */
  commit(mustSync: boolean, lastIndex: number | undefined): Promise<void> {
    if (this.failed !== undefined) return Promise.reject(this.failed);
    const batch = this.gathering;
    if (mustSync) batch.mustSync = true;
    if (lastIndex !== undefined) batch.lastIndex = lastIndex;
    const done = new Promise<void>((resolve, reject) => batch.waiters.push({ resolve, reject }));
    if (!this.flushing) {
      this.flushing = true;
      // A microtask later, so that calls made in the same tick share the write.
      queueMicrotask(() => void this.flushLoop());
    }
    return done;
  }

  /** Waits for everything staged, fdatasyncs unsynced bytes, and closes the files. */
  async close(): Promise<void> {
    await this.commit(false, undefined).catch(() => undefined);
    try {
      if (this.failed === undefined && this.dirty) await this.sync(this.fh);
    } finally {
      await this.init.pipeline.close();
      await this.fh.close();
    }
  }

  private async flushLoop(): Promise<void> {
    while (this.gathering.waiters.length > 0) {
      const batch = this.gathering;
      this.gathering = this.spare;
      this.spare = batch;
      try {
        await this.writeBatch(batch);
        for (const w of batch.waiters) w.resolve();
      } catch (err) {
        this.fail(err);
        for (const w of batch.waiters) w.reject(this.failed);
      }
      batch.clear();
      if (this.failed !== undefined) {
        for (const w of this.gathering.waiters) w.reject(this.failed);
        this.gathering.clear();
      }
    }
    this.flushing = false;
  }

  private async writeBatch(batch: Batch): Promise<void> {
    const fb = this.frames;
    fb.reset();
    const n = batch.types.length;
    for (let i = 0; i < n; i++) {
      const type = batch.types[i] as number;
      const payload = batch.payloads[i];
      fb.append(type, payload);
      if (type === RecordType.State) this.stateBytes = payload;
    }
    if (fb.length > 0) {
      await fileIo.writeAll(this.fh, fb.buf, fb.length, this.offset);
      this.offset += fb.length;
      this.dirty = true;
    }
    if (batch.lastIndex !== undefined) this.lastIndex = batch.lastIndex;
    if (this.offset >= this.init.segmentSizeBytes) await this.cut();
    else if (batch.mustSync) await this.sync(this.fh);
  }

  /**
   * Moves to a new segment: truncate the old tail at the last record and sync it; take the prepared file; write
   * Crc (the running value), Metadata and the last State into it and sync; rename it to its segment name and fsync
   * the directory. A crash at any step leaves either the old tail as the last segment or the new one complete.
   */
  private async cut(): Promise<void> {
    await fileIo.truncate(this.fh, this.offset);
    await this.sync(this.fh);
    const prepared = await this.init.pipeline.take();
    const head = new FrameBuffer(this.frames.crc);
    head.append(RecordType.Crc, undefined);
    head.append(RecordType.Metadata, this.init.metadata);
    if (this.stateBytes !== undefined) head.append(RecordType.State, this.stateBytes);
    await fileIo.writeAll(prepared.fh, head.buf, head.length, 0);
    await this.sync(prepared.fh);
    const path = join(this.init.dir, segmentFileName(this.seq + 1, this.lastIndex + 1));
    await rename(prepared.path, path);
    await fsyncDir(this.init.dir);
    const old = this.fh;
    this.fh = prepared.fh;
    this.path = path;
    this.seq += 1;
    this.offset = head.length;
    this.frames.crc = head.crc;
    this.dirty = false;
    await old.close();
  }

  private async sync(fh: FileHandle): Promise<void> {
    const start = performance.now();
    await fileIo.datasync(fh);
    const ms = performance.now() - start;
    if (fh === this.fh) this.dirty = false;
    this.init.onFsync?.(ms);
    if (ms > SLOW_FSYNC_MS) {
      this.init.logger?.warn({ file: this.path, ms: Math.round(ms) }, 'slow fdatasync');
    }
  }

  private fail(err: unknown): void {
    this.failed ??= new WalError(
      'ERR_WAL_FAILED',
      `a write, fdatasync or cut failed; the WAL accepts nothing more: ${err instanceof Error ? err.message : String(err)}`,
      { file: this.path, offset: this.offset, cause: err },
    );
  }
}
