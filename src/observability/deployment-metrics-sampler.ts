/**
 * Samples the gateway's counters every few seconds and keeps, per deployment, series of requests/s, errors, p50 and
 * p99 latency and ready replicas, in total and per traffic arm (each target version of the split, with its tag):
 * the numbers the console's charts draw. Two resolutions: every sample over the last hour, and one point a minute
 * (from the summed counts and histogram buckets of that minute, so quantiles stay true) over the last 24 hours.
 *
 * The gateway labels its metrics by model and version, not deployment, so a deployment's numbers are the sums over
 * the model versions its status lists as targets. Deltas are taken per model version between two ticks, then
 * summed, so a canary that joins or leaves the split never shows as a jump. A version served by two deployments (or
 * also called by its model name) is counted in each.
 *
 *   const sampler = new DeploymentMetricsSampler({ metrics: servingMetrics, deployments: () => listAll() });
 *   sampler.start();
 *   sampler.series('default', 'fraud', 5 * 60_000); // { intervalSeconds: 3, windowSeconds: 300, points: [...] }
 */
import type { Logger } from '../logging/index.ts';
import type { Counter, Histogram } from '../metrics/index.ts';
import { bucketDelta, bucketQuantile } from './bucket-quantile.ts';

/** Rates of one traffic arm (a target version) over an interval. Latencies and the error ratio are null with no traffic. */
export interface ArmPoint {
  /** `fraud@2` */
  target: string;
  /** The target's traffic tag (`stable`, `canary`, `a`, ...), null when untagged. */
  tag: string | null;
  requestsPerSecond: number;
  errorRatio: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
}

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
  /** The same rates per target of the split, in the status's order. */
  arms: ArmPoint[];
}

export interface DeploymentMetrics {
  /** Seconds between two points of this series. */
  intervalSeconds: number;
  /** The range asked for, in seconds. */
  windowSeconds: number;
  /** Oldest first, all within the range. */
  points: MetricsPoint[];
}

/** What the sampler needs to know of a deployment (the API's `Deployment` fits). */
export interface SampledDeployment {
  project: string;
  name: string;
  status: {
    targets: {
      model: string;
      version: number;
      tag?: string | undefined;
      replicas: { desired: number; ready: number };
    }[];
  };
}

export interface SamplerOptions {
  /** The gateway's request counter and latency histogram (labels model, version, protocol[, outcome]). */
  metrics: { requests: Counter; requestSeconds: Histogram };
  /** Every deployment of every project, with its status. */
  deployments: () => Promise<SampledDeployment[]>;
  /** Default 3000. */
  intervalMs?: number;
  /** How long every sample is kept. Default 1 hour. */
  windowMs?: number;
  /** One coarse point per this long. Default 1 minute. */
  coarseIntervalMs?: number;
  /** How long coarse points are kept. Default 24 hours. */
  coarseWindowMs?: number;
  /** Told when a tick fails; the next tick tries again. */
  log?: Logger;
}

interface Totals {
  requests: number;
  errors: number;
  buckets: number[];
  count: number;
}

/** Counts over an interval, per arm, before they become rates. */
interface Raw {
  seconds: number;
  replicasReady: number;
  replicasDesired: number;
  arms: { target: string; tag: string | null; counts: Totals }[];
}

interface Series {
  fine: MetricsPoint[];
  coarse: MetricsPoint[];
  /** The coarse interval being summed: when it started and its counts so far. */
  pending: { start: number; raw: Raw } | undefined;
}

const versionKey = (model: string, version: number | string) => `${model}\u0000${version}`;

const emptyTotals = (size: number): Totals => ({ requests: 0, errors: 0, buckets: new Array(size).fill(0), count: 0 });

function addTotals(into: Totals, more: Totals): void {
  into.requests += more.requests;
  into.errors += more.errors;
  into.count += more.count;
  into.buckets = into.buckets.map((b, i) => b + (more.buckets[i] ?? 0));
}

export class DeploymentMetricsSampler {
  readonly #options: SamplerOptions;
  readonly #intervalMs: number;
  readonly #windowMs: number;
  readonly #coarseIntervalMs: number;
  readonly #coarseWindowMs: number;
  readonly #series = new Map<string, Series>();
  #previous: { at: number; totals: Map<string, Totals> } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;

  constructor(options: SamplerOptions) {
    this.#options = options;
    this.#intervalMs = options.intervalMs ?? 3000;
    this.#windowMs = options.windowMs ?? 60 * 60_000;
    this.#coarseIntervalMs = options.coarseIntervalMs ?? 60_000;
    this.#coarseWindowMs = options.coarseWindowMs ?? 24 * 60 * 60_000;
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

  /**
   * The series of one deployment over the last `rangeMs` (default: the fine window): every sample when the range
   * fits in the fine window, else one point a minute. Empty until two ticks have seen the deployment.
   */
  series(project: string, name: string, rangeMs = this.#windowMs): DeploymentMetrics {
    const series = this.#series.get(`${project}/${name}`);
    const fine = rangeMs <= this.#windowMs;
    const points = (fine ? series?.fine : series?.coarse) ?? [];
    const last = this.#previous?.at ?? 0;
    return {
      intervalSeconds: (fine ? this.#intervalMs : this.#coarseIntervalMs) / 1000,
      windowSeconds: rangeMs / 1000,
      points: points.filter((p) => Date.parse(p.time) > last - rangeMs),
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
      const raw = this.#raw(deployment, totals, previous.totals, (now - previous.at) / 1000);
      const series = this.#series.get(key) ?? { fine: [], coarse: [], pending: undefined };
      this.#series.set(key, series);
      series.fine.push(this.#point(raw, now));
      while (series.fine.length && Date.parse(series.fine[0]!.time) <= now - this.#windowMs) series.fine.shift();
      this.#addCoarse(series, raw, previous.at, now);
    }
    for (const key of this.#series.keys()) if (!live.has(key)) this.#series.delete(key);
  }

  /** Sums the interval into the coarse point it belongs to; a finished coarse interval becomes a point. */
  #addCoarse(series: Series, raw: Raw, from: number, now: number): void {
    const slot = (t: number) => Math.floor(t / this.#coarseIntervalMs);
    if (series.pending && slot(series.pending.start) !== slot(from)) {
      series.coarse.push(this.#point(series.pending.raw, (slot(series.pending.start) + 1) * this.#coarseIntervalMs));
      series.pending = undefined;
    }
    if (!series.pending)
      series.pending = { start: from, raw: { ...raw, arms: raw.arms.map((a) => ({ ...a, counts: { ...a.counts } })) } };
    else {
      const into = series.pending.raw;
      into.seconds += raw.seconds;
      into.replicasReady = raw.replicasReady;
      into.replicasDesired = raw.replicasDesired;
      for (const arm of raw.arms) {
        const same = into.arms.find((a) => a.target === arm.target && a.tag === arm.tag);
        if (same) addTotals(same.counts, arm.counts);
        else into.arms.push({ ...arm, counts: { ...arm.counts } });
      }
    }
    while (series.coarse.length && Date.parse(series.coarse[0]!.time) <= now - this.#coarseWindowMs)
      series.coarse.shift();
  }

  #raw(deployment: SampledDeployment, totals: Map<string, Totals>, before: Map<string, Totals>, seconds: number): Raw {
    const size = this.#options.metrics.requestSeconds.buckets.length;
    let ready = 0;
    let desired = 0;
    const arms: Raw['arms'] = [];
    const seen = new Set<string>();
    for (const target of deployment.status.targets) {
      ready += target.replicas.ready;
      desired += target.replicas.desired;
      const key = versionKey(target.model, target.version);
      if (seen.has(key)) continue;
      seen.add(key);
      const counts = emptyTotals(size);
      const after = totals.get(key);
      if (after) {
        const then = before.get(key);
        counts.requests = Math.max(0, after.requests - (then?.requests ?? 0));
        counts.errors = Math.max(0, after.errors - (then?.errors ?? 0));
        counts.count = Math.max(0, after.count - (then?.count ?? 0));
        counts.buckets = bucketDelta(after.buckets, then?.buckets);
      }
      arms.push({ target: `${target.model}@${target.version}`, tag: target.tag ?? null, counts });
    }
    return { seconds, replicasReady: ready, replicasDesired: desired, arms };
  }

  #point(raw: Raw, at: number): MetricsPoint {
    const bounds = this.#options.metrics.requestSeconds.buckets;
    const rates = (c: Totals) => {
      const ms = (q: number) => {
        const seconds = bucketQuantile(bounds, c.buckets, c.count, q);
        return seconds === null ? null : Math.round(seconds * 1e6) / 1e3;
      };
      return {
        requestsPerSecond: c.requests / raw.seconds,
        errorRatio: c.requests > 0 ? c.errors / c.requests : null,
        p50Ms: ms(0.5),
        p99Ms: ms(0.99),
      };
    };
    const total = emptyTotals(bounds.length);
    for (const arm of raw.arms) addTotals(total, arm.counts);
    const { requestsPerSecond, errorRatio, p50Ms, p99Ms } = rates(total);
    return {
      time: new Date(at).toISOString(),
      requestsPerSecond,
      errorsPerSecond: total.errors / raw.seconds,
      errorRatio,
      p50Ms,
      p99Ms,
      replicasReady: raw.replicasReady,
      replicasDesired: raw.replicasDesired,
      arms: raw.arms.map((arm) => ({ target: arm.target, tag: arm.tag, ...rates(arm.counts) })),
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
