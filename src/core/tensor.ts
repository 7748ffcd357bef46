/**
 * Tensors and signatures, in the vocabulary of the Open Inference Protocol (KServe V2).
 *
 * Every protocol (V2 JSON, V2 binary, gRPC, V1, Seldon) decodes into `InferRequest` and encodes from
 * `InferResponse`; runtimes only ever see these types. Numeric data lives in typed arrays so that a tensor
 * crosses protocol, IPC and runtime boundaries without per-element copies.
 */

export const DATATYPES = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
] as const;

export type Datatype = (typeof DATATYPES)[number];

export function isDatatype(value: unknown): value is Datatype {
  return typeof value === 'string' && (DATATYPES as readonly string[]).includes(value);
}

/** Bytes per element of each fixed-size datatype (BYTES has none). */
export const DATATYPE_SIZE: Readonly<Record<Exclude<Datatype, 'BYTES'>, number>> = {
  BOOL: 1,
  UINT8: 1,
  UINT16: 2,
  UINT32: 4,
  UINT64: 8,
  INT8: 1,
  INT16: 2,
  INT32: 4,
  INT64: 8,
  FP16: 2,
  FP32: 4,
  FP64: 8,
};

/**
 * Tensor contents. Fixed-size datatypes use the matching typed array (BOOL -> Uint8Array of 0/1,
 * FP16 -> Uint16Array of IEEE half bits, INT64 -> BigInt64Array, UINT64 -> BigUint64Array);
 * BYTES uses one Uint8Array per element.
 */
export type TensorData =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | BigUint64Array
  | BigInt64Array
  | Float32Array
  | Float64Array
  | Uint8Array[];

export interface Tensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  data: TensorData;
  parameters?: Record<string, unknown>;
}

export interface RequestedOutput {
  name: string;
  parameters?: Record<string, unknown>;
}

export interface InferRequest {
  id?: string;
  inputs: Tensor[];
  /** Absent means every output of the model. */
  outputs?: RequestedOutput[];
  parameters?: Record<string, unknown>;
}

export interface InferResponse {
  model_name: string;
  model_version?: string;
  id?: string;
  outputs: Tensor[];
  parameters?: Record<string, unknown>;
}

/** One declared input or output. A dimension of -1 is dynamic (any size); `dimNames` keeps the model's labels. */
export interface TensorSpec {
  name: string;
  datatype: Datatype;
  shape: number[];
  dimNames?: (string | null)[];
}

/** What a model takes and gives; recorded at registration from the model file itself. */
export interface ModelSignature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

/** Number of elements of a shape, or undefined when a dimension is negative or the product is not a safe integer. */
export function elementCount(shape: readonly number[]): number | undefined {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) return undefined;
    n *= d;
    if (!Number.isSafeInteger(n)) return undefined;
  }
  return n;
}

/** A fresh, zero-filled container for `n` elements of `datatype` (BYTES: `n` empty byte strings). */
export function allocateTensorData(datatype: Datatype, n: number): TensorData {
  switch (datatype) {
    case 'BOOL':
    case 'UINT8':
      return new Uint8Array(n);
    case 'INT8':
      return new Int8Array(n);
    case 'UINT16':
    case 'FP16':
      return new Uint16Array(n);
    case 'INT16':
      return new Int16Array(n);
    case 'UINT32':
      return new Uint32Array(n);
    case 'INT32':
      return new Int32Array(n);
    case 'UINT64':
      return new BigUint64Array(n);
    case 'INT64':
      return new BigInt64Array(n);
    case 'FP32':
      return new Float32Array(n);
    case 'FP64':
      return new Float64Array(n);
    case 'BYTES':
      return Array.from({ length: n }, () => new Uint8Array(0));
  }
}

/**
 * A tensor's raw little-endian bytes, as the binary tensor extension and gRPC raw contents carry them: a view of
 * fixed-size data (no copy), 4-byte length-prefixed elements for BYTES.
 */
export function tensorBytes(tensor: Pick<Tensor, 'data'>): Buffer {
  const data = tensor.data;
  if (!Array.isArray(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let total = 0;
  for (const item of data) total += 4 + item.byteLength;
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const item of data) {
    out.writeUInt32LE(item.byteLength, at);
    out.set(item, at + 4);
    at += 4 + item.byteLength;
  }
  return out;
}
