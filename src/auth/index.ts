/**
 * Identity and roles: users, groups, API tokens and project memberships in the metadata store; the principal of a
 * request and the one permission check (`can` / `checkGrant`); the authorizers the API, the gateway and gRPC use.
 */
export {
  type AuthMetadata,
  AuthStore,
  type CreateTokenInput,
  type GroupInfo,
  MAX_RATE_LIMIT,
  type MemberInfo,
  type MemberKind,
  type StoredToken,
  type TokenInfo,
  type UserInfo,
} from './auth-store.ts';
export {
  type Authorizer,
  type Credentials,
  CSRF_HEADER,
  LocalAuthorizer,
  SESSION_COOKIE,
  sessionCookie,
  TokenAuthorizer,
  type TokenAuthorizerOptions,
} from './authorizer.ts';
export { ADMIN_USER, type BootstrapResult, ensureServerAdmin } from './bootstrap.ts';
export { deploymentOf, type InferenceGuard, type InferenceGuardOptions, inferenceGuard } from './inference-guard.ts';
export { loadTokenKey, readPrivateFile, type TokenKeySource, writePrivateFile } from './key-file.ts';
export {
  ANONYMOUS_PRINCIPAL,
  can,
  checkGrant,
  denial,
  higherRole,
  isProjectRole,
  LOCAL_PRINCIPAL,
  type Permission,
  PROJECT_ROLES,
  type Principal,
  type ProjectRole,
  ROLE_FOR,
  ROUTE_PERMISSIONS,
  roleHolds,
  visibleProjects,
} from './principal.ts';
export { type FoundSession, SessionStore, type SessionStoreDeps, type SessionVia, sameCsrf } from './session-store.ts';
export { bearerToken, generateToken, parseToken, TOKEN_PREFIX, TokenHasher } from './token.ts';
export { TokenBuckets } from './token-bucket.ts';
