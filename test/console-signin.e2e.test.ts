/**
 * Signing in to the web console in a real browser (Debian's Chromium through playwright-core) against a server
 * with --auth and a real OpenID Connect provider (oidc-provider on loopback): single sign-on through the
 * provider's pages, a pasted token, the project switcher showing only the user's projects, the tokens page
 * (create with name, expiry and scope, the token shown once, list, revoke), and sign-out. Each page is saved at
 * 1280 and 390 px in test-results/console/. Skips, saying why, when Chromium or the built console is missing.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { ModelportClient } from '../src/client/client.ts';
import { CHROMIUM, type PageGlobals, SHOTS, consoleSkip as skip } from './support/console.ts';
import { startOidcProvider, type TestOidcProvider } from './support/oidc-provider.ts';
import { startTestServer, type TestServer } from './support/server.ts';

describe('console sign-in in a browser', { skip }, () => {
  let idp: TestOidcProvider;
  let t: TestServer;
  let mp: string;
  let browser: Browser;
  let admin: ModelportClient;
  let adminToken: string;

  before(async () => {
    await mkdir(SHOTS, { recursive: true });
    const probe = createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    mp = `http://127.0.0.1:${port}`;
    idp = await startOidcProvider(`${mp}/auth/callback`);
    idp.accounts.set('alice', { preferred_username: 'alice', groups: ['ml-team'] });
    const secretFile = join(tmpdir(), `mp-oidc-secret-${port}`);
    await writeFile(secretFile, idp.clientSecret, { mode: 0o600 });
    t = await startTestServer('embedded', {
      port: String(port),
      auth: 'true',
      oidcIssuer: idp.issuer,
      oidcClientId: idp.clientId,
      oidcClientSecretFile: secretFile,
      oidcRedirectUrl: `${mp}/auth/callback`,
      oidcScopes: 'openid profile groups',
      oidcGroupMap: 'ml-team=analysts',
    });
    adminToken = t.server.auth.adminToken!;
    admin = new ModelportClient({ url: mp, token: adminToken });
    await admin.createProject('fraud-team');
    await admin.createProject('forecasting');
    await admin.createGroup('analysts');
    await admin.addMember('fraud-team', { kind: 'group', name: 'analysts' }, 'editor');
    await admin.addMember('forecasting', { kind: 'group', name: 'analysts' }, 'viewer');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  after(async () => {
    await browser?.close();
    await t?.close();
    await idp?.close();
  });

  const shoot = async (page: Page, name: string) => {
    await page.waitForLoadState('networkidle').catch(() => {});
    await page.screenshot({ path: join(SHOTS, `${name}-${page.viewportSize()?.width}.png`), fullPage: true });
    const overflow = await page.evaluate(() => {
      const g = globalThis as unknown as PageGlobals;
      return g.document.documentElement.scrollWidth - g.innerWidth;
    });
    assert.ok(overflow <= 0, `${name} scrolls sideways by ${overflow}px at ${page.viewportSize()?.width} px`);
  };

  /** Signs in through the provider's pages in a fresh browser context of this width. */
  const ssoSignIn = async (width: number): Promise<{ context: BrowserContext; page: Page }> => {
    const context = await browser.newContext({ viewport: { width, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${mp}/`);
    await page.getByRole('heading', { name: 'Sign in to Modelport' }).waitFor();
    await shoot(page, 'login');
    await page.getByRole('link', { name: 'Sign in with single sign-on' }).click();
    await page.locator('input[name=login]').fill('alice');
    await page.locator('input[name=password]').fill('any');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(`${mp}/`);
    await page.locator('.top .who', { hasText: 'alice' }).waitFor();
    return { context, page };
  };

  test('single sign-on through the provider; the switcher lists only alice’s projects', async () => {
    for (const width of [1280, 390]) {
      const { context, page } = await ssoSignIn(width);
      const cookie = (await context.cookies()).find((c) => c.name === 'mp_session')!;
      assert.equal(cookie.httpOnly, true);
      assert.equal(cookie.sameSite, 'Strict');
      assert.equal(
        await page.evaluate(() => (globalThis as unknown as { document: { cookie: string } }).document.cookie),
        '',
      );
      const options = await page.locator('.switcher select option').allTextContents();
      assert.deepEqual(options.sort(), ['forecasting', 'fraud-team']);
      await page.getByRole('link', { name: 'Projects' }).click();
      await page.getByRole('heading', { name: 'Projects' }).waitFor();
      await page.getByText('your role: viewer').waitFor();
      await shoot(page, 'projects');
      await context.close();
    }
  });

  test('the tokens page: create with name, expiry and scope, shown once, listed, revoked; then sign out', async () => {
    const { context, page } = await ssoSignIn(1280);
    await page.locator('.switcher select').selectOption('fraud-team');
    await page.getByRole('link', { name: 'Tokens' }).click();
    await page.getByRole('heading', { name: 'API tokens' }).waitFor();
    await page.getByLabel('Name').fill('laptop');
    await page.getByLabel('Expires in').selectOption('90d');
    await page.getByRole('button', { name: 'Create token' }).click();
    const shown = await page.getByLabel('The new token').inputValue();
    assert.match(shown, /^mp_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    await page.getByRole('cell', { name: /^laptop / }).waitFor();
    await shoot(page, 'tokens');
    // The token works for the CLI and programs; the page never shows it again.
    const who = await new ModelportClient({ url: mp, token: shown }).whoami();
    assert.equal(who.user, 'alice');
    await page.reload();
    await page.getByRole('cell', { name: /^laptop / }).waitFor();
    assert.equal(await page.getByLabel('The new token').count(), 0);
    assert.ok(!(await page.content()).includes(shown));
    await page.getByRole('button', { name: 'Revoke laptop' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke', exact: true }).click();
    await page.getByText('No tokens yet.').waitFor();
    await assert.rejects(new ModelportClient({ url: mp, token: shown }).whoami(), /not valid/);

    const phone = await context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${mp}/tokens`);
    await phone.getByRole('heading', { name: 'API tokens' }).waitFor();
    await shoot(phone, 'tokens');
    await phone.close();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Modelport' }).waitFor();
    assert.equal(
      (await context.cookies()).find((c) => c.name === 'mp_session'),
      undefined,
    );
    await context.close();
  });

  test('a pasted token signs in; a wrong one is refused with the server’s words', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${mp}/models`);
    await page.getByLabel('API token').fill(`mp_0123456789abcdef_${'A'.repeat(43)}`);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page
      .getByRole('alert')
      .getByText(/not valid/)
      .waitFor();
    await shoot(page, 'login-error');
    await page.getByLabel('API token').fill(adminToken);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.locator('.top .who', { hasText: 'admin' }).waitFor();
    await page.getByRole('heading', { name: 'Models' }).waitFor();
    const options = await page.locator('.switcher select option').allTextContents();
    assert.deepEqual(options.sort(), ['default', 'forecasting', 'fraud-team']);
    await context.close();
  });
});
