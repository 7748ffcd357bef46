/**
 * The performance scan of one model from its gathered scores: the stats room's metrics (scikit-learn definitions,
 * docs/metrics.md) with percentile-bootstrap intervals. Intervals are computed on a seeded uniform subsample of at
 * most BOOTSTRAP_ROWS rows with BOOTSTRAP_REPLICATES replicates (bounded cost on millions of rows; the interval of a
 * subsample is the wider, so it never overstates certainty); the point values are over every row.
 */
import {
  binaryMetrics,
  bootstrapCi,
  calibrationCurve,
  createRng,
  multiclassMetrics,
  regressionMetrics,
  rocCurve,
} from '../stats/index.ts';
import type { Estimate, PerformanceReport } from './report-types.ts';
import type { Task } from './spec.ts';

export const BOOTSTRAP_ROWS = 20_000;
export const BOOTSTRAP_REPLICATES = 200;

const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);
const point = (v: number): Estimate => ({ value: finite(v), lo: null, hi: null });

/** A seeded subsample of row indices (all rows when there are few). */
export function subsample(rows: number, max: number, seed = 7): Uint32Array {
  if (rows <= max) return Uint32Array.from({ length: rows }, (_, i) => i);
  const rng = createRng(seed);
  const out = new Uint32Array(max);
  for (let i = 0; i < max; i++) out[i] = rng.int(rows);
  return out;
}

const pick = (values: ArrayLike<number>, index: Uint32Array) => Float64Array.from(index, (i) => values[i]!);

function withInterval(
  value: number,
  columns: readonly Float64Array[],
  statistic: (...c: Float64Array[]) => number,
): Estimate {
  if (!Number.isFinite(value)) return point(value);
  const ci = bootstrapCi(columns, statistic, { replicates: BOOTSTRAP_REPLICATES, seed: 11 });
  return { value, lo: finite(ci.lo), hi: finite(ci.hi) };
}

/** Evenly spaced points of a curve, at most `max` (the first and last kept). */
export function thin(xs: number[], ys: number[], max = 200): { x: number[]; y: number[] } {
  if (xs.length <= max) return { x: xs, y: ys };
  const step = (xs.length - 1) / (max - 1);
  const idx = Array.from({ length: max }, (_, i) => Math.round(i * step));
  return { x: idx.map((i) => xs[i]!), y: idx.map((i) => ys[i]!) };
}

export function measurePerformance(
  task: Task,
  scores: Float64Array,
  classes: Int32Array | null,
  truth: Float64Array,
  threshold: number,
  classNames: string[] | null,
): PerformanceReport {
  const rows = scores.length;
  const index = subsample(rows, BOOTSTRAP_ROWS);
  const s = pick(scores, index);
  const t = pick(truth, index);
  if (task === 'regression') {
    const m = regressionMetrics(scores, truth);
    return {
      rows,
      metrics: {
        mae: withInterval(m.mae, [s, t], (a, b) => regressionMetrics(a!, b!).mae),
        rmse: withInterval(m.rmse, [s, t], (a, b) => regressionMetrics(a!, b!).rmse),
        r2: withInterval(m.r2, [s, t], (a, b) => regressionMetrics(a!, b!).r2),
      },
      confusion: null,
      classes: null,
      roc: null,
      calibration: null,
    };
  }
  if (task === 'multiclass-classification') {
    const predicted = classes ?? new Int32Array(rows);
    let classesCount = Math.max(2, classNames?.length ?? 0);
    for (let i = 0; i < rows; i++) classesCount = Math.max(classesCount, truth[i]! + 1, predicted[i]! + 1);
    const m = multiclassMetrics(truth, predicted, classesCount);
    const p = pick(predicted, index);
    return {
      rows,
      metrics: {
        accuracy: withInterval(m.accuracy, [t, p], (a, b) => multiclassMetrics(a!, b!, classesCount).accuracy),
        precision: withInterval(
          m.macroPrecision,
          [t, p],
          (a, b) => multiclassMetrics(a!, b!, classesCount).macroPrecision,
        ),
        recall: withInterval(m.macroRecall, [t, p], (a, b) => multiclassMetrics(a!, b!, classesCount).macroRecall),
        f1: withInterval(m.macroF1, [t, p], (a, b) => multiclassMetrics(a!, b!, classesCount).macroF1),
      },
      confusion: m.confusion,
      classes: classNames ?? m.confusion.map((_, i) => String(i)),
      roc: null,
      calibration: null,
    };
  }
  const m = binaryMetrics(scores, truth, threshold);
  const roc = rocCurve(scores, truth);
  const thinRoc = thin(roc.fpr, roc.tpr);
  const inRange = scores.every((p) => p >= 0 && p <= 1);
  const at = (name: keyof Omit<typeof m, 'confusion'>) => (a: Float64Array, b: Float64Array) =>
    binaryMetrics(a, b, threshold)[name];
  return {
    rows,
    metrics: {
      accuracy: withInterval(m.accuracy, [s, t], (a, b) => at('accuracy')(a!, b!)),
      precision: withInterval(m.precision, [s, t], (a, b) => at('precision')(a!, b!)),
      recall: withInterval(m.recall, [s, t], (a, b) => at('recall')(a!, b!)),
      f1: withInterval(m.f1, [s, t], (a, b) => at('f1')(a!, b!)),
      roc_auc: withInterval(m.rocAuc, [s, t], (a, b) => at('rocAuc')(a!, b!)),
      pr_auc: withInterval(m.prAuc, [s, t], (a, b) => at('prAuc')(a!, b!)),
      ...(inRange
        ? {
            log_loss: withInterval(m.logLoss, [s, t], (a, b) => at('logLoss')(a!, b!)),
            brier: withInterval(m.brier, [s, t], (a, b) => at('brier')(a!, b!)),
          }
        : {}),
    },
    confusion: [
      [m.confusion.tn, m.confusion.fp],
      [m.confusion.fn, m.confusion.tp],
    ],
    classes: null,
    roc: roc.fpr.length > 0 ? { fpr: thinRoc.x, tpr: thinRoc.y } : null,
    calibration: inRange
      ? calibrationCurve(scores, truth, { bins: 10 }).map((b) => ({
          meanPredicted: b.meanPredicted,
          fractionPositive: b.fractionPositive,
          count: b.count,
        }))
      : null,
  };
}
