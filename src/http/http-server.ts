/**
 * The one HTTP listener: /api/v1 goes to the control plane, the inference protocols (/v2, /v1, Seldon's
 * /api/v1.0/predictions and /predict) to the data plane, /metrics to the metrics registry, and / to the console.
 * Limits that protect the process (header size, slow clients) are set here, before any handler runs.
 */
import { once } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Server as NetServer, Socket } from 'node:net';
import { ModelportError } from '../core/index.ts';
import { type Logger, requestId } from '../logging/index.ts';
import { setBodyDeadline } from './body.ts';
import { settleHttpObjectShapes } from './object-shapes.ts';
import { sendError, sendJson } from './respond.ts';

// Not `import { ... } from 'node:http'`: building that module's ESM namespace reads its lazy WebSocket, CloseEvent and
// MessageEvent getters, which load Node's bundled fetch client (undici, about 13 MB resident) in every process.
const { createServer } = process.getBuiltinModule('node:http');

export type PathHandler = (req: IncomingMessage, res: ServerResponse, path: string) => Promise<void> | void;

export interface HttpHandlers {
  /** The control API, given the path below /api/v1. */
  api: PathHandler;
  openapi: () => unknown;
  /** Inference protocols; absent until the gateway is wired. */
  inference?: PathHandler;
  metrics?: PathHandler;
  console?: PathHandler;
  /** Checks the caller of /metrics and the OpenAPI document (auth on: a token); throws to refuse. */
  protect?: (req: IncomingMessage) => Promise<void>;
  /** Runs before anything else on every request (the Host and Origin checks); throws to refuse. */
  guard?: (req: IncomingMessage) => void;
  /** The console's sign-in endpoints under /auth. */
  session?: PathHandler;
  /** Signed webhook deliveries under /hooks (pipeline triggers); they authenticate by signature, not token. */
  hooks?: PathHandler;
}

/** Prefixes the console never answers, in any letter case: a mistyped API path gets a 404, never the console's page. */
const RESERVED = /^\/(api|v1|v2|auth|hooks|metrics|predict)(\/|$)/i;

/** `path` with repeated slashes, `/./` segments and encoded slashes undone, to test it against RESERVED. */
function looksReserved(path: string): boolean {
  let text = path;
  try {
    text = decodeURIComponent(path);
  } catch {}
  text = text
    .replace(/\\/g, '/')
    .replace(/\/{2,}/g, '/')
    .replace(/\/\.\.?(?=\/|$)/g, '');
  return RESERVED.test(text);
}

/** How long a client may take to send a request; a slower one gets 408 and its connection is closed. */
export interface HttpTimeouts {
  /** Receiving the request line and headers. Default 10 s. */
  headersMs: number;
  /** Receiving a JSON or inference body (everything read whole). Default 60 s. */
  bodyMs: number;
  /** Receiving any whole request, uploads included (streamed bodies). Default 5 min. */
  uploadMs: number;
}

export const DEFAULT_HTTP_TIMEOUTS: Readonly<HttpTimeouts> = Object.freeze({
  headersMs: 10_000,
  bodyMs: 60_000,
  uploadMs: 5 * 60_000,
});

/**
 * The accept queue's length. Node's default (511) overflows when thousands of clients connect at once, as they do
 * under overload: the kernel then drops their SYNs and each client waits for a retransmission, 1 s and more, before
 * it is even refused (the overload probe counted 17,868 listen overflows and seconds of latency with the default).
 * Linux caps it at net.core.somaxconn.
 */
export const LISTEN_BACKLOG = 4096;

/** Binds a listener (HTTP, HTTP/2) with `LISTEN_BACKLOG`; resolves once it listens, rejects on a bind error. */
export async function listenOn(server: NetServer, port: number, host: string): Promise<void> {
  server.listen({ port, host, backlog: LISTEN_BACKLOG });
  await once(server, 'listening');
}

/**
 * Bounds the open connections of `server` at `max`. One more is answered at once with a canned 503 and
 * Retry-After, then closed, before any byte of it is parsed: it costs a write, and the client learns to come back
 * (Node's own `maxConnections` closes it unanswered, which clients see as a reset and may retry at once). The
 * socket is half-closed and drained for up to 1 s, so the client's request in flight does not turn our answer into
 * a reset. `onRefused` counts them.
 */
export function capConnections(server: Server, max: number, onRefused?: () => void): void {
  // The HTTP server takes its sockets through its 'connection' listener (documented: emitting 'connection' with a
  // socket hands it to the server); admitted sockets still go there.
  const serve = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  let open = 0;
  server.on('connection', (socket: Socket) => {
    if (open >= max) {
      onRefused?.();
      socket.on('error', () => {});
      socket.setTimeout(1000, () => socket.destroy());
      socket.end(tooManyConnections(max));
      socket.resume();
      return;
    }
    open++;
    socket.once('close', () => open--);
    for (const listener of serve) listener.call(server, socket);
  });
}

function tooManyConnections(max: number): string {
  const body = JSON.stringify({ error: `the server has ${max} open connections, its limit; retry after 1 s` });
  return `HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

const isUnder = (path: string, prefix: string) => path === prefix || path.startsWith(`${prefix}/`);

export function createHttpServer(
  handlers: HttpHandlers,
  log: Logger,
  timeouts: Readonly<HttpTimeouts> = DEFAULT_HTTP_TIMEOUTS,
): Server {
  settleHttpObjectShapes();
  const server = createServer(
    {
      maxHeaderSize: 16 * 1024,
      headersTimeout: timeouts.headersMs,
      requestTimeout: timeouts.uploadMs,
      keepAliveTimeout: 5_000,
      // Node checks the two limits above this often (30 s by default, which would let a slow client stay longer).
      connectionsCheckingInterval: Math.min(1_000, timeouts.headersMs),
    },
    (req, res) => {
      setBodyDeadline(req, Date.now() + timeouts.bodyMs);
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const path = q < 0 ? url : url.slice(0, q);
      const shape = isUnder(path, '/v2') ? 'v2' : 'api';
      Promise.resolve()
        .then(() => {
          handlers.guard?.(req);
          if (path === '/api/v1/openapi.json') {
            return (handlers.protect?.(req) ?? Promise.resolve()).then(() => sendJson(res, 200, handlers.openapi()));
          }
          if (isUnder(path, '/api/v1')) return handlers.api(req, res, path.slice('/api/v1'.length) || '/');
          if (
            handlers.inference &&
            (isUnder(path, '/v2') || isUnder(path, '/v1') || isUnder(path, '/api/v1.0') || path === '/predict')
          ) {
            return handlers.inference(req, res, path);
          }
          if (path === '/metrics' && handlers.metrics) {
            const metrics = handlers.metrics;
            return (handlers.protect?.(req) ?? Promise.resolve()).then(() => metrics(req, res, path));
          }
          if (handlers.session && isUnder(path, '/auth')) return handlers.session(req, res, path);
          if (handlers.hooks && isUnder(path, '/hooks')) return handlers.hooks(req, res, path);
          if (handlers.console && !looksReserved(path)) return handlers.console(req, res, path);
          throw new ModelportError('not_found', `nothing is served at ${path}`);
        })
        .catch((error: unknown) =>
          sendError(res, error, shape, (err) =>
            log.child({ requestId: requestId(req.headers) }).error(`${req.method} ${path} failed`, { err }),
          ),
        );
    },
  );
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return;
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    socket.end(
      `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`,
    );
  });
  return server;
}
