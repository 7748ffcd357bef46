/**
 * Live drift end to end on a real server: training data committed to a data repository (profiled by DuckDB), a
 * model registered with that commit as its lineage, a deployment logging its calls to the built-in Parquet store
 * and monitoring drift. Calls drawn like the training data leave it `ok`; calls with a dozen features shifted make
 * the check find them (PSI and KS against the stored profile), turn the DriftDetected condition True, post a JSON
 * webhook (through the egress guard, to a receiver on loopback) and show in the API, the CLI and /metrics. Bad
 * monitoring specs are refused naming the field.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createRandom } from 'modelport/onnx';
import { exampleData } from '../examples/fraud/data.ts';
import { FEATURE_NAMES, generateTransactions, trainFraudModel } from '../examples/fraud/train.ts';
import { ModelportApiError, ModelportClient } from '../src/client/client.ts';
import { cli } from './support/cli.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const SHIFTED = ['v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7', 'v8', 'v9', 'v10', 'v11', 'v12'];
const ROWS_PER_CALL = 10;
const CALLS = 30;

async function until<T>(what: string, probe: () => Promise<T | undefined>, attempts = 300): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** A JSON webhook receiver on loopback: every body POSTed to it. */
async function startReceiver(): Promise<{ server: Server; url: string; host: string; bodies: unknown[] }> {
  const bodies: unknown[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/hook`, host: `127.0.0.1:${port}`, bodies };
}

describe('live drift', () => {
  let t: TestServer;
  let mp: ModelportClient;
  let hook: Awaited<ReturnType<typeof startReceiver>>;
  const model = trainFraudModel({ seed: 7, rows: 4000 });
  // Traffic like the training data (a fresh draw of the same generator), and the same rows with features shifted.
  const fresh = generateTransactions(createRandom(99), CALLS * ROWS_PER_CALL).data;
  const shifted = fresh.map((row) =>
    row.map((v, j) => (SHIFTED.includes(FEATURE_NAMES[j] ?? '') ? v + 4 * (2 * 0.936 ** (j - 1)) : v)),
  );

  async function send(rows: number[][]): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < rows.length; i += ROWS_PER_CALL) {
      const batch = rows.slice(i, i + ROWS_PER_CALL);
      const res = await fetch(`${t.url}/v2/models/fraud-api/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          inputs: [{ name: 'input', datatype: 'FP32', shape: [batch.length, 30], data: batch.flat() }],
        }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      ids.push(res.headers.get('modelport-request-id') ?? '');
      await res.arrayBuffer();
    }
    // The payload log writes in the background: wait until the last call is queryable.
    const last = ids.at(-1) ?? '';
    await until('the logged calls', async () =>
      (await mp.getPayload(last, 'fraud-api')).length > 0 ? true : undefined,
    );
    return ids;
  }

  before(async () => {
    hook = await startReceiver();
    t = await startTestServer('embedded', { egressAllowHosts: hook.host });
    mp = new ModelportClient({ url: t.url });
    // The training data, committed and profiled.
    await mp.createRepo('fraud-data');
    const csv = exampleData({ rows: 3000, seed: 7 }).transactions;
    const commit = await mp.putFile('fraud-data', 'transactions.csv', new TextEncoder().encode(csv), {
      message: 'training data',
    });
    await until('the profile', async () =>
      (await mp.getProfile('fraud-data', 'main', 'transactions.csv')).state === 'ready' ? true : undefined,
    );
    await mp.registerVersion('fraud', model.onnx, {
      dataCommit: `fraud-data@${commit.commit.id}`,
      signature: {
        features: FEATURE_NAMES.map((name) => ({ name, type: 'number' as const })),
        outputs: { labels: ['legit', 'fraud'] },
      },
    });
    await mp.createDeployment('fraud-api', {
      traffic: [{ model: 'fraud@1', weight: 100 }],
      logging: { sample: 100 },
      monitoring: {
        drift: {
          schedule: '0 0 1 1 *',
          window: '1h',
          threshold: 0.2,
          share: 0.3,
          minRows: CALLS / 2,
          maxRows: CALLS,
          notify: [{ webhook: { url: hook.url, format: 'json' } }],
        },
      },
    });
    await mp.waitDeployment('fraud-api');
  });
  after(async () => {
    await t?.close();
    hook?.server.close();
  });

  test('before enough calls: no verdict, no condition', async () => {
    const { checks } = await mp.checkDeploymentDrift('fraud-api');
    assert.equal(checks.length, 1);
    assert.equal(checks[0]?.state, 'too_few_rows');
    assert.match(checks[0]?.reference ?? '', /^fraud-data@[0-9a-f]{12}:transactions\.csv$/);
    const d = await mp.getDeployment('fraud-api');
    assert.equal(
      d.status.conditions.find((c) => c.type === 'DriftDetected'),
      undefined,
    );
  });

  test('calls like the training data: ok, DriftDetected False, nobody notified', async () => {
    await send(fresh);
    const { checks } = await mp.checkDeploymentDrift('fraud-api');
    const check = checks[0]!;
    assert.equal(check.state, 'ok', check.message);
    assert.equal(check.rows, CALLS);
    assert.equal(check.arm, 'primary');
    assert.equal(check.features.length, 30, `unmatched: ${check.unmatched.join(', ')}`);
    assert.ok((check.share ?? 1) < 0.3, check.message);
    const d = await mp.getDeployment('fraud-api');
    const condition = d.status.conditions.find((c) => c.type === 'DriftDetected');
    assert.equal(condition?.status, 'False');
    assert.equal(hook.bodies.length, 0);
  });

  test('shifted calls: the shifted features drift, the condition turns True, the webhook is told', async () => {
    await send(shifted);
    const { checks } = await mp.checkDeploymentDrift('fraud-api');
    const check = checks[0]!;
    assert.equal(check.state, 'drifted', check.message);
    const drifted = check.features.filter((f) => f.drifted).map((f) => f.name);
    for (const name of SHIFTED) assert.ok(drifted.includes(name), `${name} drifted (drifted: ${drifted.join(', ')})`);
    const psi = (name: string) => check.features.find((f) => f.name === name)?.psi ?? Number.NaN;
    assert.ok(psi('v1') > 1, `v1's PSI ${psi('v1')}`);
    assert.ok(check.share !== null && check.share >= 0.3);

    const d = await mp.getDeployment('fraud-api');
    const condition = d.status.conditions.find((c) => c.type === 'DriftDetected');
    assert.equal(condition?.status, 'True');
    assert.equal(condition?.reason, 'InputDrift');
    assert.match(condition?.message ?? '', /features drifted/);

    await until('the webhook', async () => (hook.bodies.length > 0 ? true : undefined));
    const body = hook.bodies[0] as {
      event: string;
      deployment: string;
      checks: { drifted: { feature: string }[] }[];
      text: string;
    };
    assert.equal(body.event, 'drift.detected');
    assert.equal(body.deployment, 'fraud-api');
    assert.ok(body.checks[0]?.drifted.some((f) => f.feature === 'v1'));
    assert.match(body.text, /Deployment fraud-api: drift detected/);

    // The same verdict again is not a new alert.
    await mp.checkDeploymentDrift('fraud-api');
    assert.equal(hook.bodies.length, 1);

    // History, newest first; /metrics; the CLI.
    const report = await mp.deploymentDrift('fraud-api');
    assert.deepEqual(
      report.checks.map((c) => c.state),
      ['drifted', 'drifted', 'ok', 'too_few_rows'],
    );
    assert.equal(report.condition?.status, 'True');
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /^modelport_drift_detected\{project="default",deployment="fraud-api"\} 1$/m);
    assert.match(
      metrics,
      /^modelport_drift_psi\{project="default",deployment="fraud-api",arm="primary",feature="v1"\} \d/m,
    );
    const shown = await cli(t.url, 'deployments', 'drift', 'fraud-api', '--features');
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /DriftDetected:\s+True/);
    assert.match(shown.stdout, /^v1\s+numeric\s+\d/m);
    const show = await cli(t.url, 'deployments', 'show', 'fraud-api');
    assert.match(show.stdout, /drift:\s+True: primary/);
  });

  test('bad monitoring specs are refused naming the field; a deployment without drift says so', async () => {
    const base = { traffic: [{ model: 'fraud@1', weight: 100 }], logging: { sample: 100 } };
    const cases: [unknown, string][] = [
      [{ ...base, monitoring: { drift: { schedule: 'every tuesday' } } }, 'spec.monitoring.drift.schedule'],
      [{ ...base, monitoring: { drift: { window: 'soon' } } }, 'spec.monitoring.drift.window'],
      [{ ...base, monitoring: { drift: { share: 2 } } }, 'body.spec.monitoring.drift.share'],
      [{ ...base, monitoring: { drift: { threshold: 0 } } }, 'body.spec.monitoring.drift.threshold'],
      [{ traffic: base.traffic, monitoring: { drift: {} } }, 'spec.monitoring.drift'],
      [
        { ...base, monitoring: { drift: { notify: [{ webhook: { url: 'ftp://x' } }] } } },
        'spec.monitoring.drift.notify[0].webhook.url',
      ],
    ];
    for (const [spec, field] of cases) {
      await assert.rejects(mp.applyDeployment('fraud-api', spec as never), (e: unknown) => {
        assert.ok(e instanceof ModelportApiError, String(e));
        assert.equal(e.field, field, e.message);
        assert.equal(e.status, 400);
        return true;
      });
    }
    assert.equal((await mp.getDeployment('fraud-api')).latestRevision, 1);
    await mp.createDeployment('plain', { traffic: [{ model: 'fraud@1', weight: 100 }] });
    await assert.rejects(mp.checkDeploymentDrift('plain'), (e: unknown) => {
      assert.ok(e instanceof ModelportApiError);
      assert.equal(e.field, 'spec.monitoring.drift');
      return true;
    });
    const shown = await cli(t.url, 'deployments', 'drift', 'plain');
    assert.match(shown.stderr, /does not monitor drift/);
  });
});
