/**
 * Seldon Core v1 prediction protocol (`POST /api/v1.0/predictions`, `/predict`): a SeldonMessage
 * `{"data": {"names": [...], "ndarray": [[...]]}, "meta": {...}}` or `{"data": {"tensor": {"shape": [...],
 * "values": [...]}}}`, sent as a JSON body or as the `json=` field of an `application/x-www-form-urlencoded` body.
 *
 * - A model with one input takes the whole ndarray or tensor; `data.names` are then feature names and ignored.
 * - A model with several inputs takes columns: `data.names[j]` names the input that column j feeds (each input of
 *   rank 1 gets shape [rows], of rank 2 shape [rows, 1]).
 * - The answer mirrors the request (ndarray in -> ndarray out, tensor in -> tensor out; non-numeric outputs are
 *   always ndarray, as in Seldon), with `data.names` the output's column names (`t:0`, `t:1`, ... unless given)
 *   and `meta` carrying only the request's `puid` when there was one.
 * - `jsonData`, `strData`, `binData` and `tftensor` are not supported; unknown top-level fields are refused, as
 *   Seldon's protobuf parsing does.
 */

import type { InferRequest, InferResponse, ModelSignature, Tensor, TensorSpec } from '../core/index.ts';
import { ModelportError } from '../core/index.ts';
import { parseJsonBody } from './json-body.ts';
import {
  describe,
  elementCountOf,
  inputError,
  naturalShape,
  nest,
  quote,
  readFlat,
  readNested,
  toJsonValues,
} from './tensor-json.ts';

/** Which data form the request used, so the answer uses the same. */
export type SeldonFormat = 'ndarray' | 'tensor';

export interface SeldonDecoded {
  request: InferRequest;
  format: SeldonFormat;
  /** The request's `data.names` (feature names), empty when absent. */
  names: string[];
}

const FORM = 'application/x-www-form-urlencoded';
const UNSUPPORTED = ['jsonData', 'strData', 'binData'];
const KNOWN = new Set(['data', 'meta', 'status', ...UNSUPPORTED]);

/**
 * Decodes a Seldon prediction body against the model's signature; `contentType` is the request's Content-Type.
 *
 * @example decodeSeldon('{"data":{"ndarray":[[1,2,3]]}}', 'application/json', signature)
 *   // -> { format: 'ndarray', names: [], request: { inputs: [{ name: 'x', shape: [1, 3], ... }] } }
 * @throws ModelportError `invalid_json`, `unknown_field`, `invalid_request`, `invalid_input`
 */
export function decodeSeldon(
  body: Buffer | string,
  contentType: string | undefined,
  signature: ModelSignature,
): SeldonDecoded {
  const json = parseJsonBody(jsonText(body, contentType));
  if (!isPlainObject(json)) throw invalidRequest('body', `must be a JSON object, got ${describe(json)}`);
  for (const key of Object.keys(json)) {
    if (!KNOWN.has(key))
      throw new ModelportError('unknown_field', `${clip(key)}: is not a SeldonMessage field`, { field: clip(key) });
    if (UNSUPPORTED.includes(key)) throw invalidRequest(key, 'is not supported; send `data.ndarray` or `data.tensor`');
  }
  const data = json['data'];
  if (!isPlainObject(data))
    throw invalidRequest('data', `must be an object with ndarray or tensor, got ${describe(data)}`);
  const names = readNames(data['names']);
  const request: InferRequest = { inputs: [] };
  const puid = isPlainObject(json['meta']) ? json['meta']['puid'] : undefined;
  if (typeof puid === 'string' && puid !== '') request.id = puid;
  if (data['ndarray'] !== undefined && data['tensor'] !== undefined) {
    throw invalidRequest('data', 'give either ndarray or tensor, not both');
  }
  if (data['ndarray'] !== undefined) {
    request.inputs = fromNdarray(data['ndarray'], names, signature);
    return { request, format: 'ndarray', names };
  }
  if (data['tensor'] !== undefined) {
    request.inputs = fromTensor(data['tensor'], names, signature);
    return { request, format: 'tensor', names };
  }
  if (data['tftensor'] !== undefined) throw invalidRequest('data.tftensor', 'is not supported; send ndarray or tensor');
  throw invalidRequest('data', 'needs ndarray or tensor');
}

function jsonText(body: Buffer | string, contentType: string | undefined): Buffer | string {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  if (type !== FORM) return body;
  const field = new URLSearchParams(typeof body === 'string' ? body : body.toString('utf8')).get('json');
  if (field === null) throw invalidRequest('json', 'the form body has no `json` field holding the SeldonMessage');
  return field;
}

function readNames(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw invalidRequest('data.names', `must be a list of strings, got ${describe(value)}`);
  }
  return value as string[];
}

function fromNdarray(ndarray: unknown, names: string[], signature: ModelSignature): Tensor[] {
  if (!Array.isArray(ndarray)) throw invalidRequest('data.ndarray', `must be a list, got ${describe(ndarray)}`);
  const only = signature.inputs.length === 1 ? signature.inputs[0] : undefined;
  if (only !== undefined) {
    const shape = naturalShape(ndarray, only.name);
    return [
      { name: only.name, datatype: only.datatype, shape, data: readNested(ndarray, shape, only.datatype, only.name) },
    ];
  }
  requireNames(names, signature);
  const columns = names.length;
  const rows = ndarray.length;
  for (let i = 0; i < rows; i++) {
    const row = ndarray[i];
    if (!Array.isArray(row) || row.length !== columns) {
      throw invalidRequest(`data.ndarray[${i}]`, `must be a row of ${columns} values, one per name in data.names`);
    }
  }
  return columnsToInputs(names, rows, signature, (i, j) => (ndarray[i] as unknown[])[j]);
}

function fromTensor(value: unknown, names: string[], signature: ModelSignature): Tensor[] {
  if (!isPlainObject(value)) throw invalidRequest('data.tensor', `must be an object, got ${describe(value)}`);
  const { shape, values } = value;
  if (!Array.isArray(shape))
    throw invalidRequest('data.tensor.shape', `must be a list of integers, got ${describe(shape)}`);
  if (!Array.isArray(values))
    throw invalidRequest('data.tensor.values', `must be a list of numbers, got ${describe(values)}`);
  const only = signature.inputs.length === 1 ? signature.inputs[0] : undefined;
  const n = elementCountOf(shape as number[], only?.name ?? 'data.tensor');
  if (values.length !== n) {
    throw inputError(only?.name ?? 'data.tensor', `tensor.values has ${values.length} elements but shape needs ${n}`);
  }
  if (only !== undefined) {
    return [
      {
        name: only.name,
        datatype: only.datatype,
        shape: shape as number[],
        data: readFlat(values, only.datatype, only.name),
      },
    ];
  }
  requireNames(names, signature);
  if (shape.length !== 2 || shape[1] !== names.length) {
    throw invalidRequest('data.tensor.shape', `must be [rows, ${names.length}]: one column per name in data.names`);
  }
  const columns = names.length;
  return columnsToInputs(names, shape[0] as number, signature, (i, j) => values[i * columns + j]);
}

function requireNames(names: string[], signature: ModelSignature): void {
  if (names.length === 0) {
    throw invalidRequest(
      'data.names',
      `the model has ${signature.inputs.length} inputs; name the input of each column`,
    );
  }
}

/** One input per named column; `at(i, j)` reads row i, column j. */
function columnsToInputs(
  names: string[],
  rows: number,
  signature: ModelSignature,
  at: (i: number, j: number) => unknown,
): Tensor[] {
  const seen = new Set<string>();
  return names.map((name, j) => {
    const spec = specOf(name, signature);
    if (seen.has(name)) throw inputError(name, 'names two columns');
    seen.add(name);
    if (spec.shape.length !== 1 && spec.shape.length !== 2) {
      throw inputError(name, `has rank ${spec.shape.length}; a column can feed only an input of rank 1 or 2`);
    }
    const column = Array.from({ length: rows }, (_, i) => at(i, j));
    const shape = spec.shape.length === 1 ? [rows] : [rows, 1];
    return { name, datatype: spec.datatype, shape, data: readFlat(column, spec.datatype, name) };
  });
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

export interface SeldonEncodeOptions {
  /** The output to answer with; default: the only output, else the first 2-D floating-point one, else the first. */
  output?: string;
  /** Column names for `data.names` (class labels); default `t:0`, `t:1`, ... for a 2-D output, none otherwise. */
  names?: readonly string[];
}

/**
 * Encodes a response as a SeldonMessage in the request's format.
 *
 * @example encodeSeldon(response, 'ndarray')
 *   // -> '{"data":{"names":["t:0","t:1"],"ndarray":[[0.9,0.1]]},"meta":{}}'
 */
export function encodeSeldon(response: InferResponse, format: SeldonFormat, options: SeldonEncodeOptions = {}): string {
  const output = chooseOutput(response, options.output);
  const values = toJsonValues(output.data, output.datatype);
  const names = options.names ?? (output.shape.length >= 2 ? columnNames(output.shape[1]!) : []);
  const numeric = output.datatype !== 'BYTES' && output.datatype !== 'BOOL';
  const data: Record<string, unknown> = { names };
  if (format === 'tensor' && numeric) data['tensor'] = { shape: output.shape, values };
  else data['ndarray'] = output.shape.length === 0 ? values : nest(values, output.shape);
  return JSON.stringify({ data, meta: response.id !== undefined ? { puid: response.id } : {} });
}

function chooseOutput(response: InferResponse, name: string | undefined): Tensor {
  const outputs = response.outputs;
  if (name !== undefined) {
    const named = outputs.find((o) => o.name === name);
    if (named === undefined) throw invalidRequest('output', `the model gave no output ${quote(name)}`);
    return named;
  }
  const chosen =
    outputs.length === 1
      ? outputs[0]
      : (outputs.find(
          (o) => o.shape.length === 2 && (o.datatype === 'FP32' || o.datatype === 'FP64' || o.datatype === 'FP16'),
        ) ?? outputs[0]);
  if (chosen === undefined) throw invalidRequest('output', 'the model gave no outputs');
  return chosen;
}

function columnNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `t:${i}`);
}

/**
 * Seldon's error body for a failed prediction: `{"status": {"code", "info", "reason", "status": "FAILURE"}}`,
 * sent with the error's HTTP status.
 */
export function seldonErrorBody(error: ModelportError): string {
  const status = error.httpStatus;
  const reason = status < 500 ? 'MICROSERVICE_BAD_DATA' : 'MICROSERVICE_INTERNAL_ERROR';
  return JSON.stringify({ status: { code: status, info: error.message, reason, status: 'FAILURE' } });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function clip(text: string): string {
  return text.length <= 100 ? text : `${text.slice(0, 100)}...`;
}

function invalidRequest(field: string, message: string): ModelportError {
  return new ModelportError('invalid_request', `${field}: ${message}`, { field });
}
