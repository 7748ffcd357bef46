/**
 * Fairness by group of a binary classifier (the definitions of fairlearn and of the four-fifths rule of the US
 * Uniform Guidelines on Employee Selection, 29 CFR 1607.4(D)): per group the selection rate, true and false
 * positive rates and accuracy, with Wilson intervals; across groups the demographic parity difference and ratio,
 * disparate impact, equal opportunity difference and equalized odds difference, with bootstrap intervals.
 * Groups with fewer rows than `minGroupSize` are reported, flagged `tooSmall`, and left out of the summaries.
 */
import { type BootstrapOptions, bootstrapIntervals, type Interval, wilsonInterval } from './bootstrap.ts';

export const FAIRNESS_DEFAULTS = {
  /** Rows a group needs to be judged; smaller groups are flagged and left out of the summaries. */
  minGroupSize: 30,
  /** The four-fifths rule: disparate impact below this is flagged. */
  fourFifths: 0.8,
} as const;

export interface Groups {
  /** The label of each group, by index. */
  labels: string[];
  /** The group index of each row; -1 for a row in no group (a null value), left out. */
  index: Int32Array;
}

/**
 * Groups of a numeric column by bucket edges: `[25, 45, 65]` gives '<25', '25-45', '45-65', '>=65' (a value on an
 * edge goes to the bucket above it). NaN values are in no group.
 */
export function bucketGroups(values: ArrayLike<number>, edges: readonly number[]): Groups {
  for (let i = 1; i < edges.length; i++) {
    if (!(edges[i]! > edges[i - 1]!)) throw new RangeError('buckets must be strictly increasing');
  }
  if (edges.length === 0) throw new RangeError('buckets need at least one edge');
  const labels = [`<${edges[0]}`];
  for (let i = 1; i < edges.length; i++) labels.push(`${edges[i - 1]}-${edges[i]}`);
  labels.push(`>=${edges[edges.length - 1]}`);
  const index = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isNaN(v)) {
      index[i] = -1;
      continue;
    }
    let b = 0;
    while (b < edges.length && v >= edges[b]!) b++;
    index[i] = b;
  }
  return { labels, index };
}

/** Groups of a categorical column, labels sorted; null and undefined are in no group. */
export function categoryGroups(values: ArrayLike<string | number | boolean | null | undefined>): Groups {
  const distinct = new Set<string>();
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== null && v !== undefined) distinct.add(String(v));
  }
  const labels = [...distinct].sort();
  const at = new Map(labels.map((l, i) => [l, i]));
  const index = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    index[i] = v === null || v === undefined ? -1 : at.get(String(v))!;
  }
  return { labels, index };
}

export interface GroupRates {
  group: string;
  n: number;
  /** Rows predicted favourable / n. */
  selectionRate: number;
  /** Favourable predictions among rows whose truth is favourable (NaN without such rows). */
  truePositiveRate: number;
  /** Favourable predictions among rows whose truth is unfavourable (NaN without such rows). */
  falsePositiveRate: number;
  accuracy: number;
  /** 95% (or `level`) Wilson intervals. */
  intervals: { selectionRate: [number, number]; truePositiveRate: [number, number]; accuracy: [number, number] };
  /** Fewer rows than minGroupSize: shown, not judged. */
  tooSmall: boolean;
  /** Selection rate / the highest selection rate among judged groups. */
  disparateImpact: number;
}

export interface FairnessSummary {
  /** max - min selection rate over judged groups. */
  demographicParityDifference: number;
  /** min / max selection rate over judged groups. */
  demographicParityRatio: number;
  /** The lowest group's selection rate relative to the highest (equal to the ratio above); < 0.8 fails the four-fifths rule. */
  disparateImpact: number;
  fourFifthsViolation: boolean;
  /** max - min true positive rate. */
  equalOpportunityDifference: number;
  /** max(TPR difference, FPR difference). */
  equalizedOddsDifference: number;
  /** min / max accuracy. */
  accuracyRatio: number;
}

export interface FairnessReport extends FairnessSummary {
  groups: GroupRates[];
  /** Groups judged (at least minGroupSize rows); the summaries need two. */
  judged: number;
  minGroupSize: number;
  /** Bootstrap intervals of the summaries, when asked for. */
  intervals?: Record<keyof FairnessSummary, Interval | undefined>;
}

export interface FairnessOptions {
  /** 1 (favourable) or 0 per row: the model's decision. */
  predicted: ArrayLike<number>;
  /** 1 (favourable) or 0 per row: the true outcome. */
  truth: ArrayLike<number>;
  groups: Groups;
  minGroupSize?: number;
  level?: number;
  /** Bootstrap intervals of the summaries (resampling rows, the groups as they fall). Off when omitted. */
  bootstrap?: BootstrapOptions;
}

/** Fairness rates per group and their summaries. A favourable outcome is 1. */
export function fairness(options: FairnessOptions): FairnessReport {
  const { predicted, truth, groups } = options;
  if (predicted.length !== truth.length || truth.length !== groups.index.length) {
    throw new RangeError('fairness: predicted, truth and groups differ in length');
  }
  const minGroupSize = options.minGroupSize ?? FAIRNESS_DEFAULTS.minGroupSize;
  const level = options.level ?? 0.95;
  const counts = groupCounts(predicted, truth, groups.index, groups.labels.length);
  const rates: GroupRates[] = groups.labels.map((label, g) => {
    const c = counts[g]!;
    const sel = wilsonInterval(c.selected, c.n, level);
    const tpr = wilsonInterval(c.tp, c.positives, level);
    const acc = wilsonInterval(c.right, c.n, level);
    return {
      group: label,
      n: c.n,
      selectionRate: sel.estimate,
      truePositiveRate: tpr.estimate,
      falsePositiveRate: c.n - c.positives === 0 ? Number.NaN : c.fp / (c.n - c.positives),
      accuracy: acc.estimate,
      intervals: { selectionRate: [sel.lo, sel.hi], truePositiveRate: [tpr.lo, tpr.hi], accuracy: [acc.lo, acc.hi] },
      tooSmall: c.n < minGroupSize,
      disparateImpact: Number.NaN,
    };
  });
  const summary = summarize(counts, minGroupSize);
  const maxSelection = Math.max(...rates.filter((r) => !r.tooSmall).map((r) => r.selectionRate));
  for (const r of rates) r.disparateImpact = maxSelection > 0 ? r.selectionRate / maxSelection : Number.NaN;
  const report: FairnessReport = {
    ...summary,
    groups: rates,
    judged: rates.filter((r) => !r.tooSmall).length,
    minGroupSize,
  };
  if (options.bootstrap) {
    const keys = (Object.keys(summary) as (keyof FairnessSummary)[]).filter((k) => k !== 'fourFifthsViolation');
    const intervals = bootstrapIntervals(
      [predicted, truth, Float64Array.from(groups.index)],
      (p, t, gi) => {
        const s = summarize(groupCounts(p, t, gi, groups.labels.length), minGroupSize);
        return keys.map((key) => Number(s[key]));
      },
      { ...options.bootstrap, level: options.bootstrap.level ?? level },
    );
    report.intervals = Object.fromEntries([
      ...keys.map((key, k) => [key, intervals[k]]),
      ['fourFifthsViolation', undefined],
    ]) as Record<keyof FairnessSummary, Interval | undefined>;
  }
  return report;
}

interface Counts {
  n: number;
  selected: number;
  positives: number;
  tp: number;
  fp: number;
  right: number;
}

function groupCounts(
  predicted: ArrayLike<number>,
  truth: ArrayLike<number>,
  index: ArrayLike<number>,
  k: number,
): Counts[] {
  const counts = Array.from({ length: k }, () => ({ n: 0, selected: 0, positives: 0, tp: 0, fp: 0, right: 0 }));
  for (let i = 0; i < index.length; i++) {
    const g = index[i]!;
    if (g < 0) continue;
    const c = counts[g]!;
    const p = predicted[i] === 1;
    const t = truth[i] === 1;
    c.n++;
    if (p) c.selected++;
    if (t) c.positives++;
    if (p && t) c.tp++;
    if (p && !t) c.fp++;
    if (p === t) c.right++;
  }
  return counts;
}

function summarize(counts: Counts[], minGroupSize: number): FairnessSummary {
  const judged = counts.filter((c) => c.n >= minGroupSize);
  const spread = (values: number[]) => {
    const v = values.filter((x) => !Number.isNaN(x));
    return v.length < 2
      ? { diff: Number.NaN, ratio: Number.NaN }
      : {
          diff: Math.max(...v) - Math.min(...v),
          ratio: Math.max(...v) === 0 ? Number.NaN : Math.min(...v) / Math.max(...v),
        };
  };
  const selection = spread(judged.map((c) => c.selected / c.n));
  const tpr = spread(judged.map((c) => (c.positives ? c.tp / c.positives : Number.NaN)));
  const fpr = spread(judged.map((c) => (c.n - c.positives ? c.fp / (c.n - c.positives) : Number.NaN)));
  const acc = spread(judged.map((c) => c.right / c.n));
  return {
    demographicParityDifference: selection.diff,
    demographicParityRatio: selection.ratio,
    disparateImpact: selection.ratio,
    fourFifthsViolation: selection.ratio < FAIRNESS_DEFAULTS.fourFifths,
    equalOpportunityDifference: tpr.diff,
    equalizedOddsDifference:
      Number.isNaN(tpr.diff) || Number.isNaN(fpr.diff) ? Number.NaN : Math.max(tpr.diff, fpr.diff),
    accuracyRatio: acc.ratio,
  };
}

export interface GroupBurden {
  group: string;
  /** Rows with an unfavourable prediction and a counterfactual distance. */
  n: number;
  /** Mean counterfactual distance of those rows (Certifai's burden). */
  burden: number;
  tooSmall: boolean;
}

/**
 * Certifai's burden per group: the mean counterfactual distance over the group's rows that received the
 * unfavourable outcome (predicted 0); rows whose distance is NaN (no counterfactual found) are left out and
 * counted in `unresolved`.
 */
export function burdenByGroup(options: {
  distances: ArrayLike<number>;
  predicted: ArrayLike<number>;
  groups: Groups;
  minGroupSize?: number;
}): { groups: GroupBurden[]; unresolved: number; ratio: number } {
  const { distances, predicted, groups } = options;
  const minGroupSize = options.minGroupSize ?? FAIRNESS_DEFAULTS.minGroupSize;
  const sums = new Float64Array(groups.labels.length);
  const ns = new Float64Array(groups.labels.length);
  let unresolved = 0;
  for (let i = 0; i < distances.length; i++) {
    const g = groups.index[i]!;
    if (g < 0 || predicted[i] === 1) continue;
    const d = distances[i]!;
    if (Number.isNaN(d)) {
      unresolved++;
      continue;
    }
    sums[g]! += d;
    ns[g]!++;
  }
  const out = groups.labels.map((group, g) => ({
    group,
    n: ns[g]!,
    burden: ns[g] ? sums[g]! / ns[g]! : Number.NaN,
    tooSmall: ns[g]! < minGroupSize,
  }));
  const judged = out.filter((b) => !b.tooSmall && !Number.isNaN(b.burden)).map((b) => b.burden);
  // Burden ratio: the lightest over the heaviest burden (1 is even).
  const ratio = judged.length < 2 || Math.max(...judged) === 0 ? Number.NaN : Math.min(...judged) / Math.max(...judged);
  return { groups: out, unresolved, ratio };
}
