import type { Clock } from './clock.js';
import { Waiters } from './waiters.js';

/** A read barrier's outcome: the index that was current when the read was confirmed. */
export interface ReadBarrier {
  index: number;
}

/**
 * Linearizable read requests in flight (ReadIndex): each waits for raft to confirm it (a ReadState with its context)
 * and then for the applied index to reach the confirmed index. Keyed by the request context.
 */
export class ReadBarriers {
  private readonly waiting: Waiters<string, ReadBarrier>;
  /** Reads confirmed by raft at `index`, waiting for `applied` to reach it. */
  private confirmed: { key: string; index: number }[] = [];

  constructor(clock: Clock) {
    this.waiting = new Waiters(clock, 'read');
  }

  static key(ctx: Uint8Array): string {
    return Buffer.from(ctx.buffer, ctx.byteOffset, ctx.byteLength).toString('hex');
  }

  wait(ctx: Uint8Array, timeoutMs: number): Promise<ReadBarrier> {
    return this.waiting.wait(ReadBarriers.key(ctx), timeoutMs);
  }

  /** Raft confirmed the read with context `ctx` at `index` (the first confirmation counts; a resend may bring two). */
  confirm(ctx: Uint8Array, index: number): void {
    const key = ReadBarriers.key(ctx);
    if (this.waitsForConfirmation(key)) this.confirmed.push({ key, index });
  }

  /** Whether the read `ctx` still waits for raft's confirmation (not settled, not confirmed yet). */
  unconfirmed(ctx: Uint8Array): boolean {
    return this.waitsForConfirmation(ReadBarriers.key(ctx));
  }

  private waitsForConfirmation(key: string): boolean {
    return this.waiting.has(key) && !this.confirmed.some((r) => r.key === key);
  }

  /** Resolves every confirmed read whose index is applied. */
  serve(applied: number): void {
    if (this.confirmed.length === 0) return;
    const still: { key: string; index: number }[] = [];
    for (const r of this.confirmed) {
      if (r.index <= applied) this.waiting.resolve(r.key, { index: r.index });
      else still.push(r);
    }
    this.confirmed = still;
  }

  reject(ctx: Uint8Array, err: Error): void {
    this.waiting.reject(ReadBarriers.key(ctx), err);
  }

  rejectAll(err: Error): void {
    this.waiting.rejectAll(err);
    this.confirmed = [];
  }
}
