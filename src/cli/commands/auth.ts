/**
 * `modelport whoami | login | logout | users | groups | tokens | projects | members`: identity and roles.
 * A member is a user name, `user:<name>` or `group:<name>`.
 */
import { ModelportClient } from '../../client/index.ts';
import { type Command, UsageError } from '../command.ts';
import { credentialsFile, storeToken } from '../credentials.ts';
import { answer, details, json, listing } from '../output.ts';

const ROLES = ['viewer', 'editor', 'admin'] as const;
type Role = (typeof ROLES)[number];

function member(text: string): { kind: 'user' | 'group'; name: string } {
  const match = /^(?:(user|group):)?(.+)$/.exec(text)!;
  return { kind: (match[1] as 'user' | 'group' | undefined) ?? 'user', name: match[2]! };
}

function role(text: string): Role {
  if (!(ROLES as readonly string[]).includes(text))
    throw new UsageError(`'${text}' is not a role; use ${ROLES.join(', ')}`);
  return text as Role;
}

/** The first line of standard input (a pasted token and Enter, or a file piped in). */
async function readLine(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    text += chunk.toString('utf8');
    if (text.includes('\n') || text.length > 4096) break;
  }
  return (text.split('\n')[0] ?? '').trim();
}

const simple = (
  words: string[],
  usage: string,
  summary: string,
  args: [number, number],
  run: (client: ModelportClient, args: string[]) => Promise<string>,
): Command => ({
  words,
  usage,
  summary,
  args,
  async run({ args: given, io, client }) {
    io.out(await run(client(), given));
    return 0;
  },
});

export const authCommands: Command[] = [
  {
    words: ['whoami'],
    usage: 'whoami',
    summary: 'Show who the token is: user, token, server admin, groups and roles per project',
    args: [0, 0],
    async run({ io, format, client }) {
      const me = await client().whoami();
      if (format === 'json') io.out(json(me));
      else
        io.out(
          details([
            ['user', me.user ?? me.subject],
            ['token', me.token?.name],
            ['server admin', me.serverAdmin ? 'yes' : 'no'],
            ['groups', me.groups],
            ['roles', me.roles.map((r) => `${r.project}=${r.role}${r.code && r.role !== 'admin' ? '+code' : ''}`)],
            ...(me.deployment
              ? ([['scope', `inference on ${me.deployment.project}/${me.deployment.name}`]] as [string, unknown][])
              : []),
          ]),
        );
      return 0;
    },
  },
  {
    words: ['login'],
    usage: 'login [--token T]  (or paste the token, or pipe it: modelport login < token-file)',
    summary: 'Check a token against the server and store it for this server URL (mode 0600)',
    args: [0, 0],
    async run({ options, io, client, env }) {
      const c = client();
      const token = (options['token'] as string | undefined) ?? (await readLine());
      if (token === '') throw new UsageError('give the token with --token T or on standard input');
      const me = await new ModelportClient({ url: c.url, token }).whoami();
      const file = storeToken(env, c.url, token);
      io.out(`logged in to ${c.url} as ${me.user ?? me.subject}; the token is stored in ${file}\n`);
      return 0;
    },
  },
  {
    words: ['logout'],
    usage: 'logout',
    summary: 'Forget the stored token for this server URL',
    args: [0, 0],
    async run({ io, client, env }) {
      const url = client().url;
      storeToken(env, url, undefined);
      io.out(`forgot the token for ${url} in ${credentialsFile(env)}\n`);
      return 0;
    },
  },

  // Users and groups
  {
    words: ['users', 'create'],
    usage: 'users create <name> [--server-admin]',
    summary: 'Create a user (server admin only); give it roles with `members add` and a token with `tokens create`',
    args: [1, 1],
    options: { 'server-admin': { type: 'boolean', description: 'Make the user a server admin' } },
    async run({ args, options, io, format, client }) {
      const user = await client().createUser(args[0]!, { serverAdmin: options['server-admin'] === true });
      io.out(answer(format, user, `created user ${user.name}${user.serverAdmin ? ' (server admin)' : ''}\n`));
      return 0;
    },
  },
  {
    words: ['users', 'list'],
    usage: 'users list',
    summary: 'List users with their groups',
    args: [0, 0],
    async run({ io, format, client }) {
      const users = await client().listUsers();
      io.out(
        listing(format, users, [
          ['name', (u) => u.name],
          ['server admin', (u) => (u.serverAdmin ? 'yes' : 'no')],
          ['groups', (u) => u.groups],
          ['created', (u) => u.createdAt],
        ]),
      );
      return 0;
    },
  },
  simple(
    ['users', 'delete'],
    'users delete <name>',
    'Delete a user with its tokens and roles',
    [1, 1],
    async (c, [name]) => {
      await c.deleteUser(name!);
      return `deleted user ${name}\n`;
    },
  ),
  simple(['groups', 'create'], 'groups create <name>', 'Create a group', [1, 1], async (c, [name]) => {
    await c.createGroup(name!);
    return `created group ${name}\n`;
  }),
  {
    words: ['groups', 'list'],
    usage: 'groups list',
    summary: 'List groups with their members',
    args: [0, 0],
    async run({ io, format, client }) {
      const groups = await client().listGroups();
      io.out(
        listing(format, groups, [
          ['name', (g) => g.name],
          ['members', (g) => g.members],
          ['created', (g) => g.createdAt],
        ]),
      );
      return 0;
    },
  },
  simple(['groups', 'delete'], 'groups delete <name>', 'Delete a group and its roles', [1, 1], async (c, [name]) => {
    await c.deleteGroup(name!);
    return `deleted group ${name}\n`;
  }),
  simple(['groups', 'add'], 'groups add <group> <user>', 'Add a user to a group', [2, 2], async (c, [group, user]) => {
    await c.addGroupMember(group!, user!);
    return `added ${user} to group ${group}\n`;
  }),
  simple(
    ['groups', 'remove'],
    'groups remove <group> <user>',
    'Remove a user from a group',
    [2, 2],
    async (c, [group, user]) => {
      await c.removeGroupMember(group!, user!);
      return `removed ${user} from group ${group}\n`;
    },
  ),

  // Tokens
  {
    words: ['tokens', 'create'],
    usage: 'tokens create <name> [--user U] [--expires-in 90d] [--deployment NAME] [--rate-limit N]',
    summary: 'Create a token and print it once (store it now: it is never shown again)',
    args: [1, 1],
    options: {
      user: { type: 'string', description: 'Whose token (server admin only; yours by default)' },
      'expires-in': { type: 'string', description: 'Expire after this long: 90d, 12h, 30m (default: never)' },
      deployment: { type: 'string', description: 'Only inference on this deployment of --project (for applications)' },
      'rate-limit': { type: 'string', description: 'Requests per second allowed (default: no limit)' },
    },
    async run({ args, options, io, format, client }) {
      const c = client();
      const rate = options['rate-limit'] as string | undefined;
      if (rate !== undefined && !(Number(rate) > 0))
        throw new UsageError(`--rate-limit takes a positive number, not '${rate}'`);
      const deployment = options['deployment'] as string | undefined;
      const created = await c.createToken({
        name: args[0]!,
        user: options['user'] as string | undefined,
        expiresIn: options['expires-in'] as string | undefined,
        deployment: deployment === undefined ? undefined : { project: c.project, name: deployment },
        rateLimit: rate === undefined ? undefined : Number(rate),
      });
      if (format === 'json') io.out(json(created));
      else {
        io.out(`${created.token}\n`);
        io.err(`created token ${created.name} (id ${created.id}) for ${created.user}; it is shown only this once\n`);
      }
      return 0;
    },
  },
  {
    words: ['tokens', 'list'],
    usage: 'tokens list [--user U | --all]',
    summary: "List your tokens (the server admin: a user's or all): name, owner, created, last used, expiry",
    args: [0, 0],
    options: {
      user: { type: 'string', description: "A user's tokens (server admin only)" },
      all: { type: 'boolean', description: "Everyone's tokens (server admin only)" },
    },
    async run({ options, io, format, client }) {
      const tokens = await client().listTokens({
        user: options['user'] as string | undefined,
        all: options['all'] === true,
      });
      io.out(
        listing(format, tokens, [
          ['id', (t) => t.id],
          ['name', (t) => t.name],
          ['user', (t) => t.user],
          ['scope', (t) => (t.deployment ? `infer ${t.deployment.project}/${t.deployment.name}` : 'all')],
          ['created', (t) => t.createdAt],
          ['last used', (t) => t.lastUsedAt],
          ['expires', (t) => t.expiresAt ?? 'never'],
        ]),
      );
      return 0;
    },
  },
  simple(
    ['tokens', 'revoke'],
    'tokens revoke <id>',
    'Revoke a token by its id (it stops working at once)',
    [1, 1],
    async (c, [id]) => {
      await c.revokeToken(id!);
      return `revoked token ${id}\n`;
    },
  ),

  // Projects and members
  simple(
    ['projects', 'create'],
    'projects create <name>',
    'Create a project (server admin only)',
    [1, 1],
    async (c, [name]) => {
      await c.createProject(name!);
      return `created project ${name}\n`;
    },
  ),
  {
    words: ['projects', 'list'],
    usage: 'projects list',
    summary: 'List the projects you have a role on',
    args: [0, 0],
    async run({ io, format, client }) {
      const projects = await client().listProjects();
      io.out(
        listing(format, projects, [
          ['name', (p) => p.name],
          ['created', (p) => p.createdAt],
        ]),
      );
      return 0;
    },
  },
  simple(
    ['projects', 'delete'],
    'projects delete <name>',
    'Delete an empty project and its members',
    [1, 1],
    async (c, [name]) => {
      await c.deleteProject(name!);
      return `deleted project ${name}\n`;
    },
  ),
  {
    words: ['members', 'add'],
    usage: 'members add <project> <user|group:NAME> <viewer|editor|admin> [--code]',
    summary: "Grant a role on a project (replaces the member's role there)",
    args: [3, 3],
    options: {
      code: { type: 'boolean', description: 'Also let an editor register js models (code run on the server)' },
    },
    async run({ args, options, io, format, client }) {
      const m = await client().addMember(args[0]!, member(args[1]!), role(args[2]!), {
        code: options['code'] === true,
      });
      io.out(
        format === 'json'
          ? json(m)
          : `${m.kind} ${m.name} is ${m.role}${m.code && m.role === 'editor' ? ' (with code)' : ''} on ${args[0]}\n`,
      );
      return 0;
    },
  },
  {
    words: ['members', 'list'],
    usage: 'members list <project>',
    summary: 'List the users and groups with a role on a project',
    args: [1, 1],
    async run({ args, io, format, client }) {
      const members = await client().listMembers(args[0]!);
      io.out(
        listing(format, members, [
          ['member', (m) => `${m.kind}:${m.name}`],
          ['role', (m) => m.role],
          ['code', (m) => (m.code ? 'yes' : 'no')],
          ['since', (m) => m.createdAt],
        ]),
      );
      return 0;
    },
  },
  {
    words: ['members', 'remove'],
    usage: 'members remove <project> <user|group:NAME> [role]',
    summary: 'Remove a role on a project',
    args: [2, 3],
    async run({ args, io, client }) {
      await client().removeMember(args[0]!, member(args[1]!));
      io.out(`removed ${args[1]} from ${args[0]}\n`);
      return 0;
    },
  },
];
