/**
 * Typed ONNX messages (the subset Modelport writes) and their protobuf encoding.
 *
 * Field numbers come from onnx/onnx's `onnx/onnx.proto`; they are stable across ONNX releases. Repeated scalars
 * that the .proto declares without `[packed = true]` (dims, ints, floats) are written unpacked, as proto2 does.
 *
 * ```ts
 * const bytes = encodeModel({ graph: { name: 'g', nodes: [...], initializers: [], inputs: [...], outputs: [...] } });
 * ```
 */
import { ProtoWriter } from './protobuf-writer.ts';

/** ONNX IR version written by default: IR 8 (ONNX 1.10+), loaded by ONNX Runtime 1.10 and later. */
export const DEFAULT_IR_VERSION = 8;
/** Default opset of the `ai.onnx` domain (the empty domain string). */
export const DEFAULT_OPSET = 17;

/** `TensorProto.DataType` values. */
export const ONNX_DATA_TYPES = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
} as const;

export type OnnxDataType = keyof typeof ONNX_DATA_TYPES;

/** A dimension: a number is a fixed size (`dim_value`), a string a named dynamic size (`dim_param`, e.g. 'N'). */
export type Dim = number | string;

/** A constant tensor (initializer or TENSOR attribute). `rawData` is little-endian, one byte per BOOL. */
export interface TensorProto {
  name: string;
  dataType: Exclude<OnnxDataType, 'STRING'>;
  dims: readonly number[];
  rawData: Uint8Array;
  docString?: string;
}

/** A node attribute; `type` names the `AttributeProto.AttributeType` and which value field is written. */
export type AttributeProto =
  | { name: string; type: 'FLOAT'; value: number }
  | { name: string; type: 'INT'; value: number | bigint }
  | { name: string; type: 'STRING'; value: string }
  | { name: string; type: 'TENSOR'; value: TensorProto }
  | { name: string; type: 'FLOATS'; value: readonly number[] }
  | { name: string; type: 'INTS'; value: readonly (number | bigint)[] };

export interface NodeProto {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  /** Operator set domain; absent means `ai.onnx`. */
  domain?: string;
  attributes?: readonly AttributeProto[];
  docString?: string;
}

/** A graph input or output. `shape` absent means unknown rank; `[]` is a scalar. */
export interface ValueInfoProto {
  name: string;
  elemType: OnnxDataType;
  shape?: readonly Dim[];
  docString?: string;
}

export interface GraphProto {
  name: string;
  /** Topologically sorted. */
  nodes: readonly NodeProto[];
  initializers: readonly TensorProto[];
  inputs: readonly ValueInfoProto[];
  outputs: readonly ValueInfoProto[];
  docString?: string;
}

export interface OperatorSetId {
  /** '' is `ai.onnx`. */
  domain: string;
  version: number;
}

/** A model. Defaults: irVersion 8, opsetImports [{ domain: '', version: 17 }], producerName 'modelport'. */
export interface ModelProto {
  graph: GraphProto;
  irVersion?: number;
  opsetImports?: readonly OperatorSetId[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  docString?: string;
  /** Free-form key/value metadata (`metadata_props`), written in insertion order. */
  metadata?: Readonly<Record<string, string>>;
}

const ATTRIBUTE_TYPES = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

export function encodeTensor(t: TensorProto): Uint8Array {
  const w = new ProtoWriter();
  for (const d of t.dims) w.int64(1, d);
  w.int64(2, ONNX_DATA_TYPES[t.dataType]);
  w.string(8, t.name);
  w.bytes(9, t.rawData);
  if (t.docString !== undefined) w.string(12, t.docString);
  return w.finish();
}

export function encodeAttribute(a: AttributeProto): Uint8Array {
  const w = new ProtoWriter().string(1, a.name);
  switch (a.type) {
    case 'FLOAT':
      w.float(2, a.value);
      break;
    case 'INT':
      w.int64(3, a.value);
      break;
    case 'STRING':
      w.string(4, a.value);
      break;
    case 'TENSOR':
      w.message(5, encodeTensor(a.value));
      break;
    case 'FLOATS':
      for (const v of a.value) w.float(7, v);
      break;
    case 'INTS':
      for (const v of a.value) w.int64(8, v);
      break;
  }
  return w.int64(20, ATTRIBUTE_TYPES[a.type]).finish();
}

export function encodeNode(n: NodeProto): Uint8Array {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name !== undefined) w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attributes ?? []) w.message(5, encodeAttribute(a));
  if (n.docString !== undefined) w.string(6, n.docString);
  if (n.domain !== undefined) w.string(7, n.domain);
  return w.finish();
}

export function encodeValueInfo(v: ValueInfoProto): Uint8Array {
  const tensorType = new ProtoWriter().int64(1, ONNX_DATA_TYPES[v.elemType]);
  if (v.shape !== undefined) {
    const shape = new ProtoWriter();
    for (const d of v.shape) {
      const dim = typeof d === 'number' ? new ProtoWriter().int64(1, d) : new ProtoWriter().string(2, d);
      shape.message(1, dim.finish());
    }
    tensorType.message(2, shape.finish());
  }
  const type = new ProtoWriter().message(1, tensorType.finish());
  const w = new ProtoWriter().string(1, v.name).message(2, type.finish());
  if (v.docString !== undefined) w.string(3, v.docString);
  return w.finish();
}

export function encodeGraph(g: GraphProto): Uint8Array {
  const w = new ProtoWriter();
  for (const n of g.nodes) w.message(1, encodeNode(n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, encodeTensor(t));
  if (g.docString !== undefined) w.string(10, g.docString);
  for (const v of g.inputs) w.message(11, encodeValueInfo(v));
  for (const v of g.outputs) w.message(12, encodeValueInfo(v));
  return w.finish();
}

/** Encodes a ModelProto: the bytes of a `.onnx` file. */
export function encodeModel(m: ModelProto): Uint8Array {
  const w = new ProtoWriter().int64(1, m.irVersion ?? DEFAULT_IR_VERSION);
  w.string(2, m.producerName ?? 'modelport');
  if (m.producerVersion !== undefined) w.string(3, m.producerVersion);
  if (m.domain !== undefined) w.string(4, m.domain);
  if (m.modelVersion !== undefined) w.int64(5, m.modelVersion);
  if (m.docString !== undefined) w.string(6, m.docString);
  w.message(7, encodeGraph(m.graph));
  for (const o of m.opsetImports ?? [{ domain: '', version: DEFAULT_OPSET }]) {
    w.message(8, new ProtoWriter().string(1, o.domain).int64(2, o.version).finish());
  }
  for (const [key, value] of Object.entries(m.metadata ?? {})) {
    w.message(14, new ProtoWriter().string(1, key).string(2, value).finish());
  }
  return w.finish();
}
