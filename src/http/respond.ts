/** Writing responses: JSON bodies and the error shapes of each API family, with the status from the one catalogue. */
import type { ServerResponse } from 'node:http';
import { type ModelportError, toModelportError } from '../core/index.ts';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** How an error body looks: the control plane's `{code, message, field}` or the V2 protocol's `{error}`. */
export type ErrorShape = 'api' | 'v2';

/** Sends any thrown value as a JSON error; unexpected errors are logged by `log` and answered without details. */
export function sendError(
  res: ServerResponse,
  error: unknown,
  shape: ErrorShape,
  log?: (e: unknown) => void,
  options: ErrorAnswerOptions = {},
): void {
  const e: ModelportError = toModelportError(error);
  if (e.code === 'internal' && log) log(error);
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  sendJson(
    res,
    e.httpStatus,
    shape === 'api' ? { error: e.toJSON() } : { error: e.message },
    errorHeaders(res, e, options),
  );
}

export interface ErrorAnswerOptions {
  /** Unread bodies up to this many bytes are drained; larger ones close the connection (default 64 MiB). */
  drainLimit?: number;
}

/** Bodies up to this size that we refused before reading are read and dropped, so the client sees our answer. */
const DRAIN_LIMIT = 64 * 1024 * 1024;

/**
 * A client still sending a body we refused (too large, bad route) only reads our answer once it has sent it all;
 * closing on it makes it report a reset instead. Drain small bodies; close the connection after large ones.
 */
function discardBody(res: ServerResponse, headers: Record<string, string>, limit: number): void {
  const req = res.req;
  const declared = Number(req.headers['content-length']);
  if (!req.destroyed && Number.isFinite(declared) && declared <= limit) req.resume();
  else headers['connection'] = 'close';
}

/** Headers every error answer needs: Retry-After when the error has one, and what to do with an unread body. */
export function errorHeaders(
  res: ServerResponse,
  e: ModelportError,
  options: ErrorAnswerOptions = {},
): Record<string, string> {
  const headers: Record<string, string> = {};
  if (e.retryAfter !== undefined) headers['retry-after'] = String(e.retryAfter);
  if (e.code === 'unauthenticated') headers['www-authenticate'] = 'Bearer realm="modelport"';
  // A client too slow to send its body is not waited for again.
  if (e.code === 'request_timeout') headers['connection'] = 'close';
  else if (!res.req.complete) discardBody(res, headers, options.drainLimit ?? DRAIN_LIMIT);
  return headers;
}
