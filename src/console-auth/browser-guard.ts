/**
 * Guards every HTTP request against what a hostile web page can make a browser send:
 *
 * - DNS rebinding: a page on `evil.example` whose name re-resolves to this server reaches it as same-origin, with
 *   `Host: evil.example`. The Host header must be a loopback name, an IP literal (rebinding needs a DNS name), or a
 *   name in `allowedHosts`; anything else gets `host_not_allowed` (421) before any handler runs.
 * - Cross-site requests: a state-changing request (any method but GET, HEAD, OPTIONS) whose `Origin` is not this
 *   server's own origin, or that the browser marks `Sec-Fetch-Site: cross-site` / `same-site`, gets `csrf_failed`.
 *   This holds in the single-user loopback mode too, where a form on any web site could otherwise POST here.
 *
 * The session cookie's CSRF token is checked by the authorizer (src/auth): the cookie alone never authorises a write.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { ModelportError } from '../core/index.ts';

export interface BrowserGuardOptions {
  /** Lowercase names, optionally `name:port`, allowed in the Host header beyond loopback names and IP literals. */
  allowedHosts: readonly string[];
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const LOOPBACK_NAMES = new Set(['localhost', 'localhost.']);

export type BrowserGuard = (req: IncomingMessage) => void;

export function createBrowserGuard(options: BrowserGuardOptions): BrowserGuard {
  const allowed = new Set(options.allowedHosts.map((h) => h.toLowerCase()));
  // Hosts seen allowed (clients send the same few on every request): a Set lookup instead of a parse. Bounded, so
  // a client cycling through IP literals cannot grow it.
  const seen = new Set<string>();
  const isAllowed = (host: string) => {
    if (seen.has(host)) return true;
    if (!hostAllowed(host, allowed)) return false;
    if (seen.size >= 64) seen.clear();
    seen.add(host);
    return true;
  };
  return (req) => {
    const host = req.headers.host;
    // HTTP/1.0 clients may omit Host; browsers never do, so rebinding always names one.
    if (host !== undefined && !isAllowed(host)) {
      throw new ModelportError(
        'host_not_allowed',
        `this server does not answer to the host '${host.slice(0, 100)}'; an administrator can add it with --allowed-hosts`,
      );
    }
    if (SAFE_METHODS.has(req.method ?? 'GET')) return;
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') {
      throw crossSite(`the browser marked it ${String(site).slice(0, 20)}`);
    }
    const origin = req.headers.origin;
    if (origin === undefined) return;
    if (!sameOrigin(origin, host)) throw crossSite(`its Origin '${origin.slice(0, 100)}' is not this server`);
  };
}

/** Whether a Host header value is one this server answers to. */
export function hostAllowed(host: string, allowed: ReadonlySet<string>): boolean {
  const value = host.trim().toLowerCase();
  const { name, port } = splitHost(value);
  if (name === undefined) return false;
  if (LOOPBACK_NAMES.has(name) || isIP(name.replace(/^\[|\]$/g, '')) !== 0) return true;
  return allowed.has(name) || (port !== undefined && allowed.has(`${name}:${port}`));
}

function splitHost(value: string): { name: string | undefined; port: string | undefined } {
  const match = /^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::(\d{1,5}))?$/.exec(value);
  return match ? { name: match[1], port: match[2] } : { name: undefined, port: undefined };
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined || origin === 'null') return false;
  try {
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host === new URL(`http://${host}`).host;
  } catch {
    return false;
  }
}

const crossSite = (why: string) =>
  new ModelportError('csrf_failed', `a state-changing request from another site is refused: ${why}`);
