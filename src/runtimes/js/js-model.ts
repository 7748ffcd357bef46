/**
 * The contract a custom JavaScript (or TypeScript) model implements: the module named by the folder's manifest
 * exports `predict` and optionally `load` and `unload`. It runs in its own worker process, one batch at a time.
 *
 * ```ts
 * // model.ts (Node strips the types)
 * import { readFileSync } from 'node:fs';
 * import { join } from 'node:path';
 * let offset = 0;
 * export function load(ctx) { offset = Number(readFileSync(join(ctx.dir, 'offset.txt'), 'utf8')); }
 * export function predict(inputs, ctx) {
 *   const a = inputs.a.data, b = inputs.b.data;
 *   const sum = new Float32Array(a.length).map((_, i) => a[i] + b[i] + offset);
 *   return { sum: { datatype: 'FP32', shape: inputs.a.shape, data: sum } };
 * }
 * ```
 */
import type { Datatype, ModelSignature, Tensor, TensorData } from '../../core/index.ts';

/** What `load`, `predict` and `unload` receive. */
export interface JsModelContext {
  /** The extracted model folder (read the model's own files from here). */
  readonly dir: string;
  /** The model's environment: the deployment's variables and secrets, nothing of the server's. */
  readonly env: Readonly<Record<string, string>>;
  /** The signature declared in modelport.json. */
  readonly signature: ModelSignature;
  /** Writes one structured line to the server log. */
  log(message: string, fields?: Record<string, unknown>): void;
}

/**
 * An output as `predict` may return it: a full V2 tensor, or without `name` (the key names it) and `datatype`
 * (the signature's). `data` may be the datatype's typed array or a plain array of numbers (bigints for 64-bit
 * integers), which is converted.
 */
export interface JsOutput {
  name?: string;
  datatype?: Datatype;
  shape: number[];
  data: TensorData | number[] | bigint[] | boolean[];
}

/**
 * `inputs` holds the batch's tensors by input name; every input's first dimension is the batch. Return the outputs
 * by name (an object) or as a list of tensors; outputs not asked for are dropped.
 */
export interface JsModelModule {
  load?(context: JsModelContext): unknown;
  predict(
    inputs: Record<string, Tensor>,
    context: JsModelContext,
  ): Record<string, JsOutput> | JsOutput[] | Promise<Record<string, JsOutput> | JsOutput[]>;
  unload?(context: JsModelContext): unknown;
}
