/**
 * A small Prometheus registry: counters, gauges and histograms with labels, rendered in the text exposition format
 * (version 0.0.4). Hot-path updates are a map lookup and an add; label sets are joined once into a key.
 */

type Labels = Readonly<Record<string, string>>;

const escapeLabel = (value: string) => value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

function labelText(names: readonly string[], values: readonly string[]): string {
  if (names.length === 0) return '';
  return `{${names.map((n, i) => `${n}="${escapeLabel(values[i] ?? '')}"`).join(',')}}`;
}

abstract class Metric {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];

  constructor(name: string, help: string, labelNames: readonly string[]) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  protected key(labels: Labels): string {
    // On every request, several times: a loop, not an array and a join.
    const names = this.labelNames;
    let key = names.length > 0 ? (labels[names[0] as string] ?? '') : '';
    for (let i = 1; i < names.length; i++) key += `\u0000${labels[names[i] as string] ?? ''}`;
    return key;
  }

  protected values(key: string): string[] {
    return key === '' && this.labelNames.length === 0 ? [] : key.split('\u0000');
  }

  protected labels(key: string): Record<string, string> {
    const values = this.values(key);
    return Object.fromEntries(this.labelNames.map((n, i) => [n, values[i] ?? '']));
  }

  abstract render(): string;
}

export class Counter extends Metric {
  readonly #series = new Map<string, number>();

  inc(labels: Labels = {}, by = 1): void {
    const key = this.key(labels);
    this.#series.set(key, (this.#series.get(key) ?? 0) + by);
  }

  get(labels: Labels = {}): number {
    return this.#series.get(this.key(labels)) ?? 0;
  }

  /** Every series with its labels and value (the console's sampler reads these). */
  entries(): { labels: Record<string, string>; value: number }[] {
    return [...this.#series].map(([key, value]) => ({ labels: this.labels(key), value }));
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [key, value] of this.#series)
      lines.push(`${this.name}${labelText(this.labelNames, this.values(key))} ${value}`);
    return lines.join('\n');
  }
}

export class Gauge extends Metric {
  readonly #series = new Map<string, number>();

  set(labels: Labels, value: number): void {
    this.#series.set(this.key(labels), value);
  }

  inc(labels: Labels = {}, by = 1): void {
    const key = this.key(labels);
    this.#series.set(key, (this.#series.get(key) ?? 0) + by);
  }

  dec(labels: Labels = {}, by = 1): void {
    this.inc(labels, -by);
  }

  get(labels: Labels = {}): number {
    return this.#series.get(this.key(labels)) ?? 0;
  }

  remove(labels: Labels): void {
    this.#series.delete(this.key(labels));
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    for (const [key, value] of this.#series)
      lines.push(`${this.name}${labelText(this.labelNames, this.values(key))} ${value}`);
    return lines.join('\n');
  }
}

interface HistogramSeries {
  counts: Float64Array;
  sum: number;
  count: number;
}

export class Histogram extends Metric {
  readonly buckets: readonly number[];
  readonly #series = new Map<string, HistogramSeries>();

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, labelNames);
    this.buckets = [...buckets].sort((a, b) => a - b);
  }

  observe(labels: Labels, value: number): void {
    const key = this.key(labels);
    let series = this.#series.get(key);
    if (!series) {
      series = { counts: new Float64Array(this.buckets.length), sum: 0, count: 0 };
      this.#series.set(key, series);
    }
    series.sum += value;
    series.count++;
    for (let i = 0; i < this.buckets.length; i++) {
      if (value <= this.buckets[i]!) {
        series.counts[i]!++;
        break;
      }
    }
  }

  /** Count and sum of one series (tests and the console read these). */
  get(labels: Labels = {}): { count: number; sum: number } {
    const series = this.#series.get(this.key(labels));
    return { count: series?.count ?? 0, sum: series?.sum ?? 0 };
  }

  /**
   * Every series with its labels, per-bucket counts (not cumulative; `counts[i]` holds observations in
   * (buckets[i-1], buckets[i]]; those above the last bound are `count` minus their sum), count and sum.
   */
  entries(): { labels: Record<string, string>; counts: number[]; count: number; sum: number }[] {
    return [...this.#series].map(([key, s]) => ({
      labels: this.labels(key),
      counts: [...s.counts],
      count: s.count,
      sum: s.sum,
    }));
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    const withLe = [...this.labelNames, 'le'];
    for (const [key, series] of this.#series) {
      const values = this.values(key);
      let cumulative = 0;
      this.buckets.forEach((bound, i) => {
        cumulative += series.counts[i]!;
        lines.push(`${this.name}_bucket${labelText(withLe, [...values, String(bound)])} ${cumulative}`);
      });
      lines.push(`${this.name}_bucket${labelText(withLe, [...values, '+Inf'])} ${series.count}`);
      lines.push(`${this.name}_sum${labelText(this.labelNames, values)} ${series.sum}`);
      lines.push(`${this.name}_count${labelText(this.labelNames, values)} ${series.count}`);
    }
    return lines.join('\n');
  }
}

/** Latency buckets in seconds, from 100 µs to 10 s. */
export const LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
export const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

export class MetricsRegistry {
  readonly #metrics: Metric[] = [];
  readonly #collectors: (() => void)[] = [];

  /** Runs `collect` before every render: for gauges read from live state at scrape time (a queue's length). */
  onCollect(collect: () => void): void {
    this.#collectors.push(collect);
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#add(new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.#add(new Gauge(name, help, labelNames));
  }

  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): Histogram {
    return this.#add(new Histogram(name, help, labelNames, buckets));
  }

  render(): string {
    for (const collect of this.#collectors) collect();
    return `${this.#metrics.map((m) => m.render()).join('\n')}\n`;
  }

  #add<M extends Metric>(metric: M): M {
    if (this.#metrics.some((m) => m.name === metric.name)) throw new Error(`metric ${metric.name} registered twice`);
    this.#metrics.push(metric);
    return metric;
  }
}
