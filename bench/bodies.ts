/**
 * The request every load point sends, built once per model and protocol: the same tensor (one row) as a V2 JSON
 * body, a V2 body with the binary tensor extension (binary output too), a V1 `instances` body and an encoded gRPC
 * `ModelInferRequest` with `raw_input_contents`.
 *
 * Example: `const bodies = requestBodies('fraud', [1, 30], values)`; `bodies.v2json.body` is the bytes to POST.
 */
import { generateTransactions } from '../examples/fraud/train.ts';
import { createRandom } from '../src/onnx-builder/index.ts';
import { loadInferencePackageDefinition, SERVICE_NAME } from '../src/serving/grpc/index.ts';

export type Protocol = 'v2json' | 'v2binary' | 'grpc' | 'v1';

export interface HttpBody {
  path: string;
  body: Buffer;
  headers: Record<string, string>;
}

export interface RequestBodies {
  v2json: HttpBody;
  v2binary: HttpBody;
  v1: HttpBody;
  /** A serialized `inference.ModelInferRequest`. */
  grpc: Buffer;
}

/** gRPC method path of ModelInfer, for raw (pre-serialized) calls. */
export const MODEL_INFER_PATH = `/${SERVICE_NAME}/ModelInfer`;

/** One fraud transaction (30 features), deterministic. */
export function fraudRow(): number[] {
  return generateTransactions(createRandom(7), 1).data[0] as number[];
}

/** One 28x28 image with values in [0, 1), deterministic. */
export function mnistImage(): number[] {
  const rng = createRandom(11);
  return Array.from({ length: 784 }, () => Math.fround(rng.uniform()));
}

/** Bodies for input `input` FP32 of `shape` (first dimension 1) holding `values`. */
export function requestBodies(model: string, shape: number[], values: number[]): RequestBodies {
  const data = Float32Array.from(values);
  const raw = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const json = Buffer.from(JSON.stringify({ inputs: [{ name: 'input', shape, datatype: 'FP32', data: values }] }));
  const header = Buffer.from(
    JSON.stringify({
      inputs: [{ name: 'input', shape, datatype: 'FP32', parameters: { binary_data_size: raw.length } }],
      parameters: { binary_data_output: true },
    }),
  );
  // V1 rows: the tensor without its batch dimension, nested.
  const nest = (flat: number[], dims: number[]): unknown =>
    dims.length <= 1
      ? flat
      : Array.from({ length: dims[0] as number }, (_, i) => {
          const size = flat.length / (dims[0] as number);
          return nest(flat.slice(i * size, (i + 1) * size), dims.slice(1));
        });
  const v1 = Buffer.from(JSON.stringify({ instances: [nest(values, shape.slice(1))] }));

  const method = loadInferencePackageDefinition()[SERVICE_NAME] as unknown as Record<
    string,
    { requestSerialize: (value: unknown) => Buffer }
  >;
  const grpc = (method['ModelInfer'] as { requestSerialize: (value: unknown) => Buffer }).requestSerialize({
    model_name: model,
    inputs: [{ name: 'input', datatype: 'FP32', shape }],
    raw_input_contents: [raw],
  });

  const infer = `/v2/models/${model}/infer`;
  return {
    v2json: { path: infer, body: json, headers: { 'content-type': 'application/json' } },
    v2binary: {
      path: infer,
      body: Buffer.concat([header, raw]),
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
    },
    v1: { path: `/v1/models/${model}:predict`, body: v1, headers: { 'content-type': 'application/json' } },
    grpc,
  };
}
