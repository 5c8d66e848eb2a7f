// Shared notation for the quorum tables: a config is written '1 2 3', acked indexes or votes are listed in the
// order of the config's ids (incoming half first, then outgoing ids not already listed), '_' meaning "not
// reported". This mirrors the notation of etcd's quorum/testdata tables.
import type { AckedIndexer } from '../../src/quorum/index.js';

/** Parses '1 2 3' (or '' for the empty config) into a set of ids. */
export function ids(s: string): Set<number> {
  return new Set(s.trim() === '' ? [] : s.trim().split(/\s+/).map(Number));
}

/** The ids of incoming then outgoing config, deduplicated, in writing order. */
function order(cfg: string, cfgj = ''): number[] {
  return Array.from(new Set([...ids(cfg), ...ids(cfgj)]));
}

/** Builds an AckedIndexer from '12 _ 5' listed against the ids of `cfg` (then `cfgj`). */
export function acked(cfg: string, idx: string, cfgj = ''): AckedIndexer {
  const voters = order(cfg, cfgj);
  const vals = idx.trim() === '' ? [] : idx.trim().split(/\s+/);
  if (vals.length !== voters.length)
    throw new Error(`case lists ${vals.length} indexes for ${voters.length} voters`);
  const m = new Map<number, number>();
  voters.forEach((id, i) => {
    const v = vals[i];
    if (v !== '_' && v !== undefined) m.set(id, Number(v));
  });
  return (id) => m.get(id);
}

/** Builds a vote map from 'y n _' listed against the ids of `cfg` (then `cfgj`). */
export function votes(cfg: string, v: string, cfgj = ''): Map<number, boolean> {
  const voters = order(cfg, cfgj);
  const vals = v.trim() === '' ? [] : v.trim().split(/\s+/);
  if (vals.length !== voters.length)
    throw new Error(`case lists ${vals.length} votes for ${voters.length} voters`);
  const m = new Map<number, boolean>();
  voters.forEach((id, i) => {
    const x = vals[i];
    if (x === 'y') m.set(id, true);
    else if (x === 'n') m.set(id, false);
  });
  return m;
}

/**
 * The committed index by its definition (Raft paper section 5.3/5.4.2): the largest index that a majority
 * of the voters has acknowledged; 0 if none; "infinite" for the empty config.
 */
export function naiveCommitted(c: ReadonlySet<number>, l: AckedIndexer): number {
  if (c.size === 0) return Number.MAX_SAFE_INTEGER;
  const acks = Array.from(c, (id) => l(id) ?? 0);
  let best = 0;
  for (const candidate of acks) {
    const n = acks.filter((a) => a >= candidate).length;
    if (n > c.size / 2 && candidate > best) best = candidate;
  }
  return best;
}
