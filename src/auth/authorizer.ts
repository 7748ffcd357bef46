/**
 * The authorizers: how a request becomes a `Principal`, and the check of a permission on a project.
 *
 * - `LocalAuthorizer`: the embedded single-user mode (loopback without --auth): everyone is the local principal.
 * - `TokenAuthorizer`: bearer tokens. Verified tokens and their principals are cached for `cacheTtlMs` (default
 *   5 s) so the inference hot path costs a map lookup and a constant-time compare; revoking a token, or changing users, groups or
 *   memberships through this server, clears the cache at once (other servers sharing the database see it within
 *   the TTL). Tokens with a rate limit take from their bucket on every call (`rate_limited` with Retry-After).
 *
 * ```ts
 * const authorizer = new TokenAuthorizer({ store: authStore });
 * const principal = await authorizer.authenticate(req);         // unauthenticated / rate_limited
 * authorizer.authorize(principal, 'write', 'default');          // forbidden, naming the missing role
 * ```
 */
import { timingSafeEqual } from 'node:crypto';
import { ModelportError } from '../core/index.ts';
import type { AuthStore, StoredToken } from './auth-store.ts';
import { ANONYMOUS_PRINCIPAL, checkGrant, LOCAL_PRINCIPAL, type Permission, type Principal } from './principal.ts';
import { type SessionStore, sameCsrf } from './session-store.ts';
import { bearerToken, parseToken } from './token.ts';
import { TokenBuckets } from './token-bucket.ts';

/**
 * What an authorizer reads of a request: its headers (HTTP/1.1 or HTTP/2, so gRPC metadata too) and its method
 * (absent for gRPC, which counts as state-changing).
 */
export interface Credentials {
  readonly method?: string | undefined;
  readonly headers: {
    readonly authorization?: string | string[] | undefined;
    readonly cookie?: string | string[] | undefined;
    readonly [CSRF_HEADER]?: string | string[] | undefined;
  };
  /** HTTP/1.1 headers as received: Node keeps only the first of two Authorization headers, so count them here. */
  readonly rawHeaders?: readonly string[];
}

/** The console's session cookie (HttpOnly, SameSite=Strict). */
export const SESSION_COOKIE = 'mp_session';
/** The header every state-changing request of a console session carries: the session's CSRF token. */
export const CSRF_HEADER = 'x-modelport-csrf';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The session cookie's value; undefined when absent, null when ambiguous (sent twice) or malformed. */
export function sessionCookie(header: string | string[] | undefined): string | undefined | null {
  if (header === undefined) return undefined;
  const values: string[] = [];
  for (const line of Array.isArray(header) ? header : [header]) {
    for (const part of line.split(';')) {
      const eq = part.indexOf('=');
      if (eq < 0) continue;
      if (part.slice(0, eq).trim() === SESSION_COOKIE) values.push(part.slice(eq + 1).trim());
    }
  }
  if (values.length === 0) return undefined;
  return values.length === 1 ? values[0]! : null;
}

export interface Authorizer {
  /** True when requests need a token (auth is on). */
  readonly required: boolean;
  /** Identifies the caller; throws `unauthenticated` when credentials are missing or invalid. */
  authenticate(request: Credentials): Promise<Principal>;
  /**
   * Like authenticate, but a request without an Authorization header gets the anonymous principal (for open
   * deployments). Returns synchronously on a cache hit, so the inference hot path allocates no promise.
   */
  identify(request: Credentials): Principal | Promise<Principal>;
  /** Throws `forbidden` (or `unauthenticated` for the anonymous principal) unless the grant holds. */
  authorize(principal: Principal, permission: Permission, project?: string, deployment?: string): void;
}

export class LocalAuthorizer implements Authorizer {
  readonly required = false;

  async authenticate(): Promise<Principal> {
    return LOCAL_PRINCIPAL;
  }

  identify(): Principal {
    return LOCAL_PRINCIPAL;
  }

  authorize(principal: Principal, permission: Permission, project?: string, deployment?: string): void {
    checkGrant(principal, permission, project, deployment);
  }
}

export interface TokenAuthorizerOptions {
  store: AuthStore;
  /**
   * Console sessions: a request without an Authorization header may present the session cookie instead; a
   * state-changing one (any method but GET, HEAD, OPTIONS; every gRPC call) must also carry the session's CSRF
   * token in `x-modelport-csrf`, so the cookie alone never authorises a write.
   */
  sessions?: SessionStore;
  /** How long a verified token's principal is reused (default 5 s). */
  cacheTtlMs?: number;
  /** How often last_used_at is written per token at most (default 60 s). */
  touchIntervalMs?: number;
  now?: () => number;
  onError?: (message: string, error: unknown) => void;
}

interface CacheEntry {
  token: StoredToken;
  principal: Principal;
  at: number;
  /** The secret that verified against the stored HMAC: later calls compare with it (constant time, no HMAC). */
  verified: Buffer | undefined;
}

const MAX_CACHE = 50_000;

export class TokenAuthorizer implements Authorizer {
  readonly required = true;
  readonly #store: AuthStore;
  readonly #sessions: SessionStore | undefined;
  readonly #ttl: number;
  readonly #touchInterval: number;
  readonly #now: () => number;
  readonly #onError: (message: string, error: unknown) => void;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #buckets = new TokenBuckets();
  readonly #touched = new Map<string, number>();
  readonly #pending = new Map<string, Promise<CacheEntry | undefined>>();
  /** Bumped by invalidate(): a lookup started before it must not fill the cache with what it read. */
  #epoch = 0;

  constructor(options: TokenAuthorizerOptions) {
    this.#store = options.store;
    this.#sessions = options.sessions;
    this.#ttl = options.cacheTtlMs ?? 5_000;
    this.#touchInterval = options.touchIntervalMs ?? 60_000;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => {});
  }

  async authenticate(request: Credentials): Promise<Principal> {
    const principal = await this.identify(request);
    if (principal === ANONYMOUS_PRINCIPAL) {
      throw new ModelportError('unauthenticated', 'send a token: Authorization: Bearer <token>');
    }
    return principal;
  }

  identify(request: Credentials): Principal | Promise<Principal> {
    const text = bearerToken(request.headers.authorization);
    if (text === undefined) {
      const cookie = this.#sessions === undefined ? undefined : sessionCookie(request.headers.cookie);
      return cookie === undefined ? ANONYMOUS_PRINCIPAL : this.#session(request, cookie);
    }
    if (request.rawHeaders !== undefined && authorizationCount(request.rawHeaders) > 1) {
      throw new ModelportError('unauthenticated', 'send one Authorization header, not several');
    }
    const parsed = text === null ? undefined : parseToken(text);
    if (parsed === undefined) throw malformed();
    const now = this.#now();
    const hit = this.#cache.get(parsed.id);
    if (hit !== undefined && now - hit.at < this.#ttl) return this.#admit(hit, parsed.secret, now);
    return this.#lookup(parsed.id, parsed.secret);
  }

  authorize(principal: Principal, permission: Permission, project?: string, deployment?: string): void {
    checkGrant(principal, permission, project, deployment);
  }

  /** Forgets every cached token: call after a revoke or a change of users, groups or memberships. */
  invalidate(tokenId?: string): void {
    this.#epoch++;
    if (tokenId === undefined) this.#cache.clear();
    else {
      this.#cache.delete(tokenId);
      this.#buckets.forget(tokenId);
    }
  }

  async #session(request: Credentials, cookie: string | null): Promise<Principal> {
    const found = cookie === null ? undefined : await this.#sessions!.find(cookie);
    if (found === undefined) {
      throw new ModelportError('unauthenticated', 'the console session ended or expired; sign in again');
    }
    const method = request.method?.toUpperCase();
    if (method === undefined || !SAFE_METHODS.has(method)) {
      const header = request.headers[CSRF_HEADER];
      if (!sameCsrf(Array.isArray(header) ? undefined : header, found.csrf)) {
        throw new ModelportError(
          'csrf_failed',
          `a console session's ${method ?? 'gRPC'} request needs the session's ${CSRF_HEADER} header; reload the console`,
        );
      }
    }
    return found.principal;
  }

  async #lookup(id: string, secret: string): Promise<Principal> {
    // One lookup per token at a time: a burst of calls after the cache entry aged out waits for the same query.
    let pending = this.#pending.get(id);
    if (pending === undefined) {
      pending = this.#load(id).finally(() => this.#pending.delete(id));
      this.#pending.set(id, pending);
    }
    const entry = await pending;
    if (entry === undefined) throw invalid();
    return this.#admit(entry, secret, this.#now());
  }

  async #load(id: string): Promise<CacheEntry | undefined> {
    const epoch = this.#epoch;
    const now = this.#now();
    const token = await this.#store.findToken(id);
    if (token === undefined) return undefined;
    const entry: CacheEntry = { token, principal: await this.#store.principalFor(token), at: now, verified: undefined };
    if (epoch === this.#epoch) {
      if (this.#cache.size >= MAX_CACHE) this.#cache.clear();
      this.#cache.set(id, entry);
    }
    return entry;
  }

  #admit(entry: CacheEntry, secret: string, now: number): Principal {
    const { token } = entry;
    const presented = Buffer.from(secret);
    const known = entry.verified;
    const same = known !== undefined && presented.length === known.length && timingSafeEqual(presented, known);
    if (!same) {
      if (!this.#store.hasher.verify(secret, token.hash)) throw invalid();
      entry.verified = presented;
    }
    if (token.expiresAt !== undefined && now >= token.expiresAt) {
      throw new ModelportError('unauthenticated', `the token '${token.name}' expired; create a new one`);
    }
    if (token.rateLimit !== undefined) {
      const wait = this.#buckets.take(token.id, token.rateLimit);
      if (wait > 0) {
        throw new ModelportError(
          'rate_limited',
          `the token '${token.name}' is limited to ${token.rateLimit} requests per second; retry later`,
          { retryAfter: Math.max(1, Math.ceil(wait)) },
        );
      }
    }
    const last = this.#touched.get(token.id) ?? token.lastUsedAt ?? 0;
    if (now - last >= this.#touchInterval) {
      this.#touched.set(token.id, now);
      if (this.#touched.size > MAX_CACHE) this.#touched.clear();
      this.#store
        .touchToken(token.id, new Date(now))
        .catch((error: unknown) => this.#onError('recording a token use failed', error));
    }
    return entry.principal;
  }
}

function authorizationCount(raw: readonly string[]): number {
  let count = 0;
  for (let i = 0; i < raw.length; i += 2)
    if (raw[i]!.length === 13 && raw[i]!.toLowerCase() === 'authorization') count++;
  return count;
}

const malformed = () =>
  new ModelportError(
    'unauthenticated',
    'the Authorization header is not a Modelport token; send Authorization: Bearer mp_…',
  );
// One message for unknown and wrong tokens: the answer does not tell which ids exist.
const invalid = () => new ModelportError('unauthenticated', 'the token is not valid (unknown, revoked or mistyped)');
