/**
 * Open Inference Protocol gRPC messages <-> Modelport tensors.
 *
 * Requests carry tensor data either in each input's typed `contents` (`fp32_contents`, `int64_contents`, ...) or
 * in `raw_input_contents` (one little-endian, row-major byte string per input, in input order; BYTES elements
 * each prefixed by a 4-byte little-endian length). Everything is validated before anything proportional to it is
 * allocated; a bad request throws `invalid_input` (tensor) or `invalid_request` (message) naming the input.
 * Raw fixed-size data is viewed in place (copied only when misaligned), as is every BYTES element.
 *
 * Responses answer in kind: `raw_output_contents` when the request used raw inputs (what tritonclient expects
 * and the fast path), typed `contents` otherwise. The proto has no typed field for FP16, and raw is all or
 * nothing per message, so a response with an FP16 output is always raw.
 *
 * Parameters: bool and string map to themselves; int64 becomes a number when it is a safe integer and a bigint
 * otherwise. The proto's InferParameter has no double, so an encoded non-integer number (or an object) is sent
 * as `string_param` (`'0.5'`, JSON for objects).
 */
import {
  DATATYPE_SIZE,
  type Datatype,
  elementCount,
  type InferRequest,
  type InferResponse,
  isDatatype,
  ModelportError,
  type RequestedOutput,
  type Tensor,
  type TensorData,
  tensorBytes,
} from '../../core/index.ts';
import type { InferParameter, InferParameter__Output } from './generated/inference/InferParameter.generated.ts';
import type {
  InferTensorContents,
  InferTensorContents__Output,
} from './generated/inference/InferTensorContents.generated.ts';
import type {
  _inference_ModelInferRequest_InferInputTensor__Output as InferInputTensor,
  ModelInferRequest__Output,
} from './generated/inference/ModelInferRequest.generated.ts';
import type {
  _inference_ModelInferResponse_InferOutputTensor as InferOutputTensor,
  ModelInferResponse,
} from './generated/inference/ModelInferResponse.generated.ts';

export interface DecodedInferRequest {
  request: InferRequest;
  /** True when the data came in `raw_input_contents`; the response should then be raw too. */
  raw: boolean;
}

type FixedDatatype = Exclude<Datatype, 'BYTES'>;
type FixedData = Exclude<TensorData, Uint8Array[]>;
type ContentsField = keyof InferTensorContents__Output;

interface FixedArrayConstructor {
  new (buffer: ArrayBuffer, byteOffset: number, length: number): FixedData;
  new (length: number): FixedData;
}

const ARRAY_TYPES: Readonly<Record<FixedDatatype, FixedArrayConstructor>> = {
  BOOL: Uint8Array,
  UINT8: Uint8Array,
  UINT16: Uint16Array,
  UINT32: Uint32Array,
  UINT64: BigUint64Array,
  INT8: Int8Array,
  INT16: Int16Array,
  INT32: Int32Array,
  INT64: BigInt64Array,
  FP16: Uint16Array,
  FP32: Float32Array,
  FP64: Float64Array,
};

/** The typed contents field of each datatype; FP16 has none (raw only). */
const CONTENTS_FIELD: Readonly<Record<Datatype, ContentsField | undefined>> = {
  BOOL: 'bool_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  FP16: undefined,
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BYTES: 'bytes_contents',
};

const CONTENTS_FIELDS: readonly ContentsField[] = [
  'bool_contents',
  'int_contents',
  'int64_contents',
  'uint_contents',
  'uint64_contents',
  'fp32_contents',
  'fp64_contents',
  'bytes_contents',
];

/** Ranges of the narrow integer types that travel in the 32-bit `int_contents` / `uint_contents`. */
const NARROW_RANGE: Partial<Record<Datatype, readonly [number, number]>> = {
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  UINT8: [0, 255],
  UINT16: [0, 65535],
};

/** Stands in for absent contents (only ever read). */
const EMPTY_CONTENTS: InferTensorContents__Output = {
  bool_contents: [],
  int_contents: [],
  int64_contents: [],
  uint_contents: [],
  uint64_contents: [],
  fp32_contents: [],
  fp64_contents: [],
  bytes_contents: [],
};

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Turns a decoded ModelInferRequest (loaded with LOADER_OPTIONS) into an InferRequest; throws invalid_input. */
export function decodeInferRequest(message: ModelInferRequest__Output): DecodedInferRequest {
  const rawContents = message.raw_input_contents;
  const raw = rawContents.length > 0;
  if (raw && rawContents.length !== message.inputs.length) {
    throw new ModelportError(
      'invalid_request',
      `raw_input_contents has ${rawContents.length} entries for ${message.inputs.length} inputs; send one per input, in input order`,
      { field: 'raw_input_contents' },
    );
  }
  const seen = new Set<string>();
  const inputs = message.inputs.map((input, i) => {
    if (seen.has(input.name)) throw inputError(i, input.name, 'name', 'appears twice; input names must be unique');
    seen.add(input.name);
    return decodeInput(input, i, raw ? rawContents[i] : undefined);
  });
  const request: InferRequest = { inputs };
  if (message.id !== '') request.id = message.id;
  const parameters = decodeParameters(message.parameters);
  if (parameters !== undefined) request.parameters = parameters;
  if (message.outputs.length > 0) {
    request.outputs = message.outputs.map((output, i): RequestedOutput => {
      if (output.name === '') {
        throw new ModelportError('invalid_request', `outputs[${i}].name is empty; name the output to return`, {
          field: `outputs[${i}].name`,
        });
      }
      const outputParameters = decodeParameters(output.parameters);
      return outputParameters === undefined
        ? { name: output.name }
        : { name: output.name, parameters: outputParameters };
    });
  }
  return { request, raw };
}

function decodeInput(input: InferInputTensor, i: number, raw: Buffer | undefined): Tensor {
  const { name, datatype } = input;
  if (name === '') throw inputError(i, name, 'name', 'has no name; every input needs one');
  if (!isDatatype(datatype)) {
    throw inputError(
      i,
      name,
      'datatype',
      `has datatype '${clip(datatype)}'; use one of BOOL, INT8..INT64, UINT8..UINT64, FP16, FP32, FP64, BYTES`,
    );
  }
  const shape = decodeShape(input.shape, i, name);
  const count = elementCount(shape);
  if (count === undefined) {
    throw inputError(i, name, 'shape', `has shape [${shape.join(', ')}] whose element count is not a safe integer`);
  }
  const contents = input.contents;
  let data: TensorData;
  if (raw !== undefined) {
    if (hasContents(contents)) {
      throw inputError(
        i,
        name,
        'contents',
        'sets contents while the request uses raw_input_contents; use one or the other',
      );
    }
    data = datatype === 'BYTES' ? decodeRawBytes(raw, count, i, name) : decodeRawFixed(raw, datatype, count, i, name);
  } else {
    data = decodeContents(contents, datatype, count, i, name);
  }
  const tensor: Tensor = { name, datatype, shape, data };
  const parameters = decodeParameters(input.parameters);
  if (parameters !== undefined) tensor.parameters = parameters;
  return tensor;
}

function decodeShape(dims: string[], i: number, name: string): number[] {
  return dims.map((text) => {
    const d = Number(text);
    if (!Number.isSafeInteger(d) || d < 0) {
      throw inputError(i, name, 'shape', `has dimension ${clip(text)}; dimensions must be integers >= 0`);
    }
    return d;
  });
}

function hasContents(contents: InferTensorContents__Output | null): contents is InferTensorContents__Output {
  return contents !== null && CONTENTS_FIELDS.some((f) => contents[f].length > 0);
}

function decodeRawFixed(raw: Buffer, datatype: FixedDatatype, count: number, i: number, name: string): FixedData {
  const size = DATATYPE_SIZE[datatype];
  if (raw.byteLength !== count * size) {
    throw inputError(
      i,
      name,
      'raw_input_contents',
      `has ${raw.byteLength} raw bytes; ${datatype} with ${count} elements needs ${count * size}`,
    );
  }
  // A typed array view needs an aligned offset; protobuf slices of the message buffer often are not.
  const bytes = raw.byteOffset % size === 0 ? raw : new Uint8Array(raw);
  const data = new ARRAY_TYPES[datatype](bytes.buffer as ArrayBuffer, bytes.byteOffset, count);
  if (datatype === 'BOOL' && (data as Uint8Array).some((b) => b > 1)) {
    throw inputError(i, name, 'raw_input_contents', 'has BOOL bytes other than 0 and 1');
  }
  return data;
}

function decodeRawBytes(raw: Buffer, count: number, i: number, name: string): Uint8Array[] {
  // Each element takes at least its 4-byte length prefix: refuse impossible counts before allocating.
  if (count > raw.byteLength / 4) {
    throw inputError(
      i,
      name,
      'raw_input_contents',
      `has ${raw.byteLength} raw bytes, too few for ${count} BYTES elements`,
    );
  }
  const elements = new Array<Uint8Array>(count);
  let offset = 0;
  for (let e = 0; e < count; e++) {
    const length = offset + 4 <= raw.byteLength ? raw.readUInt32LE(offset) : -1;
    if (length < 0 || offset + 4 + length > raw.byteLength) {
      throw inputError(
        i,
        name,
        'raw_input_contents',
        `element ${e} overruns the raw bytes; each element is a 4-byte little-endian length and its bytes`,
      );
    }
    elements[e] = raw.subarray(offset + 4, offset + 4 + length);
    offset += 4 + length;
  }
  if (offset !== raw.byteLength) {
    throw inputError(
      i,
      name,
      'raw_input_contents',
      `has ${raw.byteLength - offset} bytes after its ${count} BYTES elements`,
    );
  }
  return elements;
}

function decodeContents(
  contents: InferTensorContents__Output | null,
  datatype: Datatype,
  count: number,
  i: number,
  name: string,
): TensorData {
  const field = CONTENTS_FIELD[datatype];
  if (field === undefined) {
    if (count === 0 && !hasContents(contents)) return new Uint16Array(0);
    throw inputError(
      i,
      name,
      'contents',
      `is ${datatype}, which has no typed contents field; send it in raw_input_contents`,
    );
  }
  if (contents !== null) {
    const stray = CONTENTS_FIELDS.find((f) => f !== field && contents[f].length > 0);
    if (stray !== undefined)
      throw inputError(i, name, 'contents', `is ${datatype} but sets ${stray}; send it in ${field}`);
  }
  const c = contents ?? EMPTY_CONTENTS;
  if (c[field].length !== count) {
    throw inputError(i, name, 'contents', `has ${c[field].length} values in ${field}; shape needs ${count}`);
  }
  switch (field) {
    case 'bool_contents':
      return Uint8Array.from(c.bool_contents, (b) => (b ? 1 : 0));
    case 'bytes_contents':
      return contents === null ? [] : c.bytes_contents;
    case 'int64_contents':
    case 'uint64_contents': {
      const data = field === 'int64_contents' ? new BigInt64Array(count) : new BigUint64Array(count);
      for (let e = 0; e < count; e++) data[e] = BigInt(c[field][e]!);
      return data;
    }
    default: {
      const numbers = c[field];
      const range = NARROW_RANGE[datatype];
      if (range !== undefined && numbers.some((v) => v < range[0] || v > range[1])) {
        throw inputError(i, name, 'contents', `has a value outside the ${datatype} range [${range[0]}, ${range[1]}]`);
      }
      const data = new ARRAY_TYPES[datatype as FixedDatatype](count) as Exclude<
        FixedData,
        BigInt64Array | BigUint64Array
      >;
      data.set(numbers);
      return data;
    }
  }
}

function decodeParameters(map: Record<string, InferParameter__Output>): Record<string, unknown> | undefined {
  const entries: [string, unknown][] = [];
  for (const [key, p] of Object.entries(map)) {
    if (p.parameter_choice === 'bool_param') entries.push([key, p.bool_param]);
    else if (p.parameter_choice === 'string_param') entries.push([key, p.string_param]);
    else if (p.parameter_choice === 'int64_param') {
      const n = BigInt(p.int64_param ?? '0');
      entries.push([key, Number.isSafeInteger(Number(n)) ? Number(n) : n]);
    }
  }
  // fromEntries defines own properties, so a key like "__proto__" stays plain data.
  return entries.length === 0 ? undefined : Object.fromEntries(entries);
}

/**
 * Turns an InferResponse into a ModelInferResponse, in raw contents when `raw` is true or an output is FP16.
 * Throws `internal` when an output's data does not match its datatype and shape (a runtime bug, not the client's).
 */
export function encodeInferResponse(response: InferResponse, raw: boolean): ModelInferResponse {
  for (const output of response.outputs) checkOutput(output);
  const useRaw = raw || response.outputs.some((o) => o.datatype === 'FP16');
  const message: ModelInferResponse = {
    model_name: response.model_name,
    model_version: response.model_version ?? '',
    id: response.id ?? '',
    outputs: response.outputs.map((o): InferOutputTensor => {
      const tensor: InferOutputTensor = { name: o.name, datatype: o.datatype, shape: o.shape };
      if (o.parameters !== undefined) tensor.parameters = encodeParameters(o.parameters);
      if (!useRaw) tensor.contents = encodeContents(o);
      return tensor;
    }),
  };
  if (response.parameters !== undefined) message.parameters = encodeParameters(response.parameters);
  if (useRaw) message.raw_output_contents = response.outputs.map(tensorBytes);
  return message;
}

function checkOutput(output: Tensor): void {
  const count = elementCount(output.shape);
  const { data, datatype } = output;
  const fits =
    datatype === 'BYTES'
      ? Array.isArray(data)
      : !Array.isArray(data) && data.BYTES_PER_ELEMENT === DATATYPE_SIZE[datatype];
  if (count === undefined || !fits || data.length !== count) {
    throw new ModelportError(
      'internal',
      `output '${clip(output.name)}' (${datatype}, shape [${output.shape.join(', ')}]) holds ${data.length} elements of the wrong kind or number`,
    );
  }
}

function encodeContents(output: Tensor): InferTensorContents {
  const { data } = output;
  const field = CONTENTS_FIELD[output.datatype];
  if (Array.isArray(data)) return { bytes_contents: data };
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    return { [field === 'uint64_contents' ? 'uint64_contents' : 'int64_contents']: Array.from(data, String) };
  }
  if (output.datatype === 'BOOL') return { bool_contents: Array.from(data, (b) => b !== 0) };
  return { [field ?? 'fp32_contents']: Array.from(data) };
}

function encodeParameters(parameters: Record<string, unknown>): Record<string, InferParameter> {
  const out: [string, InferParameter][] = [];
  for (const [key, value] of Object.entries(parameters)) {
    if (value === undefined) continue;
    out.push([key, encodeParameter(value)]);
  }
  return Object.fromEntries(out);
}

function encodeParameter(value: unknown): InferParameter {
  if (typeof value === 'boolean') return { bool_param: value };
  if (typeof value === 'string') return { string_param: value };
  if (typeof value === 'number' && Number.isSafeInteger(value)) return { int64_param: String(value) };
  if (typeof value === 'bigint' && value >= INT64_MIN && value <= INT64_MAX) return { int64_param: value.toString() };
  return { string_param: typeof value === 'object' ? JSON.stringify(value) : String(value) };
}

/** Client-chosen names go into messages; keep them short so a status never carries a huge header. */
function clip(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}...` : text;
}

function inputError(i: number, name: string, part: string, problem: string): ModelportError {
  const label = name === '' ? `inputs[${i}]` : `input '${clip(name)}'`;
  return new ModelportError('invalid_input', `${label} ${problem}`, { field: `inputs[${i}].${part}` });
}
