/**
 * Routes of identity: who am I, users, groups, API tokens, project members, and deleting a project. Users and
 * groups are the server admin's; members are a project admin's; everyone signed in manages their own tokens (the
 * server admin anyone's). A token's text is in the answer of its creation only.
 */
import { z } from 'zod';
import {
  type AuthStore,
  can,
  checkGrant,
  MAX_RATE_LIMIT,
  type MemberKind,
  PROJECT_ROLES,
  type Principal,
  type TokenInfo,
} from '../../auth/index.ts';
import { ModelportError, parseDuration } from '../../core/index.ts';
import type { ModelRegistry } from '../../registry/index.ts';
import { route } from '../route.ts';
import { Name, ProjectParams } from '../schemas.ts';

export interface AuthRoutesDeps {
  users: AuthStore;
  registry: ModelRegistry;
  /** Clears cached principals after a change (one token's, or all when undefined). */
  invalidate: (tokenId?: string) => void;
}

const Role = z.enum(PROJECT_ROLES as [string, ...string[]]);
const UserSchema = z.object({
  name: z.string(),
  serverAdmin: z.boolean(),
  groups: z.array(z.string()),
  createdAt: z.string(),
});
const GroupSchema = z.object({ name: z.string(), members: z.array(z.string()), createdAt: z.string() });
const TokenInfoSchema = z.object({
  id: z.string().describe('The public id (16 hex digits, part of the token); revoke by it'),
  name: z.string(),
  user: z.string(),
  deployment: z.object({ project: z.string(), name: z.string() }).optional(),
  rateLimit: z.number().optional().describe('Requests per second'),
  expiresAt: z.string().optional(),
  createdAt: z.string(),
  lastUsedAt: z.string().optional(),
});
const MemberSchema = z.object({
  kind: z.enum(['user', 'group']),
  name: z.string(),
  role: Role,
  code: z.boolean(),
  createdAt: z.string(),
});
const MemberParams = z.strictObject({ project: Name, kind: z.enum(['user', 'group']), name: Name });
const TokenId = z.strictObject({ id: z.string().regex(/^[0-9a-f]{16}$/, 'a token id is 16 hex digits') });
const WhoAmI = z.object({
  subject: z.string(),
  user: z.string().optional(),
  token: z.object({ id: z.string(), name: z.string() }).optional(),
  serverAdmin: z.boolean(),
  groups: z.array(z.string()),
  roles: z.array(z.object({ project: z.string(), role: Role, code: z.boolean() })),
  deployment: z.object({ project: z.string(), name: z.string() }).optional(),
});

const MAX_EXPIRY_MS = 10 * 365 * 24 * 3600_000;

export function authRoutes({ users, registry, invalidate }: AuthRoutesDeps) {
  return [
    route({
      id: 'whoami',
      method: 'GET',
      path: '/whoami',
      permission: 'self',
      tag: 'auth',
      summary: 'The caller: user, token, server admin or not, groups and roles per project',
      response: WhoAmI,
      handler: async ({ principal }) => whoami(principal),
    }),

    // Users and groups: the server admin's.
    route({
      id: 'listUsers',
      method: 'GET',
      path: '/users',
      permission: 'admin',
      tag: 'auth',
      summary: 'List users with their groups',
      response: z.object({ users: z.array(UserSchema) }),
      handler: async () => ({ users: await users.listUsers() }),
    }),
    route({
      id: 'createUser',
      method: 'POST',
      path: '/users',
      permission: 'admin',
      tag: 'auth',
      summary: 'Create a user; serverAdmin makes it a server admin. Give it roles with members, tokens with tokens',
      body: z.strictObject({ name: Name, serverAdmin: z.boolean().optional() }),
      status: 201,
      response: UserSchema,
      handler: async ({ body }) => users.createUser(body.name, { serverAdmin: body.serverAdmin === true }),
    }),
    route({
      id: 'deleteUser',
      method: 'DELETE',
      path: '/users/:name',
      permission: 'admin',
      tag: 'auth',
      summary: 'Delete a user with its tokens and memberships (never the last server admin)',
      params: z.strictObject({ name: Name }),
      response: 'empty',
      handler: async ({ params }) => {
        await users.deleteUser(params.name);
        invalidate();
      },
    }),
    route({
      id: 'listGroups',
      method: 'GET',
      path: '/groups',
      permission: 'admin',
      tag: 'auth',
      summary: 'List groups with their members',
      response: z.object({ groups: z.array(GroupSchema) }),
      handler: async () => ({ groups: await users.listGroups() }),
    }),
    route({
      id: 'createGroup',
      method: 'POST',
      path: '/groups',
      permission: 'admin',
      tag: 'auth',
      summary: 'Create a group; grant it roles on projects with members',
      body: z.strictObject({ name: Name }),
      status: 201,
      response: GroupSchema,
      handler: async ({ body }) => users.createGroup(body.name),
    }),
    route({
      id: 'deleteGroup',
      method: 'DELETE',
      path: '/groups/:name',
      permission: 'admin',
      tag: 'auth',
      summary: 'Delete a group and its roles',
      params: z.strictObject({ name: Name }),
      response: 'empty',
      handler: async ({ params }) => {
        await users.deleteGroup(params.name);
        invalidate();
      },
    }),
    route({
      id: 'addGroupMember',
      method: 'PUT',
      path: '/groups/:name/members/:user',
      permission: 'admin',
      tag: 'auth',
      summary: 'Add a user to a group',
      params: z.strictObject({ name: Name, user: Name }),
      response: 'empty',
      handler: async ({ params }) => {
        await users.addGroupMember(params.name, params.user);
        invalidate();
      },
    }),
    route({
      id: 'removeGroupMember',
      method: 'DELETE',
      path: '/groups/:name/members/:user',
      permission: 'admin',
      tag: 'auth',
      summary: 'Remove a user from a group',
      params: z.strictObject({ name: Name, user: Name }),
      response: 'empty',
      handler: async ({ params }) => {
        await users.removeGroupMember(params.name, params.user);
        invalidate();
      },
    }),

    // Tokens: your own; the server admin's for anyone.
    route({
      id: 'listTokens',
      method: 'GET',
      path: '/tokens',
      permission: 'self',
      tag: 'auth',
      summary:
        "List your tokens (never their secrets); the server admin lists a user's with ?user= or all with ?all=true",
      query: z.strictObject({ user: Name.optional(), all: z.enum(['true', 'false']).optional() }),
      response: z.object({ tokens: z.array(TokenInfoSchema) }),
      handler: async ({ principal, query }) => {
        const wanted = query.all === 'true' ? undefined : (query.user ?? principal.user);
        if (wanted !== principal.user || principal.user === undefined) checkGrant(principal, 'admin');
        return { tokens: (await users.listTokens(wanted)).map(tokenJson) };
      },
    }),
    route({
      id: 'createToken',
      method: 'POST',
      path: '/tokens',
      permission: 'self',
      tag: 'auth',
      summary:
        'Create a token; the answer carries its text, shown this once. Optional: expiresIn (30d, 12h), deployment (inference on one deployment only), rateLimit (requests per second); user (server admin only)',
      body: z.strictObject({
        name: Name,
        user: Name.optional().describe('Whose token; yours unless you are the server admin'),
        expiresIn: z.string().max(32).optional().describe('A duration: 90d, 12h, 30m'),
        deployment: z
          .strictObject({ project: Name, name: Name })
          .optional()
          .describe('Limit the token to inference on this deployment'),
        rateLimit: z.number().positive().max(MAX_RATE_LIMIT).optional().describe('Requests per second'),
      }),
      status: 201,
      response: TokenInfoSchema.extend({ token: z.string().describe('mp_…: store it now; it is never shown again') }),
      handler: async ({ principal, body }) => {
        const user = body.user ?? principal.user;
        if (user === undefined) {
          throw new ModelportError('invalid_request', 'user: name the user the token is for', { field: 'user' });
        }
        if (user !== principal.user) checkGrant(principal, 'admin');
        let expiresAt: Date | undefined;
        if (body.expiresIn !== undefined) {
          const ms = parseDuration(body.expiresIn.replace(/^(\d+)d$/, (_, d: string) => `${Number(d) * 24}h`));
          if (ms === undefined || ms <= 0 || ms > MAX_EXPIRY_MS) {
            throw new ModelportError(
              'invalid_request',
              `expiresIn: '${body.expiresIn}' is not a duration up to 10 years; use 90d, 12h or 30m`,
              { field: 'expiresIn' },
            );
          }
          expiresAt = new Date(Date.now() + ms);
        }
        const { token, info } = await users.createToken({
          user,
          name: body.name,
          expiresAt,
          deployment: body.deployment,
          rateLimit: body.rateLimit,
        });
        return { ...tokenJson(info), token };
      },
    }),
    route({
      id: 'revokeToken',
      method: 'DELETE',
      path: '/tokens/:id',
      permission: 'self',
      tag: 'auth',
      summary: 'Revoke a token (yours; the server admin may revoke any); it stops working at once',
      params: TokenId,
      response: 'empty',
      handler: async ({ principal, params }) => {
        const owner = await users.tokenOwner(params.id);
        if (owner !== principal.user) checkGrant(principal, 'admin');
        await users.revokeToken(params.id);
        invalidate(params.id);
      },
    }),

    // Members: a project admin's.
    route({
      id: 'listMembers',
      method: 'GET',
      path: '/projects/:project/members',
      permission: 'read',
      tag: 'projects',
      summary: 'List the users and groups with a role on a project',
      params: ProjectParams,
      response: z.object({ members: z.array(MemberSchema) }),
      handler: async ({ params }) => ({ members: await users.listMembers(params.project) }),
    }),
    route({
      id: 'addMember',
      method: 'PUT',
      path: '/projects/:project/members/:kind/:name',
      permission: 'admin',
      tag: 'projects',
      summary:
        'Grant a user or group a role on a project (viewer, editor, admin), replacing its role there; code: true lets an editor register js models',
      params: MemberParams,
      body: z.strictObject({ role: Role, code: z.boolean().optional() }),
      response: MemberSchema,
      handler: async ({ params, body }) => {
        const member = await users.addMember(
          params.project,
          { kind: params.kind as MemberKind, name: params.name },
          body.role as (typeof PROJECT_ROLES)[number],
          { code: body.code === true },
        );
        invalidate();
        return member;
      },
    }),
    route({
      id: 'removeMember',
      method: 'DELETE',
      path: '/projects/:project/members/:kind/:name',
      permission: 'admin',
      tag: 'projects',
      summary: "Remove a user's or group's role on a project",
      params: MemberParams,
      response: 'empty',
      handler: async ({ params }) => {
        await users.removeMember(params.project, { kind: params.kind as MemberKind, name: params.name });
        invalidate();
      },
    }),
    route({
      id: 'deleteProject',
      method: 'DELETE',
      path: '/projects/:project',
      permission: 'admin',
      tag: 'projects',
      summary: 'Delete an empty project (no models, deployments, jobs or secrets) with its members',
      params: ProjectParams,
      response: 'empty',
      handler: async ({ params }) => {
        await registry.deleteProject(params.project);
        invalidate();
      },
    }),
  ];
}

function tokenJson(info: TokenInfo) {
  return {
    id: info.id,
    name: info.name,
    user: info.user,
    ...(info.deployment ? { deployment: info.deployment } : {}),
    ...(info.rateLimit !== undefined ? { rateLimit: info.rateLimit } : {}),
    ...(info.expiresAt !== undefined ? { expiresAt: info.expiresAt } : {}),
    createdAt: info.createdAt,
    ...(info.lastUsedAt !== undefined ? { lastUsedAt: info.lastUsedAt } : {}),
  };
}

function whoami(p: Principal) {
  return {
    subject: p.subject,
    ...(p.user !== undefined ? { user: p.user } : {}),
    ...(p.token !== undefined ? { token: { id: p.token.id, name: p.token.name } } : {}),
    serverAdmin: p.serverAdmin,
    groups: [...p.groups],
    roles: [...p.roles]
      .map(([project, role]) => ({
        project,
        role,
        code: role === 'admin' || (role === 'editor' && p.code.has(project)),
      }))
      .sort((a, b) => a.project.localeCompare(b.project)),
    ...(p.scope !== undefined ? { deployment: { project: p.scope.project, name: p.scope.deployment } } : {}),
  };
}

/** True when `principal` may see `project` in listings. */
export const mayList = (principal: Principal, project: string) => can(principal, 'read', project);
