/**
 * The seam between the router and identity: the router asks the authorizer for a principal, then checks the
 * route's declared permission on the route's project. The implementations live in src/auth: `LocalAuthorizer`
 * (the embedded single-user mode on loopback) and `TokenAuthorizer` (bearer tokens, roles per project).
 */
export { type Authorizer, checkGrant, LocalAuthorizer } from '../auth/index.ts';
