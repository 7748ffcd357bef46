/**
 * Use cases and scans: a use case names a prediction task, an evaluation dataset and the models to compare; a scan
 * measures each model's performance, fairness, robustness, explainability and drift (the stats room does the
 * maths), stores the results per model and metric, and writes the report. Importing this module never loads DuckDB
 * or ONNX Runtime.
 */
export type { DatasetSource } from './materialize.ts';
export { DEFAULT_PACE, type GatewayCaller, type GatewayPace, type ModelSources, type VersionInfo } from './models.ts';
export { betterOf, compare, compareReports } from './outcome.ts';
export * from './report-types.ts';
export { type CanRead, ScanService, type ScanServiceDeps } from './scan-service.ts';
export {
  CLASSIFICATION_METRICS,
  compileUseCase,
  DEFAULT_SCAN_CONFIG,
  REGRESSION_METRICS,
  SCAN_KINDS,
  type ScanConfigInput,
  ScanConfigSchema,
  type ScanKind,
  TASKS,
  type Task,
  type UseCaseSpec,
  type UseCaseSpecInput,
  UseCaseSpecSchema,
} from './spec.ts';
export {
  FINISHED_SCAN,
  type ModelSummary,
  SCAN_STATES,
  type Scan,
  type ScanDataset,
  type ScanModel,
  type ScanProgress,
  type ScanResult,
  type ScanState,
  type ScanSummary,
  type UseCase,
} from './types.ts';
