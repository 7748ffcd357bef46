/**
 * An ergonomic, typed builder for ONNX graphs: add inputs, constants and nodes in order, declare outputs, get bytes.
 *
 * ```ts
 * const g = new GraphBuilder('linear');
 * const x = g.input('input', 'FLOAT', ['N', 3]);
 * const w = g.initializer('w', new Float32Array([1, 2, 3]), [3, 1]);
 * const b = g.initializer('b', new Float32Array([0.5]), [1]);
 * const y = g.node('Gemm', [x, w, b], { alpha: float(1), transB: 0 });
 * g.output(y, 'score', 'FLOAT', ['N', 1]);
 * const bytes = g.toModel({ docString: 'y = x.w + b' });
 * ```
 *
 * Values are named by strings; every node input must already exist (so nodes are topologically sorted by
 * construction). Mistakes throw `invalid_request` naming the value at fault.
 */
import { ModelportError } from '../core/index.ts';
import {
  type AttributeProto,
  type Dim,
  encodeModel,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type OnnxDataType,
  type TensorProto,
  type ValueInfoProto,
} from './model-proto.ts';

/** Typed arrays that can back a tensor constant. */
export type TensorValues =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** Element types a constant can have (STRING constants are not supported). */
export type ConstantDataType = Exclude<OnnxDataType, 'STRING'>;

/**
 * An attribute value. Integers (number or bigint) become INT, arrays of integers INTS, strings STRING, a
 * `TensorProto` TENSOR. Floats must be wrapped (`float(0.5)`, `floats([1, 2])`) so that `1` is never
 * silently an INT where the operator wants a FLOAT.
 */
export type AttributeInput =
  | number
  | bigint
  | string
  | readonly (number | bigint)[]
  | TensorProto
  | { type: 'FLOAT'; value: number }
  | { type: 'FLOATS'; value: readonly number[] };

/** A FLOAT attribute. */
export const float = (value: number) => ({ type: 'FLOAT', value }) as const;
/** A FLOATS attribute. */
export const floats = (value: readonly number[]) => ({ type: 'FLOATS', value }) as const;

const DEFAULT_TYPES: ReadonlyArray<[new (n: number) => TensorValues, ConstantDataType]> = [
  [Float32Array, 'FLOAT'],
  [Float64Array, 'DOUBLE'],
  [Int8Array, 'INT8'],
  [Uint8Array, 'UINT8'],
  [Int16Array, 'INT16'],
  [Uint16Array, 'UINT16'],
  [Int32Array, 'INT32'],
  [Uint32Array, 'UINT32'],
  [BigInt64Array, 'INT64'],
  [BigUint64Array, 'UINT64'],
];

/** Byte size of each constant type; the typed array must have this element size. */
const ELEMENT_SIZE: Readonly<Record<ConstantDataType, number>> = {
  FLOAT: 4,
  UINT8: 1,
  INT8: 1,
  UINT16: 2,
  INT16: 2,
  INT32: 4,
  INT64: 8,
  BOOL: 1,
  FLOAT16: 2,
  DOUBLE: 8,
  UINT32: 4,
  UINT64: 8,
};

const bad = (field: string, message: string) => new ModelportError('invalid_request', message, { field });

/**
 * A constant tensor from a typed array. The type follows the array (Float32Array -> FLOAT, BigInt64Array -> INT64,
 * ...); pass `dataType` for BOOL (a Uint8Array of 0/1) or FLOAT16 (a Uint16Array of half-float bits).
 */
export function tensor(
  name: string,
  values: TensorValues,
  dims: readonly number[],
  dataType?: ConstantDataType,
): TensorProto {
  const type = dataType ?? DEFAULT_TYPES.find(([ctor]) => values instanceof ctor)![1];
  if (ELEMENT_SIZE[type] !== values.BYTES_PER_ELEMENT) {
    throw bad(name, `tensor ${name}: a ${values.constructor.name} cannot hold ${type}; use a matching typed array`);
  }
  const count = dims.reduce((a, d) => a * d, 1);
  if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0) || count !== values.length) {
    throw bad(name, `tensor ${name}: dims [${dims.join(', ')}] need ${count} values, got ${values.length}`);
  }
  // Typed arrays are host-endian; every platform ONNX Runtime ships for is little-endian, as raw_data requires.
  const rawData = new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice();
  return { name, dataType: type, dims: [...dims], rawData };
}

function toAttribute(name: string, value: AttributeInput): AttributeProto {
  if (typeof value === 'string') return { name, type: 'STRING', value };
  if (typeof value === 'bigint') return { name, type: 'INT', value };
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw bad(name, `attribute ${name}: ${value} is not an integer; wrap floats: float(${value})`);
    }
    return { name, type: 'INT', value };
  }
  if (Array.isArray(value)) {
    const ints = value as readonly (number | bigint)[];
    if (!ints.every((v) => typeof v === 'bigint' || Number.isSafeInteger(v))) {
      throw bad(name, `attribute ${name}: [${ints.join(', ')}] are not all integers; wrap floats: floats([...])`);
    }
    return { name, type: 'INTS', value: ints };
  }
  if ('rawData' in value) return { name, type: 'TENSOR', value };
  const typed = value as { type: 'FLOAT'; value: number } | { type: 'FLOATS'; value: readonly number[] };
  return typed.type === 'FLOAT'
    ? { name, type: 'FLOAT', value: typed.value }
    : { name, type: 'FLOATS', value: typed.value };
}

export interface NodeOptions {
  /** Name of the node's output value; default `<optype>_<n>`. */
  output?: string;
  /** Node name; default `<OpType>_<index>`. */
  name?: string;
  /** Operator domain; default `ai.onnx`. */
  domain?: string;
}

/** Options of `toModel`: every ModelProto field but the graph (defaults: IR 8, opset 17, producer 'modelport'). */
export type ModelOptions = Omit<ModelProto, 'graph'> & { graphDocString?: string };

type MutableNode = NodeProto & { inputs: string[]; outputs: string[] };

export class GraphBuilder {
  readonly name: string;
  readonly #nodes: MutableNode[] = [];
  readonly #initializers: TensorProto[] = [];
  readonly #inputs: ValueInfoProto[] = [];
  readonly #outputs: ValueInfoProto[] = [];
  /** Every value defined so far (inputs, initializers, node outputs). */
  readonly #values = new Set<string>();
  /** Values renamed by `output()`: old name -> graph output name. */
  readonly #renamed = new Map<string, string>();
  /** Which node produced each node output, to rename it in place. */
  readonly #producer = new Map<string, MutableNode>();

  /** `name` is the graph's name (GraphProto.name). */
  constructor(name: string) {
    this.name = name;
  }

  /** Declares a graph input and returns its value name. Shape dims: numbers are fixed, strings dynamic ('N'). */
  input(name: string, elemType: OnnxDataType, shape: readonly Dim[]): string {
    this.#define(name);
    this.#inputs.push({ name, elemType, shape: [...shape] });
    return name;
  }

  /** Adds a constant (an initializer) and returns its value name. See `tensor()` for how the type is chosen. */
  initializer(name: string, values: TensorValues, dims: readonly number[], dataType?: ConstantDataType): string {
    const t = tensor(name, values, dims, dataType);
    this.#define(name);
    this.#initializers.push(t);
    return name;
  }

  /** Adds a single-output node and returns its output value name. Pass '' for an omitted optional input. */
  node(
    opType: string,
    inputs: readonly string[],
    attributes: Readonly<Record<string, AttributeInput>> = {},
    options: NodeOptions = {},
  ): string {
    return this.nodeOutputs(opType, inputs, [options.output ?? this.#fresh(opType)], attributes, options)[0]!;
  }

  /** Adds a node with several named outputs (e.g. TopK's values and indices) and returns them. */
  nodeOutputs(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attributes: Readonly<Record<string, AttributeInput>> = {},
    options: Omit<NodeOptions, 'output'> = {},
  ): string[] {
    const resolved = inputs.map((i) => (i === '' ? i : this.#resolve(i, `${opType} input`)));
    for (const o of outputs) this.#define(o);
    const node: MutableNode = {
      opType,
      inputs: resolved,
      outputs: [...outputs],
      name: options.name ?? `${opType}_${this.#nodes.length}`,
      attributes: Object.entries(attributes).map(([k, v]) => toAttribute(k, v)),
      ...(options.domain === undefined ? {} : { domain: options.domain }),
    };
    this.#nodes.push(node);
    for (const o of outputs) this.#producer.set(o, node);
    return [...outputs];
  }

  /**
   * Declares `value` as a graph output named `name`. When the names differ, a node output is renamed in place
   * (later uses of the old name still work); an input, a constant or an already-declared output is passed through
   * an Identity node. Omit `shape` for an unknown rank; `[]` is a scalar.
   */
  output(value: string, name: string, elemType: OnnxDataType, shape?: readonly Dim[]): this {
    let v = this.#resolve(value, 'output');
    if (v !== name) {
      const producer = this.#producer.get(v);
      const declared = this.#outputs.some((o) => o.name === v);
      if (producer === undefined || declared) {
        this.node('Identity', [v], {}, { output: name });
      } else {
        this.#define(name);
        producer.outputs[producer.outputs.indexOf(v)] = name;
        for (const n of this.#nodes) n.inputs = n.inputs.map((i) => (i === v ? name : i));
        this.#renamed.set(v, name);
        this.#producer.set(name, producer);
      }
      v = name;
    }
    this.#outputs.push({ name: v, elemType, ...(shape === undefined ? {} : { shape: [...shape] }) });
    return this;
  }

  /** The graph as a typed message (for inspection or embedding). */
  toGraph(docString?: string): GraphProto {
    return {
      name: this.name,
      nodes: this.#nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs] })),
      initializers: [...this.#initializers],
      inputs: [...this.#inputs],
      outputs: [...this.#outputs],
      ...(docString === undefined ? {} : { docString }),
    };
  }

  /** The encoded model: the bytes of a `.onnx` file. Throws when no output was declared. */
  toModel(options: ModelOptions = {}): Uint8Array {
    if (this.#outputs.length === 0) throw bad('output', `graph ${this.name}: declare at least one output`);
    const { graphDocString, ...model } = options;
    return encodeModel({ ...model, graph: this.toGraph(graphDocString) });
  }

  #define(name: string): void {
    if (name === '') throw bad('name', `graph ${this.name}: a value name cannot be empty`);
    if (this.#values.has(name)) throw bad(name, `graph ${this.name}: the value name ${name} is already used`);
    this.#values.add(name);
  }

  #resolve(name: string, where: string): string {
    const v = this.#renamed.get(name) ?? name;
    if (!this.#values.has(v)) throw bad(name, `graph ${this.name}: ${where} ${name} is not defined yet`);
    return v;
  }

  #fresh(opType: string): string {
    let n = this.#nodes.length;
    while (this.#values.has(`${opType.toLowerCase()}_${n}`)) n++;
    return `${opType.toLowerCase()}_${n}`;
  }
}
