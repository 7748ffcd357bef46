/**
 * Test doubles for the gRPC transport's tests: an InferenceService whose models each do one checkable thing,
 * and a started server with a real grpc-js client built from the same proto.
 *
 * Models of `TestService`:
 * - `echo`: returns the inputs as outputs (only the requested ones when `outputs` is given), with the request's
 *   parameters; every decoded request is kept in `calls`;
 * - `sum`: one FP64 output `sum`, the sum of every element of every numeric input (BYTES count their lengths);
 * - `slow`: emits `entered` with its InferContext, waits for the signal to abort, emits `aborted` with the reason;
 * - `busy`: throws `overloaded` with retryAfter 3; `broken`: throws a plain Error holding a path (must not leak);
 * - `invalid`: throws `invalid_input`; `wrong-output`: returns an output whose data does not match its shape.
 *
 * `CASES` lists every datatype with typed contents and data, and `rawBytes` builds raw contents independently.
 */
import { EventEmitter } from 'node:events';
import { Client, credentials, loadPackageDefinition, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import {
  DATATYPE_SIZE,
  type Datatype,
  type InferRequest,
  type InferResponse,
  ModelportError,
  notFound,
  type TensorData,
} from '../../core/index.ts';
import type {
  InferContext,
  InferenceService,
  ModelMetadata,
  ResolvedModel,
  ServerMetadata,
} from '../inference-service.ts';
import type { ProtoGrpcType } from './generated/grpc_predict_v2.generated.ts';
import type { GRPCInferenceServiceDefinition } from './generated/inference/GRPCInferenceService.generated.ts';
import type { InferTensorContents } from './generated/inference/InferTensorContents.generated.ts';
import {
  createGrpcServer,
  type GrpcServer,
  type GrpcServerOptions,
  startGrpcServer,
  stopGrpcServer,
} from './grpc-server.ts';
import { inferenceService, loadInferencePackageDefinition, SERVICE_NAME } from './proto.ts';

/** The `inference` package as @grpc/grpc-js sees it: a client constructor (`new GRPCInferenceService(address, creds)`). */
export function loadInferenceProto(): ProtoGrpcType['inference'] {
  return (loadPackageDefinition(loadInferencePackageDefinition()) as unknown as ProtoGrpcType).inference;
}

const MODELS = ['echo', 'sum', 'slow', 'busy', 'broken', 'invalid', 'wrong-output'];

export interface RecordedCall {
  name: string;
  version: string | undefined;
  request: InferRequest;
  context: InferContext;
}

export class TestService implements InferenceService {
  readonly calls: RecordedCall[] = [];
  readonly events = new EventEmitter();

  live(): boolean {
    return true;
  }

  ready(): boolean {
    return true;
  }

  serverMetadata(): ServerMetadata {
    return { name: 'modelport', version: '0.1.0-test', extensions: ['model_repository'] };
  }

  async resolve(name: string, version?: string): Promise<ResolvedModel> {
    if (!MODELS.includes(name)) throw notFound(`model '${name}'`, 'model_name');
    return { name, version: version ?? '1', signature: { inputs: [], outputs: [] } };
  }

  async modelReady(name: string, version?: string): Promise<boolean> {
    await this.resolve(name, version);
    return name !== 'busy';
  }

  async modelMetadata(name: string, version?: string): Promise<ModelMetadata> {
    const model = await this.resolve(name, version);
    return {
      name: model.name,
      versions: ['1', '2'],
      platform: 'test',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3] }],
      outputs: [{ name: 'y', datatype: 'INT64', shape: [-1] }],
    };
  }

  async infer(
    name: string,
    version: string | undefined,
    request: InferRequest,
    context: InferContext,
  ): Promise<InferResponse> {
    const model = await this.resolve(name, version);
    this.calls.push({ name, version, request, context });
    const base = { model_name: model.name, model_version: model.version, ...(request.id ? { id: request.id } : {}) };
    switch (name) {
      case 'echo': {
        const wanted = request.outputs?.map((o) => o.name);
        const outputs = request.inputs.filter((t) => wanted === undefined || wanted.includes(t.name));
        return { ...base, outputs, ...(request.parameters ? { parameters: request.parameters } : {}) };
      }
      case 'sum': {
        let sum = 0;
        for (const t of request.inputs) {
          for (const v of t.data) sum += typeof v === 'object' ? v.byteLength : Number(v);
        }
        return { ...base, outputs: [{ name: 'sum', datatype: 'FP64', shape: [1], data: Float64Array.of(sum) }] };
      }
      case 'slow': {
        const signal = context.signal!;
        this.events.emit('entered', context);
        if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        this.events.emit('aborted', signal.reason);
        throw new ModelportError('timeout', 'the request was abandoned');
      }
      case 'busy':
        throw new ModelportError('overloaded', "the queue for model 'busy' is full; retry later", { retryAfter: 3 });
      case 'invalid':
        throw new ModelportError('invalid_input', "input 'x' must be FP32", { field: 'inputs[0]' });
      case 'wrong-output':
        return { ...base, outputs: [{ name: 'y', datatype: 'FP32', shape: [4], data: new Float32Array(2) }] };
      default:
        throw new Error('database at /var/lib/modelport/secret.db exploded');
    }
  }
}

type Methods = GRPCInferenceServiceDefinition;
type MethodName = 'ServerLive' | 'ServerReady' | 'ServerMetadata' | 'ModelReady' | 'ModelMetadata' | 'ModelInfer';
type RequestOf<K extends MethodName> = Parameters<Methods[K]['requestSerialize']>[0];
type ResponseOf<K extends MethodName> = ReturnType<Methods[K]['responseDeserialize']>;

export interface CallOptions {
  metadata?: Record<string, string>;
  deadline?: Date;
  /** Receives the call as soon as it starts, e.g. to cancel it. */
  onCall?: (call: { cancel(): void }) => void;
}

/** A running server on 127.0.0.1:0 and a client connected to it. */
export interface TestServer {
  server: GrpcServer;
  port: number;
  client: Client;
  /** Calls one RPC; rejects with the ServiceError (its `code`, `details`, trailing `metadata`). */
  call<K extends MethodName>(method: K, request: RequestOf<K>, options?: CallOptions): Promise<ResponseOf<K>>;
  /** Sends `bytes` unencoded as the request of `method` (any name, defined or not); resolves with the status code. */
  callRaw(method: string, bytes: Buffer): Promise<number>;
  close(): Promise<void>;
}

export async function startTestServer(service: InferenceService, options: GrpcServerOptions = {}): Promise<TestServer> {
  const server = createGrpcServer(service, options);
  const port = await startGrpcServer(server, '127.0.0.1', 0);
  const definition = inferenceService();
  const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  return {
    server,
    port,
    client,
    call(method, request, options = {}) {
      const def = definition[method] as unknown as Methods[typeof method];
      const metadata = new Metadata();
      for (const [key, value] of Object.entries(options.metadata ?? {})) metadata.set(key, value);
      return new Promise((resolve, reject) => {
        const call = client.makeUnaryRequest(
          def.path,
          def.requestSerialize as (value: RequestOf<typeof method>) => Buffer,
          def.responseDeserialize as (value: Buffer) => ResponseOf<typeof method>,
          request,
          metadata,
          options.deadline ? { deadline: options.deadline } : {},
          (error, response) => (error ? reject(error) : resolve(response!)),
        );
        options.onCall?.(call);
      });
    },
    callRaw(method, bytes) {
      return new Promise((resolve) => {
        client.makeUnaryRequest(
          `/${SERVICE_NAME}/${method}`,
          (b: Buffer) => b,
          (b: Buffer) => b,
          bytes,
          (error) => resolve(error ? error.code : status.OK),
        );
      });
    },
    async close() {
      client.close();
      await stopGrpcServer(server, 1000);
    },
  };
}

/** The status of a failed call; fails the test if the call succeeded. */
export async function failure(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

export interface DatatypeCase {
  datatype: Datatype;
  /** Typed contents as a client sends them and reads them back (64-bit as decimal strings). */
  contents?: InferTensorContents;
  data: TensorData;
}

/** Every datatype, with its extremes; FP16 has no typed field. */
export const CASES: DatatypeCase[] = [
  { datatype: 'BOOL', contents: { bool_contents: [true, false, true] }, data: Uint8Array.of(1, 0, 1) },
  { datatype: 'UINT8', contents: { uint_contents: [0, 255, 7] }, data: Uint8Array.of(0, 255, 7) },
  { datatype: 'UINT16', contents: { uint_contents: [0, 65535, 7] }, data: Uint16Array.of(0, 65535, 7) },
  { datatype: 'UINT32', contents: { uint_contents: [0, 4294967295, 7] }, data: Uint32Array.of(0, 4294967295, 7) },
  {
    datatype: 'UINT64',
    contents: { uint64_contents: ['0', '18446744073709551615', '9007199254740993'] },
    data: BigUint64Array.of(0n, 2n ** 64n - 1n, 9007199254740993n),
  },
  { datatype: 'INT8', contents: { int_contents: [-128, 127, 0] }, data: Int8Array.of(-128, 127, 0) },
  { datatype: 'INT16', contents: { int_contents: [-32768, 32767, -1] }, data: Int16Array.of(-32768, 32767, -1) },
  {
    datatype: 'INT32',
    contents: { int_contents: [-2147483648, 2147483647, -1] },
    data: Int32Array.of(-2147483648, 2147483647, -1),
  },
  {
    datatype: 'INT64',
    contents: { int64_contents: ['-9223372036854775808', '9223372036854775807', '-9007199254740993'] },
    data: BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n, -9007199254740993n),
  },
  { datatype: 'FP16', data: Uint16Array.of(0x3c00, 0xc000, 0x7bff) },
  { datatype: 'FP32', contents: { fp32_contents: [1.5, -0.25, 65504] }, data: Float32Array.of(1.5, -0.25, 65504) },
  { datatype: 'FP64', contents: { fp64_contents: [Math.PI, -1e300, 0] }, data: Float64Array.of(Math.PI, -1e300, 0) },
  {
    datatype: 'BYTES',
    contents: { bytes_contents: [Buffer.from('hé'), Buffer.alloc(0), Buffer.from([0, 255])] },
    data: [Buffer.from('hé'), Buffer.alloc(0), Buffer.from([0, 255])],
  },
];

/** Little-endian raw bytes built element by element with a DataView, independently of the codec. */
export function rawBytes(datatype: Datatype, data: TensorData): Buffer {
  if (datatype === 'BYTES') {
    return Buffer.concat(
      (data as Uint8Array[]).flatMap((e) => {
        const prefix = Buffer.alloc(4);
        prefix.writeUInt32LE(e.byteLength);
        return [prefix, e];
      }),
    );
  }
  const size = DATATYPE_SIZE[datatype];
  const out = Buffer.alloc(data.length * size);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  Array.from(data as ArrayLike<number | bigint>).forEach((v, i) => {
    const o = i * size;
    if (datatype === 'INT64') view.setBigInt64(o, v as bigint, true);
    else if (datatype === 'UINT64') view.setBigUint64(o, v as bigint, true);
    else if (datatype === 'FP32') view.setFloat32(o, v as number, true);
    else if (datatype === 'FP64') view.setFloat64(o, v as number, true);
    else if (datatype === 'INT8') view.setInt8(o, v as number);
    else if (datatype === 'INT16') view.setInt16(o, v as number, true);
    else if (datatype === 'INT32') view.setInt32(o, v as number, true);
    else if (size === 1) view.setUint8(o, v as number);
    else if (size === 2) view.setUint16(o, v as number, true);
    else view.setUint32(o, v as number, true);
  });
  return out;
}
