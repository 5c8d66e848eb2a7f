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

/** What {@link Waiters} keeps its pending promises in: a `Map`, or a {@link SequenceMap} for increasing ids. */
export interface WaiterStore<K, V> {
  readonly size: number;
  get(key: K): V | undefined;
  set(key: K, value: V): void;
  has(key: K): boolean;
  delete(key: K): void;
  keys(): Iterable<K>;
}

/**
 * A map for keys issued as increasing integers and mostly removed oldest first (proposal sequence numbers): values
 * sit in an array at `key - base`, so a lookup is an index, not a hash, and growing it rehashes nothing. With
 * hundreds of thousands of proposals waiting (a slow state machine, a raised `maxApplyBacklog`) a `Map`'s
 * rehashing and cache misses were the largest cost of `propose`. A key outside the window (after a wrap at 2^32,
 * or far ahead of the oldest one still waiting) goes to a plain `Map`.
 */
/** The most empty slots a new key may open after the last one; a key further ahead goes to the plain map. */
const MAX_GAP = 65_536;

export class SequenceMap<V> implements WaiterStore<number, V> {
  /** `slots[i]` holds the value of key `base + i` (undefined: absent); slots before `head` are all empty. */
  private slots: (V | undefined)[] = [];
  private head = 0;
  private base = 0;
  private count = 0;
  private readonly others = new Map<number, V>();

  get size(): number {
    return this.count + this.others.size;
  }

  private slot(key: number): number {
    return key - this.base;
  }

  get(key: number): V | undefined {
    const i = this.slot(key);
    const v = i >= this.head && i < this.slots.length ? this.slots[i] : undefined;
    if (v !== undefined || this.others.size === 0) return v;
    return this.others.get(key);
  }

  has(key: number): boolean {
    return this.get(key) !== undefined;
  }

  set(key: number, value: V): void {
    if (this.others.size > 0 && this.others.has(key)) {
      // Invariant: a key is in one place only.
      this.others.set(key, value);
      return;
    }
    if (this.count === 0) {
      // Empty: the window starts again at this key.
      this.slots = [];
      this.head = 0;
      this.base = key;
    }
    const i = this.slot(key);
    if (i >= this.head && i < this.slots.length) {
      if (this.slots[i] === undefined) this.count++;
      this.slots[i] = value;
    } else if (i >= this.slots.length && i - this.slots.length < MAX_GAP) {
      // Keys skipped (issued to another store: proposals and conf changes share one sequence) stay empty slots.
      while (this.slots.length < i) this.slots.push(undefined);
      this.slots.push(value);
      this.count++;
    } else {
      this.others.set(key, value);
    }
  }

  delete(key: number): void {
    const i = this.slot(key);
    if (i >= this.head && i < this.slots.length && this.slots[i] !== undefined) {
      this.slots[i] = undefined;
      this.count--;
      while (this.head < this.slots.length && this.slots[this.head] === undefined) this.head++;
      if (this.head > 1024 && this.head * 2 > this.slots.length) {
        this.slots = this.slots.slice(this.head);
        this.base += this.head;
        this.head = 0;
      }
      return;
    }
    this.others.delete(key);
  }

  *keys(): Iterable<number> {
    for (let i = this.head; i < this.slots.length; i++) if (this.slots[i] !== undefined) yield this.base + i;
    yield* this.others.keys();
  }
}

/** Promises keyed by id, each with a timeout whose rejection means "outcome unknown". */
export class Waiters<K, T> {
  /** One deadline queue per timeout length (nearly every call uses the node's default). */
  private readonly queues = new Map<number, DeadlineQueue<K, T>>();

  /** `what` names the requests in errors ("proposal", "read"). */
  constructor(
    private readonly clock: Clock,
    private readonly what: string,
    private readonly pending: WaiterStore<K, Waiter<K, T>> = new Map<K, Waiter<K, T>>(),
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /** A promise settled by {@link resolve} / {@link reject}, or rejected with ERR_TIMEOUT after `timeoutMs`. */
  wait(key: K, timeoutMs: number): Promise<T> {
    // One executor for every call (it hands the settle functions over in two fields): a closure per call costs a
    // closure and a context object per proposal.
    const promise = new Promise<T>(this.capture);
    const w: Waiter<K, T> = {
      key,
      resolve: this.captured.resolve,
      reject: this.captured.reject,
      deadline: Math.ceil(this.clock.now() + timeoutMs),
      timeoutMs,
      settled: false,
    };
    this.settle(key)?.reject(
      new RaftError('ERR_STOPPED', `${this.what}: replaced by a request with the same id`),
    );
    this.pending.set(key, w);
    if (Number.isFinite(timeoutMs)) this.queue(timeoutMs).push(w);
    return promise;
  }

  /** The settle functions of the promise {@link wait} made last (set by `capture`, which runs synchronously). */
  private readonly captured: { resolve: (value: T) => void; reject: (err: Error) => void } = {
    resolve: () => undefined,
    reject: () => undefined,
  };
  private readonly capture = (resolve: (value: T) => void, reject: (err: Error) => void): void => {
    this.captured.resolve = resolve;
    this.captured.reject = reject;
  };

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
