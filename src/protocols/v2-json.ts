/**
 * Open Inference Protocol (KServe V2) REST, JSON form: `POST /v2/models/{name}/infer` bodies to and from
 * `InferRequest` / `InferResponse`.
 *
 * Spec decisions (kserve docs/predict-api/v2/required_api.md):
 * - Unknown fields are ignored at every level: the spec does not forbid them and Triton's own binary-extension
 *   example sends a top-level `model_name`. Known fields are checked strictly.
 * - `data` may be flat or nested in any way; it is flattened row-major and its count must equal the shape's.
 * - Elements are not coerced: numbers for numeric types (integral and in range for integer types), booleans for
 *   BOOL, strings for BYTES (UTF-8). INT64/UINT64 beyond 2^53 cannot be sent exactly in JSON and are refused.
 * - `parameters` values are strings, numbers or booleans, as the spec's `$parameter` says.
 */
import {
  type Datatype,
  type InferRequest,
  type InferResponse,
  isDatatype,
  ModelportError,
  type RequestedOutput,
  type Tensor,
  type TensorData,
} from '../core/index.ts';
import { parseJsonBody } from './json-body.ts';
import { describe, elementCountOf, inputError, readFlattened, toJsonValues } from './tensor-json.ts';

/**
 * Supplies the contents of an input sent as binary data (the binary tensor extension); `size` is the input's
 * `binary_data_size`, already checked to be a safe integer >= 0.
 */
export type BinaryReader = (input: string, datatype: Datatype, shape: number[], n: number, size: number) => TensorData;

/**
 * Decodes a V2 JSON inference request body.
 *
 * @example decodeV2Json(Buffer.from('{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,2]}]}'))
 *   // -> { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: Float32Array [1, 2] }] }
 * @throws ModelportError `invalid_json` (syntax, depth > 100), `invalid_request` (a field of the wrong kind, named
 *   in `field`), `invalid_input` (shape or data of an input, named in the message and `field`)
 */
export function decodeV2Json(body: Buffer | string): InferRequest {
  return readInferRequest(parseJsonBody(body), undefined);
}

/**
 * Reads a parsed `$inference_request`. Inputs whose parameters carry `binary_data_size` take their data from
 * `binary`; without one, such inputs are refused.
 */
export function readInferRequest(json: unknown, binary: BinaryReader | undefined): InferRequest {
  if (!isObject(json)) throw invalidRequest('body', `must be a JSON object, got ${describe(json)}`);
  const request: InferRequest = { inputs: readInputs(json['inputs'], binary) };
  const id = json['id'];
  if (id !== undefined) {
    if (typeof id !== 'string') throw invalidRequest('id', `must be a string, got ${describe(id)}`);
    request.id = id;
  }
  const parameters = readParameters(json['parameters'], 'parameters');
  if (parameters !== undefined) request.parameters = parameters;
  const outputs = json['outputs'];
  // An empty list asks for no output in particular: every output, as when `outputs` is absent.
  if (outputs !== undefined) {
    const requested = readOutputs(outputs);
    if (requested.length > 0) request.outputs = requested;
  }
  return request;
}

function readInputs(value: unknown, binary: BinaryReader | undefined): Tensor[] {
  if (!Array.isArray(value)) throw invalidRequest('inputs', `must be an array of inputs, got ${describe(value)}`);
  const seen = new Set<string>();
  const inputs: Tensor[] = new Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const input = readInput(value[i], `inputs[${i}]`, binary);
    if (seen.has(input.name)) throw inputError(input.name, 'is given twice; input names must be unique');
    seen.add(input.name);
    inputs[i] = input;
  }
  return inputs;
}

function readInput(value: unknown, path: string, binary: BinaryReader | undefined): Tensor {
  if (!isObject(value)) throw invalidRequest(path, `must be an object, got ${describe(value)}`);
  const name = value['name'];
  if (typeof name !== 'string' || name === '') {
    throw invalidRequest(`${path}.name`, `must be a non-empty string, got ${describe(name)}`);
  }
  const datatype = value['datatype'];
  if (!isDatatype(datatype)) {
    throw inputError(
      name,
      `datatype ${describe(datatype)} is not one of BOOL, UINT8..UINT64, INT8..INT64, FP16, FP32, FP64, BYTES`,
    );
  }
  const rawShape = value['shape'];
  if (!Array.isArray(rawShape)) throw inputError(name, `shape must be an array of integers, got ${describe(rawShape)}`);
  const shape = rawShape as number[];
  const n = elementCountOf(shape, name);
  const parameters = readParameters(value['parameters'], `${path}.parameters`);
  const size = parameters?.['binary_data_size'];
  let data: TensorData;
  if (size === undefined) {
    if (!('data' in value)) throw inputError(name, 'has no data (give `data` or the binary_data_size parameter)');
    data = readFlattened(value['data'], datatype, n, name);
  } else {
    if ('data' in value) throw inputError(name, 'has both data and the binary_data_size parameter; give one');
    if (binary === undefined) {
      throw inputError(name, 'has binary_data_size but the request has no Inference-Header-Content-Length header');
    }
    if (!Number.isSafeInteger(size) || (size as number) < 0) {
      throw inputError(name, `binary_data_size ${describe(size)} must be an integer >= 0`);
    }
    data = binary(name, datatype, shape, n, size as number);
    delete parameters!['binary_data_size'];
  }
  const tensor: Tensor = { name, datatype, shape, data };
  if (parameters !== undefined && Object.keys(parameters).length > 0) tensor.parameters = parameters;
  return tensor;
}

function readOutputs(value: unknown): RequestedOutput[] {
  if (!Array.isArray(value)) throw invalidRequest('outputs', `must be an array, got ${describe(value)}`);
  const outputs: RequestedOutput[] = new Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const item = value[i];
    const path = `outputs[${i}]`;
    if (!isObject(item)) throw invalidRequest(path, `must be an object, got ${describe(item)}`);
    const name = item['name'];
    if (typeof name !== 'string' || name === '') {
      throw invalidRequest(`${path}.name`, `must be a non-empty string, got ${describe(name)}`);
    }
    const output: RequestedOutput = { name };
    const parameters = readParameters(item['parameters'], `${path}.parameters`);
    if (parameters !== undefined) output.parameters = parameters;
    outputs[i] = output;
  }
  return outputs;
}

/** `$parameters`: an object of string, number or boolean values (the parsed object itself, ours to edit). */
function readParameters(value: unknown, path: string): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) throw invalidRequest(path, `must be an object, got ${describe(value)}`);
  for (const key of Object.keys(value)) {
    const v = value[key];
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      throw invalidRequest(`${path}.${key}`, `must be a string, number or boolean, got ${describe(v)}`);
    }
  }
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalidRequest(field: string, message: string): ModelportError {
  const path = field.length > 120 ? `${field.slice(0, 120)}...` : field;
  return new ModelportError('invalid_request', `${path}: ${message}`, { field: path });
}

/** One `$response_output` without data (the binary encoder adds `binary_data_size`, the JSON one `data`). */
export function outputHeader(output: Tensor): Record<string, unknown> {
  const header: Record<string, unknown> = { name: output.name, shape: output.shape, datatype: output.datatype };
  if (output.parameters !== undefined) header['parameters'] = output.parameters;
  return header;
}

/** The `$inference_response` object with `outputs` built by `encodeOutput`, keys in the spec's order. */
export function responseObject(
  response: InferResponse,
  encodeOutput: (output: Tensor) => Record<string, unknown>,
): Record<string, unknown> {
  const body: Record<string, unknown> = { model_name: response.model_name };
  if (response.model_version !== undefined) body['model_version'] = response.model_version;
  if (response.id !== undefined) body['id'] = response.id;
  if (response.parameters !== undefined) body['parameters'] = response.parameters;
  body['outputs'] = response.outputs.map(encodeOutput);
  return body;
}

/** A JSON `$response_output`: flat row-major `data` (FP16 as numbers, INT64 exact, BYTES as UTF-8 strings). */
export function jsonOutput(output: Tensor): Record<string, unknown> {
  const body = outputHeader(output);
  body['data'] = toJsonValues(output.data, output.datatype);
  return body;
}

/**
 * Encodes an inference response as V2 JSON text.
 *
 * @example encodeV2Json({ model_name: 'm', outputs: [{ name: 'y', datatype: 'FP32', shape: [1], data: new Float32Array([0.1]) }] })
 *   // -> '{"model_name":"m","outputs":[{"name":"y","shape":[1],"datatype":"FP32","data":[0.1]}]}'
 */
export function encodeV2Json(response: InferResponse): string {
  return JSON.stringify(responseObject(response, jsonOutput));
}
