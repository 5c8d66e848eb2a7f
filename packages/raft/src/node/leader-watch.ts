import { RaftError } from '../errors.js';
import type { Clock, ClockTimer } from './clock.js';

/** A known leader and the term it leads in. */
export interface LeaderInfo {
  leader: number;
  term: number;
}

interface LeaderWaiter {
  resolve(info: LeaderInfo): void;
  reject(err: Error): void;
  timer: ClockTimer | undefined;
}

/** Promises waiting for this node to know a leader; settled by {@link LeaderWatch.elected} or their timeout. */
export class LeaderWatch {
  private readonly waiting = new Set<LeaderWaiter>();

  constructor(private readonly clock: Clock) {}

  /**
   * Resolves at the next {@link elected}, or rejects with `ERR_NO_LEADER` after `timeoutMs` (retryable: waiting
   * changes nothing). The caller resolves at once when it already knows a leader.
   */
  wait(timeoutMs: number): Promise<LeaderInfo> {
    return new Promise<LeaderInfo>((resolve, reject) => {
      const w: LeaderWaiter = { resolve, reject, timer: undefined };
      if (Number.isFinite(timeoutMs)) {
        w.timer = this.clock.setTimeout(() => {
          this.waiting.delete(w);
          reject(new RaftError('ERR_NO_LEADER', `no leader known after waiting ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.waiting.add(w);
    });
  }

  /**
   * Runs `request` with the time left of `timeoutMs` once a leader is known: at once when `leader` is not 0, else
   * after waiting up to `waitMs` for one. Rejects with `noLeader()` when `waitMs` is 0, with ERR_NO_LEADER when the
   * wait times out, and with `stopped()` if the node stopped meanwhile.
   */
  whenLeader<T>(
    leader: number,
    waitMs: number,
    r: {
      timeoutMs: number;
      request: (timeLeftMs: number) => Promise<T>;
      stopped: () => Error | undefined;
      noLeader: () => Error;
    },
  ): Promise<T> {
    if (leader !== 0) return r.request(r.timeoutMs);
    if (waitMs <= 0) return Promise.reject(r.noLeader());
    const began = this.clock.now();
    return this.wait(waitMs).then(() => {
      const stopped = r.stopped();
      if (stopped !== undefined) throw stopped;
      return r.request(Math.max(0, r.timeoutMs - (this.clock.now() - began)));
    });
  }

  /** A leader is known now: resolves every waiter. */
  elected(info: LeaderInfo): void {
    for (const w of this.settleAll()) w.resolve(info);
  }

  rejectAll(err: Error): void {
    for (const w of this.settleAll()) w.reject(err);
  }

  private settleAll(): LeaderWaiter[] {
    const all = [...this.waiting];
    this.waiting.clear();
    for (const w of all) if (w.timer !== undefined) this.clock.clearTimeout(w.timer);
    return all;
  }
}
