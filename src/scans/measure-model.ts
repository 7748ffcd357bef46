/**
 * The scans that call a model again, on the seeded sample of rows the pass kept (bounded cost whatever the dataset's
 * size), the drift scan and the trust score; the maths is the stats room's (docs/metrics.md):
 *
 * - robustness: `flipRate` (uniform noise of at most epsilon x each feature's range) and `counterfactuals`
 *   (growing spheres, restricted features fixed, values within the dataset's ranges), whose distances also give
 *   Certifai's burden per group;
 * - explainability: `permutationImportance` of the headline metric (ROC AUC, accuracy or R2) with t intervals, and
 *   KernelSHAP attributions of a few rows against a small background;
 * - drift: each feature of the current dataset against the reference's stored profile (`numericDrift`, never a
 *   re-read of the training data), the dataset verdict, and prediction drift against the previous scan's predictions;
 * - trust: `trustComponents` and `trustScore` with the use case's weights.
 */
import { ModelportError } from '../core/index.ts';
import type { ColumnProfile } from '../data/index.ts';
import {
  accuracy,
  type BatchModel,
  binCounts,
  burdenByGroup,
  counterfactualSparsity,
  counterfactuals,
  DRIFT_DEFAULTS,
  datasetDrift,
  type FeatureRange,
  flipRate,
  kernelShap,
  type NumericReference,
  numericDrift,
  numericReference,
  permutationImportance,
  predictLabels,
  psi,
  regressionMetrics,
  rocAuc,
  trustComponents,
  trustScore as weightedTrust,
  wilsonInterval,
} from '../stats/index.ts';
import type { Gathered } from './gather.ts';
import { type DatasetSource, fetchDataFile } from './materialize.ts';
import type { ScanModelHandle } from './models.ts';
import type { DriftReport, ExplainabilityReport, ModelReport, RobustnessReport } from './report-types.ts';
import type { DataFileRef, UseCaseSpec } from './spec.ts';
import { splitRepo } from './spec.ts';

/** Rows kept for the scans that call the models again. */
export const SAMPLE_ROWS = 2000;
/** Rows of the sample robustness perturbs and searches counterfactuals for. */
const ROBUSTNESS_ROWS = 500;
const COUNTERFACTUAL_ROWS = 100;
const IMPORTANCE_REPEATS = 5;
const ATTRIBUTION_ROWS = 5;
const BACKGROUND_ROWS = 50;

/** The model as the stats room calls it: rows of the union of features in, one score per row out. */
function batchModel(handle: ScanModelHandle, features: readonly string[], signal: AbortSignal): BatchModel {
  const picks = handle.features.map((f) => features.indexOf(f));
  const width = features.length;
  return async (rows, n) => {
    const matrix = new Float32Array(n * handle.width);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < handle.width; j++) matrix[i * handle.width + j] = rows[i * width + picks[j]!]!;
    const out = new Float32Array(n);
    for (let start = 0; start < n; start += handle.batchRows) {
      const count = Math.min(handle.batchRows, n - start);
      const p = await handle.predict(
        count,
        matrix.subarray(start * handle.width, (start + count) * handle.width),
        signal,
      );
      for (let i = 0; i < count; i++) out[start + i] = p.classes ? p.classes[i]! : p.scores[i]!;
    }
    return out;
  };
}

/** Each feature's [min, max] over the sample. */
function ranges(g: Gathered): FeatureRange[] {
  const width = g.features.length;
  return g.features.map((_, j) => {
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < g.sample.rows; i++) {
      const v = g.sample.values[i * width + j]!;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    return { min: Number.isFinite(min) ? min : 0, max: Number.isFinite(max) ? max : 0 };
  });
}

function table(g: Gathered, rows: number) {
  const n = Math.min(rows, g.sample.rows);
  return { rows: g.sample.values.subarray(0, n * g.features.length), n, width: g.features.length };
}

export interface RobustnessOutcome extends RobustnessReport {
  /** Burden per attribute and group (fairness shows it). */
  burden: Record<string, Record<string, number>>;
  sparsity: number | null;
}

export async function measureRobustness(
  handle: ScanModelHandle,
  g: Gathered,
  spec: UseCaseSpec,
  signal: AbortSignal,
): Promise<RobustnessOutcome> {
  if (spec.task === 'multiclass-classification') {
    throw new ModelportError('invalid_request', 'robustness: measured for binary classification and regression');
  }
  const model = batchModel(handle, g.features, signal);
  const featureRanges = ranges(g);
  const threshold = spec.task === 'regression' ? Number.NaN : spec.threshold;
  const mutable = g.features.map((f) => !spec.restricted.includes(f));
  const data = table(g, ROBUSTNESS_ROWS);
  const flips = await flipRate({
    model,
    data,
    ranges: featureRanges,
    mutable,
    epsilon: 0.05,
    samples: 5,
    threshold: spec.task === 'regression' ? 0.5 : threshold,
    seed: 3,
    batchRows: handle.batchRows,
    signal,
  });
  const ci = wilsonInterval(Math.round(flips.flipRate * flips.copies), flips.copies);
  const cfData = table(g, COUNTERFACTUAL_ROWS);
  const found =
    spec.task === 'regression'
      ? []
      : await counterfactuals({
          model,
          data: cfData,
          ranges: featureRanges,
          mutable,
          threshold,
          seed: 5,
          batchRows: handle.batchRows,
          signal,
        });
  const distances = Float64Array.from(found, (c) => c.distance);
  const resolved = found.filter((c) => Number.isFinite(c.distance));
  const burden: Record<string, Record<string, number>> = {};
  if (found.length > 0) {
    const scores = Float64Array.from(found, (c) => c.score);
    const predicted = predictLabels(scores, threshold);
    g.attributes.forEach((a, k) => {
      const b = burdenByGroup({
        distances,
        predicted,
        groups: { labels: a.groups, index: g.sample.groups[k]!.subarray(0, found.length) },
        minGroupSize: 1,
      });
      burden[a.column] = Object.fromEntries(
        b.groups.filter((x) => Number.isFinite(x.burden)).map((x) => [x.group, x.burden]),
      );
    });
  }
  return {
    flipRate: { value: flips.flipRate, lo: ci.lo, hi: ci.hi },
    epsilon: flips.epsilon,
    rows: data.n,
    counterfactual: {
      searched: found.length,
      found: resolved.length,
      meanDistance: resolved.length ? resolved.reduce((a, c) => a + c.distance, 0) / resolved.length : null,
      method: 'growing spheres (Laugel et al. 2018), normalised L1 distance, restricted features fixed',
    },
    burden,
    sparsity: resolved.length
      ? counterfactualSparsity(
          resolved.map((c) => c.changed.length),
          mutable.filter(Boolean).length,
        )
      : null,
  };
}

export async function measureExplainability(
  handle: ScanModelHandle,
  g: Gathered,
  spec: UseCaseSpec,
  signal: AbortSignal,
): Promise<ExplainabilityReport> {
  const model = batchModel(handle, g.features, signal);
  const data = table(g, SAMPLE_ROWS);
  const truth = g.sample.truth.subarray(0, data.n);
  const metricName = spec.task === 'regression' ? 'r2' : spec.task === 'binary-classification' ? 'roc_auc' : 'accuracy';
  const metric =
    spec.task === 'regression'
      ? (s: Float32Array, t: ArrayLike<number>) => regressionMetrics(s, t).r2
      : spec.task === 'binary-classification'
        ? (s: Float32Array, t: ArrayLike<number>) => rocAuc(s, t)
        : (s: Float32Array, t: ArrayLike<number>) => accuracy(t, s);
  const features = handle.features.map((f) => g.features.indexOf(f));
  const result = await permutationImportance({
    model,
    data,
    truth,
    metric,
    repeats: IMPORTANCE_REPEATS,
    seed: 9,
    features,
    batchRows: handle.batchRows,
    signal,
  });
  const importance = result.importances
    .map((i) => ({
      feature: g.features[i.feature]!,
      mean: i.mean,
      lo: Number.isFinite(i.lo) ? i.lo : i.mean,
      hi: Number.isFinite(i.hi) ? i.hi : i.mean,
    }))
    .sort((a, b) => b.mean - a.mean);
  const background = table(g, BACKGROUND_ROWS);
  const explained = {
    rows: g.sample.values.subarray(
      background.n * g.features.length,
      (background.n + ATTRIBUTION_ROWS) * g.features.length,
    ),
    n: Math.max(0, Math.min(ATTRIBUTION_ROWS, g.sample.rows - background.n)),
    width: g.features.length,
  };
  explained.rows = explained.rows.subarray(0, explained.n * explained.width);
  const attributions =
    explained.n > 0 && g.features.length <= 64
      ? await kernelShap({
          model,
          data: explained,
          background,
          samples: 2 * g.features.length + 512,
          seed: 21,
          batchRows: handle.batchRows,
          signal,
        })
      : [];
  return {
    rows: data.n,
    repeats: result.repeats,
    importance,
    metric: metricName,
    attributions: attributions.map((a, i) => ({
      row: g.sample.at[background.n + i]!,
      prediction: a.value,
      contributions: Array.from(a.phi, (value, j) => ({ feature: g.features[j]!, value }))
        .sort((x, y) => Math.abs(y.value) - Math.abs(x.value))
        .slice(0, 10),
    })),
    method: `permutation importance over ${data.n} sampled rows x ${result.repeats} repeats (drop in ${metricName}, t intervals); KernelSHAP attributions of ${attributions.length} rows against ${background.n} background rows`,
  };
}

export interface DriftDeps {
  project: string;
  spec: UseCaseSpec;
  datasets: DatasetSource;
  dir: string;
  duck: { tempDir: string; threads: number; memoryBytes: number };
  /** The previous scan's prediction sketch of this model, for prediction drift. */
  previousPredictions?: NumericReference | undefined;
}

type Reference = {
  columns: Map<string, NumericReference>;
  source: string;
  repo: string | null;
  commit: string | null;
  path: string | null;
};

/** The reference columns of a stored profile that carry drift summaries. */
function fromProfile(columns: readonly ColumnProfile[]): Map<string, NumericReference> {
  const out = new Map<string, NumericReference>();
  for (const c of columns) {
    const drift = (c as ColumnProfile & { drift?: { kind: string } | null }).drift;
    if (drift?.kind === 'numeric') out.set(c.name, drift as NumericReference);
  }
  return out;
}

async function resolveReference(handle: ScanModelHandle, deps: DriftDeps): Promise<Reference | string> {
  const wanted = handle.features;
  const tryFile = async (project: string, repo: string, commit: string, path: string, source: string) => {
    const profile = await deps.datasets.profile(project, repo, commit, path);
    if (!profile)
      return `the profile of ${repo}@${commit.slice(0, 12)}:${path} is not ready (data profile shows its state)`;
    const columns = fromProfile(profile.columns);
    const missing = wanted.filter((f) => !columns.has(f));
    if (missing.length === wanted.length) {
      return `the profile of ${repo}@${commit.slice(0, 12)}:${path} has no drift summary of the model's features (a profile made before drift summaries; commit the file again to profile it anew)`;
    }
    return { columns, source, repo, commit, path };
  };
  if (handle.dataCommit) {
    const at = handle.dataCommit.indexOf('@');
    const repo = handle.dataCommit.slice(0, at);
    const commit = handle.dataCommit.slice(at + 1);
    const files = (await deps.datasets.files(deps.project, repo, commit)).filter((f) =>
      /\.(csv|tsv|jsonl|ndjson|parquet)$/i.test(f),
    );
    const same =
      'repo' in deps.spec.dataset ? files.find((f) => f === (deps.spec.dataset as DataFileRef).path) : undefined;
    const reasons: string[] = [];
    for (const path of same ? [same, ...files.filter((f) => f !== same)] : files) {
      const r = await tryFile(
        deps.project,
        repo,
        commit,
        path,
        `the training data of ${handle.model}@${handle.version} (${repo}@${commit.slice(0, 12)}:${path}), from its stored profile`,
      );
      if (typeof r !== 'string') return r;
      reasons.push(r);
    }
    if (!deps.spec.dataset.reference)
      return reasons[0] ?? `the training commit ${repo}@${commit.slice(0, 12)} has no tabular file`;
  }
  const ref = deps.spec.dataset.reference;
  if (!ref) {
    return `no reference: ${handle.target} has no training-data lineage (versions registered by a pipeline carry it) and the use case names no dataset.reference`;
  }
  const where = splitRepo(ref.repo, deps.project, 'dataset.reference.repo');
  const local = await fetchDataFile(deps.datasets, deps.project, ref, deps.dir, 'dataset.reference');
  const r = await tryFile(
    where.project,
    where.repo,
    local.commit!,
    ref.path,
    `dataset.reference ${ref.repo}@${local.commit!.slice(0, 12)}:${ref.path}, from its stored profile`,
  );
  return r;
}

export async function measureDrift(
  handle: ScanModelHandle,
  g: Gathered,
  predictions: Float64Array,
  deps: DriftDeps,
): Promise<DriftReport & { predictionReference: NumericReference }> {
  const predictionReference = numericReference(predictions);
  const reference = await resolveReference(handle, deps);
  const predictionPsi = deps.previousPredictions
    ? psi(deps.previousPredictions.counts, binCounts(predictions, deps.previousPredictions.edges))
    : null;
  if (typeof reference === 'string') {
    return {
      reference: { repo: null, commit: null, path: null, source: 'none' },
      features: [],
      drifted: 0,
      share: 0,
      predictionPsi,
      skipped: reference,
      predictionReference,
    };
  }
  const features = handle.features
    .filter((f) => reference.columns.has(f))
    .map((feature) => {
      const current = g.columns![g.features.indexOf(feature)]!;
      const d = numericDrift(reference.columns.get(feature)!, current);
      return {
        feature,
        psi: Number.isFinite(d.psi) ? d.psi : null,
        ks: Number.isFinite(d.ks.statistic) ? d.ks.statistic : null,
        pValue: Number.isFinite(d.ks.pValue) ? d.ks.pValue : null,
        drifted: d.drifted,
      };
    });
  const verdict = datasetDrift(
    features.map((f) => ({ name: f.feature, drifted: f.drifted })),
    { share: DRIFT_DEFAULTS.share },
  );
  return {
    reference: { repo: reference.repo, commit: reference.commit, path: reference.path, source: reference.source },
    features,
    drifted: verdict.driftedFeatures.length,
    share: verdict.share,
    predictionPsi: predictionPsi !== null && Number.isFinite(predictionPsi) ? predictionPsi : null,
    skipped: null,
    predictionReference,
  };
}

/** The trust score of a model's measures, with the use case's weights (Certifai's ATX idea). */
export function trustScore(model: ModelReport, spec: UseCaseSpec): ModelReport['trust'] {
  const fairness = model.fairness?.attributes
    .flatMap((a) => [a.metrics['disparate_impact']?.value])
    .filter((v): v is number => v !== null && v !== undefined);
  const robustness = model.robustness as RobustnessOutcome | undefined;
  const burdenRatios = Object.values(robustness?.burden ?? {})
    .map((groups) => Object.values(groups))
    .filter((v) => v.length >= 2 && Math.max(...v) > 0)
    .map((v) => Math.min(...v) / Math.max(...v));
  const components = trustComponents({
    ...(model.performance?.metrics['roc_auc']?.value != null
      ? { rocAuc: model.performance.metrics['roc_auc'].value }
      : {}),
    ...(model.performance?.metrics['accuracy']?.value != null
      ? { accuracy: model.performance.metrics['accuracy'].value }
      : {}),
    ...(model.performance?.metrics['r2']?.value != null ? { r2: model.performance.metrics['r2'].value } : {}),
    ...(fairness && fairness.length ? { disparateImpact: Math.min(...fairness) } : {}),
    ...(burdenRatios.length ? { burdenRatio: Math.min(...burdenRatios) } : {}),
    ...(robustness ? { flipRate: robustness.flipRate.value ?? Number.NaN } : {}),
    ...(robustness?.sparsity != null ? { explainability: robustness.sparsity } : {}),
    ...(model.drift && model.drift.skipped === null ? { driftShare: model.drift.share } : {}),
  });
  const t = weightedTrust(components, spec.trustWeights ?? {});
  return {
    score: Number.isFinite(t.score) ? t.score : null,
    parts: Object.fromEntries(t.components.map((c) => [c.name, c.value])),
    weights: Object.fromEntries(t.components.map((c) => [c.name, c.weight])),
  };
}
