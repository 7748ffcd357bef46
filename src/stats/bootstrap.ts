/**
 * Bootstrap confidence intervals (Efron's percentile method): resample the rows with replacement `replicates`
 * times with a seeded generator, recompute the statistic on each resample, and take the (1 - level) / 2 and
 * (1 + level) / 2 quantiles of the replicates (linear interpolation, numpy's default). Replicates where the
 * statistic is undefined (NaN, e.g. an AUC of a resample with one class) are dropped and counted.
 */
import { quantileSorted } from './performance.ts';
import { createRng } from './random.ts';
import { normalQuantile } from './special.ts';

export interface BootstrapOptions {
  /** Default 1000. */
  replicates?: number;
  /** Default 0.95. */
  level?: number;
  /** Default 1. */
  seed?: number;
}

export interface Interval {
  /** The statistic on the whole sample. */
  estimate: number;
  lo: number;
  hi: number;
  level: number;
  /** Replicates that gave a number (the others were undefined and dropped). */
  replicates: number;
}

export const BOOTSTRAP_DEFAULTS = { replicates: 1000, level: 0.95, seed: 1 } as const;

/**
 * A percentile-bootstrap interval of `statistic` over parallel columns (each of the same length): every replicate
 * resamples the same row indices from every column. Cost: replicates x rows x columns copies.
 */
export function bootstrapCi<C extends readonly ArrayLike<number>[]>(
  columns: C,
  statistic: (...columns: { [K in keyof C]: Float64Array }) => number,
  options: BootstrapOptions = {},
): Interval {
  return bootstrapIntervals(columns, (...c) => [statistic(...c)], options)[0]!;
}

/** Intervals of several statistics from the same resamples (one pass of replicates for all of them). */
export function bootstrapIntervals<C extends readonly ArrayLike<number>[]>(
  columns: C,
  statistics: (...columns: { [K in keyof C]: Float64Array }) => number[],
  options: BootstrapOptions = {},
): Interval[] {
  const replicates = options.replicates ?? BOOTSTRAP_DEFAULTS.replicates;
  const level = options.level ?? BOOTSTRAP_DEFAULTS.level;
  if (!(level > 0 && level < 1)) throw new RangeError(`bootstrap level must be in (0, 1), got ${level}`);
  const n = columns[0]?.length ?? 0;
  for (const c of columns) if (c.length !== n) throw new RangeError('bootstrap columns differ in length');
  const whole = columns.map((c) => Float64Array.from(c)) as unknown as { [K in keyof C]: Float64Array };
  const estimates = statistics(...whole);
  const rng = createRng(options.seed ?? BOOTSTRAP_DEFAULTS.seed);
  const buffers = columns.map(() => new Float64Array(n)) as unknown as { [K in keyof C]: Float64Array };
  const values = estimates.map((): number[] => []);
  const index = new Uint32Array(n);
  for (let r = 0; r < replicates && n > 0; r++) {
    for (let i = 0; i < n; i++) index[i] = rng.int(n);
    for (let c = 0; c < columns.length; c++) {
      const src = whole[c]!;
      const dst = buffers[c]!;
      for (let i = 0; i < n; i++) dst[i] = src[index[i]!]!;
    }
    const v = statistics(...buffers);
    for (let k = 0; k < values.length; k++) if (!Number.isNaN(v[k])) values[k]!.push(v[k]!);
  }
  return estimates.map((estimate, k) => {
    const sorted = Float64Array.from(values[k]!).sort();
    return {
      estimate,
      lo: quantileSorted(sorted, (1 - level) / 2),
      hi: quantileSorted(sorted, (1 + level) / 2),
      level,
      replicates: sorted.length,
    };
  });
}

/** Wilson score interval of a proportion k / n (a closed form for rates; NaN bounds when n = 0). */
export function wilsonInterval(k: number, n: number, level = 0.95): { estimate: number; lo: number; hi: number } {
  if (n === 0) return { estimate: Number.NaN, lo: Number.NaN, hi: Number.NaN };
  const z = normalQuantile((1 + level) / 2);
  const p = k / n;
  const d = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / d;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return { estimate: p, lo: Math.max(0, centre - half), hi: Math.min(1, centre + half) };
}
