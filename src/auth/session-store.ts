/**
 * Web console sessions: a browser that signed in (through the identity provider, or by pasting a token) holds a
 * cookie `<id>_<secret>` (16 hex digits, 256 random bits); the store keeps only the HMAC of the secret under the
 * token key, with the user and an expiry, so a database dump gives no usable session. The CSRF token a session's
 * state-changing requests must send is derived from the secret (an HMAC under the same key): nothing to store, and
 * useless without the cookie.
 *
 * ```ts
 * const sessions = new SessionStore({ store: metadata, hasher, users });
 * const { cookie, csrf } = await sessions.create(userId, 'oidc', 12 * 3600_000);
 * const found = await sessions.find(cookie);   // { principal, csrf, expiresAt } or undefined
 * await sessions.delete(cookie);
 * ```
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AuthMetadata, AuthStore } from './auth-store.ts';
import type { Principal } from './principal.ts';
import type { TokenHasher } from './token.ts';

const COOKIE_VALUE = /^([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export type SessionVia = 'oidc' | 'token';

export interface FoundSession {
  id: string;
  principal: Principal;
  /** The header value state-changing requests of this session must carry. */
  csrf: string;
  expiresAt: number;
}

export interface SessionStoreDeps {
  store: AuthMetadata;
  hasher: TokenHasher;
  users: AuthStore;
  now?: () => number;
}

export class SessionStore {
  readonly #store: AuthMetadata;
  readonly #hasher: TokenHasher;
  readonly #users: AuthStore;
  readonly #now: () => number;

  constructor(deps: SessionStoreDeps) {
    this.#store = deps.store;
    this.#hasher = deps.hasher;
    this.#users = deps.users;
    this.#now = deps.now ?? Date.now;
  }

  /** Starts a session for the user; returns the cookie value (shown to the browser only) and its CSRF token. */
  async create(
    userId: string,
    via: SessionVia,
    ttlMs: number,
  ): Promise<{ cookie: string; csrf: string; expiresAt: number }> {
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const now = this.#now();
    const expiresAt = now + ttlMs;
    await this.#store.db
      .insertInto('console_sessions')
      .values({
        id,
        user_id: userId,
        hash: this.#hasher.hash(secret),
        via,
        created_at: new Date(now).toISOString(),
        expires_at: new Date(expiresAt).toISOString(),
      })
      .execute();
    // Expired rows of anyone go on every sign-in: the table never grows past the live sessions for long.
    await this.#store.db
      .deleteFrom('console_sessions')
      .where('expires_at', '<=', new Date(now).toISOString())
      .execute();
    return { cookie: `${id}_${secret}`, csrf: this.csrfFor(secret), expiresAt };
  }

  /** The live session a cookie value names, or undefined (malformed, unknown, wrong secret, expired, user gone). */
  async find(cookie: string): Promise<FoundSession | undefined> {
    const match = COOKIE_VALUE.exec(cookie);
    if (!match) return undefined;
    const [, id, secret] = match as unknown as [string, string, string];
    const row = await this.#store.db.selectFrom('console_sessions').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row || !this.#hasher.verify(secret, row.hash)) return undefined;
    const expiresAt = Date.parse(row.expires_at);
    if (!(this.#now() < expiresAt)) return undefined;
    const principal = await this.#users.principalForUser(row.user_id, {
      id: `session:${id}`,
      name: `console (${row.via})`,
    });
    if (principal === undefined) return undefined;
    return { id, principal, csrf: this.csrfFor(secret), expiresAt };
  }

  /** Ends the session the cookie names (sign-out); nothing happens for an unknown one. */
  async delete(cookie: string): Promise<void> {
    const match = COOKIE_VALUE.exec(cookie);
    if (!match) return;
    const [, id, secret] = match as unknown as [string, string, string];
    const row = await this.#store.db
      .selectFrom('console_sessions')
      .select('hash')
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row || !this.#hasher.verify(secret, row.hash)) return;
    await this.#store.db.deleteFrom('console_sessions').where('id', '=', id).execute();
  }

  csrfFor(secret: string): string {
    return Buffer.from(this.#hasher.hash(`csrf:${secret}`), 'hex').toString('base64url');
  }
}

/** Constant-time equality of a presented CSRF header with the session's. */
export function sameCsrf(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
