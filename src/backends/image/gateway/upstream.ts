/**
 * Calls to the serving services behind the gateway: one keep-alive agent per protocol, a deadline for the answer
 * to start (`upstream_timeout`), `upstream_unreachable` when the connection fails, request bodies streamed through
 * a byte limit (`payload_too_large`), and only end-to-end headers forwarded.
 */
import type { IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Transform, type TransformCallback } from 'node:stream';
import { ModelportError } from '../../../core/index.ts';
import type { Upstream } from './routing-table.ts';

// Not `import { ... } from 'node:http'`: building that module's ESM namespace reads its lazy WebSocket, CloseEvent and
// MessageEvent getters, which load Node's bundled fetch client (undici, about 13 MB resident) in every process.
const { Agent: HttpAgent, request: httpRequest } = process.getBuiltinModule('node:http');

/** Headers that belong to one connection, not to the message (RFC 9110 7.6.1): never forwarded. */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'expect',
]);

export const tooLarge = (max: number) =>
  new ModelportError('payload_too_large', `the body is larger than the gateway's limit of ${max} bytes`);

/** Fails once more than `max` bytes passed through; keeps a copy of them when `keep` is set. */
export class Limit extends Transform {
  readonly #max: number;
  readonly chunks: Buffer[] | undefined;
  #bytes = 0;
  constructor(max: number, keep: boolean) {
    super();
    this.#max = max;
    this.chunks = keep ? [] : undefined;
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#bytes += chunk.length;
    if (this.#bytes > this.#max) {
      done(tooLarge(this.#max));
      return;
    }
    this.chunks?.push(chunk);
    done(null, chunk);
  }
}

export function firstHeader(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The client's end-to-end headers, the model-id headers renamed to `model`, and X-Forwarded-For extended. */
export function forwardedHeaders(
  req: IncomingMessage,
  model: string,
  modelIdHeaders: Iterable<string>,
): Record<string, string | string[]> {
  const listed = (firstHeader(req, 'connection') ?? '').toLowerCase().split(',');
  const drop = new Set([...HOP_BY_HOP, ...listed.map((h) => h.trim()).filter(Boolean)]);
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined && !drop.has(name)) headers[name] = value;
  }
  // The upstream serves the model under its own name, whatever the client called the deployment.
  for (const name of modelIdHeaders) if (headers[name] !== undefined) headers[name] = model;
  const forwardedFor = firstHeader(req, 'x-forwarded-for');
  const client = req.socket.remoteAddress ?? '';
  headers['x-forwarded-for'] = forwardedFor ? `${forwardedFor}, ${client}` : client;
  return headers;
}

export type UpstreamBody = { stream: IncomingMessage; limit: Limit } | Buffer | undefined;

export class UpstreamClient {
  readonly #timeoutMs: number;
  readonly #agents = {
    'http:': new HttpAgent({ keepAlive: true, maxSockets: 256 }),
    'https:': new HttpsAgent({ keepAlive: true, maxSockets: 256 }),
  };

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Sends one call; `answer` resolves once the status line arrived, or rejects with a ModelportError
   * (`payload_too_large`, `upstream_unreachable`, `upstream_timeout`).
   */
  send(
    upstream: Upstream,
    method: string,
    path: string,
    headers: Record<string, string | string[]>,
    body: UpstreamBody,
    timeout = this.#timeoutMs,
  ): { answer: Promise<IncomingMessage>; abort: () => void } {
    const { origin } = upstream;
    const request = origin.protocol === 'https:' ? httpsRequest : httpRequest;
    const outgoing = request({
      protocol: origin.protocol,
      hostname: origin.hostname.replace(/^\[|\]$/g, ''),
      port: origin.port || undefined,
      method,
      path,
      headers: { ...headers, host: origin.host },
      agent: this.#agents[origin.protocol as 'http:' | 'https:'],
    });
    const answer = new Promise<IncomingMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        const seconds = Math.round(timeout / 100) / 10;
        outgoing.destroy(
          new ModelportError('upstream_timeout', `${upstream.label} did not answer within ${seconds} s`),
        );
      }, timeout);
      outgoing.once('response', (res) => {
        clearTimeout(timer);
        res.setTimeout(timeout, () => res.destroy(new Error(`${upstream.label} stalled while answering`)));
        resolve(res);
      });
      outgoing.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (error instanceof ModelportError) reject(error);
        else {
          reject(
            new ModelportError(
              'upstream_unreachable',
              `${upstream.label} is unreachable (${error.code ?? error.message})`,
            ),
          );
        }
      });
    });
    if (body === undefined) outgoing.end();
    else if (Buffer.isBuffer(body)) outgoing.end(body);
    else {
      body.limit.once('error', (error) => outgoing.destroy(error));
      body.stream.pipe(body.limit).pipe(outgoing);
    }
    return { answer, abort: () => outgoing.destroy(new Error('the client went away')) };
  }

  close(): void {
    this.#agents['http:'].destroy();
    this.#agents['https:'].destroy();
  }
}
