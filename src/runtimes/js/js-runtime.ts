/**
 * `JsRuntime`: the `js` runtime kind. A model version is a .tgz of a folder with a `modelport.json` manifest and
 * a module exporting `predict` (and optionally `load`, `unload`; see `JsModelModule`). Runs inside worker
 * processes, whose whole environment is the deployment's variables and secrets.
 *
 * `load` unpacks the archive once per content into `<folder of the archive>/.js-models/<sha256>/` (shared by the
 * replicas, atomic), imports the entry (TypeScript is type-stripped by Node), calls the module's `load(context)`,
 * then warms up with a zero batch. `predict` hands the module the batch's tensors by name and checks what comes
 * back against the signature before it leaves the worker.
 */
import { realpath } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  allocateTensorData,
  type Datatype,
  elementCount,
  isDatatype,
  ModelportError,
  type ModelSignature,
  type Tensor,
  type TensorData,
} from '../../core/index.ts';
import type { Logger } from '../../logging/index.ts';
import type { ModelRuntime, RuntimeEnvironment, RuntimeLoadOptions } from '../runtime.ts';
import { compileRuntimeSettings, notLoaded } from '../runtime.ts';
import { zeroBatch } from '../zero-batch.ts';
import { extractCached } from './extract.ts';
import type { JsModelContext, JsModelModule, JsOutput } from './js-model.ts';
import { readJsManifest } from './manifest.ts';

/** A loaded module with its context, ready to predict. */
export interface OpenedJsModel {
  module: JsModelModule;
  context: JsModelContext;
}

/** The first line of an error's message, with the model folder hidden (messages may reach clients). */
export function describeModelError(error: unknown, dir: string): string {
  const text = error instanceof Error ? error.message : String(error);
  return (text.split('\n')[0] ?? '').split(dir).join('<model>').slice(0, 300);
}

/**
 * Imports the module of the extracted folder `dir` and calls its `load(context)`. `invalid_model` when the
 * manifest is wrong, the module cannot be imported, has no `predict`, or its `load` throws.
 */
export async function openJsModel(folder: string, env: Record<string, string>, log?: Logger): Promise<OpenedJsModel> {
  const dir = await realpath(folder);
  const manifest = await readJsManifest(dir);
  const modelLog = log?.child({ component: 'js-model' });
  const context: JsModelContext = Object.freeze({
    dir,
    env: Object.freeze({ ...env }),
    signature: manifest.signature,
    log: (message: string, fields?: Record<string, unknown>) => modelLog?.info(message, fields),
  });
  let imported: Record<string, unknown>;
  try {
    imported = (await import(pathToFileURL(manifest.entry).href)) as Record<string, unknown>;
  } catch (error) {
    throw new ModelportError(
      'invalid_model',
      `the js model's module cannot be imported: ${describeModelError(error, dir)}`,
      { field: 'file', cause: error },
    );
  }
  // A CommonJS module's exports arrive as `default`.
  const candidate = typeof imported['predict'] === 'function' ? imported : imported['default'];
  const module = candidate as Partial<JsModelModule> | undefined;
  if (typeof module?.predict !== 'function') {
    throw new ModelportError('invalid_model', 'the js model module must export a predict(inputs, context) function', {
      field: 'file',
    });
  }
  for (const name of ['load', 'unload'] as const) {
    if (module[name] !== undefined && typeof module[name] !== 'function') {
      throw new ModelportError('invalid_model', `the js model's ${name} export must be a function`, { field: 'file' });
    }
  }
  try {
    await module.load?.(context);
  } catch (error) {
    throw new ModelportError('invalid_model', `the js model's load() failed: ${describeModelError(error, dir)}`, {
      field: 'file',
      cause: error,
    });
  }
  return { module: module as JsModelModule, context };
}

function badOutput(name: string, problem: string): ModelportError {
  return new ModelportError('internal', `the js model returned a bad output '${name}': ${problem}`);
}

/** One returned output checked against its spec and converted to a V2 tensor. */
function toTensor(name: string, output: JsOutput | undefined, datatype: Datatype, rows: number): Tensor {
  if (typeof output !== 'object' || output === null) throw badOutput(name, 'it is missing');
  if (output.datatype !== undefined && output.datatype !== datatype) {
    throw badOutput(name, `datatype ${String(output.datatype)} differs from the signature's ${datatype}`);
  }
  const shape = output.shape;
  const n = Array.isArray(shape) ? elementCount(shape) : undefined;
  if (n === undefined) throw badOutput(name, 'shape must be a list of integers >= 0');
  if (shape[0] !== rows) throw badOutput(name, `its first dimension is ${shape[0]}, the batch has ${rows} rows`);
  const given = output.data as unknown;
  const expected = allocateTensorData(datatype, 0);
  let data: TensorData;
  if (Array.isArray(expected)) {
    if (!Array.isArray(given) || !given.every((b) => b instanceof Uint8Array)) {
      throw badOutput(name, 'BYTES data must be a list of Uint8Array');
    }
    data = given as Uint8Array[];
  } else if (ArrayBuffer.isView(given) && given.constructor === expected.constructor) {
    data = given as TensorData;
  } else if (Array.isArray(given)) {
    const typed = allocateTensorData(datatype, given.length) as unknown as { [i: number]: number | bigint };
    const big = datatype === 'INT64' || datatype === 'UINT64';
    for (let i = 0; i < given.length; i++) {
      const v: unknown = given[i];
      if (big ? typeof v !== 'bigint' && !Number.isSafeInteger(v) : typeof v !== 'number' && typeof v !== 'boolean') {
        throw badOutput(name, `element ${i} is not a ${big ? 'bigint or safe integer' : 'number'}`);
      }
      typed[i] = big ? BigInt(v as number | bigint) : Number(v);
    }
    data = typed as unknown as TensorData;
  } else {
    throw badOutput(name, `data must be a ${expected.constructor.name} or a plain array`);
  }
  if (data.length !== n)
    throw badOutput(name, `data has ${data.length} elements, shape [${shape.join(', ')}] needs ${n}`);
  return { name, datatype, shape: [...shape], data };
}

/**
 * Example: `const rt = new JsRuntime(); await rt.load({ path: 'sum-model.tgz' });
 * const [sum] = await rt.predict([a, b]);`
 */
export class JsRuntime implements ModelRuntime {
  readonly #environment: RuntimeEnvironment;
  #model: OpenedJsModel | undefined;
  /** Why the warm-up run failed, if it did (the model still serves). */
  warmupError: string | undefined;

  /** `environment.env` becomes the model's `context.env`; `environment.log` its `context.log`. */
  constructor(environment: RuntimeEnvironment = { env: {} }) {
    this.#environment = environment;
  }

  async load(options: RuntimeLoadOptions, signal?: AbortSignal): Promise<void> {
    if (this.#model) throw new ModelportError('conflict', 'the runtime already holds a model; unload it first');
    const settings = compileRuntimeSettings(options.settings);
    signal?.throwIfAborted();
    const dir = await extractCached(options.path, join(dirname(options.path), '.js-models'));
    const env = Object.fromEntries(
      Object.entries(this.#environment.env).filter((e): e is [string, string] => e[1] !== undefined),
    );
    const model = await openJsModel(dir, env, this.#environment.log);
    this.#model = model;
    this.warmupError = undefined;
    try {
      signal?.throwIfAborted();
      if (settings.warmup) {
        try {
          await this.predict(zeroBatch(model.context.signature));
        } catch (error) {
          this.warmupError = error instanceof Error ? error.message : String(error);
        }
      }
      signal?.throwIfAborted();
    } catch (error) {
      // An aborted load leaves nothing behind: the module's unload runs and the runtime holds no model.
      await this.unload().catch(() => {});
      throw error;
    }
  }

  signature(): ModelSignature {
    if (!this.#model) throw notLoaded();
    return this.#model.context.signature;
  }

  async predict(batch: Tensor[], outputs?: string[]): Promise<Tensor[]> {
    const model = this.#model;
    if (!model) throw notLoaded();
    const { signature } = model.context;
    const inputs: Record<string, Tensor> = {};
    for (const tensor of batch) inputs[tensor.name] = tensor;
    const rows = batch[0]?.shape[0] ?? 1;
    let result: Awaited<ReturnType<JsModelModule['predict']>>;
    try {
      result = await model.module.predict(inputs, model.context);
    } catch (error) {
      // The model's own message goes to the server log only (it may quote its data).
      throw new ModelportError('internal', 'the model failed to run this request', { cause: error });
    }
    const byName = new Map<string, JsOutput>();
    if (Array.isArray(result)) {
      for (const output of result) if (typeof output?.name === 'string') byName.set(output.name, output);
    } else if (typeof result === 'object' && result !== null) {
      for (const [name, output] of Object.entries(result)) byName.set(name, output);
    } else {
      throw new ModelportError('internal', 'the js model predict() must return its outputs (an object or a list)');
    }
    const wanted = outputs ?? signature.outputs.map((o) => o.name);
    return wanted.map((name) => {
      const spec = signature.outputs.find((o) => o.name === name);
      if (!spec || !isDatatype(spec.datatype)) throw badOutput(name, 'it is not in the signature');
      return toTensor(name, byName.get(name), spec.datatype, rows);
    });
  }

  async unload(): Promise<void> {
    const model = this.#model;
    this.#model = undefined;
    await model?.module.unload?.(model.context);
  }
}
