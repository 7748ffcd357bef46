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
import { ModelportApiError, ModelportClient } from '../src/client/client.ts';
import { cli } from './support/cli.ts';
import { CALLS, driftDeployment, SHIFTED, send, traffic, until } from './support/drift.ts';
import { startTestServer, type TestServer } from './support/server.ts';

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
  const fresh = traffic(99);
  const shifted = traffic(99, 4);

  before(async () => {
    hook = await startReceiver();
    t = await startTestServer('embedded', { egressAllowHosts: hook.host });
    mp = new ModelportClient({ url: t.url });
    await driftDeployment(mp, 'fraud-api', [{ webhook: { url: hook.url, format: 'json' } }]);
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
    await send(t.url, mp, 'fraud-api', fresh);
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
    await send(t.url, mp, 'fraud-api', shifted);
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
