import { RaftError } from '../errors.js';
import type { Clock, ClockTimer } from './clock.js';

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: Error): void;
  timer: ClockTimer | undefined;
}

/** Promises keyed by id, each with a timeout whose rejection means "outcome unknown". */
export class Waiters<K, T> {
  private readonly pending = new Map<K, Waiter<T>>();

  constructor(private readonly clock: Clock) {}

  get size(): number {
    return this.pending.size;
  }

  /** A promise settled by {@link resolve} / {@link reject}, or rejected with ERR_TIMEOUT after `timeoutMs`. */
  wait(key: K, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const w: Waiter<T> = { resolve, reject, timer: undefined };
      if (Number.isFinite(timeoutMs)) {
        w.timer = this.clock.setTimeout(() => {
          this.pending.delete(key);
          reject(
            new RaftError('ERR_TIMEOUT', `${what} timed out after ${timeoutMs} ms; its outcome is unknown`),
          );
        }, timeoutMs);
      }
      this.pending.set(key, w);
    });
  }

  has(key: K): boolean {
    return this.pending.has(key);
  }

  resolve(key: K, value: T): boolean {
    const w = this.pending.get(key);
    if (w === undefined) return false;
    this.pending.delete(key);
    if (w.timer !== undefined) this.clock.clearTimeout(w.timer);
    w.resolve(value);
    return true;
  }

  reject(key: K, err: Error): void {
    const w = this.pending.get(key);
    if (w === undefined) return;
    this.pending.delete(key);
    if (w.timer !== undefined) this.clock.clearTimeout(w.timer);
    w.reject(err);
  }

  /** Rejects every pending promise with `err`. */
  rejectAll(err: Error): void {
    for (const key of [...this.pending.keys()]) this.reject(key, err);
  }

  /** Visits pending keys; `fn` may resolve or reject the visited one. */
  forEachKey(fn: (key: K) => void): void {
    for (const key of [...this.pending.keys()]) fn(key);
  }
}
