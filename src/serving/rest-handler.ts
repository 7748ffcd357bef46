/**
 * The REST inference transports: Open Inference Protocol V2 (JSON and binary tensors), KServe V1 / TF Serving
 * `:predict`, and Seldon's `/api/v1.0/predictions` and `/predict`. Each route decodes with its codec, calls the one
 * `InferenceService`, and encodes; errors take each protocol's own body with the status from the error catalogue.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { InferRequest } from '../core/index.ts';
import { ModelportError, toModelportError } from '../core/index.ts';
import { errorHeaders, readBody, tooLarge } from '../http/index.ts';
import { type Logger, requestId } from '../logging/index.ts';
import {
  decodeSeldon,
  decodeV1,
  decodeV2Request,
  encodeSeldon,
  encodeV1,
  encodeV1ModelStatus,
  encodeV2Response,
  HEADER_LENGTH_HEADER,
  seldonErrorBody,
} from '../protocols/index.ts';
import type { InferContext, InferenceService, Protocol } from './inference-service.ts';
import { REQUEST_ID_HEADER, requestIdFor } from './inference-service.ts';

export interface RestHandlerOptions {
  maxRequestBytes: number;
  /** `internal` and `worker_failed` errors are logged here with their stack and the request id. */
  log: Logger;
  /** Told of every call refused for its credentials (401/403), for the audit log. */
  onDenied?: (req: IncomingMessage, error: ModelportError, path: string) => void;
  /**
   * Checks the caller before the body is read: `model` names the model, undefined a server-level call. Returns
   * undefined when the call may go (synchronously, on the hot path), or a promise; throws or rejects to refuse.
   * Absent: every caller may call (the embedded single-user mode).
   */
  authorize?: (req: IncomingMessage, model: string | undefined) => undefined | Promise<void>;
  /** Tracing is on: answers carry their trace in a `traceresponse` header (W3C Trace Context level 2). */
  tracing?: boolean;
}

type ErrorStyle = 'v2' | 'seldon';

const V2_MODEL = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(\/ready|\/infer)?\/?$/;
const V1_MODEL = /^\/v1\/models\/([^/:]+)(:predict)?\/?$/;

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ModelportError('invalid_request', 'the model name in the path is not valid percent-encoding', {
      field: 'model',
    });
  }
}

function send(
  res: ServerResponse,
  status: number,
  body: string | Buffer | Buffer[],
  headers: Record<string, string | number>,
) {
  const length = Array.isArray(body) ? body.reduce((n, b) => n + b.length, 0) : Buffer.byteLength(body);
  res.writeHead(status, { ...headers, 'content-length': length });
  if (Array.isArray(body)) {
    for (const part of body) res.write(part);
    res.end();
  } else res.end(body);
}

const sendJsonText = (res: ServerResponse, status: number, text: string) =>
  send(res, status, text, { 'content-type': 'application/json' });

/**
 * The id of each call being answered (known once its body is decoded), for the header of an error answer too; a
 * property under a private symbol, as a WeakMap entry per request costs ten times more.
 */
const CALL_ID = Symbol('modelport.callId');
type WithCallId = ServerResponse & { [CALL_ID]?: string };

function sendFailure(res: ServerResponse, error: unknown, style: ErrorStyle, log: RestHandlerOptions['log']) {
  const e = toModelportError(error);
  if (e.code === 'internal' || e.code === 'worker_failed') {
    log.child({ requestId: requestId(res.req.headers) }).error('inference failed', { err: error });
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers = {
    'content-type': 'application/json',
    [REQUEST_ID_HEADER]:
      (res as WithCallId)[CALL_ID] ?? requestIdFor(undefined, res.req.headers as InferContext['headers']),
    ...errorHeaders(res, e),
  };
  const body = style === 'seldon' ? seldonErrorBody(e) : JSON.stringify({ error: e.message });
  send(res, e.httpStatus, body, headers);
}

/** An AbortSignal that fires when the client goes away before the answer is written. */
function clientSignal(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(new ModelportError('timeout', 'the client closed the connection'));
  });
  return controller.signal;
}

/** The call's context, with its id (`requestIdFor`: the V2 `id`, `x-request-id`, or a fresh one). */
function context(
  req: IncomingMessage,
  res: ServerResponse,
  protocol: Protocol,
  traced: boolean,
  id?: string,
): InferContext {
  const headers = req.headers as InferContext['headers'];
  const requestId = requestIdFor(id, headers);
  (res as WithCallId)[CALL_ID] = requestId;
  const ctx: InferContext = { protocol, signal: clientSignal(res), headers, requestId };
  if (traced) ctx.onTrace = (traceparent) => res.setHeader('traceresponse', traceparent);
  return ctx;
}

export function createRestHandler(service: InferenceService, options: RestHandlerOptions) {
  const { maxRequestBytes, log } = options;
  const traced = options.tracing === true;
  const authorize = options.authorize ?? (() => undefined);

  /**
   * Everything that can refuse a request from its headers alone, before a byte of its body is read: a declared
   * size past the limit (413), then the model's admission (404 for an unknown name, 429 for a full queue).
   */
  async function admit(req: IncomingMessage, name: string, version: string | undefined): Promise<void> {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > maxRequestBytes) throw tooLarge(maxRequestBytes);
    await service.admit?.(name, version, { headers: req.headers as InferContext['headers'] });
  }

  async function v2(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (path === '/v2' || path === '/v2/') {
      await authorize(req, undefined);
      return sendJsonText(res, 200, JSON.stringify(service.serverMetadata()));
    }
    if (path === '/v2/health/live')
      return sendJsonText(res, service.live() ? 200 : 503, JSON.stringify({ live: service.live() }));
    if (path === '/v2/health/ready') {
      return sendJsonText(res, service.ready() ? 200 : 503, JSON.stringify({ ready: service.ready() }));
    }
    const match = V2_MODEL.exec(path);
    if (!match) throw new ModelportError('not_found', `no inference route matches ${path}`);
    const name = decode(match[1]!);
    const version = match[2] === undefined ? undefined : decode(match[2]);
    const action = match[3];
    const allowed = authorize(req, name);
    if (allowed) await allowed;
    if (action === '/infer') {
      if (req.method !== 'POST') throw new ModelportError('method_not_allowed', 'use POST for infer');
      await admit(req, name, version);
      const body = await readBody(req, maxRequestBytes);
      const request = decodeV2Request(body, req.headers);
      const binary = req.headers[HEADER_LENGTH_HEADER] !== undefined;
      const ctx = context(req, res, binary ? 'v2-binary' : 'v2-json', traced, request.id);
      const response = await service.infer(name, version, request, ctx);
      const encoded = encodeV2Response(response, request);
      const headers: Record<string, string | number> = {
        'content-type': encoded.contentType,
        [REQUEST_ID_HEADER]: ctx.requestId!,
      };
      if (encoded.headerLength !== undefined) headers[HEADER_LENGTH_HEADER] = encoded.headerLength;
      return send(res, 200, encoded.body, headers);
    }
    if (req.method !== 'GET')
      throw new ModelportError('method_not_allowed', 'use GET for model metadata and readiness');
    if (action === '/ready') {
      const ready = await service.modelReady(name, version);
      return sendJsonText(res, ready ? 200 : 503, JSON.stringify({ name, ready }));
    }
    return sendJsonText(res, 200, JSON.stringify(await service.modelMetadata(name, version)));
  }

  async function v1(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const match = V1_MODEL.exec(path);
    if (!match) throw new ModelportError('not_found', `no inference route matches ${path}`);
    const name = decode(match[1]!);
    await authorize(req, name);
    if (!match[2]) {
      if (req.method !== 'GET') throw new ModelportError('method_not_allowed', 'use GET for model status');
      const ready = await service.modelReady(name);
      return sendJsonText(res, ready ? 200 : 503, encodeV1ModelStatus(name, ready));
    }
    if (req.method !== 'POST') throw new ModelportError('method_not_allowed', 'use POST for :predict');
    await admit(req, name, undefined);
    const body = await readBody(req, maxRequestBytes);
    const resolved = await service.resolve(name);
    const { request, format } = decodeV1(body, resolved.signature, resolved.friendly);
    const ctx = context(req, res, 'v1', traced);
    const response = await service.infer(name, undefined, request, ctx);
    return send(res, 200, encodeV1(response, format, resolved.friendly), {
      'content-type': 'application/json',
      [REQUEST_ID_HEADER]: ctx.requestId!,
    });
  }

  async function seldon(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') throw new ModelportError('method_not_allowed', 'use POST for predictions');
    const name = req.headers['model-id'];
    if (typeof name !== 'string' || name === '') {
      throw new ModelportError('invalid_request', "name the model in the 'model-id' header", { field: 'model-id' });
    }
    await authorize(req, name);
    await admit(req, name, undefined);
    const body = await readBody(req, maxRequestBytes);
    const resolved = await service.resolve(name);
    const { request, format } = decodeSeldon(body, req.headers['content-type'], resolved.signature);
    const ctx = context(req, res, 'seldon', traced);
    const response = await service.infer(name, undefined, request as InferRequest, ctx);
    return send(res, 200, encodeSeldon(response, format), {
      'content-type': 'application/json',
      [REQUEST_ID_HEADER]: ctx.requestId!,
    });
  }

  return async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    const isSeldon = path === '/predict' || path.startsWith('/api/v1.0');
    try {
      if (path.startsWith('/v2')) await v2(req, res, path);
      else if (path.startsWith('/v1/')) await v1(req, res, path);
      else if (path === '/predict' || path === '/api/v1.0/predictions') await seldon(req, res);
      else throw new ModelportError('not_found', `no inference route matches ${path}`);
    } catch (error) {
      if (
        options.onDenied &&
        error instanceof ModelportError &&
        (error.code === 'unauthenticated' || error.code === 'forbidden')
      ) {
        options.onDenied(req, error, path);
      }
      sendFailure(res, error, isSeldon ? 'seldon' : 'v2', log);
    }
  };
}
