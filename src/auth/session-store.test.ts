import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { ModelportError } from '../core/index.ts';
import { forEachMetadataStore } from '../store/metadata/metadata-store.conformance.ts';
import { AuthStore } from './auth-store.ts';
import { sessionCookie, TokenAuthorizer } from './authorizer.ts';
import { SessionStore } from './session-store.ts';
import { TokenHasher } from './token.ts';

const isError = (code: string) => (e: unknown) => e instanceof ModelportError && e.code === code;

test('the session cookie is read from the Cookie header; two of them are ambiguous', () => {
  assert.equal(sessionCookie(undefined), undefined);
  assert.equal(sessionCookie('theme=dark'), undefined);
  assert.equal(sessionCookie('theme=dark; mp_session=abc ; x=1'), 'abc');
  assert.equal(sessionCookie(['a=1', 'mp_session=abc']), 'abc');
  assert.equal(sessionCookie('mp_session=a; mp_session=b'), null);
  assert.equal(sessionCookie('xmp_session=a'), undefined);
});

forEachMetadataStore('console sessions', (open) => {
  const setup = async () => {
    let now = Date.parse('2026-12-06T10:00:00Z');
    const store = await open();
    const hasher = new TokenHasher(randomBytes(32));
    const users = new AuthStore({ store, hasher });
    const sessions = new SessionStore({ store, hasher, users, now: () => now });
    const authorizer = new TokenAuthorizer({ store: users, sessions });
    const userId = await users.ensureUser('alice');
    return { store, users, sessions, authorizer, userId, advance: (ms: number) => (now += ms) };
  };

  test('a session signs its user in until it expires; the row holds only an HMAC', async () => {
    const { store, sessions, authorizer, userId, advance } = await setup();
    const { cookie, csrf } = await sessions.create(userId, 'oidc', 3600_000);
    const secret = cookie.slice(17);
    const rows = await store.db.selectFrom('console_sessions').selectAll().execute();
    assert.equal(rows.length, 1);
    assert.ok(!JSON.stringify(rows).includes(secret));
    const get = { method: 'GET', headers: { cookie: `mp_session=${cookie}` } };
    assert.equal((await authorizer.authenticate(get)).user, 'alice');
    assert.equal((await sessions.find(cookie))?.csrf, csrf);
    advance(3600_000);
    await assert.rejects(authorizer.authenticate(get), isError('unauthenticated'));
  });

  test('writes need the CSRF header; gRPC (no method) counts as a write; sign-out and user deletion end it', async () => {
    const { users, sessions, authorizer, userId } = await setup();
    const { cookie, csrf } = await sessions.create(userId, 'token', 3600_000);
    const as = (method: string | undefined, extra: Record<string, string> = {}) => ({
      method,
      headers: { cookie: `mp_session=${cookie}`, ...extra },
    });
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', undefined]) {
      await assert.rejects(authorizer.authenticate(as(method)), isError('csrf_failed'));
      await assert.rejects(
        authorizer.authenticate(as(method, { 'x-modelport-csrf': `${csrf}x` })),
        isError('csrf_failed'),
      );
      assert.equal((await authorizer.authenticate(as(method, { 'x-modelport-csrf': csrf }))).user, 'alice');
    }
    // A forged secret for a real id, and a bearer header beside the cookie (the header wins).
    await assert.rejects(
      authorizer.authenticate({
        method: 'GET',
        headers: { cookie: `mp_session=${cookie.slice(0, 17)}${'A'.repeat(43)}` },
      }),
      isError('unauthenticated'),
    );
    await assert.rejects(
      authorizer.authenticate({
        method: 'GET',
        headers: { cookie: `mp_session=${cookie}`, authorization: 'Bearer x' },
      }),
      isError('unauthenticated'),
    );
    await sessions.delete(cookie);
    assert.equal(await sessions.find(cookie), undefined);
    const second = await sessions.create(userId, 'token', 3600_000);
    await users.createUser('admin2', { serverAdmin: true });
    await users.deleteUser('alice');
    assert.equal(await sessions.find(second.cookie), undefined);
  });
});
