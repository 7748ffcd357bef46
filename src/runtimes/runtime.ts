/**
 * The runtime contract: what a worker process calls to serve one model version.
 *
 * A runtime is created by kind with `createRuntime(kind, environment)`; the registry of kinds below is explicit
 * (no registration on import) and each kind's module is imported only when asked for, so native dependencies such
 * as onnxruntime-node stay out of the gateway process and out of the CLI's start-up path. Runtimes never read
 * `process.env`: the caller (the worker's entry point) passes the environment in.
 */

import type { ModelSignature, Tensor } from '../core/index.ts';
import { invalid, ModelportError } from '../core/index.ts';
import { type Logger, silentLogger } from '../logging/index.ts';
import type { HostedDescriptor } from './hosted/hosted-descriptor.ts';

/**
 * What a runtime may use of the process it runs in. In a worker process `env` is exactly the deployment's
 * variables and secrets (WorkerProcess never copies the gateway's): the js model's `context.env` and the hosted
 * runtime's auth header come from it.
 */
export interface RuntimeEnvironment {
  env: Readonly<Record<string, string | undefined>>;
  /** Where a runtime (and a js model's `context.log`) logs. Default: nowhere. */
  log?: Logger;
}

/**
 * Per-model knobs. Runtimes honour the ones that apply to them and ignore the rest.
 *
 * Defaults: `intraOpNumThreads` 1 and `interOpNumThreads` 1 (several workers share the machine; CNNs gain
 * 1.7-2x from a second intra-op thread, so raise it per model), `graphOptimizationLevel` 'all', `warmup` true.
 * Example: `{ intraOpNumThreads: 2 }` for a CNN.
 */
export interface RuntimeSettings {
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Run one zero batch built from the signature before `load` resolves. */
  warmup?: boolean;
}

export interface RuntimeLoadOptions {
  /** Path of the model file on this machine (a verified artifact; never shown to clients). */
  path: string;
  settings?: RuntimeSettings;
  /**
   * Hosts outbound calls may reach even when they resolve to loopback or private addresses (the server's
   * MODELPORT_EGRESS_ALLOW_HOSTS), for runtimes that call out (`hosted`). Default none.
   */
  egressAllowHosts?: readonly string[];
}

/**
 * One loaded model version. `load` -> `predict`* -> `unload`.
 *
 * `predict` takes one batch: every input's first dimension is the batch dimension (for models that batch), in the
 * order and under the names of the signature's inputs; `outputs` names the outputs to compute (absent: all the
 * signature's outputs). It never runs two calls at once in one process, so callers run one runtime per worker.
 */
export interface ModelRuntime {
  /** Loads (and warms up, unless `settings.warmup` is false); resolves once the model can answer. */
  load(options: RuntimeLoadOptions, signal?: AbortSignal): Promise<void>;
  /** What the loaded model takes and gives; throws `not_ready` before `load` resolves. */
  signature(): ModelSignature;
  predict(batch: Tensor[], outputs?: string[]): Promise<Tensor[]>;
  /** Releases the model; idempotent. */
  unload(): Promise<void>;
  /** Why the warm-up run failed, if it did (not fatal: some models need real values, a sample rate say). */
  readonly warmupError?: string | undefined;
}

/** The kinds this build can create. A new runtime adds a line here, nowhere else (and joins the conformance suite). */
const RUNTIME_FACTORIES = {
  onnx: async (): Promise<ModelRuntime> => new (await import('./onnx/onnx-runtime.ts')).OnnxRuntime(),
  js: async (environment: RuntimeEnvironment): Promise<ModelRuntime> =>
    new (await import('./js/js-runtime.ts')).JsRuntime(environment),
  hosted: async (environment: RuntimeEnvironment): Promise<ModelRuntime> =>
    new (await import('./hosted/hosted-runtime.ts')).HostedRuntime({ env: environment.env }),
} as const satisfies Record<string, (environment: RuntimeEnvironment) => Promise<ModelRuntime>>;

export type RuntimeKind = keyof typeof RUNTIME_FACTORIES;

export const RUNTIME_KINDS = Object.freeze(Object.keys(RUNTIME_FACTORIES) as RuntimeKind[]);

export function isRuntimeKind(value: unknown): value is RuntimeKind {
  return typeof value === 'string' && Object.hasOwn(RUNTIME_FACTORIES, value);
}

/** A fresh, unloaded runtime of `kind`; `invalid_request` (field `runtime`) for an unknown kind. */
export async function createRuntime(
  kind: string,
  environment: RuntimeEnvironment = { env: {} },
): Promise<ModelRuntime> {
  if (!isRuntimeKind(kind)) {
    throw invalid('runtime', `unknown runtime '${kind}'; use one of ${RUNTIME_KINDS.join(', ')}`);
  }
  return RUNTIME_FACTORIES[kind]({ log: silentLogger(), ...environment });
}

/**
 * A hosted model's descriptor, read and checked (see `hosted/hosted-descriptor.ts`). The hosted runtime's code (YAML,
 * the protocol codecs, the egress guard) loads on first use, as `createRuntime('hosted')` loads it: a worker running
 * another kind never loads it (about 9 MB of a worker's memory).
 */
export async function readHostedDescriptor(path: string): Promise<Readonly<HostedDescriptor>> {
  return (await import('./hosted/hosted-descriptor.ts')).readHostedDescriptor(path);
}

/** Validated settings with defaults applied and frozen; errors name `settings.<knob>`. */
export function compileRuntimeSettings(settings: RuntimeSettings = {}): Readonly<Required<RuntimeSettings>> {
  const threads = (name: 'intraOpNumThreads' | 'interOpNumThreads'): number => {
    const value = settings[name] ?? 1;
    if (!Number.isSafeInteger(value) || value < 1 || value > 256) {
      throw invalid(`settings.${name}`, `must be an integer from 1 to 256, got ${String(value)}`);
    }
    return value;
  };
  const level = settings.graphOptimizationLevel ?? 'all';
  if (!['disabled', 'basic', 'extended', 'all'].includes(level)) {
    throw invalid(
      'settings.graphOptimizationLevel',
      `must be disabled, basic, extended or all, got '${String(level)}'`,
    );
  }
  const warmup = settings.warmup ?? true;
  if (typeof warmup !== 'boolean') throw invalid('settings.warmup', 'must be true or false');
  return Object.freeze({
    intraOpNumThreads: threads('intraOpNumThreads'),
    interOpNumThreads: threads('interOpNumThreads'),
    graphOptimizationLevel: level,
    warmup,
  });
}

/** The error a runtime throws when used before `load` or after `unload`. */
export function notLoaded(): ModelportError {
  return new ModelportError('not_ready', 'the model is not loaded; wait for the worker to report ready');
}
