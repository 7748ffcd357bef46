/** The nouns of use cases and scans, as the API, the client, the CLI and the console see them. */
import type { ScanKind, UseCaseSpec } from './spec.ts';

export interface UseCase {
  project: string;
  name: string;
  revision: number;
  spec: UseCaseSpec;
  /** The concurrency and resources its scans get (the server default under the use case's override). */
  scanConfig: { parallel: number; cpu: string; memory: string };
  scans: number;
  lastScan: { id: string; number: number; state: ScanState; createdAt: string } | null;
  createdAt: string;
  updatedAt: string;
}

export const SCAN_STATES = ['Queued', 'Running', 'Succeeded', 'Failed', 'Canceled'] as const;
export type ScanState = (typeof SCAN_STATES)[number];
export const FINISHED_SCAN: readonly ScanState[] = ['Succeeded', 'Failed', 'Canceled'];

export interface ScanProgress {
  /** What the scan does now: queued, reading, scoring <model>, measuring <model>, reporting, done. */
  phase: string;
  /** Units done and to do (rows scored over every model, then the measuring steps). */
  done: number;
  total: number;
}

/** The dataset a scan read, pinned: a data commit, or an upload's digest. */
export interface ScanDataset {
  repo: string | null;
  commit: string | null;
  path: string | null;
  sha256: string;
  rows: number;
  columns: string[];
}

/** A model as the scan resolved it. */
export interface ScanModel {
  /** How the use case names it: `credit@2`, `deployment:credit-api`. */
  target: string;
  /** How it was called: in-process (ONNX Runtime), the hosted runtime, or a deployment through the gateway. */
  via: 'in-process' | 'hosted' | 'deployment';
  model: string;
  version: number;
  /** The data commit its training data came from (lineage), when registered by a pipeline. */
  dataCommit: string | null;
}

export interface Scan {
  id: string;
  project: string;
  usecase: string;
  number: number;
  revision: number;
  kinds: ScanKind[];
  state: ScanState;
  reason: string | null;
  progress: ScanProgress;
  dataset: ScanDataset | null;
  models: ScanModel[];
  /** The headline numbers per model (trust score and a few metrics), once finished. */
  summary: ScanSummary | null;
  createdBy: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/** One stored result: a scan's metric of one model, with its confidence interval. */
export interface ScanResult {
  target: string;
  model: string | null;
  version: number | null;
  dataCommit: string | null;
  kind: ScanKind | 'trust';
  metric: string;
  value: number | null;
  lo: number | null;
  hi: number | null;
}

/**
 * What a policy sees of a model's scan as `scans` (docs/scan-report.md): per kind, the metrics by name; fairness
 * metrics over groups as `{ min, max }` across the protected attributes; drift with the share of drifted features.
 */
export type ScanSummary = Record<string, ModelSummary>;

export interface ModelSummary {
  trust: number | null;
  performance: Record<string, number>;
  fairness: Record<string, { min: number; max: number }>;
  robustness: Record<string, number>;
  explainability: Record<string, number>;
  drift: { share: number; drifted: number; features: number; prediction_psi: number | null } | Record<string, never>;
}
