/**
 * The deployment page's live drift panel in a real browser (Debian's Chromium through playwright-core) against a
 * real server: after checks of traffic like the training data and then of traffic shifted more and more, the page
 * shows DriftDetected True with what drifted, the share of drifted features and each shifted feature's PSI over
 * time (charts with a time axis and the unit on the value axis), and the newest check's features. Saved at 1280 and
 * 390 px in test-results/console/. Skips, saying why, when Chromium or the built console is missing.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { ModelportClient } from '../src/client/client.ts';
import { CHROMIUM, type PageGlobals, SHOTS, consoleSkip as skip } from './support/console.ts';
import { driftDeployment, SHIFTED, send, traffic } from './support/drift.ts';
import { startTestServer, type TestServer } from './support/server.ts';

describe('console: live drift', { skip }, () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let mp: ModelportClient;

  before(async () => {
    await mkdir(SHOTS, { recursive: true });
    server = await startTestServer();
    mp = new ModelportClient({ url: server.url });
    await driftDeployment(mp, 'fraud-api');
    // Four checks over time: like the training data, then shifted by 1, 2 and 4 standard deviations.
    for (const [seed, shift] of [
      [11, 0],
      [12, 1],
      [13, 2],
      [14, 4],
    ] as const) {
      await send(server.url, mp, 'fraud-api', traffic(seed, shift));
      await mp.checkDeploymentDrift('fraud-api');
    }
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

  async function check(page: Page, width: number) {
    await page.goto(`${server.url}/deployments/fraud-api`);
    const panel = page.getByRole('region', { name: 'Live drift' });
    await panel.getByTestId('drift-condition').getByText('DriftDetected: True').waitFor();
    await panel
      .getByText(/features drifted/)
      .first()
      .waitFor();
    // Both charts drawn, with the unit on the value axis and a time axis.
    const drifted = panel.getByRole('img', { name: /^Drifted features in %/ });
    const psi = panel.getByRole('img', { name: /^PSI per feature \(primary\) in PSI/ });
    await drifted.locator('svg').last().waitFor();
    await psi.locator('svg').last().waitFor();
    assert.match((await drifted.locator('svg').last().textContent()) ?? '', /%/);
    assert.match((await psi.locator('svg').last().textContent()) ?? '', /time/);
    // Four points a line: one per check; the shifted features' PSI grows check after check.
    const series = JSON.parse((await psi.getAttribute('data-series')) ?? '{}') as Record<string, (number | null)[]>;
    const lines = Object.keys(series);
    assert.ok(lines.length >= 4 && lines.length <= 5, `PSI lines: ${lines.join(', ')}`);
    for (const name of lines) assert.ok(SHIFTED.includes(name), `${name} is a shifted feature`);
    for (const values of Object.values(series)) {
      assert.equal(values.length, 4);
      assert.ok((values[3] ?? 0) > (values[0] ?? 0), `PSI grows: ${values.join(', ')}`);
    }
    const share = JSON.parse((await drifted.getAttribute('data-points')) ?? '[]') as number[];
    assert.equal(share.length, 4);
    assert.ok((share[3] ?? 0) >= 30 && (share[0] ?? 100) < 30, `share: ${share.join(', ')}`);
    // The newest check's features, the drifted ones marked.
    await panel.getByRole('cell', { name: 'v1', exact: true }).waitFor();
    const overflow = await page.evaluate(() => {
      const g = globalThis as unknown as PageGlobals;
      return g.document.documentElement.scrollWidth - g.innerWidth;
    });
    assert.ok(overflow <= 0, `no horizontal scroll at ${width}px (overflow ${overflow}px)`);
    await panel.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SHOTS, `deployment-drift-${width}.png`), fullPage: true });
    await panel.screenshot({ path: join(SHOTS, `deployment-drift-panel-${width}.png`) });
  }

  test('the deployment page charts drift per feature over time (1280 px)', async () => {
    await check(page, 1280);
  });

  test('the same at 390 px', async () => {
    const narrow = await browser.newPage({ viewport: { width: 390, height: 844 } });
    try {
      await check(narrow, 390);
    } finally {
      await narrow.close();
    }
  });
});
