/**
 * The console's use cases and scans in a real browser (Debian's Chromium) against a real server: the use cases with
 * their scan config, a scan run from the button with its progress, the scan's scorecards and its report (SVG
 * charts, in a sandboxed frame) with a side-by-side comparison, and a promotion refused by a deployment's
 * promotionPolicy with the rule and the values. Saved as screenshots at 1280 and 390 px in test-results/console/.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { ModelportClient } from '../src/client/client.ts';
import { buildLogisticRegressionModel } from '../src/onnx-builder/index.ts';
import { CHROMIUM, type PageGlobals, SHOTS, consoleSkip as skip } from './support/console.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const FEATURES = ['income', 'debt', 'age', 'gender'];
function creditCsv(rows: number, seed: number): string {
  let s = seed;
  const rand = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  const lines = [['id', ...FEATURES, 'approved'].join(',')];
  for (let i = 0; i < rows; i++) {
    const income = 20 + rand() * 130;
    const debt = rand() * 50;
    const z = 0.05 * income - 0.09 * debt - 2 + (rand() - 0.5) * 2;
    lines.push(
      [i, income.toFixed(2), debt.toFixed(2), Math.floor(18 + rand() * 62), rand() < 0.5 ? 0 : 1, z > 0 ? 1 : 0].join(
        ',',
      ),
    );
  }
  return `${lines.join('\n')}\n`;
}
const model = (weights: number[]) => buildLogisticRegressionModel({ weights, bias: -2, featureCount: weights.length });
const signature = { features: FEATURES.map((name) => ({ name, type: 'number' as const })) };

describe('web console: use cases and scans', { skip }, () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let mp: ModelportClient;

  before(async () => {
    await mkdir(SHOTS, { recursive: true });
    server = await startTestServer();
    mp = new ModelportClient({ url: server.url });
    await mp.createRepo('applicants');
    await mp.putFile('applicants', 'eval.csv', new TextEncoder().encode(creditCsv(500, 3)), { message: 'eval' });
    await mp.registerVersion('credit', model([0.05, -0.09, 0, 0]), { signature });
    await mp.registerVersion('credit', model([0.03, -0.05, 0, 1.5]), { signature });
    await mp.applyUseCase({
      name: 'credit-approval',
      task: 'binary-classification',
      dataset: { repo: 'applicants', commit: 'main', path: 'eval.csv' },
      label: 'approved',
      favorable: 1,
      protected: [{ column: 'gender' }, { column: 'age', buckets: [25, 45, 65] }],
      restricted: ['gender', 'age'],
      models: ['credit@1', 'credit@2'],
      scans: ['performance', 'fairness', 'robustness', 'explainability'],
      scanConfig: { parallel: 2 },
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
  const shot = async (name: string) => {
    await page.screenshot({ path: join(SHOTS, `${name}-1280.png`), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(SHOTS, `${name}-390.png`), fullPage: true });
    const wide = await page.evaluate(() => {
      const g = globalThis as unknown as PageGlobals;
      return g.document.documentElement.scrollWidth > g.innerWidth + 1;
    });
    await page.setViewportSize({ width: 1280, height: 900 });
    return wide;
  };

  test('runs a scan from the use cases page and follows it to its report', async () => {
    await go('/scans');
    await page
      .getByRole('cell', { name: /credit-approval/ })
      .first()
      .waitFor();
    await page.getByText('2 at once, 1 CPU, 1Gi').waitFor();
    await page.getByRole('button', { name: 'Run scan' }).click();
    await page.getByRole('link', { name: 'credit-approval #1' }).waitFor();
    await page.getByRole('link', { name: 'credit-approval #1' }).click();
    await page.getByRole('heading', { name: /credit-approval scan #1/ }).waitFor();
    await page.getByText('Succeeded').first().waitFor({ timeout: 120_000 });
    await page.getByRole('heading', { name: 'Scorecards' }).waitFor();
    const frame = page.frameLocator('iframe.report-frame');
    await frame.getByRole('heading', { name: 'Comparison' }).waitFor();
    assert.ok((await frame.locator('svg').count()) >= 3, 'the report has its charts');
    await frame.getByText(/credit@1 wins on/).waitFor();
    await shot('scan-report');
    await go('/scans');
    await page.getByRole('link', { name: 'credit-approval #1' }).waitFor();
    const wide = await shot('scans');
    assert.equal(wide, false, 'the scans page fits 390 px without scrolling sideways');
  });

  test('compares two scans side by side', async () => {
    const second = await mp.runScan('credit-approval', ['performance']);
    assert.equal((await mp.getScan(second.id, 120)).state, 'Succeeded');
    const [, first] = await mp.listScans({ usecase: 'credit-approval' });
    await go(`/scans/${second.id}`);
    await page.getByRole('checkbox', { name: `credit-approval #${first!.number}` }).check();
    const frame = page.frameLocator('iframe.report-frame');
    await frame.getByRole('heading', { name: /Comparison of credit-approval#2, credit-approval#1/ }).waitFor();
    await frame.getByText('credit@1 (credit-approval#1)').first().waitFor();
    await shot('scan-compare');
  });

  test("shows a promotion refused by the deployment's promotionPolicy, with the rule and the values", async () => {
    await mp.createDeployment('credit-live', {
      traffic: [
        { model: 'credit@1', weight: 90, tag: 'stable' },
        { model: 'credit@2', weight: 10, tag: 'canary' },
      ],
      promotionPolicy: 'scans.fairness.disparate_impact.min >= 0.8',
    });
    await mp.waitDeployment('credit-live', 120);
    await go('/deployments/credit-live');
    await page.getByTestId('promotion-policy').waitFor();
    await page.getByRole('button', { name: 'Promote canary' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Promote' }).click();
    await page
      .getByRole('alert')
      .getByText(
        /promotionPolicy refuses promoting credit@2: failed: scans\.fairness\.disparate_impact\.min >= 0\.8 \(scans\.fairness\.disparate_impact\.min = 0\.\d+\)/,
      )
      .waitFor();
    await shot('promotion-refused');
    assert.equal((await mp.getDeployment('credit-live')).spec.traffic.length, 2, 'nothing promoted');
  });
});
