/**
 * Samples the gateway's counters every few seconds and keeps, per deployment, a 15-minute series of requests/s,
 * errors/s, p50 and p99 latency and ready replicas: the numbers the console's charts draw.
 *
 * The gateway labels its metrics by model and version, not deployment, so a deployment's numbers are the sums over
 * the model versions its status lists as targets. Deltas are taken per model version between two ticks, then
 * summed, so a canary that joins or leaves the split never shows as a jump. A version served by two deployments (or
 * also called by its model name) is counted in each.
 *
 *   const sampler = new DeploymentMetricsSampler({ metrics: servingMetrics, deployments: () => listAll() });
 *   sampler.start();
 *   sampler.series('default', 'fraud'); // { intervalSeconds: 3, windowSeconds: 900, points: [...] }
 */
import type { Logger } from '../logging/index.ts';
import type { Counter, Histogram } from '../metrics/index.ts';
import { bucketDelta, bucketQuantile } from './bucket-quantile.ts';

/** One sample: rates over the interval that ended at `time`. Latencies and the error ratio are null with no traffic. */
export interface MetricsPoint {
  /** ISO time the interval ended. */
  time: string;
  requestsPerSecond: number;
  errorsPerSecond: number;
  /** errors / requests over the interval. */
  errorRatio: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  replicasReady: number;
  replicasDesired: number;
}

export interface DeploymentMetrics {
  intervalSeconds: number;
  windowSeconds: number;
  /** Oldest first. */
  points: MetricsPoint[];
}

/** What the sampler needs to know of a deployment (the API's `Deployment` fits). */
export interface SampledDeployment {
  project: string;
  name: string;
  status: { targets: { model: string; version: number; replicas: { desired: number; ready: number } }[] };
}

export interface SamplerOptions {
  /** The gateway's request counter and latency histogram (labels model, version, protocol[, outcome]). */
  metrics: { requests: Counter; requestSeconds: Histogram };
  /** Every deployment of every project, with its status. */
  deployments: () => Promise<SampledDeployment[]>;
  /** Default 3000. */
  intervalMs?: number;
  /** Default 15 minutes. */
  windowMs?: number;
  /** Told when a tick fails; the next tick tries again. */
  log?: Logger;
}

interface Totals {
  requests: number;
  errors: number;
  buckets: number[];
  count: number;
}

const versionKey = (model: string, version: number | string) => `${model}\u0000${version}`;

export class DeploymentMetricsSampler {
  readonly #options: SamplerOptions;
  readonly #intervalMs: number;
  readonly #capacity: number;
  readonly #series = new Map<string, MetricsPoint[]>();
  #previous: { at: number; totals: Map<string, Totals> } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;

  constructor(options: SamplerOptions) {
    this.#options = options;
    this.#intervalMs = options.intervalMs ?? 3000;
    this.#capacity = Math.ceil((options.windowMs ?? 15 * 60_000) / this.#intervalMs);
  }

  start(): void {
    if (this.#timer) return;
    void this.tick();
    this.#timer = setInterval(() => void this.tick(), this.#intervalMs);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#ticking;
  }

  /** The series of one deployment; empty points until two ticks have seen it. */
  series(project: string, name: string): DeploymentMetrics {
    return {
      intervalSeconds: this.#intervalMs / 1000,
      windowSeconds: (this.#capacity * this.#intervalMs) / 1000,
      points: [...(this.#series.get(`${project}/${name}`) ?? [])],
    };
  }

  /** Takes one sample now (the timer calls it; tests call it with their own clock). */
  async tick(now = Date.now()): Promise<void> {
    if (this.#ticking) return this.#ticking;
    this.#ticking = this.#sample(now)
      .catch((err: unknown) => this.#options.log?.warn('sampling deployment metrics failed', { err }))
      .finally(() => {
        this.#ticking = undefined;
      });
    return this.#ticking;
  }

  async #sample(now: number): Promise<void> {
    const deployments = await this.#options.deployments();
    const totals = this.#totals();
    const previous = this.#previous;
    this.#previous = { at: now, totals };
    const live = new Set<string>();
    for (const deployment of deployments) {
      const key = `${deployment.project}/${deployment.name}`;
      live.add(key);
      if (!previous || now <= previous.at) continue;
      const point = this.#point(deployment, totals, previous.totals, (now - previous.at) / 1000, now);
      const points = this.#series.get(key) ?? [];
      points.push(point);
      if (points.length > this.#capacity) points.splice(0, points.length - this.#capacity);
      this.#series.set(key, points);
    }
    for (const key of this.#series.keys()) if (!live.has(key)) this.#series.delete(key);
  }

  #point(
    deployment: SampledDeployment,
    totals: Map<string, Totals>,
    before: Map<string, Totals>,
    seconds: number,
    now: number,
  ): MetricsPoint {
    const bounds = this.#options.metrics.requestSeconds.buckets;
    let requests = 0;
    let errors = 0;
    let count = 0;
    let buckets = bounds.map(() => 0);
    let ready = 0;
    let desired = 0;
    const seen = new Set<string>();
    for (const target of deployment.status.targets) {
      ready += target.replicas.ready;
      desired += target.replicas.desired;
      const key = versionKey(target.model, target.version);
      if (seen.has(key)) continue;
      seen.add(key);
      const after = totals.get(key);
      if (!after) continue;
      const then = before.get(key);
      requests += Math.max(0, after.requests - (then?.requests ?? 0));
      errors += Math.max(0, after.errors - (then?.errors ?? 0));
      count += Math.max(0, after.count - (then?.count ?? 0));
      const delta = bucketDelta(after.buckets, then?.buckets);
      buckets = buckets.map((b, i) => b + (delta[i] ?? 0));
    }
    const ms = (q: number) => {
      const seconds = bucketQuantile(bounds, buckets, count, q);
      return seconds === null ? null : Math.round(seconds * 1e6) / 1e3;
    };
    return {
      time: new Date(now).toISOString(),
      requestsPerSecond: requests / seconds,
      errorsPerSecond: errors / seconds,
      errorRatio: requests > 0 ? errors / requests : null,
      p50Ms: ms(0.5),
      p99Ms: ms(0.99),
      replicasReady: ready,
      replicasDesired: desired,
    };
  }

  /** Cumulative totals per model version, summed over protocols and outcomes. */
  #totals(): Map<string, Totals> {
    const { requests, requestSeconds } = this.#options.metrics;
    const totals = new Map<string, Totals>();
    const of = (labels: Record<string, string>) => {
      const key = versionKey(labels['model'] ?? '', labels['version'] ?? '');
      let t = totals.get(key);
      if (!t) {
        t = { requests: 0, errors: 0, buckets: requestSeconds.buckets.map(() => 0), count: 0 };
        totals.set(key, t);
      }
      return t;
    };
    for (const { labels, value } of requests.entries()) {
      const t = of(labels);
      t.requests += value;
      if (labels['outcome'] !== 'ok') t.errors += value;
    }
    for (const { labels, counts, count } of requestSeconds.entries()) {
      const t = of(labels);
      t.count += count;
      t.buckets = t.buckets.map((b, i) => b + (counts[i] ?? 0));
    }
    return totals;
  }
}
