import { describe, expect, it } from 'vitest';
import { Histogram, NodeMetrics } from '../../src/node/metrics.js';
import { PrometheusText, renderRaftMetrics } from '../../src/node/prometheus.js';
import { StateType } from '../../src/raft/state-type.js';
import { parsePrometheusText } from '../../src/testing/prometheus-text.js';

/** Metrics with every counter moved, a known peer table and one observation per histogram. */
function sampleMetrics() {
  const n = new NodeMetrics(0);
  n.proposals = 7;
  n.elections = 2;
  n.electionsWon = 1;
  n.leaderChanged(1);
  n.sent(2);
  n.sent(2);
  n.sent(3);
  n.dropped(3);
  n.snapshotFailed(3);
  n.saved(0.003);
  n.readyLoop.observe(0.00005);
  n.applied(5);
  return n.snapshot({
    id: 1,
    role: StateType.Leader,
    term: 4,
    leader: 1,
    commitIndex: 6,
    appliedIndex: 5,
    snapshotIndex: 0,
    applyBacklog: 1,
    maxApplyBacklog: 5_000,
  });
}

describe('renderRaftMetrics', () => {
  it('writes every field as a valid family, with per-peer labels and the histograms in seconds', () => {
    const families = parsePrometheusText(renderRaftMetrics(sampleMetrics()).toString());
    const one = (name: string, labels: Record<string, string> = {}) =>
      families.get(name)?.samples.find((s) => JSON.stringify(s.labels) === JSON.stringify(labels))?.value;
    expect(one('raft_term')).toBe(4);
    expect(one('raft_is_leader')).toBe(1);
    expect(one('raft_has_leader')).toBe(1);
    expect(one('raft_commit_index')).toBe(6);
    expect(one('raft_applied_index')).toBe(5);
    expect(one('raft_apply_backlog')).toBe(1);
    expect(one('raft_proposals_total')).toBe(7);
    expect(one('raft_entries_applied_total')).toBe(5);
    expect(one('raft_elections_total')).toBe(2);
    expect(one('raft_elections_won_total')).toBe(1);
    expect(one('raft_leader_changes_total')).toBe(1);
    expect(one('raft_snapshots_failed_total')).toBe(1);
    expect(one('raft_peer_messages_sent_total', { peer: '2' })).toBe(2);
    expect(one('raft_peer_messages_sent_total', { peer: '3' })).toBe(1);
    expect(one('raft_peer_messages_dropped_total', { peer: '3' })).toBe(2);
    expect(one('raft_peer_messages_dropped_total', { peer: '2' })).toBe(0);
    const save = families.get('raft_storage_save_duration_seconds')!;
    expect(save.type).toBe('histogram');
    expect(save.samples.find((s) => s.name.endsWith('_count'))?.value).toBe(1);
    // 3 ms falls in the 3.2 ms bucket and every one above it, not in the 1.6 ms one.
    expect(save.samples.find((s) => s.labels.le === '0.0032')?.value).toBe(1);
    expect(save.samples.find((s) => s.labels.le === '0.0016')?.value).toBe(0);
    expect(
      families.get('raft_ready_loop_duration_seconds')?.samples.find((s) => s.labels.le === '0.0001')?.value,
    ).toBe(1);
  });

  it('takes a prefix, and writes onto a PrometheusText the application adds its own families to', () => {
    const out = new PrometheusText().gauge('app_keys', 'Keys.', 3);
    renderRaftMetrics(sampleMetrics(), out, 'kv_raft');
    const families = parsePrometheusText(out.toString());
    expect(families.has('app_keys')).toBe(true);
    expect(families.has('kv_raft_term')).toBe(true);
    expect(families.has('raft_term')).toBe(false);
  });
});

describe('PrometheusText', () => {
  it('escapes label values and help text', () => {
    const text = new PrometheusText()
      .gauge('g', 'line one\nback\\slash', [{ labels: { path: 'a"b\\c\nd' }, value: 1 }])
      .toString();
    expect(text).toBe('# HELP g line one\\nback\\\\slash\n# TYPE g gauge\ng{path="a\\"b\\\\c\\nd"} 1\n');
    expect(parsePrometheusText(text).get('g')?.samples[0]?.labels.path).toBe('a"b\\c\nd');
  });

  it('refuses what would make the output invalid, naming the metric', () => {
    expect(() => new PrometheusText().counter('requests', 'x', 1)).toThrow(/requests.*_total/);
    expect(() => new PrometheusText().gauge('bad-name', 'x', 1)).toThrow(/bad-name/);
    expect(() => new PrometheusText().gauge('g', 'x', 1).gauge('g', 'x', 2)).toThrow(/g was written twice/);
    expect(() => new PrometheusText().gauge('g', 'x', [{ labels: { 'a-b': 1 }, value: 1 }])).toThrow(/a-b/);
    expect(() =>
      new PrometheusText().histogram('h_seconds', 'x', new Histogram().snapshot(), { le: 1 }),
    ).toThrow(/le is reserved/);
  });

  it('writes special values as the format spells them', () => {
    const text = new PrometheusText()
      .gauge('g', 'x', [
        { labels: { v: 'nan' }, value: NaN },
        { labels: { v: 'inf' }, value: Infinity },
        { labels: { v: 'ninf' }, value: -Infinity },
      ])
      .toString();
    expect(text.split('\n').slice(2, 5)).toEqual(['g{v="nan"} NaN', 'g{v="inf"} +Inf', 'g{v="ninf"} -Inf']);
  });
});
