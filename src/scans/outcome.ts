/**
 * What a scan's model reports turn into: the stored rows (one per model and metric), the summary policies read as
 * `scans`, and the comparison that says which model wins on what.
 */
import type { ComparisonRow, Estimate, ModelReport, ScanReport } from './report-types.ts';
import type { ModelSummary, ScanResult } from './types.ts';

/** Metrics where lower is better; every other metric is better higher. */
const LOWER_IS_BETTER = new Set([
  'log_loss',
  'brier',
  'mae',
  'rmse',
  'demographic_parity_difference',
  'equal_opportunity_difference',
  'equalized_odds_difference',
  'flip_rate',
  'share',
  'prediction_psi',
]);

export function betterOf(metric: string): 'higher' | 'lower' {
  return LOWER_IS_BETTER.has(metric) ? 'lower' : 'higher';
}

const value = (e: Estimate | undefined) => e?.value ?? null;

/** The fairness summaries over every protected attribute: the worst and best value of each. */
function fairnessRange(report: ModelReport): Record<string, { min: number; max: number }> {
  const out: Record<string, { min: number; max: number }> = {};
  for (const a of report.fairness?.attributes ?? []) {
    for (const [name, e] of Object.entries(a.metrics)) {
      if (e.value === null) continue;
      const r = out[name];
      out[name] = r ? { min: Math.min(r.min, e.value), max: Math.max(r.max, e.value) } : { min: e.value, max: e.value };
    }
  }
  return out;
}

export function summarize(reports: readonly ModelReport[]): Record<string, ModelSummary> {
  const out: Record<string, ModelSummary> = {};
  for (const r of reports) {
    const performance: Record<string, number> = {};
    for (const [name, e] of Object.entries(r.performance?.metrics ?? {}))
      if (e.value !== null) performance[name] = e.value;
    const robustness: Record<string, number> = {};
    if (r.robustness) {
      if (r.robustness.flipRate.value !== null) robustness['flip_rate'] = r.robustness.flipRate.value;
      if (r.robustness.counterfactual.meanDistance !== null) {
        robustness['counterfactual_distance'] = r.robustness.counterfactual.meanDistance;
      }
    }
    const explainability: Record<string, number> = {};
    for (const i of r.explainability?.importance ?? []) explainability[i.feature] = i.mean;
    out[r.target] = {
      trust: r.trust.score,
      performance,
      fairness: fairnessRange(r),
      robustness,
      explainability,
      drift:
        r.drift && r.drift.skipped === null
          ? {
              share: r.drift.share,
              drifted: r.drift.drifted,
              features: r.drift.features.length,
              prediction_psi: r.drift.predictionPsi,
            }
          : {},
    };
  }
  return out;
}

export function compare(reports: readonly ModelReport[]): ComparisonRow[] {
  const rows: ComparisonRow[] = [];
  const add = (kind: ComparisonRow['kind'], metric: string, pick: (r: ModelReport) => number | null) => {
    const values = Object.fromEntries(reports.map((r) => [r.target, pick(r)]));
    if (Object.values(values).every((v) => v === null)) return;
    const better = betterOf(
      metric
        .replace(/\.(min|max)$/, '')
        .split('.')
        .at(-1)!,
    );
    const known = Object.entries(values).filter((e): e is [string, number] => e[1] !== null);
    let winner: string | null = null;
    if (known.length >= 2) {
      const sorted = [...known].sort((a, b) => (better === 'higher' ? b[1] - a[1] : a[1] - b[1]));
      winner = sorted[0]![1] === sorted[1]![1] ? null : sorted[0]![0];
    }
    rows.push({ kind, metric, better, values, winner });
  };
  add('trust', 'trust', (r) => r.trust.score);
  const perf = new Set(reports.flatMap((r) => Object.keys(r.performance?.metrics ?? {})));
  for (const m of perf) add('performance', m, (r) => value(r.performance?.metrics[m]));
  const fair = new Set(reports.flatMap((r) => Object.keys(fairnessRange(r))));
  for (const m of fair) {
    // The worst attribute decides: the lowest ratio, the highest difference.
    const worst = betterOf(m) === 'higher' ? 'min' : 'max';
    add('fairness', `${m}.${worst}`, (r) => fairnessRange(r)[m]?.[worst] ?? null);
  }
  add('robustness', 'flip_rate', (r) => r.robustness?.flipRate.value ?? null);
  add('robustness', 'counterfactual_distance', (r) => r.robustness?.counterfactual.meanDistance ?? null);
  add('drift', 'share', (r) => (r.drift && r.drift.skipped === null ? r.drift.share : null));
  add('drift', 'prediction_psi', (r) => r.drift?.predictionPsi ?? null);
  return rows;
}

/** One row per model and metric, with the model version and the dataset commit. */
export function flattenResults(reports: readonly ModelReport[], dataCommit: string | null): ScanResult[] {
  const out: ScanResult[] = [];
  for (const r of reports) {
    const push = (kind: ScanResult['kind'], metric: string, e: Estimate | number | null) => {
      const est = typeof e === 'number' || e === null ? { value: e, lo: null, hi: null } : e;
      out.push({
        target: r.target,
        model: r.model,
        version: r.version,
        dataCommit,
        kind,
        metric,
        value: est.value !== null && Number.isFinite(est.value) ? est.value : null,
        lo: est.lo,
        hi: est.hi,
      });
    };
    push('trust', 'trust', r.trust.score);
    for (const [m, e] of Object.entries(r.performance?.metrics ?? {})) push('performance', m, e);
    for (const a of r.fairness?.attributes ?? []) {
      for (const [m, e] of Object.entries(a.metrics)) push('fairness', `${a.column}.${m}`, e);
      for (const g of a.groups) push('fairness', `${a.column}[${g.name}].selection_rate`, g.selectionRate);
    }
    if (r.robustness) {
      push('robustness', 'flip_rate', r.robustness.flipRate);
      push('robustness', 'counterfactual_distance', r.robustness.counterfactual.meanDistance);
    }
    for (const i of r.explainability?.importance ?? []) {
      push('explainability', `importance.${i.feature}`, { value: i.mean, lo: i.lo, hi: i.hi });
    }
    if (r.drift && r.drift.skipped === null) {
      push('drift', 'share', r.drift.share);
      push('drift', 'prediction_psi', r.drift.predictionPsi);
      for (const f of r.drift.features) {
        push('drift', `${f.feature}.psi`, f.psi);
        push('drift', `${f.feature}.ks_p_value`, f.pValue);
      }
    }
  }
  return out;
}

/**
 * The models of several scans side by side: each labelled by its target, with `#<scan number>` added when two scans
 * measured the same target; then the same comparison as within one scan.
 */
export function compareReports(reports: readonly ScanReport[]): {
  scans: { id: string; usecase: string; number: number }[];
  models: { label: string; scan: string; target: string }[];
  comparison: ComparisonRow[];
} {
  const all = reports.flatMap((r) => r.models.map((m) => ({ report: r, model: m })));
  const seen = new Map<string, number>();
  for (const { model } of all) seen.set(model.target, (seen.get(model.target) ?? 0) + 1);
  const labelled = all.map(({ report, model }) => {
    const label =
      (seen.get(model.target) ?? 0) > 1
        ? `${model.target} (${report.scan.usecase}#${report.scan.number})`
        : model.target;
    return { label, scan: report.scan.id, model: { ...model, target: label } };
  });
  return {
    scans: reports.map((r) => ({ id: r.scan.id, usecase: r.scan.usecase, number: r.scan.number })),
    models: labelled.map((l, i) => ({ label: l.label, scan: l.scan, target: all[i]!.model.target })),
    comparison: compare(labelled.map((l) => l.model)),
  };
}
