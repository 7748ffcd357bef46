/**
 * KServe V1 / TensorFlow Serving REST predict (`POST /v1/models/{name}:predict`), which carries no datatypes or
 * shapes: the model's signature gives the input names and datatypes, and shapes are read from the nesting.
 *
 * - Row format `{"instances": [...]}`: each instance is one row of the single input, or an object of named inputs
 *   (every instance names every input it sends); answered with `{"predictions": [...]}`, one entry per row: the
 *   output's row for a single output, an object of output rows for several.
 * - Columnar format `{"inputs": ...}`: the single input's whole value, or an object of named inputs; answered with
 *   `{"outputs": ...}`: the single output's value, or an object of outputs.
 * Values must be rectangular (like numpy arrays). BYTES take strings or `{"b64": "<base64>"}`; BYTES outputs whose
 * name ends in `_bytes` are answered as `{"b64": ...}` (TF Serving's rule), others as UTF-8 strings.
 * `signature_name` and unknown fields are ignored.
 *
 * With a friendly signature (src/signatures), instances may be rows keyed by feature name
 * (`{"instances": [{"amount": 12.5, ...}]}`, format `friendly`), answered with one `{label, probabilities}` per row.
 */

import type { InferRequest, InferResponse, ModelSignature, Tensor, TensorSpec } from '../core/index.ts';
import { ModelportError } from '../core/index.ts';
import type { FriendlySignature } from '../signatures/index.ts';
import { decodeFriendlyRows, friendlyPredictions, isFriendlyRows } from './friendly.ts';
import { parseJsonBody } from './json-body.ts';
import {
  describe,
  formatShape,
  inputError,
  naturalShape,
  nest,
  quote,
  readNested,
  toJsonValues,
} from './tensor-json.ts';

/** Which V1 format a request used, so the answer uses the same. */
export type V1Format = 'instances' | 'inputs' | 'friendly';

export interface V1Decoded {
  request: InferRequest;
  format: V1Format;
}

/**
 * Decodes a V1 predict body against the model's signature (and its friendly signature, when it has one).
 *
 * @example decodeV1('{"instances": [[1, 2], [3, 4]]}', signature)
 *   // -> { format: 'instances', request: { inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 2], data: ... }] } }
 * @throws ModelportError `invalid_json`, `invalid_request` (neither or both of instances/inputs), `invalid_input`
 */
export function decodeV1(body: Buffer | string, signature: ModelSignature, friendly?: FriendlySignature): V1Decoded {
  const json = parseJsonBody(body);
  if (!isPlainObject(json)) throw invalidRequest('body', `must be a JSON object, got ${describe(json)}`);
  const instances = json['instances'];
  const inputs = json['inputs'];
  if (instances !== undefined && inputs !== undefined) {
    throw invalidRequest('instances', 'give either `instances` (rows) or `inputs` (columns), not both');
  }
  if (friendly && isFriendlyRows(instances, signature, friendly)) {
    const rows = instances as unknown[];
    return { format: 'friendly', request: { inputs: decodeFriendlyRows(rows, friendly, signature) } };
  }
  if (instances !== undefined) return { format: 'instances', request: { inputs: fromRows(instances, signature) } };
  if (inputs !== undefined) return { format: 'inputs', request: { inputs: fromColumns(inputs, signature) } };
  throw invalidRequest('instances', 'the body needs `instances` (a list of rows) or `inputs` (columns)');
}

function fromRows(instances: unknown, signature: ModelSignature): Tensor[] {
  if (!Array.isArray(instances) || instances.length === 0) {
    throw invalidRequest('instances', `must be a non-empty list of rows, got ${describe(instances)}`);
  }
  const only = signature.inputs.length === 1 ? signature.inputs[0] : undefined;
  if (only !== undefined && !isNamedInputs(instances[0])) return [tensor(only, instances)];
  // Named rows: gather each input's rows into one batch.
  const columns = new Map<string, unknown[]>();
  for (let i = 0; i < instances.length; i++) {
    const row = instances[i];
    if (!isNamedInputs(row)) {
      throw invalidRequest(
        `instances[${i}]`,
        `must be an object of named inputs (the model has ${signature.inputs.length} inputs)`,
      );
    }
    const keys = Object.keys(row);
    if (i > 0 && keys.length !== columns.size) {
      throw invalidRequest(
        `instances[${i}]`,
        `names ${keys.length} inputs but instance 0 names ${columns.size}; every instance names the same inputs`,
      );
    }
    for (const key of keys) {
      let column = columns.get(key);
      if (column === undefined) {
        if (i > 0) throw inputError(key, `appears in instance ${i} but not in instance 0`);
        column = new Array(instances.length);
        columns.set(key, column);
      }
      column[i] = row[key];
    }
  }
  return [...columns].map(([name, rows]) => tensor(specOf(name, signature), rows));
}

function fromColumns(inputs: unknown, signature: ModelSignature): Tensor[] {
  if (isNamedInputs(inputs)) return Object.keys(inputs).map((name) => tensor(specOf(name, signature), inputs[name]));
  const only = signature.inputs.length === 1 ? signature.inputs[0] : undefined;
  if (only === undefined) {
    throw invalidRequest(
      'inputs',
      `the model has ${signature.inputs.length} inputs; give \`inputs\` as an object of named inputs`,
    );
  }
  return [tensor(only, inputs)];
}

function tensor(spec: TensorSpec, value: unknown): Tensor {
  const shape = naturalShape(value, spec.name);
  return {
    name: spec.name,
    datatype: spec.datatype,
    shape,
    data: readNested(value, shape, spec.datatype, spec.name, true),
  };
}

function specOf(name: string, signature: ModelSignature): TensorSpec {
  const spec = signature.inputs.find((s) => s.name === name);
  if (spec === undefined) {
    throw inputError(
      name,
      `is not an input of the model; its inputs are ${signature.inputs.map((s) => quote(s.name)).join(', ')}`,
    );
  }
  return spec;
}

/** An object of named inputs, as opposed to a value (a `{"b64": ...}` object is a BYTES value). */
function isNamedInputs(value: unknown): value is Record<string, unknown> {
  if (!isPlainObject(value)) return false;
  const keys = Object.keys(value);
  return !(keys.length === 1 && keys[0] === 'b64' && typeof value['b64'] === 'string');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalidRequest(field: string, message: string): ModelportError {
  return new ModelportError('invalid_request', `${field}: ${message}`, { field });
}

/**
 * Encodes a response in the request's V1 format as JSON text.
 *
 * @example encodeV1({ model_name: 'm', outputs: [{ name: 'y', datatype: 'FP32', shape: [2], data: new Float32Array([3.5, 4]) }] }, 'instances')
 *   // -> '{"predictions":[3.5,4]}'
 * @throws ModelportError `invalid_request` when several outputs of different batch sizes cannot form rows
 */
export function encodeV1(response: InferResponse, format: V1Format, friendly?: FriendlySignature): string {
  const outputs = response.outputs;
  if (format === 'friendly') return JSON.stringify({ predictions: friendlyPredictions(outputs, friendly) });
  const only = outputs.length === 1 ? outputs[0] : undefined;
  if (format === 'inputs') {
    const value = only !== undefined ? nested(only) : Object.fromEntries(outputs.map((o) => [o.name, nested(o)]));
    return JSON.stringify({ outputs: value });
  }
  if (only !== undefined) return JSON.stringify({ predictions: rowsOf(only) });
  const columns = outputs.map(rowsOf);
  const rows = columns[0]?.length ?? 0;
  if (columns.some((c) => c.length !== rows)) {
    const sizes = outputs.map((o) => `${quote(o.name)} ${formatShape(o.shape)}`).join(', ');
    throw invalidRequest(
      'instances',
      `the outputs have different batch sizes (${sizes}); use the columnar \`inputs\` format`,
    );
  }
  const predictions = Array.from({ length: rows }, (_, i) =>
    Object.fromEntries(outputs.map((o, j) => [o.name, columns[j]![i]])),
  );
  return JSON.stringify({ predictions });
}

function nested(output: Tensor): unknown {
  const values = toJsonValues(output.data, output.datatype);
  if (output.datatype === 'BYTES' && output.name.endsWith('_bytes')) {
    const items = output.data as Uint8Array[];
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      values[i] = { b64: Buffer.from(item.buffer, item.byteOffset, item.byteLength).toString('base64') };
    }
  }
  return nest(values, output.shape);
}

/** The output split along its first dimension (a scalar output is one row). */
function rowsOf(output: Tensor): unknown[] {
  const value = nested(output);
  return output.shape.length === 0 ? [value] : (value as unknown[]);
}

/**
 * The body of `GET /v1/models/{name}` (KServe's model health: answered only when ready, with status 200;
 * a model not ready is a `not_ready` error).
 *
 * @example encodeV1ModelStatus('fraud', true) // -> '{"name":"fraud","ready":true}'
 */
export function encodeV1ModelStatus(name: string, ready: boolean): string {
  return JSON.stringify({ name, ready });
}

/** The body of `GET /v1/models` (KServe): `{"models": [names]}`. */
export function encodeV1ModelList(names: readonly string[]): string {
  return JSON.stringify({ models: names });
}
