/**
 * The Open Inference Protocol gRPC transport: `inference.GRPCInferenceService` over one InferenceService.
 *
 * Thin by design: each handler decodes, calls the service, encodes. The model comes from the request's name
 * (`model_name` / `name`) or, when that is empty, from the `model-id` metadata entry. The call's deadline becomes
 * `InferContext.deadline` and, with the client's cancellation, aborts `InferContext.signal`. Errors leave as
 * `ERROR_CODES[code].grpc` with the error's message (`'internal error'` for `internal`); `overloaded` (and any
 * error with `retryAfter`) adds a `retry-after` trailer in seconds. A request that is not valid protobuf is
 * INVALID_ARGUMENT, not grpc-js's default INTERNAL. RPCs the proto does not define (repository, statistics)
 * are UNIMPLEMENTED, from grpc-js.
 *
 * @example
 * const server = createGrpcServer(service, { maxMessageBytes: config.maxRequestBytes, onError: log });
 * const port = await startGrpcServer(server, config.host, config.grpcPort);
 * // ...
 * await stopGrpcServer(server, config.shutdownTimeoutMs);
 */
import {
  Metadata,
  type MethodDefinition,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServiceDefinition,
  type StatusObject,
  type sendUnaryData,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { ERROR_CODES, GrpcStatus, ModelportError, toModelportError } from '../../../core/errors.ts';
import type { InferContext, InferenceService } from '../../inference-service.ts';
import type { ModelInferRequest__Output } from './generated/inference/ModelInferRequest.generated.ts';
import type { ModelInferResponse } from './generated/inference/ModelInferResponse.generated.ts';
import type { ModelMetadataRequest__Output } from './generated/inference/ModelMetadataRequest.generated.ts';
import type { ModelMetadataResponse } from './generated/inference/ModelMetadataResponse.generated.ts';
import type { ModelReadyRequest__Output } from './generated/inference/ModelReadyRequest.generated.ts';
import type { ModelReadyResponse } from './generated/inference/ModelReadyResponse.generated.ts';
import type { ServerLiveResponse } from './generated/inference/ServerLiveResponse.generated.ts';
import type { ServerMetadataResponse } from './generated/inference/ServerMetadataResponse.generated.ts';
import type { ServerReadyResponse } from './generated/inference/ServerReadyResponse.generated.ts';
import { decodeInferRequest, encodeInferResponse } from './grpc-codec.ts';
import { loadInferenceProto } from './proto.ts';

export interface GrpcServerOptions {
  /** Largest request message accepted, in bytes; bigger ones fail with RESOURCE_EXHAUSTED. Default 64 MiB. */
  maxMessageBytes?: number;
  /** Called with each error answered as INTERNAL (its cause intact) so the caller can log what the client never sees. */
  onError?: (error: ModelportError, method: string) => void;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** grpc-js keeps message limits in a signed 32-bit integer. */
const MAX_LIMIT = 2 ** 31 - 1;

/** Stands in for a request that failed to decode, so the handler can answer INVALID_ARGUMENT. */
const MALFORMED: object = Object.freeze({});

type Call = ServerUnaryCall<unknown, unknown>;

/** Builds the server with the GRPCInferenceService handlers; it does not listen (see startGrpcServer). */
export function createGrpcServer(service: InferenceService, options: GrpcServerOptions = {}): Server {
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes < 1 || maxMessageBytes > MAX_LIMIT) {
    throw new ModelportError('invalid_config', `maxMessageBytes must be an integer from 1 to ${MAX_LIMIT} bytes`, {
      field: 'maxMessageBytes',
    });
  }
  const onError = options.onError;

  function unary<Req, Res>(method: string, run: (request: Req, call: Call) => Res | Promise<Res>) {
    return (call: Call, callback: sendUnaryData<Res>): void => {
      const answer = (error: unknown) => callback(toStatus(error, method, onError));
      if (call.request === MALFORMED) {
        answer(new ModelportError('invalid_request', `the message is not a valid ${method} request`));
        return;
      }
      try {
        Promise.resolve(run(call.request as Req, call)).then((response) => callback(null, response), answer);
      } catch (error) {
        answer(error);
      }
    };
  }

  const handlers = {
    ServerLive: unary('ServerLive', (): ServerLiveResponse => ({ live: service.live() })),
    ServerReady: unary('ServerReady', (): ServerReadyResponse => ({ ready: service.ready() })),
    ServerMetadata: unary('ServerMetadata', (): ServerMetadataResponse => service.serverMetadata()),
    ModelReady: unary('ModelReady', async (req: ModelReadyRequest__Output, call): Promise<ModelReadyResponse> => {
      const model = target(req.name, req.version, call.metadata, 'name');
      return { ready: await service.modelReady(model.name, model.version) };
    }),
    ModelMetadata: unary(
      'ModelMetadata',
      async (req: ModelMetadataRequest__Output, call): Promise<ModelMetadataResponse> => {
        const model = target(req.name, req.version, call.metadata, 'name');
        const m = await service.modelMetadata(model.name, model.version);
        return { name: m.name, versions: m.versions, platform: m.platform, inputs: m.inputs, outputs: m.outputs };
      },
    ),
    ModelInfer: unary('ModelInfer', async (req: ModelInferRequest__Output, call): Promise<ModelInferResponse> => {
      const model = target(req.model_name, req.model_version, call.metadata, 'model_name');
      const { request, raw } = decodeInferRequest(req);
      const scope = callScope(call);
      try {
        const response = await service.infer(model.name, model.version, request, scope.context);
        return encodeInferResponse(response, raw);
      } finally {
        scope.close();
      }
    }),
  } satisfies UntypedServiceImplementation;

  const server = new Server({ 'grpc.max_receive_message_length': maxMessageBytes });
  server.addService(tolerantDefinition(loadInferenceProto().GRPCInferenceService.service), handlers);
  return server;
}

/**
 * Binds `host:port` (port 0 picks a free one) and resolves with the bound port; the server serves at once.
 * Credentials default to plaintext (TLS usually ends at the ingress).
 */
export function startGrpcServer(
  server: Server,
  host: string,
  port: number,
  credentials: ServerCredentials = ServerCredentials.createInsecure(),
): Promise<number> {
  const address = host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (error, bound) => (error ? reject(error) : resolve(bound)));
  });
}

/**
 * Stops accepting calls and waits up to `timeoutMs` (default 30 s) for those in flight, then cancels the rest
 * (their InferContext.signal aborts). Resolves once the server is down.
 */
export function stopGrpcServer(server: Server, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, timeoutMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** The model named in the request, else in the `model-id` metadata entry; an empty version means "choose". */
function target(name: string, version: string, metadata: Metadata, field: string) {
  const fromMetadata = metadata.get('model-id')[0];
  const model = name !== '' ? name : typeof fromMetadata === 'string' ? fromMetadata : '';
  if (model === '') {
    throw new ModelportError(
      'invalid_request',
      `${field} is empty; name the model in ${field} or in model-id metadata`,
      {
        field,
      },
    );
  }
  return { name: model, version: version === '' ? undefined : version };
}

/** The InferContext of one call: aborted on client cancellation or when the deadline passes. */
function callScope(call: Call): { context: InferContext; close(): void } {
  const controller = new AbortController();
  const cancel = () => controller.abort(new DOMException('the client cancelled the call', 'AbortError'));
  call.on('cancelled', cancel);
  if (call.cancelled) cancel();
  const raw = call.getDeadline();
  const deadline = raw instanceof Date ? raw.getTime() : raw;
  const context: InferContext = { protocol: 'grpc', signal: controller.signal, headers: headersOf(call.metadata) };
  let timer: NodeJS.Timeout | undefined;
  if (Number.isFinite(deadline)) {
    context.deadline = deadline;
    timer = setTimeout(
      () => controller.abort(new DOMException('the call deadline passed', 'TimeoutError')),
      Math.max(0, deadline - Date.now()),
    );
  }
  return {
    context,
    close() {
      clearTimeout(timer);
      call.off('cancelled', cancel);
    },
  };
}

/** Text metadata as lower-cased headers (the first value of each key); binary (`-bin`) entries are skipped. */
function headersOf(metadata: Metadata): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata.getMap())) {
    if (typeof value === 'string') headers[key] = value;
  }
  return headers;
}

function toStatus(error: unknown, method: string, onError: GrpcServerOptions['onError']): Partial<StatusObject> {
  const e = toModelportError(error);
  const code = ERROR_CODES[e.code].grpc;
  if (code === GrpcStatus.INTERNAL) onError?.(e, method);
  const metadata = new Metadata();
  const retryAfter = e.retryAfter ?? (e.code === 'overloaded' ? 1 : undefined);
  if (retryAfter !== undefined) metadata.set('retry-after', String(Math.max(0, Math.ceil(retryAfter))));
  return { code, details: e.code === 'internal' ? 'internal error' : e.message, metadata };
}

/** The service definition with request decoders that return MALFORMED instead of throwing. */
function tolerantDefinition(definition: ServiceDefinition): ServiceDefinition {
  const methods: Record<string, MethodDefinition<object, object>> = {};
  for (const [name, method] of Object.entries(definition)) {
    methods[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return method.requestDeserialize(bytes);
        } catch {
          return MALFORMED;
        }
      },
    };
  }
  return methods;
}
