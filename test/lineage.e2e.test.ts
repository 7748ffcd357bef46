/**
 * Lineage end to end on the fraud example's real chain: a data commit starts the pipeline, which trains, evaluates,
 * gates, registers fraud@2 with the commit as lineage and rolls it out to the deployment `fraud`. The lineage query
 * is asked from each end (the commit, the run, the version, the deployment revision) through the API and the CLI,
 * and the OpenLineage events the server sent to a real HTTP receiver on loopback are each validated against the
 * official schema as they arrive. A damaged commit is blocked by the gate: its lineage stops at the gate, and its
 * run's events end in FAIL.
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
import { ModelportApiError, ModelportClient } from '../src/client/client.ts';
import { type OpenLineageRunEvent, OpenLineageValidator } from '../src/lineage/index.ts';
import { cli, cliJson } from './support/cli.ts';
import { REPO_ROOT, STORE_KINDS, startTestServer, type TestServer } from './support/server.ts';

type Graph = Awaited<ReturnType<ModelportClient['getLineage']>>;

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(REPO_ROOT, 'test-results', 'console');

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 240_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A receiver of the OpenLineage HTTP transport that checks every event against the schema as it arrives. */
async function startReceiver() {
  const validator = new OpenLineageValidator();
  const received: { event: OpenLineageRunEvent; problems: string[] }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      let event: OpenLineageRunEvent;
      try {
        event = JSON.parse(body) as OpenLineageRunEvent;
      } catch {
        res.writeHead(400).end();
        received.push({ event: {} as OpenLineageRunEvent, problems: ['not JSON'] });
        return;
      }
      const problems = req.headers['content-type'] === 'application/json' ? validator.check(event) : ['content-type'];
      received.push({ event, problems });
      res.writeHead(problems.length === 0 ? 201 : 400).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { server, received, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/lineage` };
}

const byKind = (graph: Graph, kind: string) => graph.nodes.filter((n) => n.kind === kind);
const node = (graph: Graph, id: string) => {
  const found = graph.nodes.find((n) => n.id === id);
  assert.ok(found, `the graph has ${id}; it has ${graph.nodes.map((n) => n.id).join(', ')}`);
  return found;
};
const hasEdge = (graph: Graph, from: string, to: string, relation: string) =>
  assert.ok(
    graph.edges.some((e) => e.from === from && e.to === to && e.relation === relation),
    `edge ${from} -${relation}-> ${to}; edges: ${graph.edges.map((e) => `${e.from} -${e.relation}-> ${e.to}`).join('\n')}`,
  );

for (const kind of STORE_KINDS)
  describe(`lineage of the fraud pipeline example [${kind}]`, { timeout: 900_000 }, () => {
    let t: TestServer;
    let mp: ModelportClient;
    let work: string;
    let hook: Server;
    let receiver: Awaited<ReturnType<typeof startReceiver>>;
    let good: { commit: string; run: string };
    let bad: { commit: string; run: string };

    const commitData = async (name: string, damage: boolean) => {
      const dir = join(work, name);
      await mkdir(dir, { recursive: true });
      const files = exampleData({ damage });
      await writeFile(join(dir, 'transactions.csv'), files.transactions);
      await writeFile(join(dir, 'holdout.csv'), files.holdout);
      const { commit } = await cliJson<{ commit: { id: string } }>(
        t.url,
        'data',
        'put',
        'transactions',
        dir,
        '-m',
        name,
      );
      const run = await until(`the run of ${name}`, async () => {
        const runs = await mp.listRuns({ pipeline: 'fraud-train' });
        const r = runs.find((x) => x.trigger.kind === 'data' && x.trigger.commit === commit.id);
        return r && ['Succeeded', 'Failed', 'Blocked', 'Cancelled'].includes(r.state) ? r : undefined;
      });
      return { commit: commit.id, run: run.id, state: run.state };
    };

    before(async () => {
      hook = createServer((req, res) => {
        req.resume();
        req.on('end', () => res.writeHead(200).end('ok'));
      });
      hook.listen(0, '127.0.0.1');
      await new Promise((resolve) => hook.once('listening', resolve));
      receiver = await startReceiver();
      t = await startTestServer(kind, {
        example: 'true',
        egressAllowHosts: '127.0.0.1',
        openlineageUrl: receiver.url,
        openlineageNamespace: 'e2e',
      });
      mp = new ModelportClient({ url: t.url });
      await mp.setSecret('FRAUD_WEBHOOK', `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hooks/fraud`);
      work = await mkdtemp(join(tmpdir(), 'modelport-lineage-'));
      assert.equal((await cli(t.url, 'data', 'repos', 'create', 'transactions')).code, 0);
      const applied = await cli(t.url, 'pipelines', 'apply', '-f', join(REPO_ROOT, 'examples/fraud/pipeline.yaml'));
      assert.equal(applied.code, 0, applied.stderr);
      const first = await commitData('october', false);
      assert.equal(first.state, 'Succeeded');
      good = first;
      const second = await commitData('november-broken-labels', true);
      assert.equal(second.state, 'Blocked');
      bad = second;
    });
    after(async () => {
      await t?.close();
      hook?.close();
      receiver?.server.close();
      if (work) await rm(work, { recursive: true, force: true });
    });

    test('from the model version: upstream to the run, its gate and the data commit with its profiles; downstream to the deployment', async () => {
      const graph = await mp.getLineage('model:fraud@2');
      assert.equal(graph.subject.kind, 'version');
      assert.equal(graph.subject.node, 'version:fraud@2');
      const run = node(graph, `run:${good.run}`);
      assert.equal(run.label, 'fraud-train #1');
      assert.equal(run.state, 'Succeeded');
      assert.equal(run.link, `/runs/${good.run}`);
      const gate = node(graph, `step:${good.run}/gate`);
      assert.equal(gate.detail['passed'], true);
      assert.match(String(gate.detail['explanation']), /^passed: .*metrics.auc = 0\.9\d+/);
      hasEdge(graph, `step:${good.run}/register`, 'version:fraud@2', 'registered');
      hasEdge(graph, `run:${good.run}`, `step:${good.run}/gate`, 'ran');
      const commit = node(graph, `commit:transactions@${good.commit}`);
      assert.equal(commit.detail['message'], 'october');
      assert.equal(commit.link, `/data/transactions/commits/${good.commit}`);
      hasEdge(graph, commit.id, 'version:fraud@2', 'trained on');
      hasEdge(graph, commit.id, `run:${good.run}`, 'triggered');
      assert.deepEqual(
        byKind(graph, 'profile')
          .map((p) => p.label)
          .sort(),
        ['holdout.csv', 'transactions.csv'],
      );
      // Downstream: the canary revision (fraud@1 90 %, fraud@2 10 %) and the promoted one serve fraud@2.
      const revisions = (await mp.deploymentRevisions('fraud')).filter((r) =>
        r.targets.traffic.some((x) => x.model === 'fraud' && x.version === 2),
      );
      assert.ok(revisions.length >= 2, 'a canary revision and the promoted one');
      for (const r of revisions) {
        const arm = r.targets.traffic.find((x) => x.version === 2)!;
        const armId = `arm:fraud@${r.revision}/${arm.tag ?? 'primary'}`;
        hasEdge(graph, 'version:fraud@2', armId, 'serves in');
        hasEdge(graph, armId, `deployment:fraud@${r.revision}`, 'arm of');
      }
      const current = (await mp.getDeployment('fraud')).currentRevision;
      assert.equal(node(graph, `deployment:fraud@${current}`).state, 'serving');
      // Every node a person can click leads to a console page of its kind.
      for (const n of graph.nodes) assert.match(n.link ?? '', /^\/(models|deployments|runs|data)\//, n.id);
    });

    test('from the data commit: downstream to the run, the version and the deployment revisions; the blocked commit stops at its gate', async () => {
      const graph = await mp.getLineage(`transactions@${good.commit.slice(0, 10)}`, 'down');
      assert.equal(graph.subject.kind, 'commit');
      assert.equal(graph.subject.node, `commit:transactions@${good.commit}`);
      hasEdge(graph, graph.subject.node, `run:${good.run}`, 'triggered');
      hasEdge(graph, graph.subject.node, 'version:fraud@2', 'trained on');
      assert.ok(byKind(graph, 'deployment').some((d) => d.id.startsWith('deployment:fraud@')));
      assert.ok(!graph.nodes.some((n) => n.id === `run:${bad.run}`), 'the other commit’s run is not in it');

      const blocked = await mp.getLineage(`data:transactions@${bad.commit}`);
      const gate = node(blocked, `step:${bad.run}/gate`);
      assert.equal(gate.state, 'Blocked');
      assert.equal(gate.detail['passed'], false);
      assert.match(String(gate.detail['explanation']), /failed: metrics.auc >= 0.95/);
      assert.equal(node(blocked, `step:${bad.run}/register`).state, 'Skipped');
      assert.deepEqual(byKind(blocked, 'version'), [], 'nothing was registered from it');
      assert.deepEqual(byKind(blocked, 'deployment'), [], 'it reached no deployment');
    });

    test('from the deployment revision and from the run, through the CLI: a tree, -o json, and the same chain', async () => {
      const current = (await mp.getDeployment('fraud')).currentRevision;
      const up = await cliJson<Graph>(t.url, 'lineage', `deployment:fraud@${current}`, '--direction', 'up');
      assert.equal(up.subject.node, `deployment:fraud@${current}`);
      hasEdge(up, 'version:fraud@2', `arm:fraud@${current}/canary`, 'serves in');
      hasEdge(up, `commit:transactions@${good.commit}`, 'version:fraud@2', 'trained on');
      node(up, `step:${good.run}/gate`);

      const tree = await cli(t.url, 'lineage', 'fraud-train#1');
      assert.equal(tree.code, 0, tree.stderr);
      const text = tree.stdout;
      assert.match(text, /^pipeline run fraud-train #1 \[Succeeded\]/);
      assert.match(text, /├─ upstream \(what made it\)/);
      assert.match(text, /triggered: transactions@[0-9a-f]{12}: "october"/);
      assert.match(text, /ran: gate \(gate\) \[Succeeded\]: passed: metrics\.auc >= 0\.95/);
      assert.match(text, /profiled: transactions\.csv \[(ready|pending)\]/);
      assert.match(text, /└─ downstream \(what it reached\)/);
      assert.match(text, /registered: fraud@2 \[candidate\]: .*auc=0\.9/);
      assert.match(text, /serves in: canary 100%/);
      assert.match(text, /arm of: fraud revision \d+ \[serving\]/);
    });

    test('something that does not exist is a 404 naming the field; an ambiguous name asks which', async () => {
      await assert.rejects(mp.getLineage('model:fraud@9'), (error: unknown) => {
        assert.ok(error instanceof ModelportApiError);
        assert.equal(error.status, 404);
        assert.equal(error.field, 'of');
        assert.match(error.message, /model version 'fraud@9' not found in project 'default'/);
        return true;
      });
      await assert.rejects(mp.getLineage('no-such-thing'), (error: unknown) => {
        assert.ok(error instanceof ModelportApiError);
        assert.equal(error.status, 404);
        assert.match(error.message, /'no-such-thing' names no deployment revision, no pipeline run, no logged request/);
        return true;
      });
      // A word before a colon that is no kind is part of the name.
      await assert.rejects(mp.getLineage('constructor:x'), (error: unknown) => {
        assert.ok(error instanceof ModelportApiError);
        assert.equal(error.status, 404);
        assert.equal(error.field, 'of');
        return true;
      });
      // `fraud@2` is both a model version and a revision of the deployment `fraud`.
      await assert.rejects(mp.getLineage('fraud@2'), (error: unknown) => {
        assert.ok(error instanceof ModelportApiError);
        assert.equal(error.status, 400);
        assert.match(error.message, /write model:fraud@2.*write deployment:fraud@2/);
        return true;
      });
      const missing = await cli(t.url, 'lineage', 'transactions@ffffffffff');
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /of: .*transactions@ffffffffff.* \(not_found\)/);
      const direction = await cli(t.url, 'lineage', 'fraud', '--direction', 'sideways');
      assert.equal(direction.code, 2);
    });

    test('runs, steps and rollouts sent OpenLineage events, each valid against the schema, in order, with datasets', async () => {
      const done = (runId: string, job: string) =>
        receiver.received.find(
          (r) => r.event.run?.runId === runId && r.event.job?.name === job && r.event.eventType !== 'START',
        );
      await until('the good run to be reported complete', () => done(good.run, 'default/fraud-train'));
      await until('the blocked run to be reported failed', () => done(bad.run, 'default/fraud-train'));
      const invalid = receiver.received.filter((r) => r.problems.length > 0);
      assert.deepEqual(invalid, [], 'every event passed the OpenLineage schema');
      const events = receiver.received.map((r) => r.event);
      assert.ok(events.every((e) => e.job.namespace === 'e2e'));

      const goodRun = events.filter((e) => e.run.runId === good.run);
      assert.deepEqual(
        goodRun.map((e) => e.eventType),
        ['START', 'COMPLETE'],
      );
      const input = goodRun[0]!.inputs.find((d) => d.name === 'default/data/transactions');
      assert.equal(input?.facets?.['version']?.['datasetVersion'], good.commit);
      const end = goodRun[1]!;
      assert.ok(
        end.outputs.some((d) => d.name === 'default/models/fraud' && d.facets?.['version']?.['datasetVersion'] === '2'),
      );
      assert.ok(end.outputs.some((d) => d.name === 'default/deployments/fraud'));

      const steps = events.filter(
        (e) =>
          e.job.name.startsWith('default/fraud-train.') &&
          (e.run.facets?.['parent'] as { run: { runId: string } } | undefined)?.run.runId === good.run,
      );
      for (const step of ['train', 'evaluate', 'gate', 'register', 'deploy', 'notify']) {
        const own = steps.filter((e) => e.job.name === `default/fraud-train.${step}`);
        assert.deepEqual(
          own.map((e) => e.eventType),
          ['START', 'COMPLETE'],
          step,
        );
      }
      const register = steps.find((e) => e.job.name === 'default/fraud-train.register' && e.eventType === 'COMPLETE')!;
      assert.deepEqual(
        register.outputs.map((d) => d.name),
        ['default/models/fraud'],
      );

      const blocked = events.filter((e) => e.run.runId === bad.run);
      assert.deepEqual(
        blocked.map((e) => e.eventType),
        ['START', 'FAIL'],
      );
      assert.match(String(blocked[1]!.run.facets?.['errorMessage']?.['message']), /Blocked: gate: failed/);

      const rollouts = events.filter((e) => e.job.name === 'default/deployments/fraud');
      assert.ok(rollouts.some((e) => e.eventType === 'START'));
      const complete = rollouts.filter((e) => e.eventType === 'COMPLETE');
      assert.ok(
        complete.some((e) =>
          e.inputs.some((d) => d.name === 'default/models/fraud' && d.facets?.['version']?.['datasetVersion'] === '2'),
        ),
      );

      // The export gives the same kinds of events, each valid too.
      const exported = await cli(t.url, 'lineage', `model:fraud@2`, '--format', 'openlineage');
      assert.equal(exported.code, 0, exported.stderr);
      const lines = exported.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as OpenLineageRunEvent);
      const validator = new OpenLineageValidator();
      for (const e of lines) assert.deepEqual(validator.check(e), [], JSON.stringify(e));
      assert.ok(lines.some((e) => e.run.runId === good.run && e.eventType === 'COMPLETE'));
      assert.ok(lines.some((e) => e.job.name === 'default/deployments/fraud'));
      assert.deepEqual(
        lines.map((e) => e.eventTime),
        lines.map((e) => e.eventTime).sort(),
        'in time order',
      );
    });

    test('from a request id: the prediction back through its revision and arm to the version, the run and the data; the version reaches the predictions', async () => {
      const deployment = await mp.getDeployment('fraud');
      const logged = await mp.applyDeployment('fraud', {
        ...deployment.spec,
        logging: { sample: 100, sinks: [{ type: 'store' }] },
      } as never);
      await until('the logging revision to serve', async () => {
        const d = await mp.getDeployment('fraud');
        return d.status.servingRevision === logged.currentRevision ? d : undefined;
      });
      const row = exampleData({ damage: false }).holdout.split('\n')[1]!.split(',').slice(0, 30).map(Number);
      const answer = await fetch(`${t.url}/v2/models/fraud/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          id: 'req-lineage-1',
          inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 30], data: row }],
        }),
      });
      assert.equal(answer.status, 200, await answer.clone().text());
      assert.equal(answer.headers.get('modelport-request-id'), 'req-lineage-1');
      await t.server.payloads.flush();

      const graph = await mp.getLineage('req-lineage-1');
      assert.equal(graph.subject.kind, 'prediction');
      const prediction = node(graph, graph.subject.node);
      assert.equal(prediction.detail['arm'], 'canary');
      assert.equal(prediction.detail['model'], 'fraud@2');
      assert.equal(prediction.detail['revision'], logged.currentRevision);
      const revision = `deployment:fraud@${logged.currentRevision}`;
      hasEdge(graph, revision, prediction.id, 'answered');
      hasEdge(graph, `arm:fraud@${logged.currentRevision}/canary`, revision, 'arm of');
      hasEdge(graph, 'version:fraud@2', `arm:fraud@${logged.currentRevision}/canary`, 'serves in');
      hasEdge(graph, `step:${good.run}/register`, 'version:fraud@2', 'registered');
      hasEdge(graph, `commit:transactions@${good.commit}`, 'version:fraud@2', 'trained on');
      assert.equal(node(graph, `step:${good.run}/gate`).detail['passed'], true);

      const tree = await cli(t.url, 'lineage', 'request:req-lineage-1');
      assert.equal(tree.code, 0, tree.stderr);
      assert.match(tree.stdout, /^prediction request req-lineage-1 \[ok\]: fraud@2 canary -> /);
      assert.match(tree.stdout, /answered: fraud revision \d+ \[serving\]/);
      assert.match(tree.stdout, /trained on: transactions@[0-9a-f]{12}: "october"/);

      const down = await mp.getLineage(`data:transactions@${good.commit}`, 'down');
      const counted = node(down, `predictions:fraud@${logged.currentRevision}/canary`);
      assert.equal(counted.detail['count'], 1);
      hasEdge(down, `arm:fraud@${logged.currentRevision}/canary`, counted.id, 'answered');

      await assert.rejects(mp.getLineage('request:req-never-sent'), (error: unknown) => {
        assert.ok(error instanceof ModelportApiError);
        assert.equal(error.status, 404);
        assert.equal(error.field, 'of');
        assert.match(error.message, /logged request 'req-never-sent' not found/);
        return true;
      });
    });

    test('the console draws the graph with every node a link to its page', {
      skip:
        kind !== 'embedded'
          ? 'the console is the same on every store: drawn once, on the embedded one'
          : !existsSync(CHROMIUM) && `Chromium is not installed at ${CHROMIUM}`,
    }, async () => {
      await mkdir(SHOTS, { recursive: true });
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      });
      try {
        for (const width of [1280, 390]) {
          const page = await browser.newPage({ viewport: { width, height: 900 } });
          await page.goto(`${t.url}/lineage?of=${encodeURIComponent('model:fraud@2')}`);
          await page.getByRole('heading', { name: /Lineage/ }).waitFor();
          const versionLink = page.getByRole('link', { name: /fraud@2/ }).first();
          await versionLink.waitFor();
          await page
            .getByRole('link', { name: /fraud-train #1/ })
            .first()
            .waitFor();
          await page
            .getByRole('link', { name: /gate \(gate\)/ })
            .first()
            .waitFor();
          await page
            .getByRole('link', { name: /transactions\.csv/ })
            .first()
            .waitFor();
          await page.screenshot({ path: join(SHOTS, `lineage-${width}.png`), fullPage: true });
          if (width === 1280) {
            await page
              .getByRole('link', { name: /fraud-train #1/ })
              .first()
              .click();
            await page.waitForURL(`${t.url}/runs/${good.run}`);
            await page.getByRole('button', { name: 'gate: Succeeded' }).waitFor();
            // And back: the commit's page links to what it reached.
            await page.goto(`${t.url}/data/transactions/commits/${good.commit}`);
            await page.getByRole('link', { name: /What this commit reached/ }).click();
            await page.getByRole('heading', { name: `Lineage: data:transactions@${good.commit}` }).waitFor();
            await page
              .getByRole('link', { name: /model version fraud@2/ })
              .first()
              .waitFor();
          }
          await page.close();
        }
      } finally {
        await browser.close();
      }
    });
  });
