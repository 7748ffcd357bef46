/**
 * The use case spec: what the user writes (YAML for `modelport usecases apply -f`, the same JSON through the API),
 * and `compileUseCase`, which checks everything that needs no store and names the field of the first mistake.
 * What needs the stores (the dataset's columns, the models' signatures) is checked by the service at apply.
 *
 * ```yaml
 * name: credit-approval
 * task: binary-classification
 * dataset: { repo: applicants, commit: main, path: eval.csv }   # or { upload: <sha256> }
 * label: approved
 * favorable: 1
 * protected: [{ column: gender }, { column: age, buckets: [25, 45, 65] }]
 * restricted: [gender, age]                                      # counterfactuals may not change these
 * models: [credit@1, credit@2, { deployment: credit-api }]
 * scans: [performance, fairness, robustness, explainability, drift]
 * scanConfig: { parallel: 2, cpu: "1", memory: 1Gi }
 * ```
 */
import { z } from 'zod';
import { checkDataPath, checkName, ModelportError, parseModelRef, parseRevision, parseSize } from '../core/index.ts';

export const TASKS = ['binary-classification', 'multiclass-classification', 'regression'] as const;
export type Task = (typeof TASKS)[number];
export const SCAN_KINDS = ['performance', 'fairness', 'robustness', 'explainability', 'drift'] as const;
export type ScanKind = (typeof SCAN_KINDS)[number];

/** Metrics a use case may list under `metrics`, by the task they make sense for. */
export const CLASSIFICATION_METRICS = [
  'accuracy',
  'precision',
  'recall',
  'f1',
  'roc_auc',
  'pr_auc',
  'log_loss',
  'brier',
] as const;
export const REGRESSION_METRICS = ['mae', 'rmse', 'r2'] as const;

const DataFile = z.strictObject({
  /** A data repository of the use case's project, or `<project>/<repo>` of another one the caller may read. */
  repo: z.string().min(1).max(128),
  /** A branch, a tag or a commit id (pinned to the commit id when a scan runs). */
  commit: z.string().min(1).max(80).default('main'),
  path: z.string().min(1).max(1024),
});

const Dataset = z.union([
  DataFile.extend({
    /** The reference for drift when a model version has no training-data lineage. */
    reference: DataFile.optional(),
  }),
  z.strictObject({
    /** The sha256 of a file uploaded with `uploadScanDataset` (`usecases apply` uploads a local path). */
    upload: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 of 64 lowercase hex digits'),
    reference: DataFile.optional(),
  }),
]);

const ModelEntry = z.union([
  z.string().min(1).max(200).describe('a model version: name@version, name@alias, or a hosted model version'),
  z.strictObject({ deployment: z.string().min(1).max(63) }),
]);

const Quantity = z.union([z.string(), z.number()]);

export const ScanConfigSchema = z.strictObject({
  /** Scans of this use case running at once. */
  parallel: z.number().int().min(1).max(16).optional(),
  /** Threads a scan's DuckDB may use (a number of cores: "1", "2", "500m" rounds up to 1). */
  cpu: Quantity.optional(),
  /** Memory a scan's DuckDB may hold before it spills to disk (`1Gi`, `512Mi`). */
  memory: Quantity.optional(),
});
export type ScanConfigInput = z.input<typeof ScanConfigSchema>;

export const UseCaseSpecSchema = z.strictObject({
  apiVersion: z.literal('modelport/v1').optional(),
  kind: z.literal('UseCase').optional(),
  name: z.string(),
  description: z.string().max(4096).default(''),
  task: z.enum(TASKS),
  dataset: Dataset,
  label: z.string().min(1).max(256),
  /** The favourable outcome (a class the label and the predictions take): fairness measures who gets it. */
  favorable: z.union([z.string().max(256), z.number()]).optional(),
  protected: z
    .array(
      z.strictObject({
        column: z.string().min(1).max(256),
        /** Cut points of a numeric attribute: [25, 45, 65] makes <25, 25-45, 45-65 and >=65. */
        buckets: z.array(z.number()).min(1).max(32).optional(),
      }),
    )
    .max(16)
    .default([]),
  /** Features counterfactuals may not change. */
  restricted: z.array(z.string().min(1).max(256)).max(256).default([]),
  models: z.array(ModelEntry).min(1).max(16),
  scans: z
    .array(z.enum(SCAN_KINDS))
    .min(1)
    .default([...SCAN_KINDS]),
  /** The headline metrics (scorecards and comparisons); default the task's usual ones. */
  metrics: z.array(z.string().min(1).max(64)).max(32).optional(),
  /** The disparate impact below which a group is judged unfair (the four-fifths rule). */
  fairnessThreshold: z.number().gt(0).max(1).default(0.8),
  /** Probability above which a binary prediction is the positive class. */
  threshold: z.number().min(0).max(1).default(0.5),
  /** Weights of the trust score's parts (0 leaves one out). */
  trustWeights: z
    .strictObject({
      performance: z.number().min(0).max(100).optional(),
      fairness: z.number().min(0).max(100).optional(),
      robustness: z.number().min(0).max(100).optional(),
      explainability: z.number().min(0).max(100).optional(),
      drift: z.number().min(0).max(100).optional(),
    })
    .optional(),
  /** Rows a scan reads at most (a uniform sample beyond it is not taken: the first rows are). Default all. */
  maxRows: z.number().int().min(1).optional(),
  scanConfig: ScanConfigSchema.optional(),
});

export type UseCaseSpecInput = z.input<typeof UseCaseSpecSchema>;
export type UseCaseSpec = z.output<typeof UseCaseSpecSchema>;
export type DataFileRef = z.output<typeof DataFile>;

/** A model entry, classified: a registry version (scored in-process, or by the hosted runtime), or a deployment. */
export type ModelTarget = { kind: 'version'; ref: string } | { kind: 'deployment'; deployment: string };

/** The concurrency and resources of scans: `parallel` scans at once, each with `threads` and `memoryBytes`. */
export interface ScanConfig {
  parallel: number;
  cpu: string;
  memory: string;
  threads: number;
  memoryBytes: number;
}

export const DEFAULT_SCAN_CONFIG = { parallel: 1, cpu: '1', memory: '1Gi' } as const;

const refuse = (field: string, message: string): never => {
  throw new ModelportError('invalid_request', `${field}: ${message}`, { field });
};

/** Cores from a Kubernetes-style quantity (`2`, `"1"`, `500m`), rounded up to whole threads (1-64). */
export function cpuThreads(value: string | number, field: string): number {
  const text = String(value).trim();
  const match = /^(\d+(?:\.\d+)?)(m?)$/.exec(text);
  if (!match) return refuse(field, `'${text.slice(0, 40)}' is not a CPU quantity; write 1, 2 or 500m`);
  const cores = match[2] === 'm' ? Number(match[1]) / 1000 : Number(match[1]);
  if (cores <= 0 || cores > 64) return refuse(field, 'give between 1m and 64 cores');
  return Math.max(1, Math.ceil(cores));
}

/** The use case's override over the server's default, with every field checked. */
export function resolveScanConfig(server: ScanConfigInput, usecase: ScanConfigInput | undefined): ScanConfig {
  const merged = { ...DEFAULT_SCAN_CONFIG, ...server, ...usecase };
  const field = (name: string) => (usecase && name in usecase ? `scanConfig.${name}` : `server.scanConfig.${name}`);
  const memoryBytes = parseSize(merged.memory);
  if (memoryBytes === undefined || memoryBytes < 64 * 1024 * 1024) {
    refuse(
      field('memory'),
      `'${String(merged.memory).slice(0, 40)}' is not a memory size of at least 64Mi (1Gi, 512Mi)`,
    );
  }
  return {
    parallel: merged.parallel,
    cpu: String(merged.cpu),
    memory: String(merged.memory),
    threads: cpuThreads(merged.cpu, field('cpu')),
    memoryBytes: memoryBytes!,
  };
}

export function modelTargets(spec: UseCaseSpec): ModelTarget[] {
  return spec.models.map((entry) =>
    typeof entry === 'string' ? { kind: 'version', ref: entry } : { kind: 'deployment', deployment: entry.deployment },
  );
}

/** `credit@2`, `deployment credit-api`: how a target is named in results, reports and errors. */
export function targetName(target: ModelTarget): string {
  return target.kind === 'version' ? target.ref : `deployment:${target.deployment}`;
}

/** `applicants` or `risk/applicants`: the project (default the use case's) and the repository. */
export function splitRepo(value: string, project: string, field: string): { project: string; repo: string } {
  const parts = value.split('/');
  if (parts.length > 2) return refuse(field, `'${value.slice(0, 80)}' is not a repository; write repo or project/repo`);
  const [a, b] = parts as [string, string | undefined];
  return b === undefined
    ? { project, repo: checkName(a, field) }
    : { project: checkName(a, field), repo: checkName(b, field) };
}

/** Parses the spec and checks what needs no store: names, references, columns named twice, metrics of the task. */
export function compileUseCase(input: unknown): UseCaseSpec {
  const parsed = UseCaseSpecSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const keys = 'keys' in issue && Array.isArray(issue.keys) ? (issue.keys as string[]) : [];
    const field = [...issue.path, ...keys.slice(0, 1)].join('.') || 'spec';
    throw new ModelportError('invalid_request', `${field}: ${issue.message}`, { field });
  }
  const spec = parsed.data;
  checkName(spec.name, 'name');
  const checkFile = (file: DataFileRef, at: string) => {
    splitRepo(file.repo, 'default', `${at}.repo`);
    parseRevision(file.commit, `${at}.commit`);
    checkDataPath(file.path, `${at}.path`);
    if (!/\.csv$/i.test(file.path))
      refuse(`${at}.path`, `'${file.path}' is not a .csv file; scans read CSV with a header`);
  };
  if ('repo' in spec.dataset) checkFile(spec.dataset, 'dataset');
  if (spec.dataset.reference) checkFile(spec.dataset.reference, 'dataset.reference');
  spec.models.forEach((entry, i) => {
    if (typeof entry === 'string') parseModelRef(entry, `models[${i}]`);
    else checkName(entry.deployment, `models[${i}].deployment`);
  });
  const names = spec.models.map((m) => (typeof m === 'string' ? m : `deployment:${m.deployment}`));
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) refuse(`models[${names.lastIndexOf(twice)}]`, `'${twice}' is listed twice`);
  if (new Set(spec.scans).size !== spec.scans.length) refuse('scans', 'a scan kind is listed twice');
  spec.protected.forEach((p, i) => {
    if (p.column === spec.label) refuse(`protected[${i}].column`, `'${p.column}' is the label; protect a feature`);
    if (p.buckets && p.buckets.some((b, j) => j > 0 && b <= p.buckets![j - 1]!)) {
      refuse(`protected[${i}].buckets`, 'cut points must increase: [25, 45, 65]');
    }
  });
  const protectedColumns = spec.protected.map((p) => p.column);
  const dup = protectedColumns.find((c, i) => protectedColumns.indexOf(c) !== i);
  if (dup) refuse(`protected[${protectedColumns.lastIndexOf(dup)}].column`, `'${dup}' is protected twice`);
  if (spec.scans.includes('fairness') && spec.protected.length === 0) {
    refuse('protected', 'a fairness scan needs at least one protected attribute (protected: [{ column: gender }])');
  }
  if (spec.task !== 'regression' && spec.scans.includes('fairness') && spec.favorable === undefined) {
    refuse('favorable', 'a fairness scan of a classification needs the favourable outcome (favorable: 1)');
  }
  const allowed: readonly string[] = spec.task === 'regression' ? REGRESSION_METRICS : CLASSIFICATION_METRICS;
  spec.metrics?.forEach((metric, i) => {
    if (allowed.includes(metric)) return;
    const other = spec.task === 'regression' ? CLASSIFICATION_METRICS : REGRESSION_METRICS;
    const why = (other as readonly string[]).includes(metric)
      ? `'${metric}' is a ${spec.task === 'regression' ? 'classification' : 'regression'} metric and the task is ${spec.task}`
      : `'${metric.slice(0, 64)}' is not a metric`;
    refuse(`metrics[${i}]`, `${why}; use one of ${allowed.join(', ')}`);
  });
  if (spec.scanConfig) resolveScanConfig({}, spec.scanConfig);
  return spec;
}
