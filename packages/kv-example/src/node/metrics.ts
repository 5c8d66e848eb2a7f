import { Histogram, renderRaftMetrics, type RaftNodeHealth, type RaftNodeMetrics } from '@x/raft/node';

/**
 * What `GET /metrics` serves: the raft node's own metrics (`raft_*`, from `RaftNode.metrics()` and `health()`)
 * plus what only the KV server knows: its HTTP writes, the key count and the WAL's fdatasync histogram (the WAL
 * reports each fsync through its `onFsync` hook; raft's `raft_storage_save_duration_seconds` is the whole save).
 */
export class KvMetrics {
  /** Writes proposed through this node's HTTP API. */
  proposals = 0;
  /** Of those, the ones that failed (dropped, timed out, leadership lost, no leader). */
  failedProposals = 0;
  /** WAL fdatasync durations, in seconds. */
  readonly walFsync = new Histogram();

  render(raft: { metrics(): RaftNodeMetrics; health(): RaftNodeHealth }, keys: number): string {
    const out = renderRaftMetrics(raft.metrics());
    return out
      .gauge('raft_healthy', '1 when RaftNode.health() finds no problem.', raft.health().ok ? 1 : 0)
      .counter('kv_proposals_total', 'Writes proposed through this node.', this.proposals)
      .counter(
        'kv_proposals_failed_total',
        'Proposals that were dropped, timed out, lost leadership or found no leader.',
        this.failedProposals,
      )
      .gauge('kv_keys', 'Keys in the store.', keys)
      .histogram('kv_wal_fsync_duration_seconds', 'WAL fdatasync durations.', this.walFsync.snapshot())
      .toString();
  }
}
