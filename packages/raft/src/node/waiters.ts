import { RaftError } from '../errors.js';
import type { Clock, ClockTimer } from './clock.js';

/**
 * What settles a waiting promise: its resolve function. A rejection is a resolve with a rejected promise, so each
 * waiter is one function in the store and nothing else. (Dropping the object per waiter, read again when its
 * proposal was applied, and reading the clock once per stretch raised the commit rate of three nodes with a slow
 * state machine by about 9% in one process, from 452,187 to 492,766 commits/s: BENCHMARKS.md.)
 */
type Settle<T> = (value: T | PromiseLike<T>) => void;

function rejected(err: Error): Promise<never> {
  const p = Promise.reject(err);
  p.catch(() => undefined); // the waiter's promise adopts it (and reports it if nobody handles that one)
  return p;
}

/**
 * The deadlines of waiters of one timeout length, oldest first, as parallel arrays of keys and deadlines (numbers
 * for proposals: no object per waiter, and nothing the garbage collector has to trace). Their deadlines are in
 * insertion order, so one clock timer, armed for the oldest entry, serves them all (a proposal costs no timer of its
 * own). An entry is live while its key still waits; entries whose waiter settled are dropped from the front every
 * 1,024 entries added and when the timer fires, not on every settle (which, per proposal, was a visible cost).
 *
 * Invariant: entries `head ..` are in insertion order with nondecreasing deadlines, and a waiting key has exactly
 * one entry (a key waited for again drops its old entry: see {@link drop}).
 */
class DeadlineQueue<K> {
  private keys: K[] = [];
  /** Clock time after which each rejects with ERR_TIMEOUT (whole milliseconds: small integers, stored unboxed). */
  private deadlines: number[] = [];
  private head = 0;
  private timer: ClockTimer | undefined;
  /** The deadline `timer` is armed for. */
  private armedFor = Infinity;

  constructor(
    private readonly clock: Clock,
    private readonly live: (key: K) => boolean,
    private readonly expire: (key: K) => void,
  ) {}

  push(key: K, deadline: number): void {
    this.keys.push(key);
    this.deadlines.push(deadline);
    if (this.timer === undefined) this.arm();
    else if (((this.keys.length - this.head) & 1023) === 0) this.trim();
  }

  /** Drops `key`'s entry (a rare, linear scan: only a key waited for again while waiting needs it). */
  drop(key: K): void {
    for (let i = this.head; i < this.keys.length; i++) {
      if (this.keys[i] !== key) continue;
      this.keys.splice(i, 1);
      this.deadlines.splice(i, 1);
      return;
    }
  }

  /** Entries held (live or not yet dropped). */
  get length(): number {
    return this.keys.length - this.head;
  }

  /** Drops every entry and the timer. */
  clear(): void {
    this.keys = [];
    this.deadlines = [];
    this.head = 0;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  /** Drops entries whose waiter settled from the front. */
  private trim(): void {
    while (this.head < this.keys.length && !this.live(this.keys[this.head]!)) this.head++;
    if (this.head === this.keys.length) {
      this.clear();
    } else if (this.head > 1024 && this.head * 2 > this.keys.length) {
      this.keys = this.keys.slice(this.head);
      this.deadlines = this.deadlines.slice(this.head);
      this.head = 0;
    }
  }

  private arm(): void {
    const deadline = this.deadlines[this.head];
    if (deadline === undefined) return;
    this.armedFor = deadline;
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, deadline - this.clock.now()));
  }

  private fire(): void {
    this.timer = undefined;
    const now = this.clock.now();
    // A timer may fire a little before its deadline by the clock's rounding: expire what is due by then.
    const due = Math.max(now, this.armedFor);
    while (this.head < this.keys.length) {
      const key = this.keys[this.head]!;
      if (this.live(key)) {
        if (this.deadlines[this.head]! > due) break;
        this.expire(key);
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

/**
 * Promises keyed by id, each with a timeout whose rejection means "outcome unknown".
 *
 * Contract: a key is waited for once (proposal sequence numbers, read contexts: unique per node run), or again only
 * while it still waits (the old promise is then rejected and its deadline dropped). A key waited for again after it
 * settled could meet its old deadline entry, not yet trimmed, and time out early.
 */
export class Waiters<K, T> {
  /** One deadline queue per timeout length (nearly every call uses the node's default). */
  private readonly queues = new Map<number, DeadlineQueue<K>>();

  /** `what` names the requests in errors ("proposal", "read"). */
  constructor(
    private readonly clock: Clock,
    private readonly what: string,
    private readonly pending: WaiterStore<K, Settle<T>> = new Map<K, Settle<T>>(),
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /** A promise settled by {@link resolve} / {@link reject}, or rejected with ERR_TIMEOUT after `timeoutMs`. */
  wait(key: K, timeoutMs: number): Promise<T> {
    // One executor for every call (it hands the resolve function over in a field): a closure per call costs a
    // closure and a context object per proposal.
    const promise = new Promise<T>(this.capture);
    const settle = this.captured;
    if (this.pending.has(key)) {
      for (const q of this.queues.values()) q.drop(key);
      this.reject(key, new RaftError('ERR_STOPPED', `${this.what}: replaced by a request with the same id`));
    }
    this.pending.set(key, settle);
    if (Number.isFinite(timeoutMs)) this.queue(timeoutMs).push(key, Math.ceil(this.turnStart() + timeoutMs));
    return promise;
  }

  /**
   * The clock's time when the first request of this synchronous stretch of code was made: read once and reused
   * until the next microtask checkpoint. A clock read per proposal was about 5% of the runtime's cost per commit
   * (three nodes in one process, 1,024 in flight); a timeout then counts from the start of the stretch its request
   * was made in, at most that stretch's length early (its timer cannot fire inside the stretch anyway).
   */
  private turnStart(): number {
    if (this.now === undefined) {
      this.now = this.clock.now();
      queueMicrotask(this.forgetNow);
    }
    return this.now;
  }
  private now: number | undefined;
  private readonly forgetNow = (): void => {
    this.now = undefined;
  };

  /** The resolve function of the promise {@link wait} made last (set by `capture`, which runs synchronously). */
  private captured: Settle<T> = () => undefined;
  private readonly capture = (resolve: Settle<T>): void => {
    this.captured = resolve;
  };

  has(key: K): boolean {
    return this.pending.has(key);
  }

  resolve(key: K, value: T): boolean {
    const settle = this.take(key);
    if (settle === undefined) return false;
    settle(value);
    return true;
  }

  reject(key: K, err: Error): void {
    this.take(key)?.(rejected(err));
  }

  /** Rejects every pending promise with `err` (and drops the deadline timers: nothing waits any more). */
  rejectAll(err: Error): void {
    for (const key of [...this.pending.keys()]) this.reject(key, err);
    for (const q of this.queues.values()) q.clear();
  }

  /** Entries held by the deadline queues (for tests: they stay short while waiters settle oldest first). */
  get queued(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  private take(key: K): Settle<T> | undefined {
    const settle = this.pending.get(key);
    if (settle === undefined) return undefined;
    this.pending.delete(key);
    return settle;
  }

  private readonly live = (key: K): boolean => this.pending.has(key);

  private queue(timeoutMs: number): DeadlineQueue<K> {
    let q = this.queues.get(timeoutMs);
    if (q === undefined) {
      q = new DeadlineQueue<K>(this.clock, this.live, (key) =>
        this.reject(
          key,
          new RaftError(
            'ERR_TIMEOUT',
            `${this.what} timed out after ${timeoutMs} ms; its outcome is unknown`,
          ),
        ),
      );
      this.queues.set(timeoutMs, q);
    }
    return q;
  }
}
