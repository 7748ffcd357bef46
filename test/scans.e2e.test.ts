/**
 * Use cases and scans end to end through the client and the CLI with real parts: a data repository with a
 * committed CSV (profiled by DuckDB), ONNX models in the registry (one with training-data lineage), a local
 * deployment answering through the gateway, SQLite or PostgreSQL + S3. Applies the issue's YAML, refuses bad use
 * cases naming the field, runs scans (progress, results per model and metric with the dataset commit and versions,
 * reports in JSON and self-contained HTML, comparison, cancel), and a deployment that is down fails the scan with
 * that reason within its budget.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ModelportApiError, ModelportClient } from '../src/client/client.ts';
import { writeTar } from '../src/client/index.ts';
import { buildLogisticRegressionModel } from '../src/onnx-builder/index.ts';
import { cli, cliJson } from './support/cli.ts';
import { STORE_KINDS, startTestServer, type TestServer } from './support/server.ts';

const FEATURES = ['income', 'debt', 'age', 'gender'];

/** A deterministic credit dataset: approval depends on income and debt; gender 0/1; age 18-80. */
function creditCsv(rows: number, seed: number, shift = 0): string {
  let s = seed;
  const rand = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  const lines = [['id', ...FEATURES, 'approved'].join(',')];
  for (let i = 0; i < rows; i++) {
    const income = 20 + rand() * 130 + shift;
    const debt = rand() * 50;
    const age = Math.floor(18 + rand() * 62);
    const gender = rand() < 0.5 ? 0 : 1;
    const z = 0.05 * income - 0.09 * debt - 2 + (rand() - 0.5) * 2;
    lines.push([i, income.toFixed(2), debt.toFixed(2), age, gender, z > 0 ? 1 : 0].join(','));
  }
  return `${lines.join('\n')}\n`;
}

const model = (weights: number[], bias: number) =>
  buildLogisticRegressionModel({ weights, bias, featureCount: weights.length });
const signature = { features: FEATURES.map((name) => ({ name, type: 'number' as const })) };

const USECASE_YAML = `name: credit-approval
task: binary-classification
dataset: { repo: applicants, commit: main, path: eval.csv }   # or { upload: <sha256> }
label: approved
favorable: 1
protected: [{ column: gender }, { column: age, buckets: [25, 45, 65] }]
restricted: [gender, age]                                      # counterfactuals may not change these
models: [credit@1, credit@2, { deployment: credit-api }]
scans: [performance, fairness, robustness, explainability, drift]
scanConfig: { parallel: 2, cpu: "1", memory: 1Gi }
`;

for (const kind of STORE_KINDS) {
  describe(`use cases and scans [${kind}]`, { timeout: 300_000 }, () => {
    let t: TestServer;
    let mp: ModelportClient;
    let work: string;
    let trainCommit: string;
    let upstream: Server;

    before(async () => {
      // A hosted model's service: credit@1's logistic regression behind the Open Inference Protocol.
      upstream = createServer(async (req, res) => {
        let text = '';
        for await (const chunk of req) text += chunk;
        const input = (JSON.parse(text) as { inputs: { data: number[]; shape: number[] }[] }).inputs[0]!;
        const n = input.shape[0]!;
        const data: number[] = [];
        for (let i = 0; i < n; i++) {
          const z = 0.05 * input.data[i * 4]! - 0.09 * input.data[i * 4 + 1]! - 2;
          const p = 1 / (1 + Math.exp(-z));
          data.push(1 - p, p);
        }
        const out = { name: 'probabilities', datatype: 'FP32', shape: [n, 2], data };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ outputs: [out] }));
      });
      upstream.listen(0, '127.0.0.1');
      await once(upstream, 'listening');
      const port = (upstream.address() as AddressInfo).port;
      t = await startTestServer(kind, { egressAllowHosts: `127.0.0.1:${port}` });
      mp = new ModelportClient({ url: t.url });
      work = await mkdtemp(join(tmpdir(), 'modelport-scans-e2e-'));
      await mp.createRepo('applicants');
      const train = await mp.putFile('applicants', 'train.csv', Buffer.from(creditCsv(800, 7)), {
        message: 'training data',
      });
      trainCommit = train.commit.id;
      await mp.putFile('applicants', 'eval.csv', Buffer.from(creditCsv(600, 11, 15)), { message: 'evaluation data' });
      // credit@1 was trained on the training commit (lineage); credit@2 leans on gender; neither is a pipeline's.
      await mp.registerVersion('credit', Buffer.from(model([0.05, -0.09, 0, 0], -2)), {
        signature,
        dataCommit: `applicants@${trainCommit}`,
      });
      await mp.registerVersion('credit', Buffer.from(model([0.03, -0.05, 0, 1.5], -2)), { signature });
      const descriptor = {
        url: `http://127.0.0.1:${port}`,
        protocol: 'v2',
        model: 'credit',
        signature: {
          inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 4] }],
          outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 2] }],
        },
      };
      await mp.registerVersion('credit-remote', new TextEncoder().encode(JSON.stringify(descriptor)), {
        format: 'hosted',
        signature,
      });
      await mp.createDeployment('credit-api', { traffic: [{ model: 'credit@1', weight: 100 }] });
      await mp.waitDeployment('credit-api', 120);
      // Profiles are computed after the commit answers; drift reads the training commit's.
      await t.server.profiles.idle();
    });
    after(async () => {
      await t?.close();
      upstream?.close();
      await rm(work, { recursive: true, force: true });
    });

    test("applies the issue's use case as written, and shows it", async () => {
      const file = join(work, 'usecase.yaml');
      await writeFile(file, USECASE_YAML);
      const applied = await cli(t.url, 'usecases', 'apply', '-f', file);
      assert.equal(applied.code, 0, applied.stderr);
      assert.match(applied.stdout, /applied: use case credit-approval revision 1/);
      const again = await cli(t.url, 'usecases', 'apply', '-f', file);
      assert.match(again.stdout, /unchanged: use case credit-approval revision 1/);
      const shown = await cliJson<{ spec: { models: unknown[] }; scanConfig: { parallel: number } }>(
        t.url,
        'usecases',
        'show',
        'credit-approval',
      );
      assert.equal(shown.spec.models.length, 3);
      assert.deepEqual(shown.scanConfig, { parallel: 2, cpu: '1', memory: '1Gi' });
      const list = await cli(t.url, 'usecases', 'list');
      assert.match(list.stdout, /credit-approval\s+1\s+binary-classification\s+3/);
    });

    test('refuses bad use cases with the field named, storing nothing', async () => {
      const base = {
        name: 'bad',
        task: 'binary-classification' as const,
        dataset: { repo: 'applicants', commit: 'main', path: 'eval.csv' },
        label: 'approved',
        favorable: 1,
        protected: [{ column: 'gender' }],
        models: ['credit@1'],
        scans: ['performance' as const, 'fairness' as const],
      };
      const refused = async (spec: object, field: string, message: RegExp) => {
        const error = await mp.applyUseCase(spec as never).then(
          () => assert.fail(`accepted ${JSON.stringify(spec)}`),
          (e: unknown) => e,
        );
        assert.ok(error instanceof ModelportApiError, String(error));
        assert.equal(error.status, 400, error.message);
        assert.equal(error.field, field, error.message);
        assert.match(error.message, message);
      };
      await refused({ ...base, label: 'approval' }, 'label', /no column 'approval'.*approved/);
      await refused(
        { ...base, protected: [{ column: 'age', buckets: [100] }] },
        'protected[0]',
        /only the group '<100'.*two groups or more/,
      );
      await refused({ ...base, models: ['credit@1', 'other@1'] }, 'models[1]', /unknown model 'other@1'/);
      await refused({ ...base, models: [{ deployment: 'nowhere' }] }, 'models[0].deployment', /unknown deployment/);
      await refused(
        { ...base, task: 'regression', scans: ['performance'], metrics: ['roc_auc'] },
        'metrics[0]',
        /'roc_auc' is a classification metric and the task is regression/,
      );
      // A model reading a column the dataset lacks.
      await mp.registerVersion('wide', Buffer.from(model([1, 1, 1, 1, 1], 0)), {
        signature: { features: [...FEATURES, 'savings'].map((name) => ({ name, type: 'number' as const })) },
      });
      await refused(
        { ...base, models: ['wide@1'] },
        'models[0]',
        /columns do not match the model's signature.*'savings'/,
      );
      await refused({ ...base, favorable: 'yes' }, 'favorable', /'yes' is not a value of the label/);
      const names = (await mp.listUseCases()).map((u) => u.name);
      assert.ok(!names.includes('bad'), 'nothing stored');
      const cliRefusal = await cli(t.url, 'scans', 'run', 'credit-approval', '--kinds', 'speed');
      assert.equal(cliRefusal.code, 1);
      assert.match(cliRefusal.stderr, /kinds: 'speed' is not a scan kind/);
    });

    test('scans every model: results per model and metric, reports, comparison', async () => {
      const run = await cli(t.url, 'scans', 'run', 'credit-approval');
      assert.equal(run.code, 0, run.stderr + run.stdout);
      assert.match(run.stdout, /state:\s+Succeeded/);
      const [scan] = await mp.listScans({ usecase: 'credit-approval' });
      assert.ok(scan);
      assert.equal(scan.state, 'Succeeded');
      const evalCommit = (await mp.getCommit('applicants', 'main')).id;
      assert.equal(scan.dataset?.commit, evalCommit, 'the dataset is pinned to its commit');
      assert.equal(scan.dataset?.rows, 600);
      assert.deepEqual(
        scan.models.map((m) => [m.target, m.via, m.model, m.version]),
        [
          ['credit@1', 'in-process', 'credit', 1],
          ['credit@2', 'in-process', 'credit', 2],
          ['deployment:credit-api', 'deployment', 'credit', 1],
        ],
      );
      // Lineage: the scan is a node of the version it measured and of the data commit it read.
      for (const ref of ['credit@2', `applicants@${evalCommit}`]) {
        const graph = await mp.getLineage(ref, 'up');
        const node = graph.nodes.find((n) => n.kind === 'scan');
        assert.ok(node, `${ref}: no scan node in ${graph.nodes.map((n) => n.kind).join(', ')}`);
        assert.match(node.label, /credit-approval #1/);
        assert.ok(graph.edges.some((e) => e.to === node.id || e.from === node.id));
      }
      const results = await mp.getScanResults(scan.id);
      const auc = (target: string) => results.find((r) => r.target === target && r.metric === 'roc_auc')!;
      assert.ok(auc('credit@1').value! > 0.8, `credit@1 AUC ${auc('credit@1').value}`);
      assert.ok(auc('credit@1').lo! <= auc('credit@1').value! && auc('credit@1').value! <= auc('credit@1').hi!);
      assert.equal(auc('credit@1').dataCommit, evalCommit);
      // The deployment serves credit@1: the same scores through the gateway.
      assert.ok(Math.abs(auc('deployment:credit-api').value! - auc('credit@1').value!) < 1e-6);
      for (const kind of ['performance', 'fairness', 'robustness', 'explainability', 'drift', 'trust']) {
        assert.ok(
          results.some((r) => r.target === 'credit@1' && r.kind === kind && r.value !== null),
          `a ${kind} result of credit@1`,
        );
      }
      const report = await mp.getScanReport(`credit-approval#${scan.number}`);
      const m1 = report.models.find((m) => m.target === 'credit@1')!;
      // Drift against the training commit's stored profile: the evaluation incomes were shifted up by 15.
      assert.equal(m1.drift?.skipped, null, m1.drift?.skipped ?? '');
      assert.match(m1.drift!.reference.source, /training data of credit@1/);
      assert.ok(m1.drift!.features.find((f) => f.feature === 'income')!.drifted, 'income drifted');
      const m2 = report.models.find((m) => m.target === 'credit@2')!;
      assert.match(m2.drift?.skipped ?? '', /no training-data lineage/);
      const gender = m2.fairness!.attributes.find((a) => a.column === 'gender')!;
      assert.ok(gender.metrics['disparate_impact']!.value! < 0.8, 'credit@2 favours one gender');
      assert.equal(
        report.summary['credit@2']!.fairness['disparate_impact']!.min,
        Math.min(...m2.fairness!.attributes.map((a) => a.metrics['disparate_impact']!.value!)),
      );
      assert.ok(report.comparison.some((r) => r.metric === 'disparate_impact.min' && r.winner !== 'credit@2'));
      const text = JSON.stringify(report);
      assert.ok(!text.includes('income,debt'), 'no raw rows in the report');

      const html = join(work, 'report.html');
      const written = await cli(t.url, 'scans', 'report', scan.id, '-o', html);
      assert.equal(written.code, 0, written.stderr);
      const page = await readFile(html, 'utf8');
      assert.match(page, /<svg/);
      assert.match(page, /Disparate impact/);
      assert.match(page, /True positive rate/);
      assert.doesNotMatch(page, /<script|<link|src="http|url\(http/i, 'nothing loads at view time');
      const asJson = join(work, 'report.json');
      assert.equal((await cli(t.url, 'scans', 'report', scan.id, '-o', asJson)).code, 0);
      assert.equal(JSON.parse(await readFile(asJson, 'utf8')).schema, 'modelport.scan-report/v1');

      // A second scan (performance only) and a comparison of the two.
      const second = await cliJson<{ number: number; state: string }>(
        t.url,
        'scans',
        'run',
        'credit-approval',
        '--kinds',
        'performance',
      );
      assert.equal(second.state, 'Succeeded');
      const compared = await cliJson<{
        models: { label: string }[];
        comparison: { metric: string; winner: string | null }[];
      }>(t.url, 'scans', 'compare', `credit-approval#${scan.number}`, `credit-approval#${second.number}`);
      assert.equal(compared.models.length, 6);
      assert.ok(compared.models.some((m) => m.label === `credit@1 (credit-approval#${second.number})`));
      const table = await cli(
        t.url,
        'scans',
        'compare',
        `credit-approval#${scan.number}`,
        `credit-approval#${second.number}`,
      );
      assert.match(table.stdout, /roc_auc/);
    });

    test("promote refuses a canary whose latest scan fails the deployment's promotionPolicy, with the rule and values", async () => {
      const policy = 'scans.fairness.disparate_impact.min >= 0.8 && scans.performance.roc_auc >= 0.9';
      await assert.rejects(
        mp.createDeployment('bad-policy', {
          traffic: [{ model: 'credit@1', weight: 100 }],
          promotionPolicy: 'scans.fairness.disparate_impact.min >=',
        }),
        (e: ModelportApiError) => e.field === 'spec.promotionPolicy' && /does not compile/.test(e.message),
      );
      await mp.createDeployment('credit-live', {
        traffic: [
          { model: 'credit@1', weight: 90, tag: 'stable' },
          { model: 'credit@2', weight: 10, tag: 'canary' },
        ],
        promotionPolicy: policy,
      });
      await mp.waitDeployment('credit-live', 120);
      const refused = await mp.promoteDeployment('credit-live').then(
        () => assert.fail('promoted a canary that fails the policy'),
        (e: unknown) => e as ModelportApiError,
      );
      assert.equal(refused.status, 409);
      assert.equal(refused.code, 'policy_refused');
      assert.equal(refused.field, 'spec.promotionPolicy');
      assert.match(
        refused.message,
        /scans\.fairness\.disparate_impact\.min >= 0\.8 \(scans\.fairness\.disparate_impact\.min = 0\.5/,
      );
      const details = refused.details as {
        expression: string;
        failed: string[];
        values: { path: string; value: unknown }[];
      };
      assert.equal(details.expression, policy);
      assert.deepEqual(details.failed, ['scans.fairness.disparate_impact.min >= 0.8']);
      assert.ok((details.values.find((v) => v.path === 'scans.fairness.disparate_impact.min')!.value as number) < 0.8);
      const viaCli = await cli(t.url, 'deployments', 'promote', 'credit-live');
      assert.equal(viaCli.code, 1);
      assert.match(
        viaCli.stderr,
        /promotionPolicy refuses promoting credit@2: failed: scans\.fairness\.disparate_impact\.min >= 0\.8/,
      );
      const still = await mp.getDeployment('credit-live');
      assert.equal(still.spec.traffic.length, 2, 'nothing changed');
      // The same policy lets a candidate whose scan passes through.
      await mp.applyDeployment('credit-live', {
        traffic: [
          { model: 'credit@2', weight: 90, tag: 'stable' },
          { model: 'credit@1', weight: 10, tag: 'canary' },
        ],
        promotionPolicy: policy,
      });
      const promoted = await mp.promoteDeployment('credit-live');
      assert.deepEqual(
        promoted.spec.traffic.map((x) => [x.model, x.weight]),
        [['credit@1', 100]],
      );
    });

    test('a pipeline gate scans the registered candidate afresh and blocks it on its fairness', async () => {
      // The candidate reads its 4 features in file order: a dataset without the id column.
      const noId = creditCsv(600, 11, 15)
        .split('\n')
        .map((line) => line.split(',').slice(1).join(','))
        .join('\n');
      await mp.putFile('applicants', 'eval-noid.csv', new TextEncoder().encode(noId), { message: 'no id column' });
      await mp.applyUseCase({
        name: 'gatekeeper',
        task: 'binary-classification',
        dataset: { repo: 'applicants', commit: 'main', path: 'eval-noid.csv' },
        label: 'approved',
        favorable: 1,
        protected: [{ column: 'gender' }],
        models: ['credit@1'],
        scans: ['performance', 'fairness'],
      });
      const onnx = model([0.03, -0.05, 0, 1.5], -2);
      const chunks: Uint8Array[] = [];
      for await (const chunk of writeTar([
        {
          path: 'model.onnx',
          size: onnx.length,
          open: async function* () {
            yield onnx;
          },
        },
      ])) {
        chunks.push(chunk);
      }
      const code = await mp.uploadPipelineCode(Buffer.concat(chunks));
      await mp.applyPipeline({
        spec: {
          name: 'credit-train',
          steps: [
            { name: 'train', run: 'cp model.onnx "$MODELPORT_OUTPUT/model.onnx"' },
            { name: 'register', needs: ['train'], register: { model: 'credit-candidate' } },
            {
              name: 'fair',
              needs: ['register'],
              gate: 'scans.fairness.disparate_impact.min >= 0.8 && scans.performance.roc_auc >= 0.8',
              scan: { usecase: 'gatekeeper' },
            },
          ],
        },
        code: { sha256: code.sha256 },
      });
      const run = await mp.triggerPipeline('credit-train');
      let done = await mp.getRun(run.id);
      for (let i = 0; i < 600 && !['Succeeded', 'Failed', 'Blocked', 'Cancelled'].includes(done.state); i++) {
        await new Promise((r) => setTimeout(r, 200));
        done = await mp.getRun(run.id);
      }
      const gate = done.steps.find((x) => x.name === 'fair')!;
      assert.equal(gate.state, 'Blocked', JSON.stringify(done.steps.map((x) => [x.name, x.state, x.reason])));
      assert.match(
        gate.result?.policy?.explanation ?? '',
        /failed: scans\.fairness\.disparate_impact\.min >= 0\.8 \(scans\.fairness\.disparate_impact\.min = 0\.\d+/,
      );
      const scans = await mp.listScans({ usecase: 'gatekeeper' });
      assert.equal(scans[0]?.models[0]?.target, 'credit-candidate@1', 'the fresh scan measured the candidate');
      assert.equal(scans[0]?.createdBy, 'pipeline');
    });

    test('scores a hosted model through the hosted runtime', async () => {
      await mp.applyUseCase({
        name: 'remote',
        task: 'binary-classification',
        dataset: { repo: 'applicants', commit: 'main', path: 'eval.csv' },
        label: 'approved',
        favorable: 1,
        models: ['credit-remote@1', 'credit@1'],
        scans: ['performance'],
      });
      const scan = await mp.runScan('remote');
      const done = await mp.getScan(scan.id, 120);
      assert.equal(done.state, 'Succeeded', done.reason ?? '');
      assert.deepEqual(
        done.models.map((m) => [m.target, m.via]),
        [
          ['credit-remote@1', 'hosted'],
          ['credit@1', 'in-process'],
        ],
      );
      const results = await mp.getScanResults(scan.id);
      const auc = (target: string) => results.find((r) => r.target === target && r.metric === 'roc_auc')!.value!;
      assert.ok(Math.abs(auc('credit-remote@1') - auc('credit@1')) < 1e-4, 'the same model, remote or in-process');
    });

    test('a deployment that is down fails the scan with that reason, within its budget', async () => {
      await mp.createDeployment('down-api', { traffic: [{ model: 'credit@1', weight: 100 }] });
      await mp.waitDeployment('down-api', 120);
      await mp.applyUseCase({
        name: 'down',
        task: 'binary-classification',
        dataset: { repo: 'applicants', commit: 'main', path: 'eval.csv' },
        label: 'approved',
        favorable: 1,
        models: [{ deployment: 'down-api' }],
        scans: ['performance'],
      });
      await mp.deleteDeployment('down-api');
      const started = Date.now();
      const scan = await mp.runScan('down');
      const done = await mp.getScan(scan.id, 120);
      assert.equal(done.state, 'Failed');
      assert.match(done.reason ?? '', /down-api/);
      assert.ok(Date.now() - started < 120_000);
    });

    test('cancels a queued scan and refuses to delete a use case with a running one', async () => {
      const a = await mp.runScan('credit-approval', ['performance']);
      const cancelled = await mp.cancelScan(a.id);
      assert.ok(['Canceled', 'Running', 'Succeeded'].includes(cancelled.state));
      const final = await mp.getScan(a.id, 120);
      assert.ok(['Canceled', 'Succeeded'].includes(final.state), final.state);
    });
  });
}
