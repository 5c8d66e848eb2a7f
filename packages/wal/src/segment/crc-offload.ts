import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { WalError, type WalErrorCode } from '../errors.js';
import type { SegmentName } from './names.js';
import type { ScannedRecord, SegmentScanner } from './scan.js';

/**
 * Where a read checks the CRC chain of the segments before the last one: `'auto'` on a worker thread when there
 * are at least two of them, `'always'` on a worker whenever there is one (an error if the worker cannot start),
 * `'never'` on the main thread.
 */
export type CrcOffloadMode = 'auto' | 'always' | 'never';

/** A segment for the worker to check: its bytes are shared (a SharedArrayBuffer), not copied. */
export interface CrcTask {
  i: number;
  segment: SegmentName;
  bytes: Uint8Array;
}

/** What the worker found in one segment (posted in segment order; nothing after a failure). */
export type CrcCheck =
  | { i: number; kind: 'ok'; crc: number }
  | {
      i: number;
      kind: 'error';
      code: WalErrorCode;
      reason: string;
      file: string | undefined;
      offset: number | undefined;
    };

const WORKER_URL = new URL('./crc-worker.js', import.meta.url);
/** Under `'auto'`: starting a worker costs ~30 ms; the CRCs of one full 64 MB segment cost 40-90 ms. */
const AUTO_MIN_FULL_SEGMENTS = 2;
/** The main thread scans at most this many segments past the last one the worker has answered for. */
const MAX_AHEAD = 2;

/**
 * A replay whose full segments (all but the last) have their CRC chain checked on a worker thread while the main
 * thread checks their frames and decodes their records; they are read into SharedArrayBuffers that both threads
 * read. The last segment is scanned in full on the main thread once the chain up to it is known.
 *
 * The error thrown is the one a sequential scan throws: the first in file order, and at one record a CRC mismatch
 * before whatever its decoding found. If the worker dies, the main thread checks the rest itself.
 */
export class CrcOffload {
  private readonly results = new Map<number, CrcCheck>();
  private wake: (() => void) | undefined;
  /** Why the worker stopped early, once it did. */
  private gone: string | undefined;
  /** The running CRC at the end of segment `settled - 1`. */
  private crc = 0;
  /** Segments `[0, settled)` have had their CRCs checked. */
  private settled = 0;
  /** Bytes of segments scanned but not yet settled. */
  private readonly buffers = new Map<number, Uint8Array>();
  /** Set once the worker is no longer used: the main thread checks CRCs from then on. */
  private inline = false;

  private constructor(
    private readonly segments: readonly SegmentName[],
    private readonly worker: Worker,
  ) {
    worker.on('message', (r: CrcCheck) => {
      this.results.set(r.i, r);
      this.wake?.();
    });
    worker.on('error', (err) => {
      this.gone ??= `CRC worker failed: ${err.message}`;
      this.wake?.();
    });
    worker.on('exit', () => {
      this.gone ??= 'CRC worker exited';
      this.wake?.();
    });
  }

  /** A worker for `segments` (all but the last are checked by it), or undefined when `mode` says not to use one. */
  static start(segments: readonly SegmentName[], mode: CrcOffloadMode): CrcOffload | undefined {
    const full = segments.length - 1;
    if (mode === 'never' || full < 1 || (mode === 'auto' && full < AUTO_MIN_FULL_SEGMENTS)) return undefined;
    // Run from TypeScript sources (a test runner) there is no built worker script: 'auto' checks inline.
    const available = existsSync(fileURLToPath(WORKER_URL));
    try {
      if (!available) throw new Error(`no worker script at ${WORKER_URL.href}`);
      return new CrcOffload(segments, new Worker(WORKER_URL));
    } catch (err) {
      if (mode === 'auto') return undefined;
      throw new WalError('ERR_WAL_INVALID_ARGUMENT', "crcWorker 'always': the CRC worker did not start", {
        cause: err,
      });
    }
  }

  /** Scans every segment with `sc`, reading them with `reads` (see the class comment). */
  async scan(
    sc: SegmentScanner,
    reads: (i: number) => Promise<Uint8Array>,
    visit: (rec: ScannedRecord) => void,
  ): Promise<void> {
    const last = this.segments.length - 1;
    const handOut = async (i: number): Promise<Uint8Array> => {
      const bytes = await reads(i);
      if (i < last && !this.inline) {
        const task: CrcTask = { i, segment: this.segments[i] as SegmentName, bytes };
        this.worker.postMessage(task);
      }
      return bytes;
    };
    for (let i = 0; i < last; i++) {
      if (i >= MAX_AHEAD) await this.settleThrough(sc, i - MAX_AHEAD);
      if (this.inline) await this.settleThrough(sc, i - 1);
      const inline = this.inline;
      if (inline) sc.crc = this.crc;
      let buf: Uint8Array;
      try {
        buf = await sc.scanSegment(i, handOut, visit, inline);
      } catch (err) {
        throw inline ? err : await this.earliest(sc, i, err);
      }
      if (inline) {
        this.crc = sc.crc;
        this.settled = i + 1;
      } else {
        this.buffers.set(i, buf);
      }
    }
    await this.settleThrough(sc, last - 1);
    sc.crc = this.crc;
    await sc.scanSegment(last, reads, visit, true);
  }

  /** Ends the worker (whether or not it finished). */
  stop(): void {
    this.worker.terminate().catch(() => undefined);
  }

  /** Checks the CRCs of segments up to `k`, in order; throws the first error found. */
  private async settleThrough(sc: SegmentScanner, k: number): Promise<void> {
    while (this.settled <= k) {
      const j = this.settled;
      const r = this.inline ? undefined : await this.resultOf(j);
      if (r?.kind === 'error') throw rebuild(r);
      if (r?.kind === 'ok') {
        this.crc = r.crc;
      } else {
        this.inline = true;
        this.stop();
        this.crc = this.verifyInline(sc, j, this.buffers.get(j) as Uint8Array);
      }
      this.buffers.delete(j);
      this.settled = j + 1;
    }
  }

  /**
   * The error a sequential scan would have thrown, given that the main thread's scan of segment `i` (CRCs not
   * checked) threw `err`: an earlier segment's CRC error, one in segment `i` at or before `err`'s record, or `err`.
   */
  private async earliest(sc: SegmentScanner, i: number, err: unknown): Promise<unknown> {
    await this.settleThrough(sc, i - 1);
    const buf = sc.lastRead;
    // Not read at all (the file is gone): nothing of segment i was checked, so the read error comes first.
    if (buf === undefined) return err;
    const at = err instanceof WalError && err.offset !== undefined ? err.offset : Number.MAX_SAFE_INTEGER;
    let found: WalError | undefined;
    const r = this.inline ? undefined : await this.resultOf(i);
    if (r?.kind === 'error') found = rebuild(r);
    else if (r === undefined) {
      try {
        this.verifyInline(sc, i, buf);
      } catch (inlineErr) {
        if (inlineErr instanceof WalError) found = inlineErr;
        else throw inlineErr;
      }
    }
    return found !== undefined && (found.offset ?? 0) <= at ? found : err;
  }

  /** Checks segment `j`'s CRCs on the main thread from the chain so far; returns the CRC at its end. */
  private verifyInline(sc: SegmentScanner, j: number, buf: Uint8Array): number {
    const saved = { crc: sc.crc, segment: sc.segment, file: sc.file };
    sc.crc = this.crc;
    try {
      sc.verifyFile(this.segments[j] as SegmentName, buf);
      return sc.crc;
    } finally {
      sc.segment = saved.segment;
      sc.file = saved.file;
      sc.crc = saved.crc;
    }
  }

  /** The worker's result for segment `i`, or undefined once it stopped without one. */
  private async resultOf(i: number): Promise<CrcCheck | undefined> {
    for (;;) {
      const r = this.results.get(i);
      if (r !== undefined) {
        this.results.delete(i);
        return r;
      }
      if (this.gone !== undefined) return undefined;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}

function rebuild(r: Extract<CrcCheck, { kind: 'error' }>): WalError {
  return new WalError(r.code, r.reason, {
    ...(r.file !== undefined ? { file: r.file } : {}),
    ...(r.offset !== undefined ? { offset: r.offset } : {}),
  });
}
