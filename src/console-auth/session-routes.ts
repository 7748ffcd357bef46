/**
 * The web console's sign-in endpoints, under /auth (outside the API's route table: they are how a browser gets a
 * principal, so they need none):
 *
 * | route                | what                                                                              |
 * |----------------------|-----------------------------------------------------------------------------------|
 * | `GET /auth/session`  | whether auth is on, OIDC offered, and who this browser is (with its CSRF token)   |
 * | `POST /auth/token`   | `{"token":"mp_…"}` -> a session for the token's user (servers without OIDC too)   |
 * | `GET /auth/login`    | redirects to the identity provider (code flow + PKCE)                             |
 * | `GET /auth/callback` | the provider's answer -> a session; the user and its mapped groups are kept in step |
 * | `POST /auth/logout`  | ends the session (needs the CSRF header)                                          |
 *
 * The session cookie is `mp_session`: HttpOnly, SameSite=Strict, Path=/, Secure when served over https, expiring
 * with the session. Session rows live in the metadata store (src/auth/session-store.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type Authorizer,
  type AuthStore,
  CSRF_HEADER,
  parseToken,
  SESSION_COOKIE,
  type SessionStore,
  sameCsrf,
  sessionCookie,
} from '../auth/index.ts';
import { ModelportError } from '../core/index.ts';
import { parseJson, readBody, sendJson } from '../http/index.ts';
import type { OidcLogin } from './oidc-login.ts';

export interface SessionRoutesDeps {
  authorizer: Authorizer;
  users: AuthStore;
  sessions: SessionStore;
  /** Absent when no provider is configured: the console offers the token sign-in only. */
  oidc: OidcLogin | undefined;
  sessionTtlMs: number;
  /**
   * Always mark cookies Secure (the OIDC redirect URL is https). They are also Secure on a TLS socket and when a
   * proxy says `X-Forwarded-Proto: https` (trusting it can only make the cookie stricter).
   */
  secureCookies: boolean;
  log: (message: string, fields?: Record<string, unknown>) => void;
}

const STATE_COOKIE = 'mp_oidc_state';
const NO_STORE = { 'cache-control': 'no-store' };

export type SessionHandler = (req: IncomingMessage, res: ServerResponse, path: string) => Promise<void>;

export function createSessionHandler(deps: SessionRoutesDeps): SessionHandler {
  const { authorizer, sessions, oidc } = deps;
  const secureFor = (req: IncomingMessage) =>
    deps.secureCookies ||
    (req.socket as { encrypted?: boolean }).encrypted === true ||
    req.headers['x-forwarded-proto'] === 'https'
      ? '; Secure'
      : '';
  const sessionSetCookie = (req: IncomingMessage, value: string, maxAgeS: number) =>
    `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secureFor(req)}`;
  const clearSession = (req: IncomingMessage) =>
    `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secureFor(req)}`;

  const routes: Record<string, Partial<Record<string, SessionHandler>>> = {
    '/auth/session': {
      GET: async (req, res) => {
        if (!authorizer.required) {
          sendJson(res, 200, { auth: false, oidc: false, signedIn: true, subject: 'local' }, NO_STORE);
          return;
        }
        const cookie = sessionCookie(req.headers.cookie);
        const found = typeof cookie === 'string' ? await sessions.find(cookie) : undefined;
        const base = { auth: true, oidc: oidc !== undefined };
        if (found === undefined) {
          sendJson(res, 200, { ...base, signedIn: false }, NO_STORE);
          return;
        }
        sendJson(
          res,
          200,
          {
            ...base,
            signedIn: true,
            subject: found.principal.subject,
            user: found.principal.user,
            serverAdmin: found.principal.serverAdmin,
            csrf: found.csrf,
            expiresAt: new Date(found.expiresAt).toISOString(),
          },
          NO_STORE,
        );
      },
    },

    '/auth/token': {
      POST: async (req, res) => {
        if (!authorizer.required) {
          throw new ModelportError('invalid_request', 'auth is off on this server: there is nothing to sign in to');
        }
        const type = req.headers['content-type'] ?? '';
        if (!type.startsWith('application/json')) {
          throw new ModelportError('unsupported_media_type', 'send {"token":"mp_…"} as application/json');
        }
        const body = parseJson(await readBody(req, 4096)) as { token?: unknown };
        const text = typeof body?.token === 'string' ? body.token.trim() : '';
        const parsed = parseToken(text);
        if (parsed === undefined) {
          throw new ModelportError('invalid_request', 'token: paste a Modelport token (mp_…)', { field: 'token' });
        }
        const principal = await authorizer.authenticate({
          method: 'GET',
          headers: { authorization: `Bearer ${text}` },
        });
        if (principal.scope !== undefined) {
          throw new ModelportError(
            'forbidden',
            'this token is scoped to inference on one deployment; sign in with a token of your own',
          );
        }
        const stored = await deps.users.findToken(parsed.id);
        if (stored === undefined) throw new ModelportError('unauthenticated', 'the token is not valid');
        const ttl = Math.min(deps.sessionTtlMs, (stored.expiresAt ?? Number.POSITIVE_INFINITY) - Date.now());
        const session = await sessions.create(stored.userId, 'token', ttl);
        deps.log('console sign-in', { user: stored.user, via: 'token', tokenId: stored.id });
        sendJson(
          res,
          200,
          {
            signedIn: true,
            user: stored.user,
            csrf: session.csrf,
            expiresAt: new Date(session.expiresAt).toISOString(),
          },
          { ...NO_STORE, 'set-cookie': sessionSetCookie(req, session.cookie, Math.floor(ttl / 1000)) } as never,
        );
      },
    },

    '/auth/login': {
      GET: async (req, res) => {
        if (oidc === undefined) {
          throw new ModelportError(
            'not_found',
            'sign-in through an identity provider is not configured on this server',
          );
        }
        const { url, state } = await oidc.start();
        res.writeHead(302, {
          location: url,
          ...NO_STORE,
          // Lax, not Strict: the provider sends the browser back with a cross-site top-level navigation.
          'set-cookie': `${STATE_COOKIE}=${state}; Path=/auth/callback; HttpOnly; SameSite=Lax; Max-Age=600${secureFor(req)}`,
        });
        res.end();
      },
    },

    '/auth/callback': {
      GET: async (req, res) => {
        if (oidc === undefined)
          throw new ModelportError('not_found', 'sign-in through an identity provider is not configured');
        const url = req.url ?? '';
        const query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
        const clearState = `${STATE_COOKIE}=; Path=/auth/callback; HttpOnly; SameSite=Lax; Max-Age=0${secureFor(req)}`;
        try {
          const identity = await oidc.finish(query, readCookie(req.headers.cookie, STATE_COOKIE));
          const userId = await deps.users.ensureUser(identity.username);
          const { managed, wanted } = oidc.mapGroups(identity.groups);
          if (managed.length > 0) await deps.users.syncGroups(identity.username, managed, wanted);
          const session = await sessions.create(userId, 'oidc', deps.sessionTtlMs);
          deps.log('console sign-in', { user: identity.username, via: 'oidc', groups: wanted.join(',') });
          res.writeHead(302, {
            location: '/',
            ...NO_STORE,
            'set-cookie': [sessionSetCookie(req, session.cookie, Math.floor(deps.sessionTtlMs / 1000)), clearState],
          });
          res.end();
        } catch (error) {
          const message =
            error instanceof ModelportError && error.code !== 'internal' ? error.message : 'the sign-in failed';
          if (!(error instanceof ModelportError)) deps.log('console sign-in failed', { error: String(error) });
          res.writeHead(302, {
            location: `/login?error=${encodeURIComponent(message)}`,
            ...NO_STORE,
            'set-cookie': clearState,
          });
          res.end();
        }
      },
    },

    '/auth/logout': {
      POST: async (req, res) => {
        const cookie = sessionCookie(req.headers.cookie);
        if (typeof cookie === 'string') {
          const found = await sessions.find(cookie);
          if (found !== undefined) {
            const header = req.headers[CSRF_HEADER];
            if (!sameCsrf(typeof header === 'string' ? header : undefined, found.csrf)) {
              throw new ModelportError('csrf_failed', `signing out needs the session's ${CSRF_HEADER} header`);
            }
            await sessions.delete(cookie);
          }
        }
        res.writeHead(204, { ...NO_STORE, 'set-cookie': clearSession(req) });
        res.end();
      },
    },
  };

  return async (req, res, path) => {
    const route = routes[path];
    if (route === undefined) throw new ModelportError('not_found', `nothing is served at ${path.slice(0, 200)}`);
    const handler = route[req.method ?? 'GET'];
    if (handler === undefined) {
      throw new ModelportError('method_not_allowed', `${req.method} is not allowed on ${path}`);
    }
    await handler(req, res, path);
  };
}

function readCookie(header: string | string[] | undefined, name: string): string | undefined {
  for (const line of Array.isArray(header) ? header : header === undefined ? [] : [header]) {
    for (const part of line.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
    }
  }
  return undefined;
}
