import { RaftError } from '../errors.js';

/** A known leader and the term it leads in. */
export interface LeaderInfo {
  leader: number;
  term: number;
}

interface LeaderWaiter {
  resolve(info: LeaderInfo): void;
  reject(err: Error): void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** Promises waiting for this node to know a leader; settled by {@link LeaderWatch.elected} or their timeout. */
export class LeaderWatch {
  private readonly waiting = new Set<LeaderWaiter>();

  /**
   * Resolves at the next {@link elected}, or rejects with `ERR_NO_LEADER` after `timeoutMs` (retryable: waiting
   * changes nothing). The caller resolves at once when it already knows a leader.
   */
  wait(timeoutMs: number): Promise<LeaderInfo> {
    return new Promise<LeaderInfo>((resolve, reject) => {
      const w: LeaderWaiter = { resolve, reject, timer: undefined };
      if (Number.isFinite(timeoutMs)) {
        w.timer = setTimeout(() => {
          this.waiting.delete(w);
          reject(new RaftError('ERR_NO_LEADER', `no leader known after waiting ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.waiting.add(w);
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
    for (const w of all) if (w.timer !== undefined) clearTimeout(w.timer);
    return all;
  }
}
