/**
 * Console sign-in end to end: a real OpenID Connect provider (oidc-provider on loopback) and a Modelport server
 * with --auth and OIDC settings, driven by a cookie-jar HTTP client that follows every redirect like a browser.
 * The code flow with PKCE signs a user in, its provider groups map to Modelport groups (and follow the claim on
 * the next sign-in), the session cookie is HttpOnly and SameSite=Strict, a write needs the CSRF header and a
 * same-site Origin, the Host header is checked, sign-out ends the session, and a pasted token signs in too.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { ModelportClient } from '../src/client/client.ts';
import { BrowserClient } from './support/browser-client.ts';
import { startOidcProvider, type TestOidcProvider } from './support/oidc-provider.ts';
import { startTestServer, type TestServer } from './support/server.ts';

/** One request with exactly these headers (fetch would replace Host). */
function rawRequest(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(method === 'POST' ? '{"name":"rebound"}' : undefined);
  });
}

async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

interface SessionInfo {
  auth: boolean;
  oidc: boolean;
  signedIn: boolean;
  user?: string;
  csrf?: string;
}

describe('console sign-in through OpenID Connect', () => {
  let idp: TestOidcProvider;
  let t: TestServer;
  let mp: string;
  let admin: ModelportClient;
  let adminToken: string;

  /** Signs in through the provider's pages as `login`; returns the client holding the session cookie. */
  const signIn = async (login: string) => {
    const browser = new BrowserClient();
    const loginPage = await browser.follow(`${mp}/auth/login`);
    assert.equal(loginPage.res.status, 200, 'the provider shows its sign-in page');
    assert.ok(loginPage.url.startsWith(idp.issuer));
    const consent = await browser.submitForm(loginPage.url, await loginPage.res.text(), {
      login,
      password: 'any',
    });
    const done = await browser.submitForm(consent.url, await consent.res.text(), {});
    return { browser, landed: done.url, page: done.res };
  };
  const session = async (browser: BrowserClient) =>
    (await (await browser.request(`${mp}/auth/session`)).json()) as SessionInfo;

  before(async () => {
    const port = await freePort();
    mp = `http://127.0.0.1:${port}`;
    idp = await startOidcProvider(`${mp}/auth/callback`);
    idp.accounts.set('alice', { preferred_username: 'alice', groups: ['ml-team'] });
    idp.accounts.set('bob', { preferred_username: 'Bob Smith' });
    const secretFile = join(process.env['TMPDIR'] ?? '/tmp', `mp-oidc-secret-${port}`);
    await writeFile(secretFile, `${idp.clientSecret}\n`, { mode: 0o600 });
    t = await startTestServer('embedded', {
      port: String(port),
      auth: 'true',
      oidcIssuer: idp.issuer,
      oidcClientId: idp.clientId,
      oidcClientSecretFile: secretFile,
      oidcRedirectUrl: `${mp}/auth/callback`,
      oidcScopes: 'openid profile groups',
      oidcGroupMap: 'ml-team=analysts,ml-admins=platform,ml-admins=analysts',
      allowedHosts: 'modelport.example.com',
    });
    adminToken = t.server.auth.adminToken!;
    admin = new ModelportClient({ url: mp, token: adminToken });
    await admin.createGroup('analysts');
    await admin.addMember('default', { kind: 'group', name: 'analysts' }, 'editor');
  });
  after(async () => {
    await t?.close();
    await idp?.close();
  });

  test('the code flow with PKCE signs alice in; her provider group maps to analysts (editor on default)', async () => {
    const { browser, landed, page } = await signIn('alice');
    assert.equal(landed, `${mp}/`, 'the callback sends the browser to the console');
    await page.arrayBuffer();
    const authorize = browser.hops.find((h) => h.url.startsWith(`${idp.issuer}/auth?`))!;
    const params = new URL(authorize.url).searchParams;
    assert.equal(params.get('code_challenge_method'), 'S256');
    assert.match(params.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.ok(params.get('state') && params.get('nonce'));
    const callback = browser.hops.find((h) => h.url.startsWith(`${mp}/auth/callback`))!;
    const cookie = callback.setCookies.find((c) => c.startsWith('mp_session='))!;
    assert.match(cookie, /; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);

    const info = await session(browser);
    assert.deepEqual(
      { ...info, csrf: undefined, expiresAt: undefined },
      {
        auth: true,
        oidc: true,
        signedIn: true,
        subject: 'user:alice',
        user: 'alice',
        serverAdmin: false,
        csrf: undefined,
        expiresAt: undefined,
      },
    );
    const who = (await (await browser.request(`${mp}/api/v1/whoami`)).json()) as {
      user: string;
      groups: string[];
      roles: { project: string; role: string }[];
    };
    assert.equal(who.user, 'alice');
    assert.deepEqual(who.groups, ['analysts']);
    assert.deepEqual(
      who.roles.map((r) => [r.project, r.role]),
      [['default', 'editor']],
    );
    assert.ok((await admin.listUsers()).some((u) => u.name === 'alice' && !u.serverAdmin));
  });

  test('the cookie alone never authorises a write: CSRF header, same-site Origin, allowed Host', async () => {
    const { browser } = await signIn('alice');
    const { csrf } = await session(browser);
    const create = (headers: Record<string, string>) =>
      browser.request(`${mp}/api/v1/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ name: `t${Math.random().toString(16).slice(2, 8)}` }),
      });
    const code = async (res: Response) => ((await res.json()) as { error?: { code: string } }).error?.code;

    const bare = await create({});
    assert.equal(bare.status, 403);
    assert.equal(await code(bare), 'csrf_failed');
    assert.equal(await code(await create({ 'x-modelport-csrf': 'wrong' })), 'csrf_failed');
    const cross = await create({ 'x-modelport-csrf': csrf!, origin: 'https://evil.example' });
    assert.equal(cross.status, 403);
    assert.equal(await code(cross), 'csrf_failed');
    assert.equal(
      await code(await create({ 'x-modelport-csrf': csrf!, 'sec-fetch-site': 'cross-site' })),
      'csrf_failed',
    );
    // fetch sets Host from the URL; node:http sends the header a rebinding page would make the browser send.
    const cookie = `mp_session=${browser.cookie(mp, 'mp_session')}`;
    const rebound = await rawRequest(mp, 'POST', '/api/v1/tokens', {
      host: 'evil.example:8080',
      cookie,
      'x-modelport-csrf': csrf!,
      'content-type': 'application/json',
    });
    assert.equal(rebound.status, 421);
    assert.match(rebound.body, /host_not_allowed/);
    assert.equal((await rawRequest(mp, 'GET', '/', { host: 'evil.example' })).status, 421, 'the console page too');
    // A configured name, loopback names and IP literals are allowed.
    for (const host of ['modelport.example.com', 'localhost:1234', '10.1.2.3', '[::1]:80']) {
      assert.equal((await rawRequest(mp, 'GET', '/api/v1/whoami', { host, cookie })).status, 200, host);
    }
    const good = await create({ 'x-modelport-csrf': csrf!, origin: mp, 'sec-fetch-site': 'same-origin' });
    assert.equal(good.status, 201, await good.clone().text());
    assert.match(((await good.json()) as { token: string }).token, /^mp_/);
    // Reads need no CSRF header; inference from the cookie is a write like any other.
    assert.equal((await browser.request(`${mp}/api/v1/projects`)).status, 200);
    const infer = await browser.request(`${mp}/v2/models/fraud/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(infer.status, 403);
  });

  test('the provider groups follow the claim on each sign-in; an unusable user name is refused', async () => {
    idp.accounts.set('alice', { preferred_username: 'alice', groups: ['ml-admins'] });
    const again = await signIn('alice');
    const who = (await (await again.browser.request(`${mp}/api/v1/whoami`)).json()) as { groups: string[] };
    assert.deepEqual(who.groups, ['analysts', 'platform']);
    idp.accounts.set('alice', { preferred_username: 'alice', groups: [] });
    const third = await signIn('alice');
    const none = (await (await third.browser.request(`${mp}/api/v1/whoami`)).json()) as { groups: string[] };
    assert.deepEqual(none.groups, []);

    const bob = await signIn('bob');
    assert.match(bob.landed, /\/login\?error=/);
    assert.match(decodeURIComponent(bob.landed), /preferred_username.*not a Modelport user name/);
    assert.equal((await session(bob.browser)).signedIn, false);
    assert.ok(!(await admin.listUsers()).some((u) => u.name.toLowerCase().includes('bob')));
  });

  test('a callback that this browser did not start is refused (login CSRF)', async () => {
    const victim = new BrowserClient();
    const attacker = new BrowserClient();
    const loginPage = await attacker.follow(`${mp}/auth/login`);
    const consent = await attacker.submitForm(loginPage.url, await loginPage.res.text(), {
      login: 'alice',
      password: 'x',
    });
    // The attacker stops before the callback and hands its URL to the victim's browser.
    const form = /<form[^>]*action="([^"]*)"/.exec(await consent.res.text())!;
    let res = await attacker.request(new URL(form[1]!, consent.url).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'prompt=consent',
    });
    let at = consent.url;
    while (res.status >= 300 && res.status < 400) {
      at = new URL(res.headers.get('location')!, at).href;
      if (at.startsWith(`${mp}/auth/callback`)) break;
      res = await attacker.request(at);
    }
    assert.ok(at.startsWith(`${mp}/auth/callback?code=`));
    const landed = await victim.follow(at);
    assert.match(landed.url, /\/login\?error=.*not%20started%20in%20this%20browser/);
    assert.equal(victim.cookie(mp, 'mp_session'), undefined);
  });

  test('sign-out ends the session on the server; the old cookie is refused', async () => {
    const { browser } = await signIn('alice');
    const { csrf } = await session(browser);
    const cookie = browser.cookie(mp, 'mp_session')!;
    assert.equal((await browser.request(`${mp}/auth/logout`, { method: 'POST' })).status, 403, 'needs the CSRF header');
    const out = await browser.request(`${mp}/auth/logout`, { method: 'POST', headers: { 'x-modelport-csrf': csrf! } });
    assert.equal(out.status, 204);
    assert.match(out.headers.get('set-cookie') ?? '', /^mp_session=; .*Max-Age=0/);
    const replay = await fetch(`${mp}/api/v1/whoami`, { headers: { cookie: `mp_session=${cookie}` } });
    assert.equal(replay.status, 401);
  });

  test('a pasted token signs in (servers without OIDC too); scoped tokens and other sites cannot', async () => {
    const browser = new BrowserClient();
    const post = (body: unknown, headers: Record<string, string> = {}) =>
      browser.request(`${mp}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    assert.equal((await post({ token: 'not-a-token' })).status, 400);
    assert.equal((await post({ token: `mp_0123456789abcdef_${'A'.repeat(43)}` })).status, 401);
    const scoped = await admin.createToken({ name: 'app', deployment: { project: 'default', name: 'fraud' } });
    assert.equal((await post({ token: scoped.token })).status, 403);
    assert.equal((await post({ token: adminToken }, { origin: 'https://evil.example' })).status, 403);
    assert.equal(browser.cookie(mp, 'mp_session'), undefined);
    const ok = await post({ token: adminToken }, { origin: mp });
    assert.equal(ok.status, 200);
    assert.doesNotMatch(ok.headers.get('set-cookie') ?? '', /Secure/);
    // Behind a TLS proxy the cookie is Secure.
    const proxied = await fetch(`${mp}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'https' },
      body: JSON.stringify({ token: adminToken }),
    });
    assert.match(proxied.headers.get('set-cookie') ?? '', /; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/);
    const info = await session(browser);
    assert.equal(info.user, 'admin');
    assert.equal((await browser.request(`${mp}/api/v1/users`)).status, 200);
  });

  test('a database dump holds no usable session: only HMACs of the cookie secrets', async () => {
    const { browser } = await signIn('alice');
    const cookie = browser.cookie(mp, 'mp_session')!;
    const [id, secret] = [cookie.slice(0, 16), cookie.slice(17)];
    const db = new DatabaseSync(join(t.home, 'modelport.db'), { readOnly: true });
    const rows = db.prepare('select * from console_sessions').all() as { id: string; hash: string }[];
    db.close();
    const row = rows.find((r) => r.id === id)!;
    assert.match(row.hash, /^[0-9a-f]{64}$/);
    assert.ok(rows.every((r) => !JSON.stringify(r).includes(secret)));
    const forged = await fetch(`${mp}/api/v1/whoami`, {
      headers: { cookie: `mp_session=${id}_${row.hash.slice(0, 43)}` },
    });
    assert.equal(forged.status, 401);
    assert.ok(!t.logText().includes(secret), 'the cookie secret is never logged');
  });
});
