/** One sample line of a Prometheus text exposition. */
export interface PrometheusSample {
  /** The sample's name (for a histogram: `<family>_bucket`, `_sum` or `_count`). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** One metric family: its `# TYPE`, `# HELP` and samples in order. */
export interface PrometheusFamily {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string;
  samples: PrometheusSample[];
}

/** What {@link parsePrometheusText} throws: the line number (1-based) and why the text is not valid. */
export class PrometheusTextError extends Error {
  constructor(
    readonly line: number,
    reason: string,
  ) {
    super(`prometheus text, line ${line}: ${reason}`);
    this.name = 'PrometheusTextError';
  }
}

const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/;
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/;

/**
 * Parses the Prometheus text exposition format (0.0.4) strictly, for tests of a `/metrics` endpoint: every family
 * has `# HELP` and `# TYPE` before its samples and appears once; samples belong to the family declared above
 * them; counters end in `_total` and are >= 0; a histogram's buckets have ascending `le`, cumulative counts, a
 * `+Inf` bucket equal to `_count`, and a `_sum`; the text ends in a newline. Anything else throws a
 * {@link PrometheusTextError} naming the line.
 *
 * @example
 * ```ts
 * const families = parsePrometheusText(await (await fetch(`${url}/metrics`)).text());
 * expect(families.get('raft_term')?.samples[0]?.value).toBeGreaterThan(0);
 * ```
 */
export function parsePrometheusText(text: string): Map<string, PrometheusFamily> {
  const families = new Map<string, PrometheusFamily>();
  if (text.length > 0 && !text.endsWith('\n'))
    throw new PrometheusTextError(text.split('\n').length, 'no final newline');
  const lines = text.split('\n').slice(0, -1);
  let current: PrometheusFamily | undefined;
  let pendingHelp: { name: string; help: string } | undefined;
  const finish = (line: number) => {
    if (current?.type === 'histogram') checkHistogram(current, line);
  };
  lines.forEach((raw, i) => {
    const line = i + 1;
    const fail = (why: string): never => {
      throw new PrometheusTextError(line, `${why}: ${JSON.stringify(raw)}`);
    };
    if (raw.startsWith('# HELP ')) {
      const [, name = '', help = ''] = /^# HELP (\S+) (.*)$/.exec(raw) ?? fail('malformed HELP');
      if (!NAME.test(name)) fail('invalid metric name');
      if (families.has(name)) fail(`family ${name} appears twice`);
      finish(line);
      current = undefined;
      pendingHelp = { name, help };
      return;
    }
    if (raw.startsWith('# TYPE ')) {
      const [, name = '', type = ''] = /^# TYPE (\S+) (\S+)$/.exec(raw) ?? fail('malformed TYPE');
      const help =
        pendingHelp?.name === name ? pendingHelp.help : fail(`TYPE of ${name} without a HELP just before it`);
      if (!TYPES.has(type)) fail(`unknown type ${type}`);
      if (type === 'counter' && !name.endsWith('_total')) fail(`counter ${name} does not end in _total`);
      current = { name, type: type as PrometheusFamily['type'], help, samples: [] };
      families.set(name, current);
      pendingHelp = undefined;
      return;
    }
    if (raw.startsWith('#') || raw === '') fail('unexpected comment or blank line');
    const [, name = '', , body, valueText = ''] = SAMPLE.exec(raw) ?? fail('malformed sample');
    const family = current ?? fail('sample before any TYPE');
    const suffixes = family.type === 'histogram' ? ['_bucket', '_sum', '_count'] : [''];
    if (!suffixes.some((s) => name === family.name + s)) fail(`sample ${name} outside family ${family.name}`);
    const value = parseValue(valueText) ?? fail('bad value');
    if (family.type === 'counter' && !(value >= 0)) fail('negative counter');
    const labels = parseLabels(body ?? '') ?? fail('malformed labels');
    family.samples.push({ name, labels, value });
  });
  if (pendingHelp !== undefined)
    throw new PrometheusTextError(lines.length, `HELP of ${pendingHelp.name} without TYPE`);
  finish(lines.length);
  return families;
}

function parseValue(text: string): number | undefined {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  const v = Number(text);
  return text.trim() === '' || Number.isNaN(v) ? undefined : v;
}

function parseLabels(body: string): Record<string, string> | undefined {
  const labels: Record<string, string> = {};
  let rest = body;
  while (rest.length > 0) {
    const m = LABEL.exec(rest);
    if (m === null || m[1]! in labels) return undefined;
    labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    rest = rest.slice(m[0].length);
    if (m[3] === ',' && rest.length === 0) return undefined;
  }
  return labels;
}

/** Per label set (le excluded): buckets ascending and cumulative, +Inf equal to _count, a _sum present. */
function checkHistogram(f: PrometheusFamily, line: number): void {
  const series = new Map<string, { buckets: [number, number][]; sum?: number; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (s.name.endsWith('_bucket')) {
      const bound = le === undefined ? undefined : parseValue(le);
      if (bound === undefined) throw new PrometheusTextError(line, `${f.name}: bucket without a valid le`);
      entry.buckets.push([bound, s.value]);
    } else if (s.name.endsWith('_sum')) entry.sum = s.value;
    else entry.count = s.value;
  }
  if (series.size === 0) throw new PrometheusTextError(line, `histogram ${f.name} has no samples`);
  for (const { buckets, sum, count } of series.values()) {
    const bad = (why: string): never => {
      throw new PrometheusTextError(line, `histogram ${f.name}: ${why}`);
    };
    if (sum === undefined || count === undefined) bad('missing _sum or _count');
    const last = buckets[buckets.length - 1];
    if (last === undefined || last[0] !== Infinity) bad('no +Inf bucket last');
    if (last![1] !== count) bad(`+Inf bucket ${last![1]} differs from _count ${count}`);
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i]![0] > buckets[i - 1]![0])) bad('le not ascending');
      if (buckets[i]![1] < buckets[i - 1]![1]) bad('bucket counts not cumulative');
    }
  }
}
