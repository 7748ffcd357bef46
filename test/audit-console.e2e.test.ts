/**
 * The console's audit page in a real browser (Debian's Chromium) against a real server: changes made through the
 * API appear with who, what and the outcome, a spec change opens to its before and after, the project filter
 * narrows the rows, and the chain check reports intact. Screenshots at 1280 and 390 px in test-results/console/.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { trainFraudModel } from '../examples/fraud/train.ts';
import { ModelportClient } from '../src/client/client.ts';
import { CHROMIUM, SHOTS, consoleSkip as skip } from './support/console.ts';
import { startTestServer, type TestServer } from './support/server.ts';

describe('console audit page', { skip }, () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;

  before(async () => {
    await mkdir(SHOTS, { recursive: true });
    server = await startTestServer();
    const mp = new ModelportClient({ url: server.url });
    await mp.registerVersion('fraud', trainFraudModel({ seed: 1, rows: 4000 }).onnx);
    await mp.setSecret('PARTNER_TOKEN', 'console-canary-value');
    await mp.createDeployment('fraud-api', { traffic: [{ model: 'fraud', weight: 100 }], env: { LOG_LEVEL: 'info' } });
    await mp.applyDeployment('fraud-api', { traffic: [{ model: 'fraud', weight: 100 }], env: { LOG_LEVEL: 'debug' } });
    await mp.applyDeployment('fraud-api', { traffic: [{ model: 'fraud', weight: 60 }] }).catch(() => {});
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test('lists changes with who, what and the outcome; before/after; filter; chain check', async () => {
    await page.goto(`${server.url}/audit`);
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    const rows = page.locator('table.audit > tbody > tr');
    await rows.first().waitFor();
    assert.equal(await rows.count(), 5);
    const text = await page.locator('table.audit > tbody').innerText();
    assert.match(text, /PUT \/projects\/:project\/deployments\/:name/);
    assert.match(text, /400\s+invalid_request/);
    assert.match(text, /PARTNER_TOKEN/);
    assert.ok(!text.includes('console-canary-value'));

    // Newest first: the refused change has no detail; the one before it changed LOG_LEVEL from info to debug.
    await page.getByText('changed: env').click();
    await page.locator('pre:visible', { hasText: '"LOG_LEVEL": "info"' }).waitFor();
    await page.locator('pre:visible', { hasText: '"LOG_LEVEL": "debug"' }).waitFor();
    await page.getByRole('button', { name: 'Verify the chain' }).click();
    await page.getByText('Chain intact: 5 rows').waitFor();
    await page.screenshot({ path: join(SHOTS, 'audit-1280.png'), fullPage: true });

    // In main: the top bar's project switcher is labelled Project too.
    await page.locator('main').getByLabel('Project').fill('other');
    await page.getByText('No audit rows match.').waitFor();

    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    try {
      await phone.goto(`${server.url}/audit`);
      await phone.locator('table.audit > tbody > tr').first().waitFor();
      await phone.screenshot({ path: join(SHOTS, 'audit-390.png'), fullPage: true });
    } finally {
      await phone.close();
    }
  });
});
