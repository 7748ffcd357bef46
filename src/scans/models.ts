/**
 * The models a scan measures, each behind one `ScanModelHandle` whatever calls it: a registry version scored in this
 * process through the scorer (src/scoring's `BatchScorer`, ONNX Runtime), a hosted version (the hosted runtime, in
 * the model host's workers through the gateway), or a deployment through the gateway, paced so that a scan never
 * starves live traffic and failing, within its budget, when the deployment is down.
 */
import { ModelportError, type Tensor } from '../core/index.ts';
import type { BatchScorer, ScoringSignature } from '../scoring/index.ts';
import { scoringInput } from '../scoring/index.ts';
import type { ModelTarget, Task } from './spec.ts';
import type { ScanModel } from './types.ts';

/** What a scan needs of a registry version. */
export interface VersionInfo {
  model: string;
  version: number;
  format: string;
  sha256: string;
  signature: ScoringSignature;
  dataCommit: string | null;
}

/** The gateway, as scans call it (the composition root passes the real one). */
export interface GatewayCaller {
  /** The version a deployment serves now (its heaviest traffic target), with its signature. */
  deployment(project: string, name: string, field: string): Promise<VersionInfo>;
  /** One inference call through the gateway: `name` is a deployment or `model@version`. */
  infer(
    project: string,
    name: string,
    input: Tensor,
    outputs: readonly string[],
    options: { signal: AbortSignal; deadline: number },
  ): Promise<Tensor[]>;
}

export interface ModelSources {
  version(project: string, ref: string, field: string): Promise<VersionInfo>;
  /** A local path of a version's model file (from the artifact store). */
  modelFile(sha256: string): Promise<string>;
  openScorer(path: string, format: 'onnx' | 'js'): Promise<BatchScorer>;
  gateway: GatewayCaller;
}

/** How deployments (and hosted versions) are paced: rows per call, calls per second, and the budget of a call. */
export interface GatewayPace {
  rows: number;
  callsPerSecond: number;
  /** How long a call may keep failing (a deployment down, a queue full) before the scan fails. */
  budgetMs: number;
}

export const DEFAULT_PACE: GatewayPace = { rows: 512, callsPerSecond: 50, budgetMs: 30_000 };

/** A model's answers for a batch: one score per row (P(favourable), or the regression value), and the classes. */
export interface Predictions {
  /** Binary: P(favourable class); regression: the predicted value; multiclass: P(predicted class). */
  scores: Float64Array;
  /** Multiclass: the predicted class index (binary: the scan thresholds `scores`). */
  classes: Int32Array | null;
  /** Multiclass: every class's probability, row-major. */
  probabilities: Float64Array | null;
}

export interface ScanModelHandle extends ScanModel {
  /** The columns the model reads, in its input's order. */
  features: readonly string[];
  width: number;
  datatype: 'FP32' | 'FP64';
  /** Class names by index, when the signature has them. */
  labels: readonly string[] | null;
  /** Largest batch worth sending at once. */
  batchRows: number;
  predict(rows: number, matrix: Float32Array, signal: AbortSignal): Promise<Predictions>;
  close(): Promise<void>;
}

const FLOAT = new Set(['FP32', 'FP64']);
const INTEGER = new Set(['INT8', 'INT16', 'INT32', 'INT64', 'UINT8', 'UINT16', 'UINT32', 'UINT64']);

/** The outputs a scan reads: a probability matrix [N, k], else a single float per row; and an integer label. */
export function outputPlan(
  signature: ScoringSignature,
  task: Task,
  field: string,
): { score: string; width: number; label: string | null } {
  const floats = signature.outputs.filter((o) => FLOAT.has(o.datatype));
  const label = signature.outputs.find((o) => INTEGER.has(o.datatype) && o.shape.length === 1)?.name ?? null;
  if (task === 'regression') {
    const single = floats.find((o) => o.shape.length === 1 || (o.shape.length === 2 && o.shape[1] === 1));
    if (!single) {
      throw new ModelportError(
        'invalid_request',
        `${field}: a regression model needs a float output of shape [N] or [N, 1]`,
        {
          field,
        },
      );
    }
    return { score: single.name, width: 1, label: null };
  }
  const matrix = floats.find((o) => o.shape.length === 2 && (o.shape[1] ?? 0) >= 2);
  if (matrix) return { score: matrix.name, width: matrix.shape[1]!, label };
  const single = floats.find((o) => o.shape.length === 1 || (o.shape.length === 2 && o.shape[1] === 1));
  if (single && task === 'binary-classification') return { score: single.name, width: 1, label };
  throw new ModelportError(
    'invalid_request',
    `${field}: a ${task} model needs a float output of class probabilities [N, k]${task === 'binary-classification' ? ' or P(positive) [N]' : ''}`,
    { field },
  );
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });

/** Errors a down or busy deployment gives, worth retrying within the budget. */
const RETRYABLE = new Set([
  'not_ready',
  'overloaded',
  'timeout',
  'upstream_unreachable',
  'upstream_timeout',
  'worker_failed',
]);

export interface OpenOptions {
  project: string;
  task: Task;
  /** The favourable class (binary classification): its probability is the score. */
  favorable: string | number | undefined;
  /** The dataset's header: the features of a model without feature names are every column but the label. */
  header: readonly string[];
  label: string;
  pace: GatewayPace;
  field: string;
}

/** Resolves a model target and checks it against the dataset's header and the task, without loading it. */
export async function describeModel(sources: ModelSources, target: ModelTarget, o: OpenOptions) {
  const info =
    target.kind === 'version'
      ? await sources.version(o.project, target.ref, o.field)
      : await sources.gateway.deployment(o.project, target.deployment, o.field);
  let input: ReturnType<typeof scoringInput>;
  try {
    input = scoringInput(info.signature);
  } catch (error) {
    throw new ModelportError('invalid_request', `${o.field}: ${(error as Error).message}`, { field: o.field });
  }
  const features = checkFeatures(info.signature, input.width, o.header, o.label, o.field);
  const plan = outputPlan(info.signature, o.task, o.field);
  return { info, input, features, plan };
}

/** Resolves a model target and opens it for scoring. */
export async function openModel(sources: ModelSources, target: ModelTarget, o: OpenOptions): Promise<ScanModelHandle> {
  const { info, input, features, plan } = await describeModel(sources, target, o);
  const labels = info.signature.labels ?? null;
  const favorableIndex = favorableClass(labels, plan.width, o.favorable);
  const outputs = plan.label ? [plan.score, plan.label] : [plan.score];
  let call: (tensor: Tensor, signal: AbortSignal) => Promise<Tensor[]>;
  let close = async () => {};
  let via: ScanModel['via'];
  let batchRows = 8192;
  if (target.kind === 'version' && (info.format === 'onnx' || info.format === 'js')) {
    via = 'in-process';
    const scorer = await sources.openScorer(await sources.modelFile(info.sha256), info.format);
    call = (tensor) => scorer.score(tensor, outputs);
    close = () => scorer.close();
  } else {
    via = target.kind === 'deployment' ? 'deployment' : 'hosted';
    const name = target.kind === 'deployment' ? target.deployment : `${info.model}@${info.version}`;
    call = paced(sources.gateway, o.project, name, outputs, o.pace);
    batchRows = o.pace.rows;
  }
  const predict = async (rows: number, matrix: Float32Array, signal: AbortSignal): Promise<Predictions> => {
    const data =
      input.datatype === 'FP64'
        ? Float64Array.from(matrix.subarray(0, rows * input.width))
        : matrix.subarray(0, rows * input.width);
    const tensor: Tensor = { name: input.name, datatype: input.datatype, shape: [rows, input.width], data };
    const result = await call(tensor, signal);
    const values = result[0]!.data as ArrayLike<number>;
    if (values.length !== rows * plan.width) {
      throw new ModelportError(
        'invalid_model',
        `${o.field}: output '${plan.score}' gave ${values.length} values for ${rows} rows; expected ${rows * plan.width}`,
        { field: o.field },
      );
    }
    const scores = new Float64Array(rows);
    if (o.task === 'regression' || plan.width === 1) {
      for (let i = 0; i < rows; i++) scores[i] = Number(values[i]);
      if (o.task !== 'regression' && favorableIndex === 0) for (let i = 0; i < rows; i++) scores[i] = 1 - scores[i]!;
      return { scores, classes: null, probabilities: null };
    }
    const k = plan.width;
    const classes = o.task === 'multiclass-classification' ? new Int32Array(rows) : null;
    const probabilities = o.task === 'multiclass-classification' ? new Float64Array(rows * k) : null;
    for (let i = 0; i < rows; i++) {
      let best = 0;
      for (let j = 1; j < k; j++) if (Number(values[i * k + j]) > Number(values[i * k + best])) best = j;
      if (classes) classes[i] = best;
      scores[i] =
        o.task === 'binary-classification' ? Number(values[i * k + favorableIndex]) : Number(values[i * k + best]);
      if (probabilities) for (let j = 0; j < k; j++) probabilities[i * k + j] = Number(values[i * k + j]);
    }
    return { scores, classes, probabilities };
  };
  return {
    target: target.kind === 'version' ? target.ref : `deployment:${target.deployment}`,
    via,
    model: info.model,
    version: info.version,
    dataCommit: info.dataCommit,
    features,
    width: input.width,
    datatype: input.datatype,
    labels,
    batchRows,
    predict,
    close,
  };
}

/** The columns a model reads: its feature names, which the dataset must have; else every column but the label. */
function checkFeatures(
  signature: ScoringSignature,
  width: number,
  header: readonly string[],
  label: string,
  field: string,
): string[] {
  if (signature.featureNames) {
    const missing = signature.featureNames.filter((f) => !header.includes(f));
    if (missing.length > 0) {
      throw new ModelportError(
        'invalid_request',
        `${field}: the dataset's columns do not match the model's signature: it has no column ${missing
          .slice(0, 5)
          .map((m) => `'${m}'`)
          .join(
            ', ',
          )}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''} of the ${signature.featureNames.length} features the model reads`,
        { field },
      );
    }
    return [...signature.featureNames];
  }
  const features = header.filter((h) => h !== label);
  if (features.length !== width) {
    throw new ModelportError(
      'invalid_request',
      `${field}: the dataset's columns do not match the model's signature: the model reads ${width} features and the dataset has ${features.length} columns besides the label '${label}' (give the model feature names with models signature set to choose them)`,
      { field },
    );
  }
  return features;
}

/** The index of the favourable class among the model's outputs: by label name, else the value as an index. */
function favorableClass(
  labels: readonly string[] | null,
  width: number,
  favorable: string | number | undefined,
): number {
  if (favorable === undefined) return 1;
  const text = String(favorable);
  const named = labels?.indexOf(text) ?? -1;
  if (named >= 0) return named;
  const n = Number(text);
  if (Number.isInteger(n) && n >= 0 && n < Math.max(2, width)) return n;
  return 1;
}

/** Calls through the gateway at most `callsPerSecond`, retrying a down or busy deployment until the budget ends. */
function paced(
  gateway: GatewayCaller,
  project: string,
  name: string,
  outputs: readonly string[],
  pace: GatewayPace,
): (tensor: Tensor, signal: AbortSignal) => Promise<Tensor[]> {
  const interval = 1000 / pace.callsPerSecond;
  let next = 0;
  return async (tensor, signal) => {
    const started = Date.now();
    let attempt = 0;
    for (;;) {
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait, signal);
      next = performance.now() + interval;
      const left = pace.budgetMs - (Date.now() - started);
      try {
        return await gateway.infer(project, name, tensor, outputs, {
          signal,
          deadline: Date.now() + Math.max(1, left),
        });
      } catch (error) {
        signal.throwIfAborted();
        const code = error instanceof ModelportError ? error.code : 'internal';
        const spent = Date.now() - started;
        if (!RETRYABLE.has(code) || spent >= pace.budgetMs) {
          const what = name.includes('@') ? `hosted model ${name}` : `deployment '${name}'`;
          throw new ModelportError(
            code === 'not_found' ? 'not_found' : 'upstream_unreachable',
            `${what} did not answer within the scan's budget of ${Math.round(pace.budgetMs / 1000)} s: ${(error as Error).message}`,
            { field: 'models', cause: error },
          );
        }
        attempt++;
        await sleep(Math.min(2000, 100 * 2 ** attempt, Math.max(1, pace.budgetMs - spent)), signal);
      }
    }
  };
}
