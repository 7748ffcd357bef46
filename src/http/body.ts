/**
 * Reading request bodies at the edge, with limits applied before anything proportional to the body is allocated.
 */
import type { IncomingMessage } from 'node:http';
import { ModelportError } from '../core/index.ts';

const MAX_JSON_DEPTH = 100;
const EMPTY = Buffer.alloc(0);

/**
 * When each request's body must have arrived (set by the HTTP server as a request starts). A property under a
 * private symbol rather than a WeakMap entry: it is set on every request, and a WeakMap's set costs ten times more.
 */
const BODY_DEADLINE = Symbol('modelport.bodyDeadline');
type WithDeadline = IncomingMessage & { [BODY_DEADLINE]?: number };

/** Bounds the time `readBody` waits for this request's body: at `atMs` (epoch ms) it fails with `request_timeout`. */
export function setBodyDeadline(req: IncomingMessage, atMs: number): void {
  (req as WithDeadline)[BODY_DEADLINE] = atMs;
}

/**
 * Rejects with payload_too_large as soon as the declared or received length passes `maxBytes`, and with
 * request_timeout when the body has not arrived by the request's deadline (`setBodyDeadline`). Reads with
 * 'data' events rather than an async iterator: this runs once per inference request, and the iterator's promise
 * per chunk is measurable there.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) return Promise.reject(tooLarge(maxBytes));
  // A small body usually arrives with its headers: node:http has then buffered all of it before the handler's
  // first await (its end is signalled a turn later), and it is taken at once: no listeners, no timer.
  if (declared !== undefined && !req.readableFlowing && req.readableLength === Number(declared)) {
    return Promise.resolve(declared === '0' ? EMPTY : (req.read() as Buffer));
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > maxBytes) {
        cleanup();
        req.pause();
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onAborted = () => onError(new ModelportError('invalid_request', 'the client closed the connection'));
    const deadline = (req as WithDeadline)[BODY_DEADLINE];
    const timer =
      deadline === undefined
        ? undefined
        : setTimeout(
            () => {
              cleanup();
              req.pause();
              reject(requestTimeout());
            },
            Math.max(0, deadline - Date.now()),
          );
    const cleanup = () => {
      if (timer !== undefined) clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

export function requestTimeout(): ModelportError {
  return new ModelportError('request_timeout', 'the request body did not arrive in time; the connection is closed');
}

export function tooLarge(maxBytes: number): ModelportError {
  return new ModelportError('payload_too_large', `the body is larger than the limit of ${maxBytes} bytes`);
}

/**
 * Parses JSON, refusing documents nested deeper than 100 levels (a cheap scan before JSON.parse, so a hostile
 * body cannot exhaust the stack).
 */
export function parseJson(body: Buffer | string, what = 'body'): unknown {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (exceedsDepth(text, MAX_JSON_DEPTH)) {
    throw new ModelportError('invalid_json', `${what} nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    // JSON.parse quotes the body in its message; say only where it broke, so no value (a secret) is echoed.
    const at = /position (\d+)/.exec((error as Error).message)?.[1];
    throw new ModelportError('invalid_json', `${what} is not valid JSON${at ? ` (at character ${at})` : ''}`);
  }
}

/** True when brackets outside strings nest deeper than `limit`. */
export function exceedsDepth(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
