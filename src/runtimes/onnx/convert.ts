/**
 * Tensor <-> ort.Tensor conversion without per-element copies: typed arrays are handed over as they are (views
 * included). Only BYTES costs a decode per element, because ORT string tensors hold JavaScript strings.
 */
import * as ort from 'onnxruntime-node';
import type { Datatype, Tensor } from '../../core/index.ts';
import { ModelportError } from '../../core/index.ts';

/** ORT element type of each V2 datatype. */
export const ORT_TYPE: Readonly<Record<Datatype, ort.Tensor.Type>> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'string',
};

const V2_TYPE: Readonly<Record<string, Datatype>> = Object.fromEntries(
  Object.entries(ORT_TYPE).map(([v2, ortType]) => [ortType, v2 as Datatype]),
);

/** The V2 datatype of an ORT element type, or undefined for types V2 cannot carry (int4, uint4). */
export function v2Datatype(ortType: string): Datatype | undefined {
  return V2_TYPE[ortType];
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

export function toOrtTensor(tensor: Tensor): ort.Tensor {
  const type = ORT_TYPE[tensor.datatype];
  if (type === 'string') {
    const elements = tensor.data as Uint8Array[];
    return new ort.Tensor(
      'string',
      elements.map((e) => decoder.decode(e)),
      tensor.shape,
    );
  }
  if (type === 'float16') {
    // Node 24 has Float16Array, so onnxruntime-common rewraps Uint16Array data as one, which the native binding
    // (N-API has no float16 arrays) reads as empty. Hand the binding the Uint16Array under the float16 type.
    const half = new ort.Tensor('uint16', tensor.data as Uint16Array, tensor.shape);
    Object.defineProperty(half, 'type', { value: 'float16' });
    return half;
  }
  // The typed array already matches `type` (see TensorData); ORT reads it in place.
  return new ort.Tensor(type as 'float32', tensor.data as Float32Array, tensor.shape);
}

export function fromOrtTensor(name: string, value: ort.OnnxValue): Tensor {
  const datatype = v2Datatype(value.type);
  if (datatype === undefined) {
    throw new ModelportError('internal', `output '${name}' has element type ${value.type}, which V2 cannot carry`);
  }
  const shape = [...value.dims];
  if (datatype === 'BYTES') {
    return { name, datatype, shape, data: (value.data as string[]).map((s) => encoder.encode(s)) };
  }
  if (datatype === 'FP16') {
    // A Float16Array view (see toOrtTensor) becomes the Uint16Array of half bits Tensor promises, without a copy.
    const half = value.data as Uint16Array;
    return { name, datatype, shape, data: new Uint16Array(half.buffer, half.byteOffset, half.length) };
  }
  return { name, datatype, shape, data: value.data as Exclude<Tensor['data'], Uint8Array[]> };
}
