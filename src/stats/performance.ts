/**
 * Performance metrics of classifiers and regressors over typed arrays, each defined as scikit-learn defines it
 * (docs/metrics.md has the formulas and references). Binary metrics take `truth` with 1 for the positive class (any
 * other value is negative) and either hard predictions (1 positive) or scores (P(positive)).
 */

import { sortFloat64 } from './sort.ts';

export type Numbers = ArrayLike<number>;

export interface BinaryConfusion {
  tn: number;
  fp: number;
  fn: number;
  tp: number;
}

/** Counts of a binary confusion matrix; a row is predicted positive when its score is > threshold. */
export function binaryConfusion(scores: Numbers, truth: Numbers, threshold = 0.5): BinaryConfusion {
  sameLength(scores, truth);
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (let i = 0; i < scores.length; i++) {
    const predicted = scores[i]! > threshold;
    const positive = truth[i] === 1;
    if (predicted) {
      if (positive) tp++;
      else fp++;
    } else if (positive) fn++;
    else tn++;
  }
  return { tn, fp, fn, tp };
}

/** Hard 0/1 predictions: 1 where score > threshold. */
export function predictLabels(scores: Numbers, threshold = 0.5): Uint8Array {
  const out = new Uint8Array(scores.length);
  for (let i = 0; i < scores.length; i++) out[i] = scores[i]! > threshold ? 1 : 0;
  return out;
}

/**
 * Confusion matrix over classes 0..k-1 (k defaults to the largest label + 1): `matrix[t][p]` counts rows of true
 * class t predicted as p (scikit-learn's `confusion_matrix` layout). Labels must be integers in [0, k).
 */
export function confusionMatrix(truth: Numbers, predicted: Numbers, classes?: number): number[][] {
  sameLength(truth, predicted);
  let k = classes ?? 0;
  if (classes === undefined) for (let i = 0; i < truth.length; i++) k = Math.max(k, truth[i]! + 1, predicted[i]! + 1);
  const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i]!;
    const p = predicted[i]!;
    if (!Number.isInteger(t) || !Number.isInteger(p) || t < 0 || p < 0 || t >= k || p >= k) {
      throw new RangeError(`confusionMatrix: labels must be integers in [0, ${k}), row ${i} has ${t} and ${p}`);
    }
    m[t]![p]!++;
  }
  return m;
}

/** Share of rows where predicted equals truth (binary or multiclass labels). NaN for no rows. */
export function accuracy(truth: Numbers, predicted: Numbers): number {
  sameLength(truth, predicted);
  let right = 0;
  for (let i = 0; i < truth.length; i++) if (truth[i] === predicted[i]) right++;
  return truth.length === 0 ? Number.NaN : right / truth.length;
}

/** tp / (tp + fp) of the positive class 1; 0 when nothing is predicted positive (scikit-learn's zero_division=0). */
export function precision(truth: Numbers, predicted: Numbers): number {
  const c = hardConfusion(truth, predicted);
  return c.tp + c.fp === 0 ? 0 : c.tp / (c.tp + c.fp);
}

/** tp / (tp + fn) of the positive class 1; 0 when there is no positive row. */
export function recall(truth: Numbers, predicted: Numbers): number {
  const c = hardConfusion(truth, predicted);
  return c.tp + c.fn === 0 ? 0 : c.tp / (c.tp + c.fn);
}

/** 2 tp / (2 tp + fp + fn), the harmonic mean of precision and recall; 0 when both are 0. */
export function f1(truth: Numbers, predicted: Numbers): number {
  const c = hardConfusion(truth, predicted);
  const d = 2 * c.tp + c.fp + c.fn;
  return d === 0 ? 0 : (2 * c.tp) / d;
}

function hardConfusion(truth: Numbers, predicted: Numbers): BinaryConfusion {
  sameLength(truth, predicted);
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (let i = 0; i < truth.length; i++) {
    const p = predicted[i] === 1;
    const t = truth[i] === 1;
    if (p && t) tp++;
    else if (p) fp++;
    else if (t) fn++;
    else tn++;
  }
  return { tn, fp, fn, tp };
}

/** Per-class and macro-averaged precision, recall and F1 of multiclass labels 0..k-1 (scikit-learn's average='macro'). */
export function multiclassMetrics(
  truth: Numbers,
  predicted: Numbers,
  classes?: number,
): {
  accuracy: number;
  macroPrecision: number;
  macroRecall: number;
  macroF1: number;
  perClass: { precision: number; recall: number; f1: number; support: number }[];
  confusion: number[][];
} {
  const confusion = confusionMatrix(truth, predicted, classes);
  const k = confusion.length;
  const perClass = confusion.map((row, c) => {
    const tp = row[c]!;
    const support = row.reduce((a, b) => a + b, 0);
    let predictedC = 0;
    for (let t = 0; t < k; t++) predictedC += confusion[t]![c]!;
    const p = predictedC === 0 ? 0 : tp / predictedC;
    const r = support === 0 ? 0 : tp / support;
    const f = predictedC + support === 0 ? 0 : (2 * tp) / (predictedC + support);
    return { precision: p, recall: r, f1: f, support };
  });
  const mean = (f: (c: (typeof perClass)[number]) => number) => perClass.reduce((a, c) => a + f(c), 0) / (k || 1);
  return {
    accuracy: accuracy(truth, predicted),
    macroPrecision: mean((c) => c.precision),
    macroRecall: mean((c) => c.recall),
    macroF1: mean((c) => c.f1),
    perClass,
    confusion,
  };
}

/**
 * scikit-learn's `_binary_clf_curve`: for each distinct score, from the highest down, the number of positives (tps)
 * and negatives (fps) scoring at least that much. Sorts the positives' and negatives' scores apart (typed-array
 * sorts, no comparator) and merges them, so a million rows take two native sorts and one pass.
 */
export function binaryCurve(
  scores: Numbers,
  truth: Numbers,
): { thresholds: Float64Array; tps: Float64Array; fps: Float64Array } {
  sameLength(scores, truth);
  let positives = 0;
  for (let i = 0; i < truth.length; i++) if (truth[i] === 1) positives++;
  const pos = new Float64Array(positives);
  const neg = new Float64Array(truth.length - positives);
  for (let i = 0, a = 0, b = 0; i < truth.length; i++) {
    const s = scores[i]!;
    if (Number.isNaN(s)) throw new RangeError(`score at row ${i} is NaN`);
    if (truth[i] === 1) pos[a++] = s;
    else neg[b++] = s;
  }
  sortFloat64(pos);
  sortFloat64(neg);
  const thresholds = new Float64Array(scores.length);
  const tps = new Float64Array(scores.length);
  const fps = new Float64Array(scores.length);
  let i = pos.length - 1;
  let j = neg.length - 1;
  let tp = 0;
  let fp = 0;
  let k = 0;
  while (i >= 0 || j >= 0) {
    const t = Math.max(i >= 0 ? pos[i]! : -Infinity, j >= 0 ? neg[j]! : -Infinity);
    while (i >= 0 && pos[i] === t) {
      tp++;
      i--;
    }
    while (j >= 0 && neg[j] === t) {
      fp++;
      j--;
    }
    thresholds[k] = t;
    tps[k] = tp;
    fps[k] = fp;
    k++;
  }
  return { thresholds: thresholds.slice(0, k), tps: tps.slice(0, k), fps: fps.slice(0, k) };
}

export interface RocCurve {
  fpr: number[];
  tpr: number[];
  /** Decreasing; the first is Infinity (the point (0, 0)), as scikit-learn >= 1.3. */
  thresholds: number[];
}

/**
 * ROC curve points as scikit-learn's `roc_curve(drop_intermediate=True)`: the points where the curve changes
 * direction, preceded by (0, 0). Empty arrays when one class is absent (the curve is undefined).
 */
export function rocCurve(scores: Numbers, truth: Numbers): RocCurve {
  const { thresholds, tps, fps } = binaryCurve(scores, truth);
  const n = thresholds.length;
  const P = n ? tps[n - 1]! : 0;
  const N = n ? fps[n - 1]! : 0;
  if (P === 0 || N === 0) return { fpr: [], tpr: [], thresholds: [] };
  const keep: number[] = [];
  for (let k = 0; k < n; k++) {
    if (k === 0 || k === n - 1 || n <= 2) keep.push(k);
    else {
      const d2f = fps[k + 1]! - 2 * fps[k]! + fps[k - 1]!;
      const d2t = tps[k + 1]! - 2 * tps[k]! + tps[k - 1]!;
      if (d2f !== 0 || d2t !== 0) keep.push(k);
    }
  }
  return {
    fpr: [0, ...keep.map((k) => fps[k]! / N)],
    tpr: [0, ...keep.map((k) => tps[k]! / P)],
    thresholds: [Infinity, ...keep.map((k) => thresholds[k]!)],
  };
}

/**
 * Area under the ROC curve: the Mann-Whitney estimate P(score of a positive > score of a negative), ties counting
 * one half, which equals the trapezoids under the ROC curve. Both classes' scores are radix-sorted and merged,
 * counting twice the pairs as integers (exact below 2^53) and dividing once. NaN when one class is absent.
 */
export function rocAuc(scores: Numbers, truth: Numbers): number {
  sameLength(scores, truth);
  let positives = 0;
  for (let i = 0; i < truth.length; i++) if (truth[i] === 1) positives++;
  const negatives = truth.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  const pos = new Float64Array(positives);
  const neg = new Float64Array(negatives);
  for (let i = 0, a = 0, b = 0; i < truth.length; i++) {
    const s = scores[i]!;
    if (Number.isNaN(s)) throw new RangeError(`score at row ${i} is NaN`);
    if (truth[i] === 1) pos[a++] = s;
    else neg[b++] = s;
  }
  sortFloat64(pos);
  sortFloat64(neg);
  let pairs2 = 0;
  let below = 0;
  for (let i = 0; i < positives; ) {
    const v = pos[i]!;
    let same = i;
    while (same < positives && pos[same] === v) same++;
    while (below < negatives && neg[below]! < v) below++;
    let equal = below;
    while (equal < negatives && neg[equal] === v) equal++;
    pairs2 += (same - i) * (2 * below + (equal - below));
    i = same;
  }
  return pairs2 / (2 * positives * negatives);
}

/**
 * Average precision, scikit-learn's `average_precision_score`: sum over thresholds (descending) of
 * (R_k - R_{k-1}) * P_k, a step function with no interpolation. NaN when there is no positive row.
 */
export function averagePrecision(scores: Numbers, truth: Numbers): number {
  const { tps, fps } = binaryCurve(scores, truth);
  const n = tps.length;
  const P = n ? tps[n - 1]! : 0;
  if (P === 0) return Number.NaN;
  let ap = 0;
  let lastT = 0;
  for (let k = 0; k < n; k++) {
    const tp = tps[k]!;
    if (tp !== lastT) ap += ((tp - lastT) / P) * (tp / (tp + fps[k]!));
    lastT = tp;
  }
  return ap;
}

/** Precision-recall curve points (recall increasing), as scikit-learn's `precision_recall_curve` read backwards. */
export function precisionRecallCurve(
  scores: Numbers,
  truth: Numbers,
): { precision: number[]; recall: number[]; thresholds: number[] } {
  const { thresholds, tps, fps } = binaryCurve(scores, truth);
  const n = tps.length;
  const P = n ? tps[n - 1]! : 0;
  if (P === 0) return { precision: [], recall: [], thresholds: [] };
  const precisionOut = [1];
  const recallOut = [0];
  const thresholdsOut: number[] = [];
  // Stop once full recall is reached, as scikit-learn does.
  for (let k = 0; k < n; k++) {
    precisionOut.push(tps[k]! / (tps[k]! + fps[k]!));
    recallOut.push(tps[k]! / P);
    thresholdsOut.push(thresholds[k]!);
    if (tps[k] === P) break;
  }
  return { precision: precisionOut, recall: recallOut, thresholds: thresholdsOut };
}

/** Machine epsilon of float64: scikit-learn 1.2's `log_loss(eps='auto')` clips probabilities to [eps, 1 - eps]. */
export const LOG_LOSS_EPS = 2.220446049250313e-16;

/** Mean negative log-likelihood of binary truth under P(positive) = probs, probabilities clipped to [eps, 1-eps]. */
export function logLoss(probs: Numbers, truth: Numbers, eps = LOG_LOSS_EPS): number {
  sameLength(probs, truth);
  let sum = 0;
  for (let i = 0; i < probs.length; i++) {
    const p = Math.min(Math.max(probs[i]!, eps), 1 - eps);
    sum -= truth[i] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return probs.length === 0 ? Number.NaN : sum / probs.length;
}

/**
 * Multiclass log loss: `probs` is row-major [n, k]; each row is renormalised to sum 1 after clipping, as
 * scikit-learn 1.2 does. Truth labels are integers in [0, k).
 */
export function multiclassLogLoss(probs: Numbers, truth: Numbers, k: number, eps = LOG_LOSS_EPS): number {
  const n = truth.length;
  if (probs.length !== n * k)
    throw new RangeError(`multiclassLogLoss: probs has ${probs.length} values, not ${n}x${k}`);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    let total = 0;
    for (let c = 0; c < k; c++) total += Math.min(Math.max(probs[i * k + c]!, eps), 1 - eps);
    const t = truth[i]!;
    sum -= Math.log(Math.min(Math.max(probs[i * k + t]!, eps), 1 - eps) / total);
  }
  return n === 0 ? Number.NaN : sum / n;
}

/** Brier score: mean squared difference between P(positive) and the 0/1 outcome. */
export function brierScore(probs: Numbers, truth: Numbers): number {
  sameLength(probs, truth);
  let sum = 0;
  for (let i = 0; i < probs.length; i++) {
    const e = probs[i]! - (truth[i] === 1 ? 1 : 0);
    sum += e * e;
  }
  return probs.length === 0 ? Number.NaN : sum / probs.length;
}

export interface CalibrationBin {
  lo: number;
  hi: number;
  count: number;
  /** Mean predicted probability in the bin (scikit-learn's prob_pred). */
  meanPredicted: number;
  /** Share of positives in the bin (scikit-learn's prob_true). */
  fractionPositive: number;
}

/**
 * Reliability curve, scikit-learn's `calibration_curve(strategy='uniform')`: `bins` equal-width bins over [0, 1],
 * a value on an inner edge falling in the lower bin; empty bins are left out (as scikit-learn does).
 * `strategy: 'quantile'` uses the probabilities' quantiles as edges instead.
 */
export function calibrationCurve(
  probs: Numbers,
  truth: Numbers,
  options: { bins?: number; strategy?: 'uniform' | 'quantile' } = {},
): CalibrationBin[] {
  sameLength(probs, truth);
  const bins = options.bins ?? 10;
  let edges: number[];
  if (options.strategy === 'quantile') {
    const sorted = Float64Array.from(probs).sort();
    edges = Array.from({ length: bins + 1 }, (_, k) => quantileSorted(sorted, k / bins));
  } else edges = Array.from({ length: bins + 1 }, (_, k) => k / bins);
  const inner = edges.slice(1, -1);
  const count = new Float64Array(bins);
  const sumP = new Float64Array(bins);
  const sumT = new Float64Array(bins);
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i]!;
    if (p < 0 || p > 1 || Number.isNaN(p)) throw new RangeError(`calibrationCurve: probability ${p} at row ${i}`);
    const b = lowerBound(inner, p);
    count[b]!++;
    sumP[b]! += p;
    if (truth[i] === 1) sumT[b]!++;
  }
  const out: CalibrationBin[] = [];
  for (let b = 0; b < bins; b++) {
    if (count[b] === 0) continue;
    out.push({
      lo: edges[b]!,
      hi: edges[b + 1]!,
      count: count[b]!,
      meanPredicted: sumP[b]! / count[b]!,
      fractionPositive: sumT[b]! / count[b]!,
    });
  }
  return out;
}

/** First index whose value is >= x (numpy's searchsorted side='left'). */
export function lowerBound(sorted: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose value is > x (numpy's searchsorted side='right'). */
export function upperBound(sorted: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Quantile of sorted values with linear interpolation between order statistics (numpy's default, type 7). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  // numpy's _lerp: exact at both ends.
  const t = h - lo;
  return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
}

export interface RegressionMetrics {
  mae: number;
  rmse: number;
  r2: number;
}

/**
 * Mean absolute error, root mean squared error and the coefficient of determination R2 = 1 - SS_res / SS_tot; when
 * the truth is constant (SS_tot = 0) R2 is 1 for a perfect fit and 0 otherwise (scikit-learn's force_finite).
 */
export function regressionMetrics(predicted: Numbers, truth: Numbers): RegressionMetrics {
  sameLength(predicted, truth);
  const n = predicted.length;
  if (n === 0) return { mae: Number.NaN, rmse: Number.NaN, r2: Number.NaN };
  let mean = 0;
  for (let i = 0; i < n; i++) mean += truth[i]!;
  mean /= n;
  let abs = 0;
  let sq = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const e = predicted[i]! - truth[i]!;
    abs += Math.abs(e);
    sq += e * e;
    total += (truth[i]! - mean) ** 2;
  }
  return { mae: abs / n, rmse: Math.sqrt(sq / n), r2: total === 0 ? (sq === 0 ? 1 : 0) : 1 - sq / total };
}

export interface BinaryMetrics {
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  /** NaN when one class is absent. */
  rocAuc: number;
  /** Average precision; NaN when there is no positive row. */
  prAuc: number;
  logLoss: number;
  brier: number;
  confusion: BinaryConfusion;
}

/** Every binary metric at once, a row predicted positive when its score is > threshold. */
export function binaryMetrics(scores: Numbers, truth: Numbers, threshold = 0.5): BinaryMetrics {
  const c = binaryConfusion(scores, truth, threshold);
  const n = scores.length;
  return {
    accuracy: n === 0 ? Number.NaN : (c.tp + c.tn) / n,
    precision: c.tp + c.fp === 0 ? 0 : c.tp / (c.tp + c.fp),
    recall: c.tp + c.fn === 0 ? 0 : c.tp / (c.tp + c.fn),
    f1: 2 * c.tp + c.fp + c.fn === 0 ? 0 : (2 * c.tp) / (2 * c.tp + c.fp + c.fn),
    rocAuc: rocAuc(scores, truth),
    prAuc: averagePrecision(scores, truth),
    logLoss: logLoss(scores, truth),
    brier: brierScore(scores, truth),
    confusion: c,
  };
}

/**
 * The pipelines' `evaluate` step's flat metrics (accuracy, precision, recall, f1, auc when defined, log_loss and the
 * four counts) and the [[tn, fp], [fn, tp]] matrix.
 */
export function classificationMetrics(
  scores: Numbers,
  truth: Numbers,
  threshold: number,
): { metrics: Record<string, number>; confusion: [[number, number], [number, number]] } {
  const m = binaryMetrics(scores, truth, threshold);
  const { tn, fp, fn, tp } = m.confusion;
  return {
    metrics: {
      accuracy: m.accuracy,
      precision: m.precision,
      recall: m.recall,
      f1: m.f1,
      ...(Number.isNaN(m.rocAuc) ? {} : { auc: m.rocAuc }),
      log_loss: m.logLoss,
      tn,
      fp,
      fn,
      tp,
    },
    confusion: [
      [tn, fp],
      [fn, tp],
    ],
  };
}

export function sameLength(a: ArrayLike<unknown>, b: ArrayLike<unknown>): void {
  if (a.length !== b.length) throw new RangeError(`arrays differ in length: ${a.length} and ${b.length}`);
}
