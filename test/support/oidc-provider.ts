/**
 * A real OpenID Connect provider for tests: the npm package oidc-provider on loopback, with its development
 * sign-in pages (any login, any password) and accounts whose claims the test chooses. Nothing of Modelport's side
 * is replaced: the server under test discovers it, redirects browsers to it and redeems its codes.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

export interface TestAccount {
  preferred_username?: string;
  groups?: string[];
}

export interface TestOidcProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Claims by login name: what the provider puts in the ID token for whoever signs in with that login. */
  accounts: Map<string, TestAccount>;
  close(): Promise<void>;
}

export async function startOidcProvider(redirectUri: string): Promise<TestOidcProvider> {
  const accounts = new Map<string, TestAccount>();
  const server: Server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'modelport-console';
  const clientSecret = 'provider-test-secret-0123456789abcdef';
  // The provider warns (on console.warn) about its development keys and sign-in pages, which a test wants.
  const warn = console.warn;
  console.warn = () => {};
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    pkce: { required: () => true },
    claims: { openid: ['sub'], profile: ['preferred_username'], groups: ['groups'] },
    scopes: ['openid', 'profile', 'groups'],
    // The claims of the granted scopes go into the ID token itself (Modelport reads them there).
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
    findAccount: async (_ctx, id) => ({
      accountId: id,
      claims: async () => ({ sub: id, ...(accounts.get(id) ?? { preferred_username: id }) }),
    }),
    cookies: { keys: ['oidc-provider-test-cookie-key'] },
  });
  console.warn = warn;
  // Development-only warnings about the dev interactions and the cookie keys would drown the test output.
  provider.on('server_error', () => {});
  server.on('request', provider.callback());
  return {
    issuer,
    clientId,
    clientSecret,
    accounts,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
