import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { WalError } from '../errors.js';
import { RecordType } from '../record/record-type.js';
import { fileIo } from '../fs/file-io.js';
import { segmentFileName } from '../segment/names.js';
import { SegmentPipeline, type PreparedKind } from '../segment/pipeline.js';
import type { Codec } from '../codec/types.js';
import { FrameBuffer, type FrameMark } from './frame-buffer.js';
import { SLOW_FSYNC_MS, type ResolvedOptions } from './options.js';

const noop = (): void => undefined;

/** Records gathered for one write, already framed; reused from batch to batch. */
class Batch {
  readonly frames = new FrameBuffer(0);
  /**
   * The promise all calls in the batch share, made by the first one (so a batch has calls exactly when it is set);
   * it settles when the batch is durable, or failed.
   */
  done: Promise<void> | undefined;
  resolve: () => void = noop;
  reject: (err: unknown) => void = noop;
  /** Whether any call in the batch needs fdatasync before it resolves. */
  mustSync = false;
  /** The log's last index after this batch, when a call in it changed it. */
  lastIndex: number | undefined;

  clear(): void {
    this.frames.reset();
    this.done = undefined;
    this.resolve = noop;
    this.reject = noop;
    this.mustSync = false;
    this.lastIndex = undefined;
  }
}

/**
 * Under `preallocate: 'auto'`, a segment whose writes averaged at least this many bytes per fdatasync is followed
 * by one that grows instead of being zero-filled. Measured on this project's 2-core VM disk: at 4-10 KiB per
 * write+fdatasync, zero-filled space took 180-270 µs per sync (the fill's cost included) and a growing file
 * 260-410 µs; at 100 KiB, 720-880 µs against 640-670 µs; at 1 MiB, 5.2-5.6 ms against 3.1-4.5 ms (the fill writes
 * every byte twice, and that dominates once the per-sync metadata cost of growth is spread over large writes).
 */
const GROW_FROM_BYTES_PER_SYNC = 64 * 1024;

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
  /** The options the writer follows (the codecs are the caller's business). */
  options: WriterOptions;
}

/** The options of a WAL that its writer follows. */
export type WriterOptions = Pick<
  ResolvedOptions<unknown, unknown, unknown>,
  'segmentSizeBytes' | 'logger' | 'onFsync' | 'syncMode' | 'preallocate'
>;

/**
 * The write path: group commit into the tail segment, and cuts.
 *
 * Calls frame their records in call order straight into the gathering batch's buffer (the CRC chain runs on as
 * they are appended). One flush runs at a time: it takes the whole gathering batch, writes it with one positional
 * write and, if any call needs it, one fdatasync (on the thread pool, or inline on the main thread with
 * `syncMode: 'inline'`); then it settles the batch's one promise, which all its calls share (one allocation and
 * one resolution per batch, not per call: at 64 concurrent writers that was a fifth of the per-call cost). While a
 * flush is in flight the next batch gathers. A batch that fills the segment is followed by a cut; the new segment's head records are framed when the
 * batch is taken, so that the records gathering meanwhile chain on from them.
 * A failed write, fdatasync or cut fails the writer for good: every pending and later call rejects with
 * ERR_WAL_FAILED and fdatasync is never retried (after a failed fsync the page cache may lie).
 */
export class SegmentWriter {
  /** Set once a write, fsync or cut failed. */
  failed: WalError | undefined;
  private gathering = new Batch();
  private spare = new Batch();
  private flushing = false;
  /** Bytes written since the last fdatasync (a commit-only state). */
  private dirty = false;
  private fh: FileHandle;
  private path: string;
  private seq: number;
  private offset: number;
  /** The last State record's data staged (written again at the head of each new segment). */
  private stateBytes: Uint8Array | undefined;
  private lastIndex: number;
  private readonly inline: boolean;
  private marked: FrameMark = { length: 0, crc: 0 };
  private markedState: Uint8Array | undefined;
  /** Bytes written and fdatasyncs run in the tail segment since it was cut or opened (for `preallocate: 'auto'`). */
  private segmentBytes = 0;
  private segmentSyncs = 0;

  private readonly options: WriterOptions;
  /** Prepares the next segment in the background. */
  private readonly pipeline: SegmentPipeline;

  constructor(private readonly init: WriterInit) {
    this.options = init.options;
    this.pipeline = new SegmentPipeline(init.dir, init.options.segmentSizeBytes);
    this.fh = init.fh;
    this.path = init.path;
    this.seq = init.seq;
    this.offset = init.offset;
    this.stateBytes = init.stateBytes;
    this.lastIndex = init.lastIndex;
    this.inline = init.options.syncMode === 'inline';
    this.gathering.frames.crc = init.crc;
    this.maybePrepareNext();
  }

  /**
   * Frames a record holding `codec`'s encoding of `value` into the gathering batch (call {@link commit} after the
   * call's records). Throws ERR_WAL_CODEC when the codec fails; {@link rollback} to a {@link mark} then.
   */
  append<T>(type: number, codec: Codec<T>, value: T, what: string): void {
    const frames = this.gathering.frames;
    frames.appendValue(type, codec, value, what);
    if (type === RecordType.State) this.stateBytes = frames.buf.slice(frames.dataStart, frames.dataEnd);
  }

  /**
   * Marks where the gathering batch stands, to {@link rollback} to when encoding a call's records fails. One mark
   * at a time: a call marks, appends and commits (or rolls back) synchronously.
   */
  mark(): void {
    this.marked = this.gathering.frames.mark();
    this.markedState = this.stateBytes;
  }

  /** Drops records framed after the {@link mark}. */
  rollback(): void {
    this.gathering.frames.rollback(this.marked);
    this.stateBytes = this.markedState;
  }

  /**
   * Ends a call: its promise resolves once the records framed so far are written (and fdatasync'd when
   * `mustSync`, or when another call in the same batch needs it).
   */
  commit(mustSync: boolean, lastIndex: number | undefined): Promise<void> {
    if (this.failed !== undefined) return Promise.reject(this.failed);
    const batch = this.gathering;
    if (mustSync) batch.mustSync = true;
    if (lastIndex !== undefined) batch.lastIndex = lastIndex;
    const done = (batch.done ??= new Promise<void>((resolve, reject) => {
      batch.resolve = resolve;
      batch.reject = reject;
    }));
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
      await this.pipeline.close();
      await this.fh.close();
    }
  }

  private async flushLoop(): Promise<void> {
    while (this.gathering.done !== undefined) {
      const batch = this.gathering;
      this.gathering = this.spare;
      this.spare = batch;
      try {
        await this.writeBatch(batch);
        batch.resolve();
      } catch (err) {
        this.fail(err);
        batch.reject(this.failed);
      }
      batch.clear();
      if (this.failed !== undefined) {
        this.gathering.reject(this.failed);
        this.gathering.clear();
      }
    }
    this.flushing = false;
  }

  private async writeBatch(batch: Batch): Promise<void> {
    const fb = batch.frames;
    const cuts = this.offset + fb.length >= this.options.segmentSizeBytes;
    // Before any await: what gathers from now on chains on from this batch, or from the new segment's head.
    const head = cuts ? this.segmentHead(fb.crc) : undefined;
    this.gathering.frames.crc = head?.crc ?? fb.crc;
    if (batch.lastIndex !== undefined) this.lastIndex = batch.lastIndex;
    if (fb.length > 0) {
      fileIo.writeAll(this.fh, fb.buf, 0, fb.length, this.offset);
      this.offset += fb.length;
      this.segmentBytes += fb.length;
      this.dirty = true;
      this.maybePrepareNext();
    }
    if (head !== undefined) await this.cut(head);
    else if (batch.mustSync) await this.sync(this.fh);
  }

  /** The head records of the next segment: Crc (the running value `crc`), Metadata and the last State. */
  private segmentHead(crc: number): FrameBuffer {
    const head = new FrameBuffer(crc, false);
    head.append(RecordType.Crc, undefined);
    head.append(RecordType.Metadata, this.init.metadata);
    if (this.stateBytes !== undefined) head.append(RecordType.State, this.stateBytes);
    return head;
  }

  /**
   * Starts preparing the next segment once the tail is a quarter full (a no-op when one is under way): zero-filled,
   * or (`preallocate: 'auto'` after large writes, or `'none'`) empty, to grow.
   */
  private maybePrepareNext(): void {
    if (this.offset >= this.options.segmentSizeBytes / 4) this.pipeline.start(this.nextKind());
  }

  /** What the next segment starts as, by `preallocate` and (for `'auto'`) this segment's bytes per fdatasync. */
  private nextKind(): PreparedKind {
    const mode = this.options.preallocate;
    const grow =
      mode === 'none' ||
      (mode === 'auto' &&
        this.segmentSyncs > 0 &&
        this.segmentBytes / this.segmentSyncs >= GROW_FROM_BYTES_PER_SYNC);
    return grow ? 'empty' : 'zero-filled';
  }

  /**
   * Moves to a new segment: truncate the old tail at the last record and sync it; take the prepared file; write
   * the `head` records into it and sync; rename it to its segment name and fsync the directory. A crash at any
   * step leaves either the old tail as the last segment or the new one complete.
   */
  private async cut(head: FrameBuffer): Promise<void> {
    await fileIo.truncate(this.fh, this.offset);
    await this.sync(this.fh);
    const prepared = await this.pipeline.take(this.nextKind());
    fileIo.writeAll(prepared.fh, head.buf, 0, head.length, 0);
    await this.sync(prepared.fh);
    const path = join(this.init.dir, segmentFileName(this.seq + 1, this.lastIndex + 1));
    await fileIo.rename(prepared.path, path);
    await fileIo.fsyncDir(this.init.dir);
    const old = this.fh;
    this.fh = prepared.fh;
    this.path = path;
    this.seq += 1;
    this.offset = head.length;
    this.dirty = false;
    this.segmentBytes = 0;
    this.segmentSyncs = 0;
    await old.close();
  }

  private async sync(fh: FileHandle): Promise<void> {
    const start = performance.now();
    if (this.inline) fileIo.datasyncInline(fh);
    else await fileIo.datasync(fh);
    const ms = performance.now() - start;
    if (fh === this.fh) {
      this.dirty = false;
      this.segmentSyncs++;
    }
    this.options.onFsync?.(ms);
    if (ms > SLOW_FSYNC_MS) {
      this.options.logger?.warn({ file: this.path, ms: Math.round(ms) }, 'slow fdatasync');
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
