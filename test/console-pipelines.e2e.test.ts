/**
 * The console's pipeline controls in Chromium, with auth on: an editor with the code permission pastes a spec and
 * applies it, presses Run now and lands on the run, which succeeds; a viewer sees neither control (and the server
 * would refuse both). Pages are saved at 1280 and 390 px under test-results/console/ and never scroll sideways.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { ModelportApiError, ModelportClient } from '../src/client/client.ts';
import { CHROMIUM, type PageGlobals, SHOTS, consoleSkip as skip } from './support/console.ts';
import { startTestServer, type TestServer } from './support/server.ts';

describe('console: applying and running pipelines', { skip, timeout: 180_000 }, () => {
  let t: TestServer;
  let browser: Browser;
  let editorToken: string;
  let viewerToken: string;

  before(async () => {
    await mkdir(SHOTS, { recursive: true });
    t = await startTestServer('embedded', { auth: 'true' });
    const admin = new ModelportClient({ url: t.url, token: t.server.auth.adminToken! });
    for (const [user, role, code] of [
      ['erin', 'editor', true],
      ['vic', 'viewer', false],
    ] as const) {
      await admin.createUser(user);
      await admin.addMember('default', { kind: 'user', name: user }, role, { code });
    }
    editorToken = (await admin.createToken({ name: 'console', user: 'erin' })).token;
    viewerToken = (await admin.createToken({ name: 'console', user: 'vic' })).token;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  after(async () => {
    await browser?.close();
    await t?.close();
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

  const signedIn = async (token: string, width: number): Promise<Page> => {
    const context = await browser.newContext({ viewport: { width, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${t.url}/pipelines`);
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Pipelines', exact: true }).waitFor();
    return page;
  };

  test('an editor with code applies a pasted spec, runs it, and lands on the successful run', async () => {
    const page = await signedIn(editorToken, 1280);
    await page.getByText('Apply a pipeline').click();
    const spec = [
      'name: console-hello',
      'steps:',
      '  - name: greet',
      '    run: echo "hello from the console"',
      '  - name: check',
      '    needs: [greet]',
      '    gate: "data.size >= 0 || true"',
    ].join('\n');
    await page.getByLabel(/Spec \(YAML/).fill(spec);
    await shoot(page, 'pipelines-apply');
    await page.getByRole('button', { name: 'Apply', exact: true }).click();
    await page.getByRole('status').getByText('Applied: console-hello revision 1.').waitFor();
    // A spec the server refuses shows its message, naming the field.
    await page.getByLabel(/Spec \(YAML/).fill('name: broken\nsteps:\n  - name: a\n    run: "true"\n    needs: [zz]\n');
    await page.getByRole('button', { name: 'Apply', exact: true }).click();
    await page
      .getByRole('alert')
      .getByText(/no step is named 'zz'/)
      .waitFor();

    await page.getByRole('button', { name: 'Run console-hello now' }).click();
    await page.waitForURL(/\/runs\//);
    await page.locator('h1 .badge', { hasText: 'Succeeded' }).waitFor({ timeout: 60_000 });
    await shoot(page, 'pipelines-run-from-console');
    const runs = await new ModelportClient({ url: t.url, token: editorToken }).listRuns({ pipeline: 'console-hello' });
    assert.equal(runs.length, 1);
    assert.deepEqual(runs[0]!.trigger, { kind: 'manual', by: 'user:erin' });
    await page.context().close();

    const phone = await signedIn(editorToken, 390);
    await phone.getByRole('button', { name: 'Run console-hello now' }).waitFor();
    await phone.getByText('Apply a pipeline').click();
    await shoot(phone, 'pipelines-apply');
    await phone.context().close();
  });

  test('a viewer sees no apply form and no Run button, and the server refuses both anyway', async () => {
    const page = await signedIn(viewerToken, 1280);
    await page.getByText(/Applying a pipeline needs the editor role with the code permission/).waitFor();
    await page.getByRole('link', { name: 'console-hello', exact: true }).waitFor();
    assert.equal(await page.getByText('Apply a pipeline').count(), 0);
    assert.equal(await page.getByRole('button', { name: /Run .* now/ }).count(), 0);
    await shoot(page, 'pipelines-viewer');
    await page.context().close();
    const viewer = new ModelportClient({ url: t.url, token: viewerToken });
    await assert.rejects(viewer.triggerPipeline('console-hello'), (e: unknown) => {
      return e instanceof ModelportApiError && e.status === 403;
    });
  });
});
