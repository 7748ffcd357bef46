/**
 * The Open Inference Protocol gRPC transport: `inference.GRPCInferenceService` over one InferenceService, served
 * by node:http2 directly (unary calls are all the proto has, and @grpc/grpc-js's server machinery cost about as
 * much CPU per call as the inference path itself; see bench/serving.ts).
 *
 * Thin by design: each handler decodes, calls the service, encodes. The model comes from the request's name
 * (`model_name` / `name`) or, when that is empty, from the `model-id` metadata entry. `grpc-timeout` becomes
 * `InferContext.deadline` and, like the client's cancellation, aborts `InferContext.signal`; a call still running
 * at its deadline is answered DEADLINE_EXCEEDED. Errors leave as `ERROR_CODES[code].grpc` with the error's message
 * (`'internal error'` for `internal`); `overloaded` (and any error with `retryAfter`) adds a `retry-after` trailer
 * in seconds. A request that is not valid protobuf is INVALID_ARGUMENT; RPCs the proto does not define
 * (repository, statistics) are UNIMPLEMENTED.
 *
 * @example
 * const server = createGrpcServer(service, { maxMessageBytes: config.maxRequestBytes, log });
 * const port = await startGrpcServer(server, config.host, config.grpcPort);
 * // ...
 * await stopGrpcServer(server, config.shutdownTimeoutMs);
 */
import {
  constants,
  createServer,
  type Http2Server,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { ERROR_CODES, GrpcStatus, ModelportError, SlotList, toModelportError } from '../../core/index.ts';
import { LISTEN_BACKLOG } from '../../http/index.ts';
import type { Logger } from '../../logging/index.ts';
import type { InferContext, InferenceService } from '../inference-service.ts';
import { REQUEST_ID_HEADER, requestIdFor } from '../inference-service.ts';
import type { ModelInferRequest__Output } from './generated/inference/ModelInferRequest.generated.ts';
import type { ModelInferResponse } from './generated/inference/ModelInferResponse.generated.ts';
import type { ModelMetadataRequest__Output } from './generated/inference/ModelMetadataRequest.generated.ts';
import type { ModelReadyRequest__Output } from './generated/inference/ModelReadyRequest.generated.ts';
import { decodeInferRequest, encodeInferResponse } from './grpc-codec.ts';
import {
  ACCEPT_ENCODING,
  declaredLength,
  encodeStatusMessage,
  frameMessage,
  framePrefix,
  parseTimeout,
  peekModelTarget,
  unaryMessage,
  WireError,
  WireStatus,
} from './grpc-wire.ts';
import { fastDecodeInferRequest, fastEncodeInferResponse } from './infer-proto.ts';
import { inferenceService, SERVICE_NAME } from './proto.ts';

export interface GrpcServerOptions {
  /** Largest request message accepted, in bytes; bigger ones fail with RESOURCE_EXHAUSTED. Default 64 MiB. */
  maxMessageBytes?: number;
  /** Each error answered as INTERNAL is logged here (its cause intact): what the client never sees. */
  log?: Logger;
  /** Told of each call refused for its credentials (UNAUTHENTICATED, PERMISSION_DENIED), for the audit log. */
  onDenied?: (error: ModelportError, method: string) => void;
  /**
   * Checks the caller (its `authorization` metadata) for every method but ServerLive and ServerReady: `model`
   * names the model, undefined a server-level call. Throws or rejects to refuse (UNAUTHENTICATED,
   * PERMISSION_DENIED). Absent: every caller may call.
   */
  authorize?: (call: { headers: IncomingHttpHeaders }, model: string | undefined) => undefined | Promise<void>;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** The wire format keeps a message's length in an unsigned 32-bit prefix; stay within a signed one. */
const MAX_LIMIT = 2 ** 31 - 1;

/** Per-stream and per-connection HTTP/2 receive windows: a 1 MiB tensor arrives without waiting on WINDOW_UPDATEs. */
const STREAM_WINDOW = 1 << 20;
const SESSION_WINDOW = 8 << 20;

/** What a handler sees of its call besides the request message. */
interface CallInfo {
  readonly headers: IncomingHttpHeaders;
  readonly context: InferContext;
  /** The call was authorized and admitted from its serialized message, before the decode. */
  admitted?: boolean;
}

interface Method {
  readonly name: string;
  readonly decode: (bytes: Buffer) => unknown;
  /** The response message, framed (the 5-byte gRPC prefix). */
  readonly encode: (message: unknown) => Buffer;
  readonly run: (request: never, call: CallInfo) => unknown;
  /**
   * Authorizes and admits from the serialized message, before it is decoded (so a full queue refuses without
   * parsing the tensors); resolves true when it did, false to leave it to `run`.
   */
  readonly admit?: (bytes: Buffer, call: CallInfo) => Promise<boolean>;
}

/** A gRPC server built by createGrpcServer; start and stop it with startGrpcServer / stopGrpcServer. */
export interface GrpcServer {
  readonly http2: Http2Server;
  /** Open connections, closed gracefully (GOAWAY) on stop. */
  readonly sessions: Set<ServerHttp2Session>;
  /** Calls being answered: aborted, with their streams cancelled, when a stop times out. */
  readonly calls: SlotList<InFlightCall>;
}

/** A call being answered (listed in a SlotList, not a Set: see SlotList). */
interface InFlightCall {
  readonly controller: AbortController;
  readonly stream: ServerHttp2Stream;
  /** Its slot in the server's list of calls, -1 once removed. */
  slot: number;
}

/** How many of a connection's streams close between two renewals of its Map of streams (renewStreamTable). */
const STREAM_TABLE_RENEWAL = 64;
const streamsClosed = new WeakMap<Http2Session, number>();
/** The key of a Node Http2Session's private state (`kState`); null when this Node has none. */
let sessionStateKey: symbol | null | undefined;

/**
 * Every STREAM_TABLE_RENEWAL closed streams of a connection, copies Node's Map of its open streams (the session's
 * private `[kState].streams`) into a fresh Map of the same class. The Map has the problem SlotList avoids: it gains and
 * loses an entry per call, a mark-compact moves its table to the old generation, and from there its replaced tables
 * chain, so every stream of the connection (about 2 KB each with its stream states) outlived the scavenges until
 * the next mark-compact: most of what gRPC still promoted per call. A fresh Map is not linked to the old one's
 * tables, so a chain ends with the Map it belongs to. Called from a stream's 'close' event (a tick of its own, where
 * no Node frame holds the old Map); a Node whose session keeps no such Map is left alone.
 */
function renewStreamTable(session: Http2Session): void {
  const closed = (streamsClosed.get(session) ?? 0) + 1;
  if (closed < STREAM_TABLE_RENEWAL) {
    streamsClosed.set(session, closed);
    return;
  }
  streamsClosed.set(session, 0);
  sessionStateKey ??= Object.getOwnPropertySymbols(session).find((key) => key.description === 'state') ?? null;
  const state = sessionStateKey ? (session as unknown as Record<symbol, { streams?: unknown }>)[sessionStateKey] : null;
  const streams = state?.streams as Map<number, unknown> | undefined;
  // Node's own Map class (a primordials SafeMap, which is no `instanceof Map`).
  if (!state || typeof streams?.get !== 'function' || typeof streams.size !== 'number') return;
  state.streams = new (streams.constructor as MapConstructor)(streams);
}

/** Builds the server with the GRPCInferenceService handlers; it does not listen (see startGrpcServer). */
export function createGrpcServer(service: InferenceService, options: GrpcServerOptions = {}): GrpcServer {
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes < 1 || maxMessageBytes > MAX_LIMIT) {
    throw new ModelportError('invalid_config', `maxMessageBytes must be an integer from 1 to ${MAX_LIMIT} bytes`, {
      field: 'maxMessageBytes',
    });
  }
  const authorize = options.authorize ?? (() => undefined);
  const runs: Record<string, Method['run']> = {
    ServerLive: () => ({ live: service.live() }),
    ServerReady: () => ({ ready: service.ready() }),
    ServerMetadata: async (_req: unknown, call: CallInfo) => {
      await authorize(call, undefined);
      return service.serverMetadata();
    },
    ModelReady: async (req: ModelReadyRequest__Output, call: CallInfo) => {
      const model = target(req.name, req.version, call.headers, 'name');
      await authorize(call, model.name);
      return { ready: await service.modelReady(model.name, model.version) };
    },
    ModelMetadata: async (req: ModelMetadataRequest__Output, call: CallInfo) => {
      const model = target(req.name, req.version, call.headers, 'name');
      await authorize(call, model.name);
      const m = await service.modelMetadata(model.name, model.version);
      return { name: m.name, versions: m.versions, platform: m.platform, inputs: m.inputs, outputs: m.outputs };
    },
    ModelInfer: async (req: ModelInferRequest__Output, call: CallInfo) => {
      const model = target(req.model_name, req.model_version, call.headers, 'model_name');
      if (!call.admitted) {
        const allowed = authorize(call, model.name);
        if (allowed) await allowed;
        // A full queue refuses (RESOURCE_EXHAUSTED) before the tensors are converted and checked.
        await service.admit?.(model.name, model.version, call.context);
      }
      const { request, raw } = decodeInferRequest(req);
      call.context.requestId = requestIdFor(request.id, call.context.headers);
      return encodeInferResponse(await service.infer(model.name, model.version, request, call.context), raw);
    },
  };
  // ModelInfer is admitted (queue depth) from the model named in its serialized message, as REST admits from the
  // URL before reading the body: under overload a refusal costs no protobuf decode.
  const admitInfer = async (bytes: Buffer, call: CallInfo): Promise<boolean> => {
    const peeked = peekModelTarget(bytes);
    if (!peeked) return false;
    const model = target(peeked.name, peeked.version, call.headers, 'model_name');
    const allowed = authorize(call, model.name);
    if (allowed) await allowed;
    await service.admit?.(model.name, model.version, call.context);
    return true;
  };
  // Built at the first call, not here: reading the proto loads protobufjs (about 3.5 MB resident), which a server
  // whose clients speak only REST never needs.
  let methods: Map<string, Method> | undefined;
  const methodAt = (path: string): Method | undefined => {
    methods ??= serviceMethods(runs, admitInfer);
    return methods.get(path);
  };

  const http2 = createServer({
    settings: { initialWindowSize: STREAM_WINDOW },
    // Counts bytes nghttp2 holds for a connection; the messages themselves are bounded by maxMessageBytes.
    maxSessionMemory: 64,
  });
  const server: GrpcServer = { http2, sessions: new Set(), calls: new SlotList<InFlightCall>() };
  http2.on('session', (session) => {
    server.sessions.add(session);
    session.once('close', () => server.sessions.delete(session));
    session.on('error', () => {}); // a broken connection ends its calls; it is not the server's error
    session.once('connect', () => session.setLocalWindowSize(SESSION_WINDOW));
  });
  http2.on('sessionError', () => {});
  http2.on('stream', (stream: ServerHttp2Stream, headers) => {
    stream.on('error', () => {});
    if (headers[':method'] !== 'POST' || !headers['content-type']?.startsWith('application/grpc')) {
      // The gRPC spec answers a non-gRPC request at the HTTP level.
      stream.respond({ ':status': headers[':method'] !== 'POST' ? 405 : 415 }, { endStream: true });
      return;
    }
    const method = methodAt(headers[':path'] ?? '');
    if (!method) {
      sendStatus(stream, WireStatus.UNIMPLEMENTED, `${headers[':path']} is not a method of ${SERVICE_NAME}`);
      return;
    }
    serveCall(server, stream, headers, method, maxMessageBytes, options.log, options.onDenied);
  });
  return server;
}

/** The proto's methods that have a handler in `runs`, by path, with their codecs. */
function serviceMethods(runs: Record<string, Method['run']>, admitInfer: Method['admit']): Map<string, Method> {
  const methods = new Map<string, Method>();
  for (const [name, definition] of Object.entries(inferenceService())) {
    const run = runs[name];
    if (!run) continue; // a proto method without a handler stays UNIMPLEMENTED
    const decode = definition.requestDeserialize as Method['decode'];
    const encode = definition.responseSerialize as Method['encode'];
    if (name === 'ModelInfer') {
      // The common messages (raw tensors, no parameters) skip protobufjs; anything else takes the full codec.
      methods.set(definition.path, {
        name,
        decode: (bytes) => fastDecodeInferRequest(bytes) ?? decode(bytes),
        encode: (message) => {
          const fast = fastEncodeInferResponse(message as ModelInferResponse, 5);
          return fast ? framePrefix(fast) : frameMessage(encode(message));
        },
        run,
        admit: admitInfer,
      });
    } else methods.set(definition.path, { name, decode, encode: (message) => frameMessage(encode(message)), run });
  }
  return methods;
}

/** Reads one unary call's message, runs its method and answers; every path ends in exactly one answer. */
function serveCall(
  server: GrpcServer,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  method: Method,
  maxMessageBytes: number,
  log: GrpcServerOptions['log'],
  onDenied?: GrpcServerOptions['onDenied'],
): void {
  const controller = new AbortController();
  const entry: InFlightCall = { controller, stream, slot: -1 };
  let answered = false;
  let timer: NodeJS.Timeout | undefined;
  const finish = () => {
    answered = true;
    clearTimeout(timer);
    server.calls.delete(entry);
  };
  const fail = (error: unknown) => {
    if (answered) return;
    finish();
    const e = toModelportError(error);
    const code = ERROR_CODES[e.code].grpc;
    if (code === GrpcStatus.INTERNAL) log?.error('gRPC inference failed', { err: e, method: method.name });
    if (e.code === 'unauthenticated' || e.code === 'forbidden') onDenied?.(e, method.name);
    const retryAfter = e.retryAfter ?? (e.code === 'overloaded' ? 1 : undefined);
    const extra: Record<string, string> = context.requestId ? { [REQUEST_ID_HEADER]: context.requestId } : {};
    if (retryAfter !== undefined) extra['retry-after'] = String(Math.max(0, Math.ceil(retryAfter)));
    sendStatus(stream, code, e.code === 'internal' ? 'internal error' : e.message, extra);
  };
  const failWire = (error: WireError) => {
    if (answered) return;
    finish();
    sendStatus(stream, error.status, error.message);
  };
  server.calls.add(entry);
  const session = stream.session;
  stream.once('close', () => {
    if (session) renewStreamTable(session);
    // Node keeps a closed stream reachable until a mark-compact (its session's Map of streams has the Set's
    // problem above): the stream lets go of this call's closures and request bytes so that only it waits.
    stream.off('data', onData);
    stream.off('end', onEnd);
    chunks.length = 0;
    if (answered) return;
    finish();
    controller.abort(new DOMException('the client cancelled the call', 'AbortError'));
  });

  const context: InferContext = { protocol: 'grpc', signal: controller.signal, headers: metadataHeaders(headers) };
  const timeoutMs = parseTimeout(headers['grpc-timeout'] as string | undefined);
  if (timeoutMs !== undefined) {
    context.deadline = Date.now() + timeoutMs;
    timer = setTimeout(() => {
      controller.abort(new DOMException('the call deadline passed', 'TimeoutError'));
      fail(new ModelportError('timeout', 'the call deadline passed'));
    }, timeoutMs);
  }

  const chunks: Buffer[] = [];
  let size = 0;
  const onData = (chunk: Buffer) => {
    if (answered) return; // refused already: drop the rest of the body
    size += chunk.length;
    const length = chunks.length === 0 ? declaredLength(chunk) : undefined;
    if (size > 5 + maxMessageBytes || (length !== undefined && length > maxMessageBytes)) {
      chunks.length = 0;
      failWire(
        new WireError(
          GrpcStatus.RESOURCE_EXHAUSTED,
          `the request message is larger than the limit of ${maxMessageBytes} bytes`,
        ),
      );
      return;
    }
    chunks.push(chunk);
  };
  stream.on('data', onData);
  const call: CallInfo = { headers, context };
  const onEnd = () => {
    if (answered) return;
    let bytes: Buffer;
    try {
      const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
      bytes = unaryMessage(body, headers['grpc-encoding'] as string | undefined, maxMessageBytes);
    } catch (error) {
      if (error instanceof WireError) failWire(error);
      else fail(error);
      return;
    }
    if (method.admit) {
      method.admit(bytes, call).then((admitted) => {
        call.admitted = admitted;
        if (!answered) decodeAndRun(bytes);
      }, fail);
    } else decodeAndRun(bytes);
  };
  stream.once('end', onEnd);

  const decodeAndRun = (bytes: Buffer) => {
    let request: unknown;
    try {
      request = method.decode(bytes);
    } catch {
      failWire(new WireError(GrpcStatus.INVALID_ARGUMENT, `the message is not a valid ${method.name} request`));
      return;
    }
    const reply = (response: unknown) => {
      if (answered) return;
      let bytes: Buffer;
      try {
        bytes = method.encode(response);
      } catch (error) {
        fail(error);
        return;
      }
      finish();
      sendMessage(stream, bytes, context.requestId);
    };
    try {
      const result = method.run(request as never, call);
      if (result instanceof Promise) result.then(reply, fail);
      else reply(result);
    } catch (error) {
      fail(error);
    }
  };
}

const RESPONSE_HEADERS = Object.freeze({
  ':status': 200,
  'content-type': 'application/grpc',
  'grpc-accept-encoding': ACCEPT_ENCODING,
});
const OK_TRAILERS = Object.freeze({ 'grpc-status': '0' });

/** Answers with one (framed) message; an inference call's id goes in the trailers (`modelport-request-id`). */
function sendMessage(stream: ServerHttp2Stream, framed: Buffer, requestId?: string): void {
  if (stream.destroyed || stream.headersSent) return;
  stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
  const trailers = requestId === undefined ? OK_TRAILERS : { ...OK_TRAILERS, [REQUEST_ID_HEADER]: requestId };
  stream.once('wantTrailers', () => stream.sendTrailers(trailers));
  stream.end(framed);
}

/** A trailers-only answer: the status in the one HEADERS frame that ends the stream. */
function sendStatus(stream: ServerHttp2Stream, code: number, message: string, extra?: Record<string, string>): void {
  if (stream.destroyed || stream.headersSent) return;
  stream.respond(
    { ...RESPONSE_HEADERS, 'grpc-status': String(code), 'grpc-message': encodeStatusMessage(message), ...extra },
    { endStream: true },
  );
}

/**
 * Binds `host:port` (port 0 picks a free one) and resolves with the bound port; the server serves at once.
 * Plaintext HTTP/2 (prior knowledge, as gRPC clients speak it): TLS usually ends at the ingress.
 */
export function startGrpcServer(server: GrpcServer, host: string, port: number): Promise<number> {
  const bindHost = host.startsWith('[') ? host.slice(1, -1) : host;
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.http2.once('error', onError);
    server.http2.listen({ port, host: bindHost, backlog: LISTEN_BACKLOG }, () => {
      server.http2.off('error', onError);
      resolve((server.http2.address() as AddressInfo).port);
    });
  });
}

/**
 * Stops accepting calls and waits up to `timeoutMs` (default 30 s) for those in flight, then cancels the rest
 * (their InferContext.signal aborts). Resolves once the server is down.
 */
export function stopGrpcServer(server: GrpcServer, timeoutMs = 30_000): Promise<void> {
  if (!server.http2.listening) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      for (const { controller, stream } of server.calls.list()) {
        controller.abort(new DOMException('the server is shutting down', 'AbortError'));
        stream.close(constants.NGHTTP2_CANCEL);
      }
      for (const session of server.sessions) session.destroy();
    }, timeoutMs);
    server.http2.close(() => {
      clearTimeout(timer);
      resolve();
    });
    for (const session of server.sessions) session.close();
  });
}

/** The model named in the request, else in the `model-id` metadata entry; an empty version means "choose". */
function target(name: string, version: string, headers: IncomingHttpHeaders, field: string) {
  const fromMetadata = headers['model-id'];
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

/** gRPC's own headers, which are transport, not metadata. */
const TRANSPORT_HEADERS = new Set(['content-type', 'te', 'grpc-timeout', 'grpc-encoding', 'grpc-accept-encoding']);

/** Text metadata as lower-cased headers; pseudo-headers, transport headers and binary (`-bin`) entries are left out. */
function metadataHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key in headers) {
    const value = headers[key];
    if (typeof value !== 'string' || key.startsWith(':') || key.endsWith('-bin') || TRANSPORT_HEADERS.has(key))
      continue;
    out[key] = value;
  }
  return out;
}
