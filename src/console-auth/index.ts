/**
 * Signing in to the web console and guarding browsers: the Host and Origin checks every HTTP request passes, the
 * /auth endpoints (session, token sign-in, OIDC code flow + PKCE, sign-out), and the OIDC client.
 */
export { type BrowserGuard, type BrowserGuardOptions, createBrowserGuard, hostAllowed } from './browser-guard.ts';
export { type OidcIdentity, OidcLogin } from './oidc-login.ts';
export { createSessionHandler, type SessionHandler, type SessionRoutesDeps } from './session-routes.ts';
