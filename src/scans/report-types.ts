/**
 * The scan report (JSON), `schema: modelport.scan-report/v1`, documented field by field in docs/scan-report.md.
 * It holds numbers, curves and per-group aggregates: never a row of the dataset.
 */
import type { ScanKind, Task } from './spec.ts';
import type { ModelSummary, ScanDataset, ScanModel } from './types.ts';

export const REPORT_SCHEMA = 'modelport.scan-report/v1';

/** A number with its confidence interval (null bounds when it has none). */
export interface Estimate {
  value: number | null;
  lo: number | null;
  hi: number | null;
}

export interface PerformanceReport {
  rows: number;
  metrics: Record<string, Estimate>;
  /** Binary: [[tn, fp], [fn, tp]]; multiclass: rows are true classes, columns predicted. */
  confusion: number[][] | null;
  classes: string[] | null;
  /** Binary only; at most 200 points. */
  roc: { fpr: number[]; tpr: number[] } | null;
  calibration: { meanPredicted: number; fractionPositive: number; count: number }[] | null;
}

export interface GroupReport {
  name: string;
  rows: number;
  /** Too few rows (or no positive / negative rows) to judge: shown, flagged, left out of min and max. */
  small: boolean;
  selectionRate: Estimate;
  /** The group's selection rate over the highest judged group's (the four-fifths rule's ratio). */
  disparateImpact: number | null;
  truePositiveRate: number | null;
  falsePositiveRate: number | null;
  accuracy: number | null;
  /** Certifai's burden: the mean counterfactual distance of the group's unfavourable rows (robustness scan). */
  burden: number | null;
}

export interface AttributeReport {
  column: string;
  buckets: number[] | null;
  reference: string;
  groups: GroupReport[];
  metrics: Record<string, Estimate>;
}

export interface FairnessReport {
  threshold: number;
  attributes: AttributeReport[];
}

export interface RobustnessReport {
  /** Share of rows whose prediction flips under a bounded perturbation of the numeric features. */
  flipRate: Estimate;
  epsilon: number;
  rows: number;
  counterfactual: {
    searched: number;
    found: number;
    /** Mean normalised distance of the counterfactuals found (smaller: less robust). */
    meanDistance: number | null;
    method: string;
  };
}

export interface ExplainabilityReport {
  rows: number;
  repeats: number;
  /** Permutation importance: the drop of the headline metric when a feature is shuffled, largest first. */
  importance: { feature: string; mean: number; lo: number; hi: number }[];
  metric: string;
  /** Sampled per-prediction attributions of a few rows (feature contributions only: no input values). */
  attributions: { row: number; prediction: number; contributions: { feature: string; value: number }[] }[];
  method: string;
}

export interface DriftReport {
  reference: { repo: string | null; commit: string | null; path: string | null; source: string };
  features: { feature: string; psi: number | null; ks: number | null; pValue: number | null; drifted: boolean }[];
  drifted: number;
  share: number;
  predictionPsi: number | null;
  /** Why feature drift was not measured for this model (no reference), else null. */
  skipped: string | null;
  /** The sketch of this scan's predictions (deciles and 101 quantiles): the next scan's prediction-drift reference. */
  predictionReference?: {
    kind: 'numeric';
    n: number;
    nulls: number;
    edges: number[];
    counts: number[];
    quantiles: number[];
  };
}

export interface ModelReport extends ScanModel {
  trust: { score: number | null; parts: Record<string, number>; weights: Record<string, number> };
  performance?: PerformanceReport;
  fairness?: FairnessReport;
  robustness?: RobustnessReport;
  explainability?: ExplainabilityReport;
  drift?: DriftReport;
  /** Why a scan kind could not be measured for this model. */
  errors: Record<string, string>;
}

export interface ComparisonRow {
  kind: ScanKind | 'trust';
  metric: string;
  better: 'higher' | 'lower';
  values: Record<string, number | null>;
  /** The target that wins, null for a tie or when fewer than two have a value. */
  winner: string | null;
}

export interface ScanReport {
  schema: typeof REPORT_SCHEMA;
  scan: {
    id: string;
    project: string;
    usecase: string;
    number: number;
    revision: number;
    kinds: ScanKind[];
    createdAt: string;
    finishedAt: string;
    elapsedMs: number;
  };
  task: Task;
  label: string;
  favorable: string | null;
  threshold: number;
  dataset: ScanDataset;
  models: ModelReport[];
  comparison: ComparisonRow[];
  /** What a policy reads as `scans`, per model target. */
  summary: Record<string, ModelSummary>;
}
