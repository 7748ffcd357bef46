/**
 * The console's payload log in a real browser (Debian's Chromium) against a real server: a deployment logging its
 * calls, the log as a table filtered by prediction, a call's detail with its shadow and a redacted feature marked,
 * and the live accuracy per arm on the deployment page. Screenshots at 1280 and 390 px in test-results/console/.
 * Skips, saying why, when Chromium or the built console is missing.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { trainFraudModel } from '../examples/fraud/train.ts';
import { ModelportClient } from '../src/client/client.ts';
import { CHROMIUM, type PageGlobals, SHOTS, consoleSkip as skip } from './support/console.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const fraud = trainFraudModel({ seed: 7, rows: 4000 });
const FRIENDLY = {
  features: fraud.featureNames.map((name) => ({ name, type: 'number' as const })),
  outputs: { labels: ['legit', 'fraud'], probabilities: 'probabilities', label: 'label' },
};

describe('web console: payload log', { skip }, () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let mp: ModelportClient;

  before(async () => {
    await mkdir(SHOTS, { recursive: true });
    server = await startTestServer();
    mp = new ModelportClient({ url: server.url });
    await mp.registerVersion('fraud', fraud.onnx, { signature: FRIENDLY });
    await mp.registerVersion('fraud', fraud.onnx, { signature: FRIENDLY });
    await mp.applyDeployment('fraud', {
      traffic: [
        { model: 'fraud@1', weight: 100 },
        { model: 'fraud@2', weight: 0, tag: 'canary' },
      ],
      shadow: { model: 'fraud@2', percent: 100 },
      logging: { sample: 100, redact: ['v3'] },
    });
    await mp.waitDeployment('fraud', 120);
    const rows = [fraud.samples?.legit ?? [], fraud.samples?.fraud ?? []];
    for (let i = 0; i < 12; i++) {
      const model = i % 4 === 3 ? 'fraud@canary' : 'fraud';
      const response = await fetch(`${server.url}/v2/models/${model}/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          id: `call-${i}`,
          inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 30], data: [...rows[i % 2]!] }],
        }),
      });
      assert.equal(response.status, 200);
    }
    await server.server.payloads.flush();
    await mp.sendFeedback('fraud', {
      labels: Array.from({ length: 12 }, (_, i) => ({
        requestId: `call-${i}`,
        label: i % 3 === 0 ? 'fraud' : 'legit',
      })),
    });
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

  const go = (path: string) => page.goto(`${server.url}${path}`);
  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}-1280.png`), fullPage: true });

  test('the deployment page shows live accuracy per arm and links to the log', async () => {
    await go('/deployments/fraud');
    const accuracy = page.locator('table', { has: page.getByRole('columnheader', { name: 'Accuracy' }) });
    await accuracy.getByRole('cell', { name: 'primary', exact: true }).waitFor();
    await accuracy.getByRole('cell', { name: 'canary', exact: true }).waitFor();
    assert.equal(await accuracy.locator('tbody tr').count(), 2);
    await page.waitForLoadState('networkidle').catch(() => {});
    await shot('deployment-accuracy');
    await page.getByRole('link', { name: 'Payload log' }).click();
    await page.getByRole('heading', { name: 'Payload log' }).waitFor();
  });

  test('the log is a table with filters; a call opens with its shadow and redactions', async () => {
    await go('/deployments/fraud/payloads');
    await page.getByRole('link', { name: 'call-11' }).first().waitFor();
    // 12 answers and 12 shadow records.
    assert.equal(await page.locator('main tbody tr').count(), 24);
    await shot('payloads');
    await page.getByLabel('Prediction').fill('fraud');
    await page.getByLabel('Arm').fill('primary');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('3 call(s)').waitFor();
    const ids = await page.locator('main tbody tr td:nth-child(2)').allTextContents();
    assert.deepEqual(ids.sort(), ['call-1', 'call-5', 'call-9']);
    // A bad filter is answered as the API words it.
    await page.getByLabel('Where').fill('drop table');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page
      .getByRole('alert')
      .getByText(/where:/)
      .waitFor();

    await go('/deployments/fraud/payloads/call-3');
    await page.getByRole('heading', { name: /Answer · canary/ }).waitFor();
    await page.getByRole('heading', { name: /Shadow · shadow/ }).waitFor();
    assert.ok((await page.getByText('redacted: v3').count()) >= 1);
    await shot('payload-detail');
  });

  test('the payload pages fit a 390 px phone', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    try {
      for (const [name, path] of [
        ['deployment-accuracy', '/deployments/fraud'],
        ['payloads', '/deployments/fraud/payloads'],
        ['payload-detail', '/deployments/fraud/payloads/call-3'],
      ] as const) {
        await phone.goto(`${server.url}${path}`);
        await phone.locator('main h1').waitFor();
        await phone.waitForLoadState('networkidle').catch(() => {});
        const overflow = await phone.evaluate(() => {
          const g = globalThis as unknown as PageGlobals;
          return g.document.documentElement.scrollWidth - g.innerWidth;
        });
        assert.ok(overflow <= 0, `${path} scrolls sideways by ${overflow}px at 390 px`);
        await phone.screenshot({ path: join(SHOTS, `${name}-390.png`), fullPage: true });
      }
    } finally {
      await phone.close();
    }
  });
});
