import { RaftError } from '../errors.js';
import type { Clock, ClockTimer } from './clock.js';

interface Waiter<K, T> {
  key: K;
  resolve(value: T): void;
  reject(err: Error): void;
  /** Clock time after which it rejects with ERR_TIMEOUT (whole milliseconds: a small integer is stored unboxed). */
  deadline: number;
  timeoutMs: number;
  settled: boolean;
}

/**
 * Waiters of one timeout length, oldest first. Their deadlines are in insertion order, so one clock timer, armed
 * for the oldest unsettled one, serves them all (a proposal costs no timer of its own). Settled waiters are
 * dropped from the front as they settle, which (proposals apply in order) keeps the queue short.
 */
class DeadlineQueue<K, T> {
  private items: Waiter<K, T>[] = [];
  private head = 0;
  private timer: ClockTimer | undefined;
  /** The deadline `timer` is armed for. */
  private armedFor = Infinity;

  constructor(
    private readonly clock: Clock,
    private readonly expire: (w: Waiter<K, T>) => void,
  ) {}

  push(w: Waiter<K, T>): void {
    this.items.push(w);
    if (this.timer === undefined) this.arm();
  }

  /** Drops settled waiters from the front (call after one settles). */
  trim(): void {
    while (this.head < this.items.length && this.items[this.head]!.settled) this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
      if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
      this.timer = undefined;
      this.armedFor = Infinity;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  private arm(): void {
    const first = this.items[this.head];
    if (first === undefined) return;
    this.armedFor = first.deadline;
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, first.deadline - this.clock.now()));
  }

  private fire(): void {
    this.timer = undefined;
    const now = this.clock.now();
    // A timer may fire a little before its deadline by the clock's rounding: expire what is due by then.
    const due = Math.max(now, this.armedFor);
    while (this.head < this.items.length) {
      const w = this.items[this.head]!;
      if (!w.settled) {
        if (w.deadline > due) break;
        this.expire(w);
      }
      this.head++;
    }
    this.trim();
    if (this.timer === undefined) this.arm();
  }
}

/** Promises keyed by id, each with a timeout whose rejection means "outcome unknown". */
export class Waiters<K, T> {
  private readonly pending = new Map<K, Waiter<K, T>>();
  /** One deadline queue per timeout length (nearly every call uses the node's default). */
  private readonly queues = new Map<number, DeadlineQueue<K, T>>();

  /** `what` names the requests in errors ("proposal", "read"). */
  constructor(
    private readonly clock: Clock,
    private readonly what: string,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /** A promise settled by {@link resolve} / {@link reject}, or rejected with ERR_TIMEOUT after `timeoutMs`. */
  wait(key: K, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const w: Waiter<K, T> = {
        key,
        resolve,
        reject,
        deadline: Math.ceil(this.clock.now() + timeoutMs),
        timeoutMs,
        settled: false,
      };
      this.settle(key)?.reject(
        new RaftError('ERR_STOPPED', `${this.what}: replaced by a request with the same id`),
      );
      this.pending.set(key, w);
      if (Number.isFinite(timeoutMs)) this.queue(timeoutMs).push(w);
    });
  }

  has(key: K): boolean {
    return this.pending.has(key);
  }

  resolve(key: K, value: T): boolean {
    const w = this.settle(key);
    if (w === undefined) return false;
    w.resolve(value);
    return true;
  }

  reject(key: K, err: Error): void {
    this.settle(key)?.reject(err);
  }

  /** Rejects every pending promise with `err`. */
  rejectAll(err: Error): void {
    for (const key of [...this.pending.keys()]) this.reject(key, err);
  }

  /** Visits pending keys; `fn` may resolve or reject the visited one. */
  forEachKey(fn: (key: K) => void): void {
    for (const key of [...this.pending.keys()]) fn(key);
  }

  private settle(key: K): Waiter<K, T> | undefined {
    const w = this.pending.get(key);
    if (w === undefined) return undefined;
    this.pending.delete(key);
    w.settled = true;
    if (Number.isFinite(w.timeoutMs)) this.queues.get(w.timeoutMs)?.trim();
    return w;
  }

  private queue(timeoutMs: number): DeadlineQueue<K, T> {
    let q = this.queues.get(timeoutMs);
    if (q === undefined) {
      q = new DeadlineQueue<K, T>(this.clock, (w) => {
        if (this.pending.get(w.key) === w) this.pending.delete(w.key);
        w.settled = true;
        w.reject(
          new RaftError(
            'ERR_TIMEOUT',
            `${this.what} timed out after ${w.timeoutMs} ms; its outcome is unknown`,
          ),
        );
      });
      this.queues.set(timeoutMs, q);
    }
    return q;
  }
}
