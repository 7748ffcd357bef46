/**
 * Who may call which route. The router asks the authorizer for a principal, then checks the route's declared
 * permission and project. `LocalAuthorizer` is the single-user default of an embedded server bound to loopback:
 * every permission on every project. Token-based authorizers plug in behind the same interface.
 */
import type { IncomingMessage } from 'node:http';
import { ModelportError } from '../core/index.ts';
import type { Permission, Principal } from './route.ts';

export interface Authorizer {
  /** Identifies the caller; throws `unauthenticated` when credentials are missing or invalid. */
  authenticate(req: IncomingMessage): Promise<Principal>;
  /** Throws `forbidden` unless the principal holds `permission` on `project` (when the route names one). */
  authorize(principal: Principal, permission: Permission, project: string | undefined): void;
}

export class LocalAuthorizer implements Authorizer {
  readonly #principal: Principal = {
    subject: 'local',
    projects: '*',
    permissions: new Set<Permission>(['read', 'write', 'admin']),
  };

  async authenticate(): Promise<Principal> {
    return this.#principal;
  }

  authorize(principal: Principal, permission: Permission, project: string | undefined): void {
    checkGrant(principal, permission, project);
  }
}

export function checkGrant(principal: Principal, permission: Permission, project: string | undefined): void {
  if (!principal.permissions.has(permission)) {
    throw new ModelportError('forbidden', `this route needs the '${permission}' permission`);
  }
  if (project !== undefined && principal.projects !== '*' && !principal.projects.includes(project)) {
    throw new ModelportError('forbidden', `no access to project '${project}'`);
  }
}
