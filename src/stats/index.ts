/**
 * Statistics for scans: performance, fairness, robustness, explainability and drift metrics over typed arrays,
 * bootstrap intervals and the trust score. A leaf room (imports only core); DuckDB is loaded lazily by the file
 * path of drift only. docs/metrics.md documents every function here: formula, reference, edge cases.
 */
export { BOOTSTRAP_DEFAULTS, type BootstrapOptions, bootstrapCi, type Interval, wilsonInterval } from './bootstrap.ts';
export {
  accuracy,
  averagePrecision,
  type BinaryConfusion,
  type BinaryMetrics,
  binaryConfusion,
  binaryCurve,
  binaryMetrics,
  brierScore,
  type CalibrationBin,
  calibrationCurve,
  classificationMetrics,
  confusionMatrix,
  f1,
  LOG_LOSS_EPS,
  logLoss,
  lowerBound,
  multiclassLogLoss,
  multiclassMetrics,
  type Numbers,
  precision,
  precisionRecallCurve,
  predictLabels,
  quantileSorted,
  type RegressionMetrics,
  type RocCurve,
  recall,
  regressionMetrics,
  rocAuc,
  rocCurve,
  upperBound,
} from './performance.ts';
export { createRng, type Rng } from './random.ts';
export { chiSquareSf, erfc, gammaQ, logGamma, normalQuantile } from './special.ts';
