/**
 * The one door for outbound HTTP: hosted runtimes, imports from https://, webhooks. Every URL, and every redirect
 * hop, is checked before a connection is made:
 *
 * - only http: and https:, no `user:password@` part;
 * - the host is resolved once (all addresses); if any address is loopback, private, link-local, metadata,
 *   multicast or otherwise special (see `blockedRange`), the URL is refused, unless the host (or host:port) is in
 *   the allow list an administrator configured (MODELPORT_EGRESS_ALLOW_HOSTS);
 * - the connection goes to the address that was checked (no second lookup, so DNS rebinding cannot swap it), while
 *   the Host header and TLS SNI / certificate check keep the name;
 * - redirects are followed by hand (at most `maxRedirects`), each hop checked again; credentials (Authorization,
 *   Cookie) are dropped when a redirect leaves the origin;
 * - one deadline covers the whole exchange including the body, and the body is cut at `maxResponseBytes`.
 *
 * Refusals are `egress_refused` errors that name the URL's host and the reason; they never contain the request's
 * headers or body.
 *
 * ```ts
 * const guard = new EgressGuard({ allowHosts: config.egressAllowHosts });
 * const res = await guard.fetch('https://models.example.com/v2/models/m/infer', { method: 'POST', body, headers });
 * const answer = await res.json();
 * await guard.close(); // at shutdown: closes kept-alive connections
 * ```
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import type { IncomingMessage, RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { Readable } from 'node:stream';
import { ModelportError } from '../core/index.ts';
import { blockedRange } from './address-policy.ts';

// Not `import { ... } from 'node:http'`: building that module's ESM namespace reads its lazy WebSocket, CloseEvent and
// MessageEvent getters, which load Node's bundled fetch client (undici, about 13 MB resident) in every process.
const { Agent: HttpAgent, request: httpRequest } = process.getBuiltinModule('node:http');

/** Resolves a host name to all its addresses (dns.lookup with `all: true`); injectable for tests. */
export type LookupAll = (hostname: string) => Promise<{ address: string; family: number }[]>;

export interface EgressGuardOptions {
  /** `host` or `host:port` entries (IPv6 in brackets) that may resolve to private addresses. Default none. */
  allowHosts?: readonly string[];
  /** Default: dns.lookup(host, { all: true }). */
  lookup?: LookupAll;
  /** Redirects followed per call; default 5. */
  maxRedirects?: number;
  /** Deadline of a whole call, body included; default 30 s. */
  timeoutMs?: number;
  /** Largest response body; default 16 MiB. */
  maxResponseBytes?: number;
}

/** What `guardedFetch` accepts: a subset of fetch's RequestInit. */
export interface EgressRequestInit {
  method?: string;
  headers?: Record<string, string> | Headers;
  body?: string | Uint8Array;
  signal?: AbortSignal;
}

/** A fetch that goes through the guard; hosted runtimes depend on this type only. */
export type GuardedFetch = (url: string | URL, init?: EgressRequestInit) => Promise<Response>;

/** A URL that passed the checks, with the address the connection must use. */
export interface CheckedTarget {
  url: URL;
  address: string;
  family: 4 | 6;
  /** True when the host is in the allow list (so private addresses were accepted). */
  allowed: boolean;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const NULL_BODY = new Set([101, 103, 204, 205, 304]);
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];

export class EgressGuard {
  readonly #allow: { host: string; port: string | undefined }[];
  readonly #lookup: LookupAll;
  readonly #maxRedirects: number;
  readonly #timeoutMs: number;
  readonly #maxBytes: number;
  readonly #http = new HttpAgent({ keepAlive: true });
  readonly #https = new HttpsAgent({ keepAlive: true });

  constructor(options: EgressGuardOptions = {}) {
    this.#allow = (options.allowHosts ?? []).map(parseAllowEntry);
    this.#lookup = options.lookup ?? ((host) => dnsLookup(host, { all: true, verbatim: true }));
    this.#maxRedirects = options.maxRedirects ?? 5;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#maxBytes = options.maxResponseBytes ?? 16 * 1024 * 1024;
  }

  /** Checks one URL without connecting: parses it, resolves the host once, and returns the address to use. */
  async check(input: string | URL): Promise<CheckedTarget> {
    let url: URL;
    try {
      url = new URL(input);
    } catch {
      throw refused('the URL is not valid');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw refused(`only http:// and https:// URLs are allowed, not ${url.protocol}//`);
    }
    if (url.username !== '' || url.password !== '') {
      throw refused(`the URL to ${url.hostname} carries a user name or password; send credentials in a header`);
    }
    const host = url.hostname;
    const bare = host.startsWith('[') ? host.slice(1, -1) : host;
    const port = url.port || (url.protocol === 'https:' ? '443' : '80');
    const allowed = this.#allow.some((a) => a.host === host && (a.port === undefined || a.port === port));

    let addresses: { address: string; family: number }[];
    if (isIP(bare) !== 0) addresses = [{ address: bare, family: isIP(bare) }];
    else {
      try {
        addresses = await this.#lookup(bare);
      } catch {
        throw new ModelportError('not_ready', `cannot resolve the host ${host}`, { field: 'url' });
      }
      if (addresses.length === 0)
        throw new ModelportError('not_ready', `the host ${host} has no address`, { field: 'url' });
    }
    if (!allowed) {
      for (const { address } of addresses) {
        const reason = blockedRange(address);
        if (reason !== undefined) {
          throw refused(
            `${host} resolves to a ${reason} address; an administrator can allow it with MODELPORT_EGRESS_ALLOW_HOSTS=${host.replace(/^\[|\]$/g, '')}`,
          );
        }
      }
    }
    const first = addresses[0]!;
    return { url, address: first.address, family: first.family === 6 ? 6 : 4, allowed };
  }

  /** A fetch through the guard: returns a standard Response, following checked redirects. */
  fetch: GuardedFetch = async (input, init = {}) => {
    const deadline = AbortSignal.timeout(this.#timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, deadline]) : deadline;
    let method = (init.method ?? 'GET').toUpperCase();
    let body = init.body;
    const headers = new Headers(init.headers);
    let url = typeof input === 'string' ? input : input.href;
    let origin = '';
    for (let hop = 0; ; hop++) {
      const target = hop === 0 ? await this.check(url) : await this.#checkRedirect(url, origin);
      if (hop === 0) origin = target.url.hostname;
      const res =
        hop === 0
          ? await this.#send(target, method, headers, body, signal, deadline)
          : await this.#send(target, method, headers, body, signal, deadline).catch((error: unknown) => {
              throw hiddenHop(error, origin);
            });
      const location = res.headers['location'];
      if (!REDIRECTS.has(res.statusCode ?? 0) || location === undefined) return this.#toResponse(res, signal, deadline);
      res.resume();
      if (hop >= this.#maxRedirects) {
        throw refused(`more than ${this.#maxRedirects} redirects, starting at ${origin}`);
      }
      let next: URL;
      try {
        next = new URL(location, target.url);
      } catch {
        throw refused(`${origin} redirected to an invalid URL`);
      }
      if (next.origin !== target.url.origin) for (const name of CREDENTIAL_HEADERS) headers.delete(name);
      const status = res.statusCode ?? 0;
      if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
        if (method !== 'HEAD') method = 'GET';
        body = undefined;
        headers.delete('content-type');
        headers.delete('content-length');
      }
      url = next.href;
    }
  };

  /**
   * Checks a redirect's target. The caller named only the first host; where a redirect leads (an internal name,
   * say) is the remote server's business, so errors name the first host and keep the detail in `cause`.
   */
  async #checkRedirect(url: string, origin: string): Promise<CheckedTarget> {
    try {
      return await this.check(url);
    } catch (error) {
      throw hiddenHop(error, origin);
    }
  }

  /** Closes kept-alive connections. */
  async close(): Promise<void> {
    this.#http.destroy();
    this.#https.destroy();
  }

  #send(
    target: CheckedTarget,
    method: string,
    headers: Headers,
    body: string | Uint8Array | undefined,
    signal: AbortSignal,
    deadline: AbortSignal,
  ): Promise<IncomingMessage> {
    const { url, address, family } = target;
    // Pins the checked address: the socket never asks DNS again.
    const pinned: LookupFunction = (_host, options, callback) => {
      if ((options as { all?: boolean }).all) callback(null, [{ address, family }]);
      else callback(null, address, family);
    };
    const https = url.protocol === 'https:';
    const options: RequestOptions & { servername?: string } = {
      method,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || (https ? 443 : 80),
      path: `${url.pathname}${url.search}`,
      headers: Object.fromEntries(headers),
      lookup: pinned,
      agent: https ? this.#https : this.#http,
      signal,
    };
    if (https && isIP(options.hostname as string) === 0) options.servername = options.hostname as string;
    return new Promise((resolve, reject) => {
      const req = (https ? httpsRequest : httpRequest)(options, resolve);
      req.on('error', (error) => reject(transportError(error, url, deadline)));
      req.end(body);
    });
  }

  #toResponse(res: IncomingMessage, signal: AbortSignal, deadline: AbortSignal): Response {
    const status = res.statusCode ?? 502;
    const headers = new Headers();
    for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
      try {
        headers.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
      } catch {
        // A header value fetch's Headers refuses is dropped rather than failing the call.
      }
    }
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > this.#maxBytes) {
      res.destroy();
      throw tooLarge(this.#maxBytes);
    }
    if (NULL_BODY.has(status) || status < 200) {
      res.resume();
      return new Response(null, { status: status < 200 ? 502 : status, statusText: res.statusMessage, headers });
    }
    const limit = this.#maxBytes;
    let received = 0;
    async function* limited() {
      try {
        for await (const chunk of res as AsyncIterable<Buffer>) {
          received += chunk.length;
          if (received > limit) throw tooLarge(limit);
          yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        }
      } catch (error) {
        if (signal.aborted) throw deadline.aborted ? timeoutError() : error;
        throw error;
      } finally {
        res.destroy();
      }
    }
    const stream = Readable.toWeb(Readable.from(limited())) as ReadableStream<Uint8Array>;
    return new Response(stream, { status, statusText: res.statusMessage, headers });
  }
}

function parseAllowEntry(entry: string): { host: string; port: string | undefined } {
  const match = /^(\[[^\]]+\]|[^:]+|[0-9a-f:]+?)(?::(\d{1,5}))?$/i.exec(entry.trim());
  let host = match?.[1] ?? entry.trim();
  const port = match?.[2];
  if (!host.startsWith('[') && isIP(host) === 6) host = `[${host}]`;
  try {
    return { host: new URL(`http://${host}/`).hostname, port };
  } catch {
    throw new ModelportError('invalid_config', `--egress-allow-hosts: '${entry}' is not a host or host:port`, {
      field: 'egressAllowHosts',
    });
  }
}

/** An error at a redirect hop, told without the hop's host: same code, the first host named, the detail as cause. */
function hiddenHop(error: unknown, origin: string): unknown {
  if (!(error instanceof ModelportError)) return error;
  const message =
    error.code === 'egress_refused'
      ? `outbound request refused: ${origin} redirected to an address this server may not reach`
      : error.code === 'not_ready'
        ? `cannot follow the redirect from ${origin}: its target cannot be reached`
        : undefined;
  if (message === undefined) return error;
  return new ModelportError(error.code, message, { field: 'url', cause: error });
}

function refused(reason: string): ModelportError {
  return new ModelportError('egress_refused', `outbound request refused: ${reason}`, { field: 'url' });
}

function tooLarge(limit: number): ModelportError {
  return new ModelportError('payload_too_large', `the response is larger than the limit of ${limit} bytes`);
}

function timeoutError(): ModelportError {
  return new ModelportError('timeout', 'the outbound request did not finish within its deadline');
}

function transportError(error: Error, url: URL, deadline: AbortSignal): Error {
  if (deadline.aborted) return timeoutError();
  // The caller's own abort stays an AbortError, as with fetch.
  if (error instanceof ModelportError || error.name === 'AbortError') return error;
  const code = (error as NodeJS.ErrnoException).code;
  return new ModelportError('not_ready', `cannot reach ${url.host}${code ? ` (${code})` : ''}`, { cause: error });
}
