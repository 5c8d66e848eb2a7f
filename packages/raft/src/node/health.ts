import { RaftError } from '../errors.js';
import type { RaftNodeMetrics } from './metrics.js';

/** Thresholds of {@link RaftNode.health}; see {@link HealthOptions} defaults. */
export interface HealthOptions {
  /** Unhealthy after this many ticks without a known leader. Default: 3 election timeouts (3 × electionTick). */
  maxLeaderlessTicks?: number;
  /** Unhealthy while the apply backlog is at or above this fraction of `maxApplyBacklog`. Default 0.8. */
  maxApplyBacklogRatio?: number;
  /** Unhealthy while the last `storage.save` (write + fdatasync) took longer than this. Default 1,000 ms. */
  maxSaveMs?: number;
}

/** What {@link RaftNode.health} returns: `ok` is true exactly when `reasons` is empty. */
export interface RaftNodeHealth {
  ok: boolean;
  /** One sentence per problem, naming the measured value and the threshold. */
  reasons: string[];
}

/**
 * The thresholds with their defaults filled in for a node ticking `electionTick` ticks per election timeout;
 * throws ERR_CONFIG_INVALID naming the field for a bad one.
 */
export function healthThresholds(
  opts: HealthOptions | undefined,
  electionTick: number,
): Required<HealthOptions> {
  const t = {
    maxLeaderlessTicks: opts?.maxLeaderlessTicks ?? 3 * electionTick,
    maxApplyBacklogRatio: opts?.maxApplyBacklogRatio ?? 0.8,
    maxSaveMs: opts?.maxSaveMs ?? 1_000,
  };
  const bad = (field: string, why: string): never => {
    throw new RaftError('ERR_CONFIG_INVALID', `RaftNode.start: health.${field} ${why}`, `health.${field}`);
  };
  if (!Number.isInteger(t.maxLeaderlessTicks) || t.maxLeaderlessTicks < 1)
    bad('maxLeaderlessTicks', `must be an integer >= 1, not ${t.maxLeaderlessTicks}`);
  if (!(t.maxApplyBacklogRatio > 0 && t.maxApplyBacklogRatio <= 1))
    bad('maxApplyBacklogRatio', `must be in (0, 1], not ${t.maxApplyBacklogRatio}`);
  if (!(t.maxSaveMs > 0)) bad('maxSaveMs', `must be > 0, not ${t.maxSaveMs}`);
  return t;
}

/**
 * Judges a node's health from its metrics: a fatal error or a stop, no leader for too long, an apply backlog near
 * its bound (proposals are about to be refused), a slow disk.
 */
export function judgeHealth(
  m: RaftNodeMetrics,
  t: Required<HealthOptions>,
  failure: { failed: Error | undefined; stopped: boolean },
): RaftNodeHealth {
  const reasons: string[] = [];
  if (failure.failed !== undefined) reasons.push(`node failed: ${failure.failed.message}`);
  else if (failure.stopped) reasons.push('node is stopped');
  if (m.leaderlessTicks >= t.maxLeaderlessTicks)
    reasons.push(`no leader for ${m.leaderlessTicks} ticks (threshold ${t.maxLeaderlessTicks})`);
  const backlogLimit = Math.ceil(m.maxApplyBacklog * t.maxApplyBacklogRatio);
  if (m.applyBacklog >= backlogLimit)
    reasons.push(`apply backlog ${m.applyBacklog} of ${m.maxApplyBacklog} (threshold ${backlogLimit})`);
  const lastSaveMs = m.lastStorageSaveSeconds * 1000;
  if (lastSaveMs > t.maxSaveMs)
    reasons.push(`last storage save took ${lastSaveMs.toFixed(1)} ms (threshold ${t.maxSaveMs} ms)`);
  return { ok: reasons.length === 0, reasons };
}
