import { StateType } from '../raft/state-type.js';
import type { HistogramSnapshot, RaftNodeMetrics } from './metrics.js';

/** One sample's labels: name → value (values are escaped on output). */
export type PrometheusLabels = Readonly<Record<string, string | number>>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Writes metric families in the Prometheus text exposition format (version 0.0.4). It refuses, with a
 * `RangeError` naming the metric, what would make the output invalid: a bad metric or label name, a family
 * written twice, a counter not ending in `_total`, a reserved `le` label.
 *
 * @example
 * ```ts
 * const out = new PrometheusText();
 * renderRaftMetrics(node.metrics(), out);
 * out.gauge('kv_keys', 'Keys in the store.', state.size);
 * response.end(out.toString()); // Content-Type: text/plain; version=0.0.4
 * ```
 */
export class PrometheusText {
  private readonly lines: string[] = [];
  private readonly families = new Set<string>();

  /** A counter family: one value, or one sample per label set. The name must end in `_total`. */
  counter(
    name: string,
    help: string,
    samples: number | readonly { labels: PrometheusLabels; value: number }[],
  ): this {
    if (!name.endsWith('_total'))
      throw new RangeError(`counter ${name}: a counter's name must end in _total`);
    return this.family(name, 'counter', help, samples);
  }

  /** A gauge family: one value, or one sample per label set. */
  gauge(
    name: string,
    help: string,
    samples: number | readonly { labels: PrometheusLabels; value: number }[],
  ): this {
    return this.family(name, 'gauge', help, samples);
  }

  /** A histogram family from a {@link HistogramSnapshot} (buckets in seconds: name it `..._seconds`). */
  histogram(name: string, help: string, h: HistogramSnapshot, labels: PrometheusLabels = {}): this {
    if ('le' in labels) throw new RangeError(`histogram ${name}: the label le is reserved`);
    this.header(name, 'histogram', help);
    h.buckets.forEach((le, i) => this.sample(`${name}_bucket`, { ...labels, le }, h.counts[i]!));
    this.sample(`${name}_bucket`, { ...labels, le: '+Inf' }, h.count);
    this.sample(`${name}_sum`, labels, h.sum);
    this.sample(`${name}_count`, labels, h.count);
    return this;
  }

  /** The exposition text, ending in a newline. */
  toString(): string {
    return this.lines.length === 0 ? '' : `${this.lines.join('\n')}\n`;
  }

  private family(
    name: string,
    type: 'counter' | 'gauge',
    help: string,
    samples: number | readonly { labels: PrometheusLabels; value: number }[],
  ): this {
    this.header(name, type, help);
    if (typeof samples === 'number') this.sample(name, {}, samples);
    else for (const s of samples) this.sample(name, s.labels, s.value);
    return this;
  }

  private header(name: string, type: string, help: string): void {
    if (!METRIC_NAME.test(name)) throw new RangeError(`metric name ${JSON.stringify(name)} is not valid`);
    if (this.families.has(name)) throw new RangeError(`metric ${name} was written twice`);
    this.families.add(name);
    this.lines.push(
      `# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`,
      `# TYPE ${name} ${type}`,
    );
  }

  private sample(name: string, labels: PrometheusLabels, value: number): void {
    const pairs: string[] = [];
    for (const [k, v] of Object.entries(labels)) {
      if (!LABEL_NAME.test(k) || k.startsWith('__'))
        throw new RangeError(`metric ${name}: label name ${k} is not valid`);
      const text = typeof v === 'number' ? formatValue(v) : v;
      pairs.push(`${k}="${text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`);
    }
    this.lines.push(`${name}${pairs.length === 0 ? '' : `{${pairs.join(',')}}`} ${formatValue(value)}`);
  }
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/**
 * Writes a node's {@link RaftNodeMetrics} as Prometheus families named `<prefix>_...` (default `raft`): the
 * indexes, term and backlog as gauges, everything counted as `_total` counters, the two latency histograms in
 * seconds, and messages sent and dropped per peer (label `peer`). Counters restart at 0 when the process does.
 */
export function renderRaftMetrics(
  m: RaftNodeMetrics,
  out = new PrometheusText(),
  prefix = 'raft',
): PrometheusText {
  const p = (name: string) => `${prefix}_${name}`;
  out
    .gauge(p('term'), 'Current raft term.', m.term)
    .gauge(p('has_leader'), '1 when this node knows a leader.', m.leader === 0 ? 0 : 1)
    .gauge(p('is_leader'), '1 when this node is the leader.', m.role === StateType.Leader ? 1 : 0)
    .gauge(
      p('leaderless_ticks'),
      'Ticks since this node last knew a leader (0 while it knows one).',
      m.leaderlessTicks,
    )
    .gauge(p('commit_index'), 'Highest log index known committed.', m.commitIndex)
    .gauge(p('applied_index'), 'Highest log index applied to the state machine.', m.appliedIndex)
    .gauge(p('snapshot_index'), 'Index of the newest local snapshot.', m.snapshotIndex)
    .gauge(p('apply_backlog'), 'Committed entries waiting to be applied.', m.applyBacklog)
    .gauge(
      p('apply_backlog_limit'),
      'maxApplyBacklog: proposals are refused at this backlog.',
      m.maxApplyBacklog,
    )
    .counter(p('proposals_total'), 'Proposals (entries and conf changes) handed to raft.', m.proposals)
    .counter(
      p('proposals_refused_backlog_total'),
      'Proposals refused because the apply backlog was full.',
      m.proposalsRefusedBacklog,
    )
    .counter(p('entries_committed_total'), 'Committed entries handed to the applier.', m.entriesCommitted)
    .counter(p('entries_applied_total'), 'Entries applied to the state machine.', m.entriesApplied)
    .counter(p('elections_total'), 'Elections this node started (became candidate).', m.elections)
    .counter(p('elections_won_total'), 'Times this node became leader.', m.electionsWon)
    .counter(p('leader_changes_total'), 'Times the known leader changed to a new leader.', m.leaderChanges)
    .counter(p('snapshots_taken_total'), 'Snapshots taken of the local state machine.', m.snapshots.taken)
    .counter(
      p('snapshots_installed_total'),
      'Snapshots received from a leader and restored.',
      m.snapshots.installed,
    )
    .counter(p('snapshots_sent_total'), 'Snapshots handed to the transport for a follower.', m.snapshots.sent)
    .counter(p('snapshots_failed_total'), 'Snapshot sends that failed.', m.snapshots.failed)
    .histogram(p('ready_loop_duration_seconds'), 'Time to handle one Ready.', m.readyLoopSeconds)
    .histogram(
      p('storage_save_duration_seconds'),
      'Time of each durable storage save (write and fdatasync) the Ready loop waited for.',
      m.storageSaveSeconds,
    )
    .counter(
      p('peer_messages_sent_total'),
      'Messages handed to the transport, per peer.',
      m.peers.map((x) => ({ labels: { peer: x.id }, value: x.sent })),
    )
    .counter(
      p('peer_messages_dropped_total'),
      'Messages the transport reported undeliverable and failed snapshot sends, per peer.',
      m.peers.map((x) => ({ labels: { peer: x.id }, value: x.dropped })),
    );
  return out;
}
