/**
 * Drift between a reference and a current sample, per feature and for the dataset:
 *
 * - numeric features: PSI over the reference's quantile bins and the two-sample Kolmogorov-Smirnov test;
 * - categorical features: PSI over categories and Pearson's chi-square test of the 2 x k contingency table;
 * - the dataset verdict: the share of drifted features against a threshold.
 *
 * The reference is either raw values or a stored summary (`NumericReference`, `CategoricalReference`), which a
 * data profile holds, so drift never re-reads the training data. Against a summary, KS compares the current
 * sample with the reference's quantile sketch (method 'sketch', docs/metrics.md says how close it is).
 */
import { type KsResult, ks2SampSorted, ksPValue, sortedFinite } from './ks.ts';
import { lowerBound, quantileSorted, upperBound } from './performance.ts';
import { chiSquareSf } from './special.ts';

export const DRIFT_DEFAULTS = {
  /** Quantile bins of the reference for PSI. */
  bins: 10,
  /** Intervals of the reference's quantile sketch (sketch + 1 quantiles at k / sketch). */
  sketch: 100,
  /** A bin's share is at least this in PSI (an empty bin would make it infinite). */
  epsilon: 1e-4,
  /** A feature drifted when PSI >= this ... */
  psi: 0.2,
  /** ... or when the test's p-value < alpha and its effect (KS statistic, or total variation distance) >= minEffect. */
  alpha: 0.05,
  minEffect: 0.1,
  /** The dataset drifted when at least this share of its features drifted. */
  share: 0.3,
} as const;

export interface DriftThresholds {
  psi?: number;
  alpha?: number;
  minEffect?: number;
}

/** What numeric drift needs of the reference: its size, PSI bins and counts, and a quantile sketch for KS. */
export interface NumericReference {
  kind: 'numeric';
  /** Non-null values summarised. */
  n: number;
  /** Null (or NaN) values, not in `n`. */
  nulls: number;
  /** Inner bin edges, ascending and distinct; bin k holds edges[k-1] < x <= edges[k] (open at both ends). */
  edges: number[];
  /** edges.length + 1 counts. */
  counts: number[];
  /** Quantiles at probabilities k / (length - 1), from the minimum to the maximum. */
  quantiles: number[];
}

/** What categorical drift needs: the count of each category (the rest, if summarised, under `other`). */
export interface CategoricalReference {
  kind: 'categorical';
  n: number;
  nulls: number;
  counts: Record<string, number>;
  /** Rows in categories not listed in `counts` (a profile keeps the most frequent only). */
  other: number;
}

/** A numeric reference from raw values (NaN counted as null). */
export function numericReference(
  values: ArrayLike<number>,
  options: { bins?: number; sketch?: number } = {},
): NumericReference {
  return numericReferenceSorted(sortedFinite(values), values.length, options);
}

export function numericReferenceSorted(
  sorted: Float64Array,
  total: number,
  options: { bins?: number; sketch?: number } = {},
): NumericReference {
  const bins = options.bins ?? DRIFT_DEFAULTS.bins;
  const sketch = options.sketch ?? DRIFT_DEFAULTS.sketch;
  const edges = quantileEdges(sorted, bins);
  return {
    kind: 'numeric',
    n: sorted.length,
    nulls: total - sorted.length,
    edges,
    counts: Array.from(binCountsSorted(sorted, edges)),
    quantiles: sorted.length ? Array.from({ length: sketch + 1 }, (_, k) => quantileSorted(sorted, k / sketch)) : [],
  };
}

/** Distinct inner edges at the quantiles k / bins (k = 1 .. bins - 1) of ascending values. */
export function quantileEdges(sorted: ArrayLike<number>, bins: number): number[] {
  const edges: number[] = [];
  for (let k = 1; k < bins; k++) {
    const q = quantileSorted(sorted, k / bins);
    if (!Number.isNaN(q) && (edges.length === 0 || q > edges[edges.length - 1]!)) edges.push(q);
  }
  return edges;
}

/** Counts per bin (bin k: edges[k-1] < x <= edges[k]); NaN values are skipped. */
export function binCounts(values: ArrayLike<number>, edges: ArrayLike<number>): Float64Array {
  const counts = new Float64Array(edges.length + 1);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isNaN(v)) counts[lowerBound(edges, v)]!++;
  }
  return counts;
}

/** binCounts of ascending values: one binary search per edge. */
export function binCountsSorted(sorted: ArrayLike<number>, edges: ArrayLike<number>): Float64Array {
  const counts = new Float64Array(edges.length + 1);
  let previous = 0;
  for (let k = 0; k < edges.length; k++) {
    const upTo = upperBound(sorted, edges[k]!);
    counts[k] = upTo - previous;
    previous = upTo;
  }
  counts[edges.length] = sorted.length - previous;
  return counts;
}

/**
 * Population stability index of two count vectors over the same bins:
 * sum_k (c_k - r_k) ln(c_k / r_k), with r_k, c_k the shares, each at least epsilon.
 */
export function psi(
  reference: ArrayLike<number>,
  current: ArrayLike<number>,
  epsilon: number = DRIFT_DEFAULTS.epsilon,
): number {
  if (reference.length !== current.length) throw new RangeError('psi: the count vectors differ in length');
  let nr = 0;
  let nc = 0;
  for (let k = 0; k < reference.length; k++) {
    nr += reference[k]!;
    nc += current[k]!;
  }
  if (nr === 0 || nc === 0) return Number.NaN;
  let sum = 0;
  for (let k = 0; k < reference.length; k++) {
    const r = Math.max(reference[k]! / nr, epsilon);
    const c = Math.max(current[k]! / nc, epsilon);
    sum += (c - r) * Math.log(c / r);
  }
  return sum;
}

export interface DriftBin {
  /** -Infinity for the first bin. */
  lo: number;
  /** Infinity for the last bin. */
  hi: number;
  reference: number;
  current: number;
}

export interface KsDrift extends Omit<KsResult, 'method'> {
  method: KsResult['method'] | 'sketch';
}

export interface NumericDrift {
  kind: 'numeric';
  psi: number;
  ks: KsDrift;
  bins: DriftBin[];
  nullShare: { reference: number; current: number };
  drifted: boolean;
}

/** Drift of a numeric feature between raw reference values and raw current values (exact KS). */
export function numericDriftSamples(
  reference: ArrayLike<number>,
  current: ArrayLike<number>,
  options: { bins?: number; epsilon?: number } & DriftThresholds = {},
): NumericDrift {
  const refSorted = sortedFinite(reference);
  const curSorted = sortedFinite(current);
  const ref = numericReferenceSorted(refSorted, reference.length, { bins: options.bins, sketch: 1 });
  const ks = ks2SampSorted(refSorted, curSorted);
  return finishNumeric(ref, curSorted, current.length, ks, options);
}

/**
 * Drift of a numeric feature against a stored reference. KS compares the current sample's ECDF with the
 * reference's piecewise-linear ECDF through its quantile sketch; the p-value uses the true sizes (n_ref, n_cur).
 */
export function numericDrift(
  reference: NumericReference,
  current: ArrayLike<number>,
  options: { epsilon?: number } & DriftThresholds = {},
): NumericDrift {
  const curSorted = sortedFinite(current);
  const d = ksStatisticSketch(reference.quantiles, curSorted);
  const p = ksPValue(d, reference.n, curSorted.length);
  const ks: KsDrift = { statistic: d, pValue: p.pValue, method: 'sketch', n1: reference.n, n2: curSorted.length };
  return finishNumeric(reference, curSorted, current.length, ks, options);
}

function finishNumeric(
  reference: NumericReference,
  curSorted: Float64Array,
  curTotal: number,
  ks: KsDrift,
  options: { epsilon?: number } & DriftThresholds,
): NumericDrift {
  const currentCounts = binCountsSorted(curSorted, reference.edges);
  const value = psi(reference.counts, currentCounts, options.epsilon);
  const edges = reference.edges;
  return {
    kind: 'numeric',
    psi: value,
    ks,
    bins: reference.counts.map((count, k) => ({
      lo: k === 0 ? -Infinity : edges[k - 1]!,
      hi: k === edges.length ? Infinity : edges[k]!,
      reference: count,
      current: currentCounts[k]!,
    })),
    nullShare: {
      reference: reference.n + reference.nulls === 0 ? 0 : reference.nulls / (reference.n + reference.nulls),
      current: curTotal === 0 ? 0 : (curTotal - curSorted.length) / curTotal,
    },
    drifted: isDrifted(value, ks.pValue, ks.statistic, options),
  };
}

/** The drift rule: PSI >= psi, or p-value < alpha with an effect >= minEffect (DRIFT_DEFAULTS). */
export function isDrifted(psiValue: number, pValue: number, effect: number, options: DriftThresholds): boolean {
  const psiLimit = options.psi ?? DRIFT_DEFAULTS.psi;
  const alpha = options.alpha ?? DRIFT_DEFAULTS.alpha;
  const minEffect = options.minEffect ?? DRIFT_DEFAULTS.minEffect;
  return psiValue >= psiLimit || (pValue < alpha && effect >= minEffect);
}

/**
 * sup_x |F_cur(x) - F_ref(x)| where F_ref interpolates linearly between the sketch's points (q_k, k / m) and F_cur
 * is the current sample's ECDF; checked at every current value (both sides of its step) and every sketch point.
 */
export function ksStatisticSketch(quantiles: ArrayLike<number>, curSorted: ArrayLike<number>): number {
  const m = quantiles.length - 1;
  const n = curSorted.length;
  if (m < 1 || n === 0) return Number.NaN;
  // The reference CDF through the sketch: linear between distinct points, a jump at a tied point (a point mass, as
  // in a binary or integer column). `refAt` is F(x), right-continuous; `refBelow` is its left limit F(x-).
  const interpolate = (k: number, x: number) => {
    const lo = quantiles[k]!;
    const hi = quantiles[k + 1]!;
    return (k + (hi > lo ? (x - lo) / (hi - lo) : 0)) / m;
  };
  const refAt = (x: number) => {
    if (x < quantiles[0]!) return 0;
    if (x >= quantiles[m]!) return 1;
    return interpolate(upperBound(quantiles, x) - 1, x); // q_k <= x < q_{k+1}
  };
  const refBelow = (x: number) => {
    if (x <= quantiles[0]!) return 0;
    if (x > quantiles[m]!) return 1;
    return interpolate(lowerBound(quantiles, x) - 1, x); // q_k < x <= q_{k+1}
  };
  // Both CDFs are monotone between the current values and the sketch points, so the supremum is at one of them,
  // at the point or just below it.
  let d = 0;
  for (let i = 0; i < n; ) {
    const v = curSorted[i]!;
    let j = i;
    while (j < n && curSorted[j] === v) j++;
    d = Math.max(d, Math.abs(j / n - refAt(v)), Math.abs(i / n - refBelow(v)));
    i = j;
  }
  for (let k = 0; k <= m; k++) {
    const q = quantiles[k]!;
    if (k > 0 && quantiles[k - 1] === q) continue;
    const below = lowerBound(curSorted, q) / n;
    const atOrBelow = upperBound(curSorted, q) / n;
    d = Math.max(d, Math.abs(atOrBelow - refAt(q)), Math.abs(below - refBelow(q)));
  }
  return Math.min(d, 1);
}

/** Categories counted from raw values (null and undefined counted apart). */
export function countCategories(values: ArrayLike<string | number | boolean | null | undefined>): {
  counts: Record<string, number>;
  nulls: number;
} {
  const counts: Record<string, number> = Object.create(null);
  let nulls = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) nulls++;
    else {
      const key = String(v);
      counts[key] = (counts[key] ?? 0) + 1;
    }
  }
  return { counts, nulls };
}

export function categoricalReference(
  values: ArrayLike<string | number | boolean | null | undefined>,
): CategoricalReference {
  const { counts, nulls } = countCategories(values);
  return { kind: 'categorical', n: Object.values(counts).reduce((a, b) => a + b, 0), nulls, counts, other: 0 };
}

export interface ChiSquareResult {
  statistic: number;
  pValue: number;
  dof: number;
}

/**
 * Pearson's chi-square test of independence on a 2 x k table of counts (scipy.stats.chi2_contingency): categories
 * empty in both rows are dropped; Yates' continuity correction when dof = 1.
 */
export function chiSquareTest(a: ArrayLike<number>, b: ArrayLike<number>): ChiSquareResult {
  if (a.length !== b.length) throw new RangeError('chiSquareTest: the count vectors differ in length');
  const cols: [number, number][] = [];
  for (let k = 0; k < a.length; k++) if (a[k]! + b[k]! > 0) cols.push([a[k]!, b[k]!]);
  const dof = cols.length - 1;
  const na = cols.reduce((s, c) => s + c[0], 0);
  const nb = cols.reduce((s, c) => s + c[1], 0);
  const total = na + nb;
  if (dof <= 0 || na === 0 || nb === 0) return { statistic: 0, pValue: 1, dof: Math.max(dof, 0) };
  let stat = 0;
  for (const [oa, ob] of cols) {
    for (const [o, rowSum] of [
      [oa, na],
      [ob, nb],
    ] as const) {
      const e = (rowSum * (oa + ob)) / total;
      let observed = o;
      if (dof === 1) {
        const diff = e - observed;
        observed += Math.sign(diff) * Math.min(0.5, Math.abs(diff));
      }
      stat += (observed - e) ** 2 / e;
    }
  }
  return { statistic: stat, pValue: chiSquareSf(stat, dof), dof };
}

export interface CategoricalDrift {
  kind: 'categorical';
  psi: number;
  chiSquare: ChiSquareResult;
  /** Half the L1 distance between the two category distributions, in [0, 1]. */
  totalVariation: number;
  categories: { value: string; reference: number; current: number }[];
  nullShare: { reference: number; current: number };
  drifted: boolean;
}

/** The key that stands for categories a summarised reference does not list. */
export const OTHER_CATEGORY = '__other__';

/**
 * Drift of a categorical feature. Categories of the current sample that a summarised reference (other > 0) does
 * not list are pooled into `__other__`; with a complete reference they stay apart (reference count 0).
 */
export function categoricalDrift(
  reference: CategoricalReference,
  current: ArrayLike<string | number | boolean | null | undefined> | { counts: Record<string, number>; nulls: number },
  options: { epsilon?: number } & DriftThresholds = {},
): CategoricalDrift {
  const cur = 'counts' in current ? current : countCategories(current);
  const refCounts = new Map(Object.entries(reference.counts));
  const curCounts = new Map<string, number>();
  const pool = reference.other > 0;
  if (pool) refCounts.set(OTHER_CATEGORY, (refCounts.get(OTHER_CATEGORY) ?? 0) + reference.other);
  for (const [value, count] of Object.entries(cur.counts)) {
    const key = pool && !refCounts.has(value) ? OTHER_CATEGORY : value;
    curCounts.set(key, (curCounts.get(key) ?? 0) + count);
  }
  const keys = [...new Set([...refCounts.keys(), ...curCounts.keys()])].sort();
  const r = keys.map((k) => refCounts.get(k) ?? 0);
  const c = keys.map((k) => curCounts.get(k) ?? 0);
  const nr = r.reduce((a, b) => a + b, 0);
  const nc = c.reduce((a, b) => a + b, 0);
  let tv = 0;
  for (let k = 0; k < keys.length; k++) tv += Math.abs(r[k]! / (nr || 1) - c[k]! / (nc || 1));
  tv /= 2;
  const value = psi(r, c, options.epsilon);
  const chi = chiSquareTest(r, c);
  const curTotal = nc + cur.nulls;
  return {
    kind: 'categorical',
    psi: value,
    chiSquare: chi,
    totalVariation: tv,
    categories: keys.map((k, i) => ({ value: k, reference: r[i]!, current: c[i]! })),
    nullShare: {
      reference: reference.n + reference.nulls === 0 ? 0 : reference.nulls / (reference.n + reference.nulls),
      current: curTotal === 0 ? 0 : cur.nulls / curTotal,
    },
    drifted: isDrifted(value, chi.pValue, tv, options),
  };
}

export interface DatasetDrift {
  /** Drifted features / features judged. */
  share: number;
  drifted: boolean;
  driftedFeatures: string[];
  features: number;
  threshold: number;
}

/** The dataset verdict: drifted when the share of drifted features is >= `share` (default 0.3). */
export function datasetDrift(
  features: readonly { name: string; drifted: boolean }[],
  options: { share?: number } = {},
): DatasetDrift {
  const threshold = options.share ?? DRIFT_DEFAULTS.share;
  const driftedFeatures = features.filter((f) => f.drifted).map((f) => f.name);
  const share = features.length === 0 ? 0 : driftedFeatures.length / features.length;
  return {
    share,
    drifted: features.length > 0 && share >= threshold,
    driftedFeatures,
    features: features.length,
    threshold,
  };
}
