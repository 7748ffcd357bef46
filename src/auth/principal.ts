/**
 * Who is calling, and what each role may do. This is the one place that maps the route table's permissions to
 * roles: every check (control API, inference over REST and gRPC, /metrics) goes through `can` / `checkGrant`.
 *
 * Roles are per project; a user's role on a project is the highest of its own membership and those of its groups.
 *
 * | permission | who holds it on a project                         | routes without a project  |
 * |------------|---------------------------------------------------|---------------------------|
 * | `read`     | viewer, editor, admin                             | any signed-in principal   |
 * | `self`     | any signed-in user (its own tokens, whoami)       | any signed-in user        |
 * | `write`    | editor, admin (register, deploy, score, run)      | server admin              |
 * | `infer`    | editor, admin; a token scoped to the deployment   | (inference is per model)  |
 * | `code`     | admin; an editor granted `code` on the project    | server admin              |
 * | `admin`    | admin (members, secrets, delete)                  | server admin              |
 *
 * The server admin holds every permission everywhere. A token scoped to one deployment holds `infer` on it (when
 * its user does) and nothing else.
 */
import { ModelportError } from '../core/index.ts';

export type Permission = 'read' | 'self' | 'write' | 'infer' | 'code' | 'admin';
export type ProjectRole = 'viewer' | 'editor' | 'admin';

export const PROJECT_ROLES: readonly ProjectRole[] = ['viewer', 'editor', 'admin'];
/** Permissions a route may declare (inference is checked by the data plane, not declared by a route). */
export const ROUTE_PERMISSIONS: readonly Permission[] = ['read', 'self', 'write', 'code', 'admin'];

const ROLE_RANK: Record<ProjectRole, number> = { viewer: 1, editor: 2, admin: 3 };

/** The lowest role that holds a permission on a project. `code` is also granted to an editor with the code flag. */
export const ROLE_FOR: Record<Permission, ProjectRole> = {
  read: 'viewer',
  self: 'viewer',
  write: 'editor',
  infer: 'editor',
  code: 'admin',
  admin: 'admin',
};

/**
 * Who is calling. Built by an Authorizer per request (cached briefly per token) and passed to every handler.
 * Stable shape: the audit log records `subject`, `user` and `token.name`.
 */
export interface Principal {
  /** For logs and the audit log: `local` (embedded single-user mode), `user:<name>`, or `anonymous`. */
  readonly subject: string;
  /** The user's name; undefined for the local and anonymous principals. */
  readonly user: string | undefined;
  /** The token that authenticated the call (id and name, never its secret). */
  readonly token: { readonly id: string; readonly name: string } | undefined;
  /** Every permission on every project and on the server-wide routes. */
  readonly serverAdmin: boolean;
  /** The effective role per project name (own membership or a group's, the highest wins). */
  readonly roles: ReadonlyMap<string, ProjectRole>;
  /** Projects where the `code` permission was granted beyond the role (editors registering js models). */
  readonly code: ReadonlySet<string>;
  /** Groups the user is in. */
  readonly groups: readonly string[];
  /** Set for tokens that may only call inference on one deployment. */
  readonly scope: { readonly project: string; readonly deployment: string } | undefined;
}

/** The embedded single-user mode (loopback without --auth): everything, everywhere. */
export const LOCAL_PRINCIPAL: Principal = Object.freeze({
  subject: 'local',
  user: undefined,
  token: undefined,
  serverAdmin: true,
  roles: new Map(),
  code: new Set<string>(),
  groups: [],
  scope: undefined,
});

/** Callers of open deployments (`spec.auth: open`) that sent no token. */
export const ANONYMOUS_PRINCIPAL: Principal = Object.freeze({
  subject: 'anonymous',
  user: undefined,
  token: undefined,
  serverAdmin: false,
  roles: new Map(),
  code: new Set<string>(),
  groups: [],
  scope: undefined,
});

export function isProjectRole(value: string): value is ProjectRole {
  return (PROJECT_ROLES as readonly string[]).includes(value);
}

/** The higher of two roles. */
export function higherRole(a: ProjectRole | undefined, b: ProjectRole): ProjectRole {
  return a === undefined || ROLE_RANK[b] > ROLE_RANK[a] ? b : a;
}

export function roleHolds(role: ProjectRole | undefined, permission: Permission): boolean {
  return role !== undefined && ROLE_RANK[role] >= ROLE_RANK[ROLE_FOR[permission]];
}

/**
 * Whether `principal` holds `permission` on `project` (undefined: a server-wide route). `deployment` names the
 * deployment for `infer`, which a scoped token needs to match.
 */
export function can(principal: Principal, permission: Permission, project?: string, deployment?: string): boolean {
  if (principal.scope !== undefined) {
    const inScope =
      permission === 'infer' && project === principal.scope.project && deployment === principal.scope.deployment;
    // The scope narrows the user's grants, never widens them: the user must still hold `infer` there.
    if (!inScope) return false;
  }
  if (principal.serverAdmin) return true;
  if (project === undefined) {
    if (permission === 'read') return principal !== ANONYMOUS_PRINCIPAL;
    if (permission === 'self') return principal.user !== undefined;
    return false;
  }
  if (permission === 'self') return principal.user !== undefined;
  const role = principal.roles.get(project);
  if (permission === 'code' && role === 'editor' && principal.code.has(project)) return true;
  return roleHolds(role, permission);
}

/** Throws `unauthenticated` for the anonymous principal and `forbidden`, naming the missing role, otherwise. */
export function checkGrant(principal: Principal, permission: Permission, project?: string, deployment?: string): void {
  if (can(principal, permission, project, deployment)) return;
  throw denial(principal, permission, project, deployment);
}

/** The error for a refused call, naming what is missing. */
export function denial(principal: Principal, permission: Permission, project?: string, deployment?: string) {
  if (principal === ANONYMOUS_PRINCIPAL) {
    return new ModelportError('unauthenticated', 'send a token: Authorization: Bearer <token>');
  }
  if (principal.scope !== undefined) {
    const what = `inference on deployment '${principal.scope.deployment}' in project '${principal.scope.project}'`;
    return new ModelportError('forbidden', `this token is scoped to ${what} only`);
  }
  if (project === undefined) {
    const needs = permission === 'self' ? 'a user token' : 'the server admin role';
    return new ModelportError('forbidden', `this needs ${needs}`);
  }
  const role = principal.roles.get(project);
  const needed =
    permission === 'code'
      ? "the 'admin' role or 'editor' with the code permission"
      : `the '${ROLE_FOR[permission]}' role`;
  const target =
    deployment === undefined ? `project '${project}'` : `deployment '${deployment}' in project '${project}'`;
  return new ModelportError(
    'forbidden',
    `this needs ${needed} on ${target}; you have ${role === undefined ? 'no role there' : `'${role}'`}`,
  );
}

/** The projects a principal may see in listings; '*' for the server admin and the local principal. */
export function visibleProjects(principal: Principal): ReadonlySet<string> | '*' {
  if (principal.serverAdmin) return '*';
  if (principal.scope !== undefined) return new Set();
  return new Set(principal.roles.keys());
}
