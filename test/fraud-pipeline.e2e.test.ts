/**
 * The fraud example end to end, as the README tells it: create the repository `transactions`, apply
 * examples/fraud/pipeline.yaml with the CLI, commit the CSV files -> the run trains (examples/fraud/train.ts writing
 * ONNX), evaluates on the held-out file, gates on AUC and recall, registers `fraud` with the commit as lineage
 * (addressable as fraud@commit:<id>), rolls it out as a 10% canary that is promoted, and posts to a webhook this
 * test runs. A second commit with damaged labels is blocked by the gate: the deployment is not touched and the
 * notification names the failed rule and its values.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import { exampleData } from '../examples/fraud/data.ts';
import { ModelportClient } from '../src/client/client.ts';
import { cli, cliJson } from './support/cli.ts';
import { REPO_ROOT, startTestServer, type TestServer } from './support/server.ts';

type Run = Awaited<ReturnType<ModelportClient['getRun']>>;

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(REPO_ROOT, 'test-results', 'console');

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 180_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('the fraud pipeline example', { timeout: 600_000 }, () => {
  let t: TestServer;
  let mp: ModelportClient;
  let work: string;
  let hook: Server;
  const posts: { text: string }[] = [];

  before(async () => {
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        posts.push(JSON.parse(body));
        res.writeHead(200).end('ok');
      });
    });
    hook.listen(0, '127.0.0.1');
    await new Promise((resolve) => hook.once('listening', resolve));
    t = await startTestServer('embedded', { example: 'true', egressAllowHosts: '127.0.0.1' });
    mp = new ModelportClient({ url: t.url });
    await mp.setSecret('FRAUD_WEBHOOK', `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hooks/fraud`);
    work = await mkdtemp(join(tmpdir(), 'modelport-fraud-pipeline-'));
  });
  after(async () => {
    await t?.close();
    hook?.close();
    await rm(work, { recursive: true, force: true });
  });

  const commitData = async (name: string, damage: boolean) => {
    const dir = join(work, name);
    await mkdir(dir, { recursive: true });
    const files = exampleData({ damage });
    await writeFile(join(dir, 'transactions.csv'), files.transactions);
    await writeFile(join(dir, 'holdout.csv'), files.holdout);
    return cliJson<{ commit: { id: string } }>(t.url, 'data', 'put', 'transactions', dir, '-m', name);
  };
  const runOf = (commit: string) =>
    until(`the run of commit ${commit.slice(0, 12)} to end`, async () => {
      const runs = await mp.listRuns({ pipeline: 'fraud-train' });
      const run = runs.find((r) => r.trigger.kind === 'data' && r.trigger.commit === commit);
      return run && ['Succeeded', 'Failed', 'Blocked', 'Cancelled'].includes(run.state) ? run : undefined;
    });
  const step = (run: Run, name: string) => run.steps.find((s) => s.name === name)!;

  test('a good commit trains, evaluates, passes the gate, registers with lineage and promotes a 10% canary', async () => {
    const serving = await mp.getDeployment('fraud');
    assert.deepEqual(
      serving.status.targets.map((x) => [x.model, x.version, x.weight]),
      [['fraud', 1, 100]],
    );
    assert.equal((await cli(t.url, 'data', 'repos', 'create', 'transactions')).code, 0);
    const applied = await cli(t.url, 'pipelines', 'apply', '-f', join(REPO_ROOT, 'examples/fraud/pipeline.yaml'));
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /applied: pipeline fraud-train revision 1 \(\d+ files of code/);

    const { commit } = await commitData('october', false);
    const run = await runOf(commit.id);
    assert.equal(run.state, 'Succeeded', JSON.stringify(run.steps.map((s) => [s.name, s.state, s.reason])));
    assert.deepEqual(
      run.steps.map((s) => s.state),
      Array(6).fill('Succeeded'),
    );
    assert.ok(step(run, 'train').outputs.includes('model.onnx'));
    const m = step(run, 'evaluate').metrics;
    for (const key of ['accuracy', 'precision', 'recall', 'f1', 'auc', 'log_loss', 'tn', 'fp', 'fn', 'tp']) {
      assert.equal(typeof m[key], 'number', key);
    }
    assert.ok(m['auc']! >= 0.95, `auc ${m['auc']}`);
    assert.equal(step(run, 'evaluate').result?.rows, 4000);
    assert.match(step(run, 'gate').result?.policy?.explanation ?? '', /^passed: .*metrics.auc = 0\.9\d+/);

    const version = await mp.getVersion('fraud', 2);
    assert.equal(version.lineage.dataCommit, `transactions@${commit.id}`);
    assert.equal(version.lineage.pipelineRun, run.id);
    assert.equal(version.tags['pipeline'], 'fraud-train');
    assert.ok(version.aliases.includes('candidate'));
    assert.equal(version.metrics['auc'], m['auc']);
    const byCommit = await cliJson<{ version: number }>(
      t.url,
      'models',
      'show',
      `fraud@commit:${commit.id.slice(0, 7)}`,
    );
    assert.equal(byCommit.version, 2, 'the version is addressable by its data commit');

    const deploy = step(run, 'deploy').result?.deployed;
    assert.equal(deploy?.canary?.weight, 10);
    assert.equal(deploy?.canary?.promoted, true);
    assert.match(deploy?.url ?? '', /\/v2\/models\/fraud\/infer$/);
    const promoted = await mp.getDeployment('fraud');
    assert.deepEqual(
      promoted.status.targets.map((x) => [x.model, x.version, x.weight]),
      [['fraud', 2, 100]],
    );
    const revisions = await mp.deploymentRevisions('fraud');
    assert.deepEqual(
      revisions.at(-2)?.targets.traffic.map((x) => [x.version, x.weight]),
      [
        [1, 90],
        [2, 10],
      ],
      'the canary revision split 90/10',
    );

    const post = posts.at(-1)!;
    assert.match(post.text, /Pipeline fraud-train run #1: Succeeded/);
    assert.match(post.text, new RegExp(`commit ${commit.id.slice(0, 12)} on transactions/main`));
    assert.match(post.text, /Deployed: fraud at http/);

    const show = await cli(t.url, 'runs', 'show', 'fraud-train#1');
    assert.equal(show.code, 0);
    assert.match(show.stdout, /gate: passed: metrics.auc >= 0.95 && metrics.recall >= 0.6/);
    const logs = await cli(t.url, 'runs', 'logs', run.id, '--step', 'train');
    assert.match(logs.stdout, /trained on 10000 rows/);
  });

  test('a commit with damaged labels is blocked by the gate; the deployment is untouched; the webhook says why', async () => {
    const before = await mp.getDeployment('fraud');
    const { commit } = await commitData('november-broken-labels', true);
    const run = await runOf(commit.id);
    assert.equal(run.state, 'Blocked');
    const gate = step(run, 'gate');
    assert.equal(gate.state, 'Blocked');
    assert.match(gate.reason ?? '', /failed: metrics.auc >= 0.95 \(metrics.auc = 0\.[0-8]\d*\)/);
    assert.deepEqual(
      ['register', 'deploy'].map((n) => step(run, n).state),
      ['Skipped', 'Skipped'],
    );
    assert.equal(step(run, 'notify').state, 'Succeeded');
    const after = await mp.getDeployment('fraud');
    assert.equal(after.currentRevision, before.currentRevision, 'the deployment was not touched');
    assert.equal((await mp.listVersions('fraud')).length, 2, 'nothing was registered');
    const post = posts.at(-1)!;
    assert.match(post.text, /run #2: Blocked/);
    assert.match(post.text, /Gate: failed: metrics.auc >= 0.95 \(metrics.auc = 0\.\d+\)/);
    assert.match(post.text, /read metrics.auc = 0\.\d+, metrics.recall = [\d.]+/);
    assert.match(post.text, /Reason: gate: failed: metrics.auc >= 0.95/);
    const code = await cli(t.url, 'runs', 'logs', run.id, '-f');
    assert.equal(code.code, 1, 'following a blocked run exits 1');
  });

  test('the console shows the pipelines, the runs, the DAG with each step state, the gate explanation and the log', {
    skip: !existsSync(CHROMIUM) && `Chromium is not installed at ${CHROMIUM}`,
  }, async () => {
    await mkdir(SHOTS, { recursive: true });
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(`${t.url}/pipelines`);
      await page.getByRole('link', { name: 'fraud-train', exact: true }).waitFor();
      await page.getByText('data transactions/main *.csv').waitFor();
      await page.getByRole('link', { name: 'fraud-train #2' }).waitFor();
      await page.screenshot({ path: join(SHOTS, 'pipelines-1280.png'), fullPage: true });

      const runs = await mp.listRuns({ pipeline: 'fraud-train' });
      const blocked = runs.find((r) => r.state === 'Blocked')!;
      await page.goto(`${t.url}/runs/${blocked.id}`);
      await page.getByRole('button', { name: 'gate: Blocked' }).waitFor();
      await page.getByRole('button', { name: 'deploy: Skipped' }).waitFor();
      await page.getByRole('heading', { name: 'Gate gate: failed' }).waitFor();
      await page
        .getByText(/failed: metrics.auc >= 0.95 \(metrics.auc = 0\.\d+\)/)
        .first()
        .waitFor();
      await page.getByRole('button', { name: 'train: Succeeded' }).click();
      await page.getByText(/trained on 10000 rows/).waitFor();
      await page.screenshot({ path: join(SHOTS, 'run-blocked-1280.png'), fullPage: true });

      const good = runs.find((r) => r.state === 'Succeeded')!;
      await page.goto(`${t.url}/runs/${good.id}`);
      await page.getByRole('button', { name: 'deploy: Succeeded' }).click();
      await page.getByText(/deploy: promote rule passed/).waitFor();
      await page.screenshot({ path: join(SHOTS, 'run-succeeded-1280.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  });
});
