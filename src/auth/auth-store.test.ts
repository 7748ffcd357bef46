import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ModelportError } from '../core/index.ts';
import { forEachMetadataStore } from '../store/metadata/metadata-store.conformance.ts';
import { AuthStore } from './auth-store.ts';
import { TokenAuthorizer } from './authorizer.ts';
import { ensureServerAdmin } from './bootstrap.ts';
import { ANONYMOUS_PRINCIPAL, can } from './principal.ts';
import { parseToken, TokenHasher } from './token.ts';
import { TokenBuckets } from './token-bucket.ts';

const isError = (code: string, pattern?: RegExp) => (e: unknown) =>
  e instanceof ModelportError && e.code === code && (pattern === undefined || pattern.test(e.message));

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

test('tokens are mp_ + 16 hex + _ + 256 random bits, and only well-formed ones parse', () => {
  const hasher = new TokenHasher(randomBytes(32));
  const secret = randomBytes(32).toString('base64url');
  const text = `mp_0123456789abcdef_${secret}`;
  assert.deepEqual(parseToken(text), { id: '0123456789abcdef', secret });
  for (const bad of [
    `mp_0123456789abcdeF_${secret}`,
    `xx_0123456789abcdef_${secret}`,
    `${text}x`,
    text.slice(0, -1),
    '',
  ]) {
    assert.equal(parseToken(bad), undefined, bad);
  }
  const stored = hasher.hash(secret);
  assert.ok(hasher.verify(secret, stored));
  assert.ok(!hasher.verify(`${secret.slice(0, -1)}A`, stored) || secret.endsWith('A'));
  assert.ok(!new TokenHasher(randomBytes(32)).verify(secret, stored));
  assert.equal(String(hasher), '[token key]');
});

test('a token bucket admits `rate` per second after a burst and says how long to wait', () => {
  let now = 0;
  const buckets = new TokenBuckets(() => now);
  assert.equal(buckets.take('t', 2), 0);
  assert.equal(buckets.take('t', 2), 0);
  const wait = buckets.take('t', 2);
  assert.ok(wait > 0.49 && wait <= 0.5, String(wait));
  now += 500;
  assert.equal(buckets.take('t', 2), 0);
  assert.ok(buckets.take('t', 2) > 0);
});

forEachMetadataStore('auth store', (open) => {
  const setup = async () => {
    const store = await open();
    const auth = new AuthStore({ store, hasher: new TokenHasher(randomBytes(32)) });
    const authorizer = new TokenAuthorizer({ store: auth });
    return { store, auth, authorizer };
  };

  test('a token authenticates its user; the database holds only its HMAC', async () => {
    const { store, auth, authorizer } = await setup();
    await auth.createUser('alice');
    const { token, info } = await auth.createToken({ user: 'alice', name: 'laptop' });
    assert.match(token, /^mp_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const principal = await authorizer.authenticate(bearer(token));
    assert.equal(principal.subject, 'user:alice');
    assert.deepEqual(principal.token, { id: info.id, name: 'laptop' });
    const dump = JSON.stringify(await store.db.selectFrom('api_tokens').selectAll().execute());
    const secret = parseToken(token)!.secret;
    assert.ok(!dump.includes(secret) && !dump.includes(token));
    const listed = await auth.listTokens('alice');
    assert.deepEqual(
      listed.map((t) => [t.id, t.name, t.user]),
      [[info.id, 'laptop', 'alice']],
    );
    assert.ok(!JSON.stringify(listed).includes(secret));
  });

  test('unknown, mistyped, malformed and missing tokens are refused', async () => {
    const { auth, authorizer } = await setup();
    await auth.createUser('alice');
    const { token } = await auth.createToken({ user: 'alice', name: 'laptop' });
    const last = token.at(-1) === 'A' ? 'B' : 'A';
    await assert.rejects(authorizer.authenticate(bearer(`${token.slice(0, -1)}${last}`)), isError('unauthenticated'));
    await assert.rejects(
      authorizer.authenticate(bearer(`mp_ffffffffffffffff_${token.slice(-43)}`)),
      isError('unauthenticated'),
    );
    await assert.rejects(async () => authorizer.authenticate(bearer('hunter2')), isError('unauthenticated'));
    await assert.rejects(authorizer.authenticate({ headers: {} }), isError('unauthenticated'));
    await assert.rejects(
      async () => authorizer.authenticate({ headers: { authorization: [`Bearer ${token}`, `Bearer ${token}`] } }),
      isError('unauthenticated'),
    );
    await assert.rejects(
      async () =>
        authorizer.authenticate({ headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } }),
      isError('unauthenticated'),
    );
    assert.equal(authorizer.identify({ headers: {} }), ANONYMOUS_PRINCIPAL);
  });

  test('the first start makes the server admin and its 0600 token file once; a role-less user admin is promoted', async () => {
    const { auth, authorizer } = await setup();
    const dir = await mkdtemp(join(tmpdir(), 'modelport-bootstrap-'));
    try {
      await auth.createUser('admin');
      const file = join(dir, 'admin-token');
      const first = await ensureServerAdmin(auth, file);
      assert.ok(first.token);
      assert.equal((await readFile(file, 'utf8')).trim(), first.token);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.equal((await authorizer.authenticate(bearer(first.token))).serverAdmin, true);
      assert.equal((await ensureServerAdmin(auth, file)).token, undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a burst of calls with an uncached token makes one lookup', async () => {
    const { store } = await setup();
    let lookups = 0;
    class CountingStore extends AuthStore {
      override async findToken(id: string) {
        lookups++;
        return super.findToken(id);
      }
    }
    const auth = new CountingStore({ store, hasher: new TokenHasher(randomBytes(32)) });
    const authorizer = new TokenAuthorizer({ store: auth });
    await auth.createUser('alice');
    const { token } = await auth.createToken({ user: 'alice', name: 'laptop' });
    const principals = await Promise.all(Array.from({ length: 20 }, () => authorizer.authenticate(bearer(token))));
    assert.equal(lookups, 1);
    assert.ok(principals.every((p) => p.user === 'alice'));
    await assert.rejects(authorizer.authenticate(bearer(`${token.slice(0, -1)}${token.at(-1) === 'A' ? 'B' : 'A'}`)));
    assert.equal(lookups, 1, 'a wrong secret for a cached id is refused from the cache');
  });

  test('a revoked token is refused at once, even while cached', async () => {
    const { auth, authorizer } = await setup();
    await auth.createUser('alice');
    const { token, info } = await auth.createToken({ user: 'alice', name: 'laptop' });
    await authorizer.authenticate(bearer(token));
    await auth.revokeToken(info.id);
    authorizer.invalidate(info.id);
    await assert.rejects(authorizer.authenticate(bearer(token)), isError('unauthenticated'));
    await assert.rejects(auth.revokeToken(info.id), isError('not_found'));
  });

  test('an expired token is refused', async () => {
    const { store } = await setup();
    let now = Date.parse('2030-01-01T00:00:00Z');
    const auth = new AuthStore({ store, hasher: new TokenHasher(randomBytes(32)), now: () => new Date(now) });
    const authorizer = new TokenAuthorizer({ store: auth, now: () => now });
    await auth.createUser('alice');
    const { token } = await auth.createToken({ user: 'alice', name: 'ci', expiresAt: new Date(now + 60_000) });
    await authorizer.authenticate(bearer(token));
    now += 60_000;
    await assert.rejects(authorizer.authenticate(bearer(token)), isError('unauthenticated', /expired/));
    await assert.rejects(
      auth.createToken({ user: 'alice', name: 'past', expiresAt: new Date(now - 1) }),
      isError('invalid_request'),
    );
  });

  test('roles come from the user and its groups, the highest wins; code is granted apart', async () => {
    const { store, auth, authorizer } = await setup();
    await store.db
      .insertInto('projects')
      .values({ id: 'p2', name: 'fraud', created_at: new Date().toISOString() })
      .execute();
    await auth.createUser('alice');
    await auth.createGroup('analysts');
    await auth.addGroupMember('analysts', 'alice');
    await auth.addMember('default', { kind: 'user', name: 'alice' }, 'viewer');
    await auth.addMember('default', { kind: 'group', name: 'analysts' }, 'editor');
    await auth.addMember('fraud', { kind: 'user', name: 'alice' }, 'editor', { code: true });
    const { token } = await auth.createToken({ user: 'alice', name: 't' });
    const p = await authorizer.authenticate(bearer(token));
    assert.deepEqual([...p.roles].sort(), [
      ['default', 'editor'],
      ['fraud', 'editor'],
    ]);
    assert.deepEqual(p.groups, ['analysts']);
    assert.ok(can(p, 'write', 'default') && !can(p, 'admin', 'default') && !can(p, 'code', 'default'));
    assert.ok(can(p, 'code', 'fraud'));
    assert.ok(can(p, 'read') && !can(p, 'admin') && !can(p, 'read', 'other'));
    assert.throws(
      () => authorizer.authorize(p, 'admin', 'default'),
      isError('forbidden', /'admin' role.*you have 'editor'/),
    );
    assert.deepEqual(
      (await auth.listMembers('default')).map((m) => [m.kind, m.name, m.role]),
      [
        ['group', 'analysts', 'editor'],
        ['user', 'alice', 'viewer'],
      ],
    );
    await auth.removeMember('default', { kind: 'group', name: 'analysts' });
    authorizer.invalidate();
    const after = await authorizer.authenticate(bearer(token));
    assert.equal(after.roles.get('default'), 'viewer');
    await assert.rejects(
      auth.addMember('default', { kind: 'user', name: 'alice' }, 'owner' as never),
      isError('invalid_request'),
    );
    await assert.rejects(auth.addMember('nope', { kind: 'user', name: 'alice' }, 'viewer'), isError('not_found'));
  });

  test('a scoped token may infer on its deployment and nothing else', async () => {
    const { auth, authorizer } = await setup();
    await auth.createUser('app');
    await auth.addMember('default', { kind: 'user', name: 'app' }, 'editor');
    const { token } = await auth.createToken({
      user: 'app',
      name: 'fraud-app',
      deployment: { project: 'default', name: 'fraud' },
    });
    const p = await authorizer.authenticate(bearer(token));
    assert.ok(can(p, 'infer', 'default', 'fraud'));
    assert.ok(!can(p, 'infer', 'default', 'other') && !can(p, 'read', 'default') && !can(p, 'read'));
    assert.throws(() => authorizer.authorize(p, 'read', 'default'), isError('forbidden', /scoped/));
  });

  test('a rate-limited token gets rate_limited with a retry delay', async () => {
    const { auth, authorizer } = await setup();
    await auth.createUser('alice');
    const { token } = await auth.createToken({ user: 'alice', name: 'slow', rateLimit: 1 });
    await authorizer.authenticate(bearer(token));
    await assert.rejects(
      authorizer.authenticate(bearer(token)),
      (e: unknown) => isError('rate_limited')(e) && (e as ModelportError).retryAfter === 1,
    );
  });

  test('deleting a user removes its tokens and memberships; the last server admin stays', async () => {
    const { auth, authorizer } = await setup();
    await auth.createUser('root', { serverAdmin: true });
    await auth.createUser('alice');
    await auth.addMember('default', { kind: 'user', name: 'alice' }, 'admin');
    const { token } = await auth.createToken({ user: 'alice', name: 't' });
    await auth.deleteUser('alice');
    authorizer.invalidate();
    await assert.rejects(authorizer.authenticate(bearer(token)), isError('unauthenticated'));
    assert.deepEqual(await auth.listMembers('default'), []);
    await assert.rejects(auth.deleteUser('root'), isError('conflict', /last server admin/));
    await assert.rejects(auth.createUser('root'), isError('already_exists'));
    await assert.rejects(auth.createUser('Bad Name'), isError('invalid_request'));
  });
});
