/**
 * The performance scan of one model from its gathered scores: the stats room's metrics (scikit-learn definitions,
 * docs/metrics.md) with percentile-bootstrap intervals. Intervals are computed on a seeded uniform subsample of at
 * most BOOTSTRAP_ROWS rows with BOOTSTRAP_REPLICATES replicates (bounded cost on millions of rows; the interval of a
 * subsample is the wider, so it never overstates certainty); the point values are over every row.
 */
import {
  binaryMetrics,
  bootstrapIntervals,
  calibrationCurve,
  createRng,
  multiclassMetrics,
  regressionMetrics,
  rocCurve,
} from '../stats/index.ts';
import type { Estimate, PerformanceReport } from './report-types.ts';
import type { Task } from './spec.ts';

export const BOOTSTRAP_ROWS = 10_000;
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

/**
 * Every metric with its interval, all from one set of resamples: `metrics` computes them together (one sort per
 * replicate for the binary ones), on the subsample's columns.
 */
function withIntervals(
  names: readonly string[],
  whole: Record<string, number>,
  columns: readonly Float64Array[],
  metrics: (...c: Float64Array[]) => Record<string, number>,
): Record<string, Estimate> {
  const intervals = bootstrapIntervals(
    columns,
    (...c) => {
      const m = metrics(...c);
      return names.map((n) => m[n] ?? Number.NaN);
    },
    { replicates: BOOTSTRAP_REPLICATES, seed: 11 },
  );
  return Object.fromEntries(
    names.map((name, k) => {
      const value = whole[name]!;
      if (!Number.isFinite(value)) return [name, point(value)];
      return [name, { value, lo: finite(intervals[k]!.lo), hi: finite(intervals[k]!.hi) }];
    }),
  );
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
      metrics: withIntervals(['mae', 'rmse', 'r2'], { ...m }, [s, t], (a, b) => ({ ...regressionMetrics(a!, b!) })),
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
    const named = (x: ReturnType<typeof multiclassMetrics>) => ({
      accuracy: x.accuracy,
      precision: x.macroPrecision,
      recall: x.macroRecall,
      f1: x.macroF1,
    });
    return {
      rows,
      metrics: withIntervals(['accuracy', 'precision', 'recall', 'f1'], named(m), [t, p], (a, b) =>
        named(multiclassMetrics(a!, b!, classesCount)),
      ),
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
  const named = (x: typeof m) => ({
    accuracy: x.accuracy,
    precision: x.precision,
    recall: x.recall,
    f1: x.f1,
    roc_auc: x.rocAuc,
    pr_auc: x.prAuc,
    log_loss: x.logLoss,
    brier: x.brier,
  });
  const names = [
    'accuracy',
    'precision',
    'recall',
    'f1',
    'roc_auc',
    'pr_auc',
    ...(inRange ? ['log_loss', 'brier'] : []),
  ];
  return {
    rows,
    metrics: withIntervals(names, named(m), [s, t], (a, b) => named(binaryMetrics(a!, b!, threshold))),
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
