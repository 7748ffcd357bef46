/**
 * Sign-in through an OpenID Connect provider: the authorization code flow with PKCE (S256), a state and a nonce,
 * through openid-client. The provider's discovery document is read on the first sign-in (and again after a
 * failure), so a provider that is down does not stop the server from starting. openid-client (with jose) loads then
 * too, so a server without OIDC never loads it.
 *
 * A pending sign-in lives here for 10 minutes, keyed by its state; the browser that started it holds the state in
 * a cookie, so a callback URL pasted into another browser (login CSRF) fails.
 */
import type * as oidc from 'openid-client';
import { isLoopbackHost, ModelportError, type OidcSettings } from '../core/index.ts';

const PENDING_TTL_MS = 10 * 60_000;
const MAX_PENDING = 10_000;

interface Pending {
  verifier: string;
  nonce: string;
  at: number;
}

/** What a completed sign-in tells about the user. */
export interface OidcIdentity {
  username: string;
  /** The provider's groups (from the groups claim), before mapping. */
  groups: string[];
  subject: string;
}

export class OidcLogin {
  readonly #settings: OidcSettings;
  readonly #clientSecret: string | undefined;
  readonly #pending = new Map<string, Pending>();
  #config: Promise<oidc.Configuration> | undefined;

  constructor(settings: OidcSettings, clientSecret: string | undefined) {
    this.#settings = settings;
    this.#clientSecret = clientSecret;
  }

  /** The provider URL to send the browser to, and the state to bind to the browser. */
  async start(): Promise<{ url: string; state: string }> {
    const config = await this.#discover();
    const client = await import('openid-client');
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    this.#sweep();
    this.#pending.set(state, { verifier, nonce, at: Date.now() });
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.#settings.redirectUrl,
      scope: this.#settings.scopes,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url: url.href, state };
  }

  /**
   * Completes a sign-in: `query` is the callback's query string, `browserState` the state cookie. Throws
   * `unauthenticated` with a message for the sign-in page when anything does not check out.
   */
  async finish(query: string, browserState: string | undefined): Promise<OidcIdentity> {
    const params = new URLSearchParams(query);
    const error = params.get('error');
    if (error !== null) {
      throw new ModelportError('unauthenticated', `the identity provider refused the sign-in (${error.slice(0, 60)})`);
    }
    const state = params.get('state') ?? '';
    const pending = this.#pending.get(state);
    if (browserState === undefined || browserState !== state || pending === undefined) {
      throw new ModelportError(
        'unauthenticated',
        'this sign-in was not started in this browser or took too long; sign in again',
      );
    }
    this.#pending.delete(state);
    if (Date.now() - pending.at > PENDING_TTL_MS) {
      throw new ModelportError('unauthenticated', 'the sign-in took too long; sign in again');
    }
    const config = await this.#discover();
    const current = new URL(this.#settings.redirectUrl);
    current.search = params.toString();
    let claims: oidc.IDToken | undefined;
    try {
      const client = await import('openid-client');
      const tokens = await client.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: pending.verifier,
        expectedState: state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      claims = tokens.claims();
    } catch (cause) {
      throw new ModelportError('unauthenticated', 'the identity provider did not confirm the sign-in; sign in again', {
        cause,
      });
    }
    if (claims === undefined) throw new ModelportError('unauthenticated', 'the identity provider sent no ID token');
    const username = claims[this.#settings.usernameClaim];
    if (typeof username !== 'string' || !/^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/.test(username)) {
      throw new ModelportError(
        'unauthenticated',
        `the ID token's '${this.#settings.usernameClaim}' claim is not a Modelport user name (1-63 lowercase letters, digits, '.', '_', '-'); an administrator can pick another claim with --oidc-username-claim`,
      );
    }
    const raw = claims[this.#settings.groupsClaim];
    const groups = Array.isArray(raw)
      ? raw.filter((g): g is string => typeof g === 'string')
      : typeof raw === 'string'
        ? [raw]
        : [];
    return { username, groups, subject: claims.sub };
  }

  /** The Modelport groups a set of provider groups maps to, and every group the mapping manages. */
  mapGroups(groups: readonly string[]): { managed: string[]; wanted: string[] } {
    const managed = [...new Set([...this.#settings.groupMap.values()].flat())].sort();
    const wanted = [...new Set(groups.flatMap((g) => this.#settings.groupMap.get(g) ?? []))].sort();
    return { managed, wanted };
  }

  #discover(): Promise<oidc.Configuration> {
    this.#config ??= (async () => {
      const client = await import('openid-client');
      const issuer = new URL(this.#settings.issuer);
      const secret = this.#clientSecret;
      const insecure = issuer.protocol === 'http:' && isLoopbackHost(issuer.hostname);
      return client.discovery(
        issuer,
        this.#settings.clientId,
        secret,
        secret === undefined ? client.None() : client.ClientSecretPost(secret),
        { ...(insecure ? { execute: [client.allowInsecureRequests] } : {}), timeout: 10 },
      );
    })();
    return this.#config.catch((cause: unknown) => {
      this.#config = undefined;
      throw new ModelportError('not_ready', 'the identity provider cannot be reached; try again shortly', { cause });
    });
  }

  #sweep(): void {
    const now = Date.now();
    for (const [state, p] of this.#pending) if (now - p.at > PENDING_TTL_MS) this.#pending.delete(state);
    // A flood of started sign-ins must not grow memory: the oldest go first.
    while (this.#pending.size >= MAX_PENDING) this.#pending.delete(this.#pending.keys().next().value!);
  }
}
