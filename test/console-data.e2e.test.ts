/**
 * The console's data pages in a real browser (Debian's Chromium) against a real server: create a repository from
 * the form, browse a branch's history, a commit's tree, a CSV's profile with its histograms, and a diff. Saved as
 * screenshots at 1280 and 390 px in test-results/console/. Skips, saying why, when Chromium or the built console is
 * missing.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { ModelportClient } from '../src/client/client.ts';
import { CHROMIUM, type PageGlobals, SHOTS, consoleSkip as skip } from './support/console.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const rows = ['amount,country,score'];
for (let i = 0; i < 500; i++) {
  rows.push(
    `${(Math.sin(i) * 40 + 50).toFixed(2)},${['fr', 'de', 'us', 'es'][i % 4]},${i % 9 === 0 ? '' : (i % 100) / 10}`,
  );
}
const CSV = new TextEncoder().encode(`${rows.join('\n')}\n`);

describe('web console: data', { skip }, () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let mp: ModelportClient;

  before(async () => {
    await mkdir(SHOTS, { recursive: true });
    server = await startTestServer();
    mp = new ModelportClient({ url: server.url });
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

  test('creates a repository from the form, then shows its empty history', async () => {
    await go('/data');
    await page.getByText('No data repositories yet.').waitFor();
    await page.getByLabel('Name', { exact: true }).fill('transactions');
    await page.getByLabel('Description').fill('card transactions, one file per day');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('heading', { name: 'transactions' }).waitFor();
    await page.getByText('Branch main has no commits yet.').waitFor();
    // A bad name is refused as the API words it.
    await go('/data');
    await page.getByLabel('Name', { exact: true }).fill('Bad Name');
    await page.getByRole('button', { name: 'Create' }).click();
    await page
      .getByRole('alert')
      .getByText(/not a valid name/)
      .waitFor();
  });

  test('history, tree, profile with histograms, and diff', async () => {
    await mp.putFile('transactions', 'days/2026-01-01.csv', CSV, { message: 'first day' });
    await mp.putFile('transactions', 'README.md', new TextEncoder().encode('# transactions\n'), { message: 'readme' });
    const third = await mp.putFile('transactions', 'days/2026-01-02.csv', CSV.subarray(0, 4000), {
      message: 'second day',
    });
    await mp.createTag('transactions', 'v1', 'main~1');
    await server.server.profiles.idle();

    await go('/data');
    await page.getByRole('link', { name: 'transactions' }).click();
    await page.getByRole('cell', { name: 'second day' }).waitFor();
    assert.equal(await page.locator('tbody tr').count(), 3);
    await shot('data-history');

    await page.getByRole('link', { name: third.commit.id.slice(0, 12) }).click();
    await page.getByRole('link', { name: 'days/' }).click();
    await page.getByText('2026-01-01.csv').waitFor();
    await shot('data-tree');

    await page
      .getByRole('row', { name: /2026-01-01\.csv/ })
      .getByRole('link', { name: 'profile' })
      .click();
    await page.getByText('500', { exact: true }).waitFor();
    const bins = JSON.parse(
      (await page.locator('svg.hist[data-bins]').first().getAttribute('data-bins')) ?? '[]',
    ) as number[];
    assert.equal(
      bins.reduce((a, b) => a + b, 0),
      500,
      'the amount histogram counts every row',
    );
    await page.getByRole('img', { name: /Most frequent values of country/ }).waitFor();
    await shot('data-profile');

    await go(`/data/transactions/diff?from=v1&to=main`);
    await page.getByText('1 added').waitFor();
    await page.getByRole('cell', { name: 'days/2026-01-02.csv' }).waitFor();
    await shot('data-diff');
  });

  test('a malformed CSV shows why it has no profile', async () => {
    const bad = await mp.putFile('transactions', 'bad.csv', new TextEncoder().encode('a,b\n1,2\n3,4,5\n'), {
      message: 'bad',
    });
    await server.server.profiles.idle();
    await go(`/data/transactions/commits/${bad.commit.id}/profile?path=bad.csv`);
    await page.getByRole('alert').getByText('malformed CSV at line 3').waitFor();
  });

  test('the data pages fit a 390 px phone', async () => {
    const head = await mp.getCommit('transactions', 'main~1');
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    try {
      for (const [name, path] of [
        ['data', '/data'],
        ['data-history', '/data/transactions'],
        ['data-tree', `/data/transactions/commits/${head.id}?path=days`],
        ['data-profile', `/data/transactions/commits/${head.id}/profile?path=days/2026-01-01.csv`],
        ['data-diff', '/data/transactions/diff?from=v1&to=main'],
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
