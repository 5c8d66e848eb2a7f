/** A minimal Prometheus registry: counters, gauges and one histogram, rendered in the text exposition format. */
export class Metrics {
  readonly counters = new Map<string, { help: string; value: number }>();
  readonly gauges = new Map<string, { help: string; read: () => number }>();
  /** fsync durations in seconds, etcd's buckets (1 ms .. 8.192 s). */
  private readonly fsyncBuckets = [
    0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192,
  ];
  private readonly fsyncCounts = new Array<number>(this.fsyncBuckets.length).fill(0);
  private fsyncSum = 0;
  private fsyncTotal = 0;

  counter(name: string, help: string): { inc(by?: number): void } {
    const c = { help, value: 0 };
    this.counters.set(name, c);
    return { inc: (by = 1) => void (c.value += by) };
  }

  gauge(name: string, help: string, read: () => number): void {
    this.gauges.set(name, { help, read });
  }

  observeFsync(ms: number): void {
    const s = ms / 1000;
    this.fsyncSum += s;
    this.fsyncTotal++;
    for (let i = 0; i < this.fsyncBuckets.length; i++)
      if (s <= (this.fsyncBuckets[i] ?? Infinity)) this.fsyncCounts[i] = (this.fsyncCounts[i] ?? 0) + 1;
  }

  render(): string {
    const out: string[] = [];
    for (const [name, c] of this.counters)
      out.push(`# HELP ${name} ${c.help}`, `# TYPE ${name} counter`, `${name} ${c.value}`);
    for (const [name, g] of this.gauges)
      out.push(`# HELP ${name} ${g.help}`, `# TYPE ${name} gauge`, `${name} ${g.read()}`);
    const h = 'kv_wal_fsync_duration_seconds';
    out.push(`# HELP ${h} WAL fdatasync durations.`, `# TYPE ${h} histogram`);
    this.fsyncBuckets.forEach((b, i) => out.push(`${h}_bucket{le="${b}"} ${this.fsyncCounts[i] ?? 0}`));
    out.push(
      `${h}_bucket{le="+Inf"} ${this.fsyncTotal}`,
      `${h}_sum ${this.fsyncSum}`,
      `${h}_count ${this.fsyncTotal}`,
    );
    return `${out.join('\n')}\n`;
  }
}
