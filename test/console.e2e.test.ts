/**
 * The web console in a real browser (Debian's Chromium through playwright-core) against a real server: register a
 * model through the upload form, deploy it, send traffic and watch the chart move, start and shift a canary,
 * promote, roll back, see an API error as the API words it, manage a secret. Every page is saved as a screenshot at
 * 1280 and 390 px in test-results/console/. Skips, saying why, when Chromium or the built console is missing.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { trainFraudModel } from '../examples/fraud/train.ts';
import { type ModelportApiError, ModelportClient } from '../src/client/client.ts';
import { packFolder } from '../src/runtimes/index.ts';
import { CHROMIUM, SHOTS, consoleSkip as skip } from './support/console.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const first = trainFraudModel({ seed: 1, rows: 4000 });
const second = trainFraudModel({ seed: 3, rows: 4000 });
const body = JSON.stringify({
  inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 30], data: first.samples.fraud }],
});

/** The few DOM globals the page functions use (this file is typed for Node, not the DOM). */
interface PageGlobals {
  innerWidth: number;
  document: {
    documentElement: { scrollWidth: number };
    querySelector(selector: string): { getAttribute(name: string): string | null } | null;
  };
}

describe('web console', { skip }, () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let mp: ModelportClient;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'modelport-console-e2e-'));
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
    await rm(dir, { recursive: true, force: true });
  });

  const go = (path: string) => page.goto(`${server.url}${path}`);
  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}-1280.png`), fullPage: true });
  const confirm = (button: string) =>
    page.getByRole('dialog').getByRole('button', { name: button, exact: true }).click();

  test('empty overview says what to do next', async () => {
    await go('/');
    await page.getByText('Nothing is deployed yet.').waitFor();
    await shot('overview-empty');
  });

  test('registers a model through the upload form', async () => {
    const file = join(dir, 'fraud.onnx');
    await writeFile(file, first.onnx);
    await go('/models');
    await page.getByText('No models are registered yet.').waitFor();
    await page.getByLabel('Model name').fill('fraud');
    await page.getByLabel('ONNX file').setInputFiles(file);
    await page.getByRole('button', { name: 'Register' }).click();
    await page.waitForURL(`${server.url}/models/fraud`);
    await page.getByRole('heading', { name: 'Version 1' }).waitFor();
    await page.getByText('FP32').first().waitFor();
    assert.equal((await mp.getVersion('fraud', 1)).version, 1);
    // The second version comes through the client, with lineage (a data commit that exists), and shows up.
    await mp.createRepo('transactions');
    const data = await mp.putFile('transactions', 'train.csv', new TextEncoder().encode('a,b\n1,2\n'), {
      message: 'training data',
    });
    await mp.registerVersion('fraud', second.onnx, {
      aliases: ['challenger'],
      tags: { team: 'risk' },
      dataCommit: `transactions@${data.commit.id.slice(0, 8)}`,
    });
    await page.reload();
    await page.getByRole('heading', { name: 'Version 2' }).waitFor();
    await page.getByText('team=risk').waitFor();
    await page.getByText(`transactions@${data.commit.id}`).waitFor();
    await shot('model');
    await go('/models?q=fra');
    await page.getByRole('link', { name: 'fraud' }).waitFor();
    await shot('models');
  });

  test('creates a deployment, and the chart moves with traffic', async () => {
    await go('/deployments');
    await page.getByRole('combobox', { name: /^Model/ }).selectOption('fraud');
    // A version or an alias, not only the latest: the alias is offered first, then each version.
    await page.getByLabel('Version or alias').locator('option').nth(2).waitFor({ state: 'attached' });
    const choices = await page.getByLabel('Version or alias').locator('option').allTextContents();
    assert.deepEqual(choices, ['challenger (v2)', 'version 2', 'version 1']);
    await page.getByLabel('Version or alias').selectOption('fraud@2');
    await page.getByLabel('Deployment name').fill('fraud');
    await page.getByRole('button', { name: 'Deploy' }).click();
    await page.waitForURL(`${server.url}/deployments/fraud`);
    await mp.waitDeployment('fraud');
    await page.locator('.badge', { hasText: 'Ready' }).waitFor();

    const requests = page.getByRole('img', { name: /^Requests/ });
    const before = JSON.parse((await requests.getAttribute('data-points')) ?? '[]') as (number | null)[];
    assert.ok(
      before.every((v) => v === 0 || v === null), // null: a sample from before the arm served
      `no traffic yet: ${before}`,
    );

    let running = true;
    const loops = Array.from({ length: 3 }, async () => {
      while (running) {
        const res = await fetch(`${server.url}/v2/models/fraud/infer`, { method: 'POST', body });
        assert.equal(res.status, 200);
        await res.arrayBuffer();
      }
    });
    try {
      await page.waitForFunction(
        () => {
          const svg = (globalThis as unknown as PageGlobals).document.querySelector(
            '[role="img"][aria-label^="Requests"]',
          );
          return (JSON.parse(svg?.getAttribute('data-points') ?? '[]') as number[]).some((v) => v > 0);
        },
        undefined,
        { timeout: 30_000 },
      );
    } finally {
      running = false;
      await Promise.all(loops);
    }
    const latest = await page.getByTestId('latest-Requests').textContent();
    assert.match(latest ?? '', /^\d+(\.\d)? req\/s$/);
    assert.ok(Number.parseFloat(latest ?? '0') > 0, latest ?? '');
    // Axes a user can read: time along x, the unit on y, with tick labels; a line drawn; hover shows values.
    const chart = page.getByRole('img', { name: /^Requests/ });
    await chart.locator('svg [aria-label="line"] path').first().waitFor();
    assert.match((await chart.locator('svg [aria-label="y-axis label"]').textContent()) ?? '', /req\/s/);
    assert.match((await chart.locator('svg [aria-label="x-axis label"]').textContent()) ?? '', /time/);
    assert.ok((await chart.locator('svg [aria-label="x-axis tick label"] text').count()) >= 2, 'time ticks');
    assert.ok((await chart.locator('svg [aria-label="y-axis tick label"] text').count()) >= 2, 'value ticks');
    await page.getByRole('img', { name: /^p99 latency in ms/ }).waitFor();
    const box = await chart.locator('svg').first().boundingBox();
    assert.ok(box);
    await page.mouse.move(box.x + box.width * 0.9, box.y + box.height / 2);
    await chart.locator('svg [aria-label="tip"]').waitFor();
    assert.match((await chart.locator('svg [aria-label="tip"]').textContent()) ?? '', /req\/s/);
    // The range picker: 1 h and 24 h redraw over their own resolution.
    await page.getByRole('radio', { name: '1 h' }).check();
    await page.getByRole('radio', { name: '5 m' }).check();
    await shot('deployment');
  });

  test('"try it" sends a request built from the signature', async () => {
    await page.getByRole('button', { name: 'Send request' }).click();
    const answer = page.getByTestId('try-answer');
    await answer.waitFor();
    assert.match((await answer.textContent()) ?? '', /"outputs"/);
  });

  test('starts a canary, shifts its weight, promotes and rolls back', async () => {
    // The deployment serves the latest version (2); version 1 becomes the canary.
    await page.getByRole('combobox', { name: /^Version/ }).selectOption('fraud@1');
    await page.getByLabel('Weight, %').fill('10');
    await page.getByRole('button', { name: 'Start canary' }).click();
    await page.getByTestId('weight-1').filter({ hasText: '10%' }).waitFor();
    assert.deepEqual(
      (await mp.getDeployment('fraud')).spec.traffic.map((t) => [t.model, t.weight, t.tag]),
      [
        ['fraud@2', 90, 'stable'],
        ['fraud@1', 10, 'canary'],
      ],
    );
    await page.getByRole('cell', { name: 'canary', exact: true }).waitFor();

    // Both arms in the charts: a line each, named by tag and target, once both have served.
    let running = true;
    const loops = Array.from({ length: 3 }, async () => {
      while (running) {
        const res = await fetch(`${server.url}/v2/models/fraud/infer`, { method: 'POST', body });
        await res.arrayBuffer();
      }
    });
    try {
      await page.waitForFunction(
        () => {
          const chart = (globalThis as unknown as PageGlobals).document.querySelector(
            '[role="img"][aria-label^="Requests"]',
          );
          const series = JSON.parse(chart?.getAttribute('data-series') ?? '{}') as Record<string, number[]>;
          const armServed = (name: string) => (series[name] ?? []).filter((v) => v > 0).length >= 2;
          return armServed('stable (fraud@2)') && armServed('canary (fraud@1)');
        },
        undefined,
        { timeout: 60_000 },
      );
    } finally {
      running = false;
      await Promise.all(loops);
    }
    for (const title of ['Requests', 'p50 latency', 'p99 latency', 'Errors']) {
      const chart = page.getByRole('img', { name: new RegExp(`^${title}`) });
      assert.match((await chart.getAttribute('aria-label')) ?? '', /stable \(fraud@2\), canary \(fraud@1\)/);
      // A line per arm (and one for the untagged stable version of before the canary).
      assert.ok((await chart.locator('svg [aria-label="line"] path').count()) >= 2, `${title}: a line per arm`);
    }
    await page.getByText('canary (fraud@1)').first().waitFor(); // the legend
    await shot('deployment-canary');

    await page.getByRole('spinbutton', { name: /Canary weight/ }).fill('30');
    await page.getByRole('button', { name: 'Apply weight' }).click();
    await page.getByTestId('weight-1').filter({ hasText: '30%' }).waitFor();
    await page.getByTestId('weight-2').filter({ hasText: '70%' }).waitFor();
    assert.deepEqual(
      (await mp.getDeployment('fraud')).spec.traffic.map((t) => t.weight),
      [70, 30],
    );

    await page.getByRole('button', { name: 'Promote canary' }).click();
    await confirm('Promote');
    await page.getByTestId('weight-1').filter({ hasText: '100%' }).waitFor();
    await page.getByTestId('weight-2').waitFor({ state: 'detached' });

    await page.getByRole('button', { name: 'Roll back to 1' }).click();
    await confirm('Roll back');
    await page.getByTestId('weight-2').filter({ hasText: '100%' }).waitFor();
    await page.getByTestId('weight-1').waitFor({ state: 'detached' });
    assert.equal((await mp.getDeployment('fraud')).currentRevision, 1);
    await shot('deployment-rolled-back');
  });

  test('shows an API error as the API words it', async () => {
    const expected = await mp.createDeployment('fraud', { traffic: [{ model: 'fraud', weight: 100 }] }).then(
      () => assert.fail('a second deployment named fraud was created'),
      (error: ModelportApiError) => error.message,
    );
    await go('/deployments');
    await page.getByLabel('Deployment name').fill('fraud');
    await page.getByRole('button', { name: 'Deploy' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.equal(await alert.textContent(), expected);
    await shot('deployments');
  });

  test('settings: create and delete a secret, list model types', async () => {
    await go('/settings');
    await page.getByText('No secrets yet.').waitFor();
    await page.getByLabel('Name', { exact: true }).fill('PARTNER_TOKEN');
    await page.getByLabel('Value').fill('s3cr3t-value');
    await page.getByRole('button', { name: 'Save secret' }).click();
    await page.getByRole('button', { name: 'Delete PARTNER_TOKEN' }).waitFor();
    assert.deepEqual(
      (await mp.listSecrets()).map((s) => s.name),
      ['PARTNER_TOKEN'],
    );
    assert.ok(!(await page.content()).includes('s3cr3t-value'), 'the value is not in the page after saving');
    await page.getByRole('cell', { name: 'onnx', exact: true }).first().waitFor();
    await shot('settings');

    await page.getByRole('button', { name: 'Delete PARTNER_TOKEN' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await mp.listSecrets()).length, 1, 'cancel keeps the secret');
    await page.getByRole('button', { name: 'Delete PARTNER_TOKEN' }).click();
    await confirm('Delete');
    await page.getByText('No secrets yet.').waitFor();
    assert.equal((await mp.listSecrets()).length, 0);
  });

  test('jobs: submit a file with an upload, watch it finish, download its output; cancel a queued job', async () => {
    await go('/jobs');
    await page.getByText('No jobs yet.').waitFor();
    const rows = [first.samples.legit, first.samples.fraud];
    const csv = join(dir, 'transactions.csv');
    await writeFile(
      csv,
      `id,${first.featureNames.join(',')}\n${rows.map((r, i) => [`tx${i}`, ...r].join(',')).join('\n')}\n`,
    );
    await page.getByLabel('Model', { exact: true }).fill('fraud@2');
    await page.getByLabel('Input file (CSV or JSON lines)').setInputFiles(csv);
    await page.getByLabel('Keep columns').fill('id');
    await page.getByRole('button', { name: 'Submit job' }).click();
    await page.locator('[data-testid^="job-"]').first().waitFor();
    const [job] = await mp.listJobs();
    assert.ok(job);
    const row = page.getByTestId(`job-${job.id}`);
    await row.getByText('succeeded', { exact: true }).waitFor({ timeout: 60_000 });
    assert.match((await page.getByTestId(`progress-${job.id}`).textContent()) ?? '', /^100% · 2 rows/);
    assert.match((await row.textContent()) ?? '', /fraud@2/);
    const href = await row.getByRole('link', { name: /^Output/ }).getAttribute('href');
    const output = await (await fetch(`${server.url}${href}`)).text();
    assert.match(output, /^id,label,probabilities_0,probabilities_1\ntx0,0,/);

    // A large job keeps the runner busy (one job at a time), so the next one waits queued: cancel it.
    const big = Buffer.from(`${`${rows[0]!.join(',')}\n`.repeat(400_000)}`);
    const bigInput = await mp.uploadJobInput(big);
    const busy = await mp.submitJob({ model: 'fraud@2', input: { artifact: bigInput.sha256 } });
    const small = await mp.uploadJobInput(Buffer.from(rows.map((r) => r.join(',')).join('\n')));
    const queued = await mp.submitJob({ model: 'fraud@2', input: { artifact: small.sha256 } });
    await page.reload();
    const queuedRow = page.getByTestId(`job-${queued.id}`);
    await queuedRow.getByText('queued', { exact: true }).waitFor();
    await shot('jobs-running');
    await queuedRow.getByRole('button', { name: 'Cancel' }).click();
    await confirm('Cancel job');
    await queuedRow.getByText('cancelled', { exact: true }).waitFor();
    assert.equal((await mp.getJob(queued.id)).state, 'cancelled');
    await page.getByTestId(`job-${busy.id}`).getByText('succeeded', { exact: true }).waitFor({ timeout: 120_000 });
    await shot('jobs');
  });

  test('the model page: friendly signature, metrics, alias and tag controls', async () => {
    await mp.setSignature('fraud', 2, {
      features: first.featureNames.map((name) => ({ name, type: 'number' as const })),
      outputs: { labels: ['legit', 'fraud'] },
    });
    await mp.updateVersion('fraud', 2, { metrics: { auc: 0.9947, accuracy: 0.9965 } });
    await go('/models/fraud');
    await page.getByRole('heading', { name: 'Version 2' }).waitFor();
    await page.getByRole('heading', { name: 'Features' }).waitFor();
    await page.locator('ol.features li', { hasText: 'amount' }).waitFor();
    await page.getByText('1: fraud').waitFor();
    await page.getByText('0.9947').waitFor();
    assert.equal((await page.getByText(/Format/).count()) > 0, true);
    assert.doesNotMatch((await page.locator('dl.facts').first().textContent()) ?? '', /onnx \(onnx\)/);
    await page.getByLabel('Point an alias here').fill('champion');
    await page.getByRole('button', { name: 'Move alias to v2' }).click();
    await page.getByRole('button', { name: 'Remove alias champion' }).waitFor();
    assert.equal((await mp.getModel('fraud')).aliases['champion'], 2);
    await page.getByLabel('Set a tag').fill('stage=canary');
    await page.getByRole('button', { name: 'Set tag' }).click();
    await page.getByText('stage=canary').waitFor();
    assert.equal((await mp.getVersion('fraud', 2)).tags['stage'], 'canary');
    await shot('model');
  });

  test('an A/B test against a version with other outputs: named a and b, with the warning from apply', async () => {
    // fraud@3: a js model taking the same input but answering with probabilities only (no label).
    const folder = join(dir, 'probabilities-only');
    await mkdir(folder);
    await writeFile(
      join(folder, 'modelport.json'),
      JSON.stringify({
        signature: {
          inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 30] }],
          outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 2] }],
        },
      }),
    );
    await writeFile(
      join(folder, 'index.js'),
      'export function predict({ input }) { const n = input.shape[0]; return { probabilities: { shape: [n, 2], data: new Array(n * 2).fill(0.5) } }; }\n',
    );
    const tgz = join(dir, 'probabilities-only.tgz');
    await packFolder(folder, tgz);
    assert.equal((await mp.registerVersion('fraud', await readFile(tgz), { format: 'js' })).version, 3);

    await go('/deployments/fraud');
    await page.getByRole('radio', { name: 'A/B test' }).check();
    await page.getByRole('combobox', { name: /^Version/ }).selectOption('fraud@3');
    await page.getByLabel('Weight, %').fill('50');
    await page.getByRole('button', { name: 'Start A/B test' }).click();
    const notice = page.getByRole('status').filter({ hasText: 'outputs differ' });
    await notice.waitFor();
    assert.match(
      (await notice.textContent()) ?? '',
      /fraud@2 \(a\) outputs label INT64 \[-1\], probabilities FP32 \[-1, 2\]; fraud@3 \(b\) outputs probabilities FP32 \[-1, 2\]/,
    );
    await page.getByText('A/B test', { exact: true }).first().waitFor();
    await page.getByRole('button', { name: 'Keep a only' }).waitFor();
    await page.getByRole('button', { name: 'Keep b only' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Promote canary' }).count(), 0);
    assert.deepEqual(
      (await mp.getDeployment('fraud')).spec.traffic.map((t) => [t.model, t.weight, t.tag]),
      [
        ['fraud@2', 50, 'a'],
        ['fraud@3', 50, 'b'],
      ],
    );
    await page.getByTestId('weight-3').filter({ hasText: '50%' }).waitFor({ timeout: 60_000 });
    await shot('deployment-ab');
  });

  test('a compose deployment shows its bundle and routes: no replicas, live metrics, canary form or Try it', async () => {
    await mp.applyDeployment('fraud-bundle', {
      backend: 'compose',
      traffic: [
        { model: 'fraud@1', weight: 80, tag: 'stable' },
        { model: 'fraud@2', weight: 20, tag: 'canary' },
      ],
    });
    await go('/deployments/fraud-bundle');
    await page.getByTestId('bundle-note').waitFor();
    const routes = page.getByTestId('bundle-routes');
    await routes.getByRole('link', { name: 'fraud@2' }).waitFor();
    assert.match((await routes.innerText()).replace(/\s+/g, ' '), /stable fraud@1 80% canary fraud@2 20%/);
    await page.getByText(/Revision 1 of 1 written to .*fraud-bundle\/example/).waitFor();
    await page.getByRole('heading', { name: 'Conditions' }).waitFor();
    for (const absent of ['Live metrics', 'Traffic', 'Try it']) {
      assert.equal(await page.getByRole('heading', { name: absent, exact: true }).count(), 0, absent);
    }
    assert.equal(await page.getByText('Replicas ready').count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Promote canary' }).count(), 0);
    await shot('deployment-bundle');
    // The list and the overview show the bundle's split from its spec, and no req/s that nothing measures.
    await go('/deployments');
    await page
      .getByRole('row', { name: /fraud-bundle/ })
      .getByText('fraud@1 80% · fraud@2 20%')
      .waitFor();
    await go('/');
    await page.getByTestId('bundle-fraud-bundle').waitFor();
    assert.equal(await page.getByTestId('rps-fraud-bundle').count(), 0);
    await mp.deleteDeployment('fraud-bundle');
  });

  test('every page renders at 1280 and 390 px', async () => {
    await go('/');
    await page.getByTestId('rps-fraud').waitFor();
    await shot('overview');
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    try {
      for (const [name, path] of [
        ['overview', '/'],
        ['models', '/models'],
        ['model', '/models/fraud'],
        ['deployments', '/deployments'],
        ['deployment', '/deployments/fraud'],
        ['jobs', '/jobs'],
        ['settings', '/settings'],
      ] as const) {
        await phone.goto(`${server.url}${path}`);
        await phone.locator('main h1').waitFor();
        await phone.waitForLoadState('networkidle').catch(() => {});
        const overflow = await phone.evaluate(() => {
          const g = globalThis as unknown as PageGlobals;
          return g.document.documentElement.scrollWidth - g.innerWidth;
        });
        if (overflow > 0) await phone.screenshot({ path: join(SHOTS, `${name}-390-overflow.png`), fullPage: true });
        const wide = await phone.evaluate(() => {
          const g = globalThis as unknown as {
            document: {
              querySelectorAll(
                s: string,
              ): ArrayLike<{ tagName: string; className: string; getBoundingClientRect(): { right: number } }>;
            };
            innerWidth: number;
          };
          return Array.from(g.document.querySelectorAll('main *'))
            .filter((e) => e.getBoundingClientRect().right > g.innerWidth)
            .slice(0, 5)
            .map((e) => `${e.tagName}.${e.className}`);
        });
        assert.ok(overflow <= 0, `${path} scrolls sideways by ${overflow}px at 390 px: ${wide.join(' ')}`);
        await phone.screenshot({ path: join(SHOTS, `${name}-390.png`), fullPage: true });
      }
    } finally {
      await phone.close();
    }
  });
});
