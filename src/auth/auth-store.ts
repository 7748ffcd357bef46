/**
 * Users, groups, API tokens and project memberships in the metadata store (tables of migration 006_auth).
 *
 * Names of users, groups and tokens follow the project-name rules (`checkName`). A token's text is returned once,
 * by `createToken`; the store keeps only its HMAC. Errors name the field and never contain a token.
 *
 * ```ts
 * const auth = new AuthStore({ store: metadata, hasher: new TokenHasher(key) });
 * await auth.createUser('alice');
 * await auth.addMember('default', { kind: 'user', name: 'alice' }, 'editor');
 * const { token } = await auth.createToken({ user: 'alice', name: 'laptop' }); // mp_…, shown once
 * ```
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { checkName, ModelportError, notFound } from '../core/index.ts';
import { type Database, projectIdOf } from '../store/index.ts';
import { higherRole, isProjectRole, PROJECT_ROLES, type Principal, type ProjectRole } from './principal.ts';
import { generateToken, type TokenHasher } from './token.ts';

/** The slice of the metadata store auth needs. */
export interface AuthMetadata {
  db: Kysely<Database>;
  transaction<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<T>;
}

export interface UserInfo {
  name: string;
  serverAdmin: boolean;
  groups: string[];
  createdAt: string;
}

export interface GroupInfo {
  name: string;
  members: string[];
  createdAt: string;
}

export interface TokenInfo {
  /** The public id (part of the token text); revoke by it. */
  id: string;
  name: string;
  user: string;
  /** Set for a token limited to inference on one deployment. */
  deployment: { project: string; name: string } | undefined;
  /** Requests per second, or undefined for no limit. */
  rateLimit: number | undefined;
  expiresAt: string | undefined;
  createdAt: string;
  lastUsedAt: string | undefined;
}

export type MemberKind = 'user' | 'group';

export interface MemberInfo {
  kind: MemberKind;
  name: string;
  role: ProjectRole;
  /** May register code that runs on the server (js models); always true for admins. */
  code: boolean;
  createdAt: string;
}

export interface CreateTokenInput {
  user: string;
  name: string;
  /** Absolute expiry; undefined means the token does not expire. */
  expiresAt?: Date | undefined;
  /** Limits the token to inference on this deployment. */
  deployment?: { project: string; name: string } | undefined;
  /** Requests per second allowed for this token (token bucket, burst of the same size). */
  rateLimit?: number | undefined;
}

/** A stored token with what verifying it needs. */
export interface StoredToken {
  id: string;
  name: string;
  hash: string;
  userId: string;
  user: string;
  serverAdmin: boolean;
  scope: { project: string; deployment: string } | undefined;
  rateLimit: number | undefined;
  expiresAt: number | undefined;
  lastUsedAt: number | undefined;
}

export const MAX_RATE_LIMIT = 1_000_000;

export class AuthStore {
  readonly #store: AuthMetadata;
  readonly #hasher: TokenHasher;
  readonly #now: () => Date;

  constructor(deps: { store: AuthMetadata; hasher: TokenHasher; now?: () => Date }) {
    this.#store = deps.store;
    this.#hasher = deps.hasher;
    this.#now = deps.now ?? (() => new Date());
  }

  get hasher(): TokenHasher {
    return this.#hasher;
  }

  // Users

  async createUser(name: string, options: { serverAdmin?: boolean } = {}): Promise<UserInfo> {
    checkName(name, 'name');
    const createdAt = this.#now().toISOString();
    const inserted = await this.#store.db
      .insertInto('users')
      .values({ id: randomUUID(), name, server_admin: options.serverAdmin ? 1 : 0, created_at: createdAt })
      .onConflict((oc) => oc.column('name').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!inserted) throw new ModelportError('already_exists', `user '${name}' already exists`, { field: 'name' });
    return { name, serverAdmin: options.serverAdmin === true, groups: [], createdAt };
  }

  async listUsers(): Promise<UserInfo[]> {
    const db = this.#store.db;
    const users = await db.selectFrom('users').selectAll().orderBy('name').execute();
    const memberships = await db
      .selectFrom('group_members')
      .innerJoin('groups', 'groups.id', 'group_members.group_id')
      .select(['group_members.user_id', 'groups.name'])
      .orderBy('groups.name')
      .execute();
    return users.map((u) => ({
      name: u.name,
      serverAdmin: u.server_admin === 1,
      groups: memberships.filter((m) => m.user_id === u.id).map((m) => m.name),
      createdAt: u.created_at,
    }));
  }

  async countServerAdmins(): Promise<number> {
    const row = await this.#store.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('server_admin', '=', 1)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async setServerAdmin(name: string, serverAdmin: boolean): Promise<void> {
    const result = await this.#store.db
      .updateTable('users')
      .set({ server_admin: serverAdmin ? 1 : 0 })
      .where('name', '=', name)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw notFound(`user '${name}'`, 'name');
  }

  /** Deletes the user, its tokens and its memberships. The last server admin cannot be deleted. */
  async deleteUser(name: string): Promise<void> {
    await this.#store.transaction(async (trx) => {
      const user = await this.#userRow(trx, name, 'name');
      if (user.server_admin === 1) {
        const admins = await trx.selectFrom('users').select('id').where('server_admin', '=', 1).execute();
        if (admins.length <= 1) {
          throw new ModelportError('conflict', `user '${name}' is the last server admin; make another admin first`, {
            field: 'name',
          });
        }
      }
      await trx
        .deleteFrom('project_members')
        .where('member_kind', '=', 'user')
        .where('member_id', '=', user.id)
        .execute();
      await trx.deleteFrom('api_tokens').where('user_id', '=', user.id).execute();
      await trx.deleteFrom('console_sessions').where('user_id', '=', user.id).execute();
      await trx.deleteFrom('group_members').where('user_id', '=', user.id).execute();
      await trx.deleteFrom('users').where('id', '=', user.id).execute();
    });
  }

  // Groups

  async createGroup(name: string): Promise<GroupInfo> {
    checkName(name, 'name');
    const createdAt = this.#now().toISOString();
    const inserted = await this.#store.db
      .insertInto('groups')
      .values({ id: randomUUID(), name, created_at: createdAt })
      .onConflict((oc) => oc.column('name').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!inserted) throw new ModelportError('already_exists', `group '${name}' already exists`, { field: 'name' });
    return { name, members: [], createdAt };
  }

  async listGroups(): Promise<GroupInfo[]> {
    const db = this.#store.db;
    const groups = await db.selectFrom('groups').selectAll().orderBy('name').execute();
    const members = await db
      .selectFrom('group_members')
      .innerJoin('users', 'users.id', 'group_members.user_id')
      .select(['group_members.group_id', 'users.name'])
      .orderBy('users.name')
      .execute();
    return groups.map((g) => ({
      name: g.name,
      members: members.filter((m) => m.group_id === g.id).map((m) => m.name),
      createdAt: g.created_at,
    }));
  }

  async deleteGroup(name: string): Promise<void> {
    await this.#store.transaction(async (trx) => {
      const group = await this.#groupRow(trx, name, 'name');
      await trx
        .deleteFrom('project_members')
        .where('member_kind', '=', 'group')
        .where('member_id', '=', group.id)
        .execute();
      await trx.deleteFrom('group_members').where('group_id', '=', group.id).execute();
      await trx.deleteFrom('groups').where('id', '=', group.id).execute();
    });
  }

  async addGroupMember(group: string, user: string): Promise<void> {
    await this.#store.transaction(async (trx) => {
      const g = await this.#groupRow(trx, group, 'group');
      const u = await this.#userRow(trx, user, 'user');
      await trx
        .insertInto('group_members')
        .values({ group_id: g.id, user_id: u.id })
        .onConflict((oc) => oc.columns(['group_id', 'user_id']).doNothing())
        .execute();
    });
  }

  async removeGroupMember(group: string, user: string): Promise<void> {
    await this.#store.transaction(async (trx) => {
      const g = await this.#groupRow(trx, group, 'group');
      const u = await this.#userRow(trx, user, 'user');
      const result = await trx
        .deleteFrom('group_members')
        .where('group_id', '=', g.id)
        .where('user_id', '=', u.id)
        .executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) throw notFound(`user '${user}' in group '${group}'`, 'user');
    });
  }

  // Project memberships

  /** Grants (or changes) a role on a project. `code` lets an editor register js models. */
  async addMember(
    project: string,
    member: { kind: MemberKind; name: string },
    role: ProjectRole,
    options: { code?: boolean } = {},
  ): Promise<MemberInfo> {
    if (!isProjectRole(role)) {
      throw new ModelportError('invalid_request', `role '${role}' is not a role; use ${PROJECT_ROLES.join(', ')}`, {
        field: 'role',
      });
    }
    const createdAt = this.#now().toISOString();
    const code = role === 'admin' || options.code === true;
    await this.#store.transaction(async (trx) => {
      const projectId = await this.#projectId(trx, project);
      const memberId = await this.#memberId(trx, member);
      const values = { role, code: code ? 1 : 0 };
      await trx
        .insertInto('project_members')
        .values({
          project_id: projectId,
          member_kind: member.kind,
          member_id: memberId,
          created_at: createdAt,
          ...values,
        })
        .onConflict((oc) => oc.columns(['project_id', 'member_kind', 'member_id']).doUpdateSet(values))
        .execute();
    });
    return { kind: member.kind, name: member.name, role, code, createdAt };
  }

  async listMembers(project: string): Promise<MemberInfo[]> {
    const db = this.#store.db;
    const projectId = await this.#projectId(db, project);
    const rows = await db.selectFrom('project_members').selectAll().where('project_id', '=', projectId).execute();
    const users = await db.selectFrom('users').select(['id', 'name']).execute();
    const groups = await db.selectFrom('groups').select(['id', 'name']).execute();
    const nameOf = (kind: string, id: string) =>
      (kind === 'user' ? users : groups).find((r) => r.id === id)?.name ?? id;
    return rows
      .map((r) => ({
        kind: r.member_kind,
        name: nameOf(r.member_kind, r.member_id),
        role: r.role as ProjectRole,
        code: r.code === 1,
        createdAt: r.created_at,
      }))
      .sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
  }

  async removeMember(project: string, member: { kind: MemberKind; name: string }): Promise<void> {
    await this.#store.transaction(async (trx) => {
      const projectId = await this.#projectId(trx, project);
      const memberId = await this.#memberId(trx, member);
      const result = await trx
        .deleteFrom('project_members')
        .where('project_id', '=', projectId)
        .where('member_kind', '=', member.kind)
        .where('member_id', '=', memberId)
        .executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) {
        throw notFound(`${member.kind} '${member.name}' in the members of project '${project}'`, 'member');
      }
    });
  }

  // Tokens

  /** Creates a token and returns its text, the only time it is ever available. */
  async createToken(input: CreateTokenInput): Promise<{ token: string; info: TokenInfo }> {
    checkName(input.name, 'name');
    const now = this.#now();
    if (input.expiresAt !== undefined && !(input.expiresAt.getTime() > now.getTime())) {
      throw new ModelportError('invalid_request', 'expiresIn: the expiry must be in the future', {
        field: 'expiresIn',
      });
    }
    if (input.rateLimit !== undefined && !(input.rateLimit > 0 && input.rateLimit <= MAX_RATE_LIMIT)) {
      throw new ModelportError(
        'invalid_request',
        `rateLimit: use a number of requests per second from 0 to ${MAX_RATE_LIMIT}`,
        {
          field: 'rateLimit',
        },
      );
    }
    const generated = generateToken();
    const info = await this.#store.transaction(async (trx) => {
      const user = await this.#userRow(trx, input.user, 'user');
      if (input.deployment !== undefined) await this.#projectId(trx, input.deployment.project);
      const taken = await trx
        .selectFrom('api_tokens')
        .select('id')
        .where('user_id', '=', user.id)
        .where('name', '=', input.name)
        .executeTakeFirst();
      if (taken) {
        throw new ModelportError('already_exists', `user '${input.user}' already has a token named '${input.name}'`, {
          field: 'name',
        });
      }
      const row = {
        id: generated.id,
        user_id: user.id,
        name: input.name,
        hash: this.#hasher.hash(generated.secret),
        scope_project: input.deployment?.project ?? null,
        scope_deployment: input.deployment?.name ?? null,
        rate_limit: input.rateLimit ?? null,
        expires_at: input.expiresAt?.toISOString() ?? null,
        created_at: now.toISOString(),
        last_used_at: null,
      };
      await trx.insertInto('api_tokens').values(row).execute();
      return toTokenInfo(row, user.name);
    });
    return { token: generated.text, info };
  }

  /** Tokens of one user, or of everyone when `user` is undefined; never their secrets or hashes. */
  async listTokens(user?: string): Promise<TokenInfo[]> {
    let query = this.#store.db
      .selectFrom('api_tokens')
      .innerJoin('users', 'users.id', 'api_tokens.user_id')
      .selectAll('api_tokens')
      .select('users.name as user_name')
      .orderBy('users.name')
      .orderBy('api_tokens.name');
    if (user !== undefined) query = query.where('users.name', '=', user);
    const rows = await query.execute();
    return rows.map((r) => toTokenInfo(r, r.user_name));
  }

  /** The token's owner (for checking who may revoke it); not_found when there is no such token. */
  async tokenOwner(id: string): Promise<string> {
    const row = await this.#store.db
      .selectFrom('api_tokens')
      .innerJoin('users', 'users.id', 'api_tokens.user_id')
      .select('users.name')
      .where('api_tokens.id', '=', id)
      .executeTakeFirst();
    if (!row) throw notFound(`token '${id}'`, 'id');
    return row.name;
  }

  async revokeToken(id: string): Promise<void> {
    const result = await this.#store.db.deleteFrom('api_tokens').where('id', '=', id).executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw notFound(`token '${id}'`, 'id');
  }

  /** The stored token with this public id, with its owner; undefined when there is none. */
  async findToken(id: string): Promise<StoredToken | undefined> {
    const row = await this.#store.db
      .selectFrom('api_tokens')
      .innerJoin('users', 'users.id', 'api_tokens.user_id')
      .selectAll('api_tokens')
      .select(['users.name as user_name', 'users.server_admin'])
      .where('api_tokens.id', '=', id)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      id: row.id,
      name: row.name,
      hash: row.hash,
      userId: row.user_id,
      user: row.user_name,
      serverAdmin: row.server_admin === 1,
      scope:
        row.scope_project !== null && row.scope_deployment !== null
          ? { project: row.scope_project, deployment: row.scope_deployment }
          : undefined,
      rateLimit: row.rate_limit ?? undefined,
      expiresAt: row.expires_at === null ? undefined : Date.parse(row.expires_at),
      lastUsedAt: row.last_used_at === null ? undefined : Date.parse(row.last_used_at),
    };
  }

  async touchToken(id: string, at: Date): Promise<void> {
    await this.#store.db
      .updateTable('api_tokens')
      .set({ last_used_at: at.toISOString() })
      .where('id', '=', id)
      .execute();
  }

  /** The principal of a verified token: its user's roles (own and through groups) and the token's scope. */
  async principalFor(token: StoredToken): Promise<Principal> {
    return this.#principal(
      { id: token.userId, name: token.user, serverAdmin: token.serverAdmin },
      { id: token.id, name: token.name },
      token.scope,
    );
  }

  /**
   * The principal of a user signed in some other way than a token (a console session): its roles, no scope.
   * `via` names the session in logs and the audit log (`token.name`).
   */
  async principalForUser(userId: string, via: { id: string; name: string }): Promise<Principal | undefined> {
    const row = await this.#store.db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirst();
    if (!row) return undefined;
    return this.#principal({ id: row.id, name: row.name, serverAdmin: row.server_admin === 1 }, via, undefined);
  }

  /** The user's id, creating the user (no roles, not a server admin) when missing: sign-in from an identity provider. */
  async ensureUser(name: string): Promise<string> {
    checkName(name, 'name');
    await this.#store.db
      .insertInto('users')
      .values({ id: randomUUID(), name, server_admin: 0, created_at: this.#now().toISOString() })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    return (await this.#userRow(this.#store.db, name, 'name')).id;
  }

  /**
   * Makes the user a member of exactly `wanted` among the `managed` groups (creating missing ones); memberships of
   * groups outside `managed` are left as they are. Used to apply an identity provider's groups claim on sign-in.
   */
  async syncGroups(user: string, managed: readonly string[], wanted: readonly string[]): Promise<void> {
    await this.#store.transaction(async (trx) => {
      const u = await this.#userRow(trx, user, 'user');
      for (const name of managed) {
        checkName(name, 'group');
        await trx
          .insertInto('groups')
          .values({ id: randomUUID(), name, created_at: this.#now().toISOString() })
          .onConflict((oc) => oc.column('name').doNothing())
          .execute();
        const g = await this.#groupRow(trx, name, 'group');
        if (wanted.includes(name)) {
          await trx
            .insertInto('group_members')
            .values({ group_id: g.id, user_id: u.id })
            .onConflict((oc) => oc.columns(['group_id', 'user_id']).doNothing())
            .execute();
        } else {
          await trx.deleteFrom('group_members').where('group_id', '=', g.id).where('user_id', '=', u.id).execute();
        }
      }
    });
  }

  async #principal(
    user: { id: string; name: string; serverAdmin: boolean },
    via: { id: string; name: string },
    scope: Principal['scope'],
  ): Promise<Principal> {
    const db = this.#store.db;
    const groups = await db
      .selectFrom('group_members')
      .innerJoin('groups', 'groups.id', 'group_members.group_id')
      .select(['groups.id', 'groups.name'])
      .where('group_members.user_id', '=', user.id)
      .execute();
    const memberIds = [user.id, ...groups.map((g) => g.id)];
    const rows = await db
      .selectFrom('project_members')
      .innerJoin('projects', 'projects.id', 'project_members.project_id')
      .select([
        'projects.name as project',
        'project_members.member_kind',
        'project_members.member_id',
        'project_members.role',
        'project_members.code',
      ])
      .where('project_members.member_id', 'in', memberIds)
      .execute();
    const roles = new Map<string, ProjectRole>();
    const code = new Set<string>();
    for (const row of rows) {
      const own = row.member_kind === 'user' && row.member_id === user.id;
      const viaGroup = row.member_kind === 'group' && groups.some((g) => g.id === row.member_id);
      if (!own && !viaGroup) continue;
      if (!isProjectRole(row.role)) continue;
      roles.set(row.project, higherRole(roles.get(row.project), row.role));
      if (row.code === 1) code.add(row.project);
    }
    return Object.freeze({
      subject: `user:${user.name}`,
      user: user.name,
      token: Object.freeze({ id: via.id, name: via.name }),
      serverAdmin: user.serverAdmin,
      roles,
      code,
      groups: groups.map((g) => g.name).sort(),
      scope,
    });
  }

  async #userRow(db: Kysely<Database>, name: string, field: string) {
    const row = await db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();
    if (!row) throw notFound(`user '${name}'`, field);
    return row;
  }

  async #groupRow(db: Kysely<Database>, name: string, field: string) {
    const row = await db.selectFrom('groups').selectAll().where('name', '=', name).executeTakeFirst();
    if (!row) throw notFound(`group '${name}'`, field);
    return row;
  }

  async #memberId(db: Kysely<Database>, member: { kind: MemberKind; name: string }): Promise<string> {
    if (member.kind === 'user') return (await this.#userRow(db, member.name, 'member')).id;
    if (member.kind === 'group') return (await this.#groupRow(db, member.name, 'member')).id;
    throw new ModelportError('invalid_request', `member: '${member.kind}' is not a kind; use user or group`, {
      field: 'member',
    });
  }

  async #projectId(db: Kysely<Database>, project: string): Promise<string> {
    return projectIdOf(db, project);
  }
}

function toTokenInfo(
  row: {
    id: string;
    name: string;
    scope_project: string | null;
    scope_deployment: string | null;
    rate_limit: number | null;
    expires_at: string | null;
    created_at: string;
    last_used_at: string | null;
  },
  user: string,
): TokenInfo {
  return {
    id: row.id,
    name: row.name,
    user,
    deployment:
      row.scope_project !== null && row.scope_deployment !== null
        ? { project: row.scope_project, name: row.scope_deployment }
        : undefined,
    rateLimit: row.rate_limit ?? undefined,
    expiresAt: row.expires_at ?? undefined,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at ?? undefined,
  };
}
