import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { fileIo } from '../fs/file-io.js';

/**
 * How a prepared segment file starts: `zero-filled` to the segment size and fdatasync'd (appends overwrite
 * allocated space: no size metadata to flush per fdatasync), or `empty` (appends grow it: cheaper when writes are
 * large, since the fill would write every byte twice).
 */
export type PreparedKind = 'zero-filled' | 'empty';

/** A prepared segment file, open for writing. */
export interface PreparedFile {
  path: string;
  fh: FileHandle;
}

/**
 * Prepares the next segment in the background, so that a cut never waits for allocation. A zero-filled file lets
 * appends overwrite space already allocated (no file growth, so fdatasync has no size metadata to flush). Node has
 * no fallocate (and here, small writes into fallocated or grown space measured slower than into zero-filled
 * space): the file is filled with zeros in one writev and fdatasync'd. The writer starts it once the tail segment
 * is a quarter full, so that the fill's disk traffic does not land right after a cut, with the new segment's
 * first syncs, and chooses the kind (see `preallocate`). Files are `0.tmp` and `1.tmp` alternately (as etcd),
 * which readers ignore.
 */
export class SegmentPipeline {
  private next: Promise<PreparedFile> | undefined;
  private count = 0;
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly size: number,
  ) {}

  /** Starts preparing the next file, unless one is prepared or under way. */
  start(kind: PreparedKind): void {
    if (this.next === undefined && !this.closed) this.next = this.prepare(kind);
  }

  /**
   * The prepared file (waiting for the one under way, or preparing one of `kind` now if none was started); the
   * next one waits for {@link start}.
   */
  async take(kind: PreparedKind): Promise<PreparedFile> {
    const current = this.next ?? this.prepare(kind);
    this.next = undefined;
    return current;
  }

  /** Stops: the file being prepared is closed and deleted. */
  async close(): Promise<void> {
    this.closed = true;
    const pending = this.next;
    this.next = undefined;
    if (pending === undefined) return;
    try {
      const { path, fh } = await pending;
      await fh.close();
      await fileIo.unlink(path);
    } catch {
      // a failed preparation left nothing worth keeping
    }
  }

  private prepare(kind: PreparedKind): Promise<PreparedFile> {
    const path = join(this.dir, `${this.count++ % 2}.tmp`);
    const p = (async () => {
      const fh = await fileIo.open(path, 'w+');
      try {
        if (kind === 'zero-filled') {
          await fileIo.writeZeros(fh, 0, this.size);
          await fileIo.datasync(fh);
        }
        return { path, fh };
      } catch (err) {
        await fh.close().catch(() => undefined);
        throw err;
      }
    })();
    // The failure is reported by take(); do not let it surface as an unhandled rejection meanwhile.
    p.catch(() => undefined);
    return p;
  }
}
