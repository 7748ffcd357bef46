/**
 * Friendly signatures and hosted models end to end: a real server seeded with the example fraud model (registered
 * with its friendly signature), V1 calls keyed by feature name, V2 labels on request, and a hosted model that
 * calls a real upstream on loopback (allowed by the server's egress allow list) with an auth header from a secret.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ModelportClient } from '../src/client/client.ts';
import { cli, cliJson } from './support/cli.ts';
import { REPO_ROOT, startTestServer, type TestServer } from './support/server.ts';

type V2Answer = { outputs: { name: string; datatype: string; shape: number[]; data: unknown[] }[] };

describe('friendly signatures and hosted models', { timeout: 120_000 }, () => {
  let t: TestServer;
  let client: ModelportClient;
  let upstream: Server;
  let port: number;
  const keys: (string | undefined)[] = [];
  let rows: number[][];
  let names: string[];

  before(async () => {
    upstream = createServer(async (req, res) => {
      if (req.url?.includes('/models/redirecting/')) {
        res.writeHead(307, { location: 'http://10.20.30.40:8443/internal-only/infer' }).end();
        return;
      }
      keys.push(req.headers['authorization']);
      let text = '';
      for await (const chunk of req) text += chunk;
      const input = (JSON.parse(text) as { inputs: { data: number[]; shape: number[] }[] }).inputs[0]!;
      const y = { name: 'y', datatype: 'FP32', shape: input.shape, data: input.data.map((v) => v * 2) };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ outputs: [y] }));
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    port = (upstream.address() as AddressInfo).port;
    t = await startTestServer('embedded', { example: 'true', egressAllowHosts: `127.0.0.1:${port}` });
    client = new ModelportClient({ url: t.url });
    const sample = JSON.parse(await readFile(`${REPO_ROOT}examples/fraud/sample-request.json`, 'utf8')) as {
      inputs: { data: number[] }[];
    };
    const flat = sample.inputs[0]!.data;
    rows = [flat.slice(0, 30), flat.slice(30, 60)];
    names = (
      JSON.parse(await readFile(`${REPO_ROOT}examples/fraud/signature.json`, 'utf8')) as { featureNames: string[] }
    ).featureNames;
  });
  after(async () => {
    await t.close();
    upstream.close();
  });

  const post = (path: string, body: unknown) =>
    fetch(`${t.url}${path}`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
  const named = (row: number[]) => Object.fromEntries(names.map((n, i) => [n, row[i]]));

  test('the example is registered with its friendly signature, shown in the API and V2 metadata', async () => {
    const v = await client.getVersion('fraud', 'champion');
    assert.equal(v.friendlySignature?.features?.length, 30);
    // The held-out metrics of examples/fraud/metrics.json are recorded at registration.
    const metrics = JSON.parse(await readFile(`${REPO_ROOT}examples/fraud/metrics.json`, 'utf8')) as Record<
      string,
      number
    >;
    assert.deepEqual(v.metrics, metrics);
    assert.ok((v.metrics['auc'] ?? 0) > 0.99, `auc ${v.metrics['auc']}`);
    assert.deepEqual(v.friendlySignature?.outputs, {
      labels: ['legit', 'fraud'],
      probabilities: 'probabilities',
      label: 'label',
    });
    const meta = (await (await fetch(`${t.url}/v2/models/fraud`)).json()) as {
      parameters?: { friendly_signature?: unknown };
    };
    assert.deepEqual(meta.parameters?.friendly_signature, v.friendlySignature);
  });

  test('V1 takes rows keyed by feature name and answers with labels and named probabilities', async () => {
    const res = await post('/v1/models/fraud:predict', { instances: rows.map(named) });
    assert.equal(res.status, 200);
    const { predictions } = (await res.json()) as {
      predictions: { label: string; probabilities: Record<string, number> }[];
    };
    const raw = (await (
      await post('/v2/models/fraud/infer', {
        inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 30], data: rows.flat() }],
        parameters: { labels: true },
      })
    ).json()) as V2Answer;
    const probs = raw.outputs.find((o) => o.name === 'probabilities')!.data as number[];
    const labelNames = raw.outputs.find((o) => o.name === 'label_names');
    assert.deepEqual(labelNames?.datatype, 'BYTES');
    for (let i = 0; i < 2; i++) {
      const p = predictions[i]!;
      assert.deepEqual(p.probabilities, { legit: probs[2 * i], fraud: probs[2 * i + 1] });
      assert.equal(p.label, probs[2 * i + 1]! > probs[2 * i]! ? 'fraud' : 'legit');
      assert.equal(labelNames?.data[i], p.label);
    }
    // Without the parameter, V2 keeps the model's own outputs only.
    const plain = (await (
      await post('/v2/models/fraud/infer', {
        inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 30], data: rows[0] }],
      })
    ).json()) as V2Answer;
    assert.deepEqual(plain.outputs.map((o) => o.name).sort(), ['label', 'probabilities']);
  });

  test('a missing, unknown or mistyped feature is a 400 naming it', async () => {
    const { amount: _, ...missing } = named(rows[0]!);
    for (const [row, name] of [
      [missing, 'amount'],
      [{ ...named(rows[0]!), amout: 1 }, 'amout'],
      [{ ...named(rows[0]!), v3: 'high' }, 'v3'],
    ] as const) {
      const res = await post('/v1/models/fraud:predict', { instances: [row] });
      assert.equal(res.status, 400);
      assert.match(((await res.json()) as { error: string }).error, new RegExp(`instances\\[0\\]\\.${name}`));
    }
  });

  test('set later through the API: checked against the model, errors name the field', async () => {
    await assert.rejects(
      client.setSignature('fraud', 1, { features: [{ name: 'a', type: 'number' }] }),
      (e: unknown) => (e as { field?: string }).field === 'signature.features',
    );
    const cleared = await client.setSignature('fraud', 1, null);
    assert.equal(cleared.friendlySignature, null);
    const set = await client.setSignature('fraud', 1, { outputs: { labels: ['ok', 'bad'] } });
    assert.deepEqual(set.friendlySignature?.outputs?.labels, ['ok', 'bad']);
  });

  test('an MLflow column signature becomes the friendly signature on import; the CLI sets, shows and clears it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'modelport-mlflow-friendly-'));
    try {
      await copyFile(`${REPO_ROOT}examples/fraud/model.onnx`, join(dir, 'model.onnx'));
      const columns = JSON.stringify(names.map((name) => ({ name, type: 'double' })));
      await writeFile(
        join(dir, 'MLmodel'),
        `flavors:\n  onnx:\n    data: model.onnx\nsignature:\n  inputs: '${columns}'\n`,
      );
      const imported = await cliJson<{ version: number; friendlySignature?: { features?: { name: string }[] } }>(
        t.url,
        'models',
        'import',
        'fraud-mlflow',
        dir,
      );
      assert.deepEqual(
        imported.friendlySignature?.features?.map((f) => f.name),
        names,
      );
      const res = await post('/v1/models/fraud-mlflow:predict', { instances: [named(rows[0]!)] });
      assert.equal(res.status, 200, await res.clone().text());

      const file = join(dir, 'signature.yaml');
      await writeFile(file, 'outputs:\n  labels: [legit, fraud]\n');
      const set = await cli(t.url, 'models', 'signature', 'fraud-mlflow@1', '-f', file);
      assert.equal(set.code, 0, set.stderr);
      assert.match(set.stdout, /^set the friendly signature of fraud-mlflow@1\n/);
      const show = await cli(t.url, 'models', 'show', 'fraud-mlflow@1');
      assert.match(show.stdout, /^outputs: labels legit, fraud; probabilities from 'probabilities'/m);
      const cleared = await cli(t.url, 'models', 'signature', 'fraud-mlflow@1', '--clear');
      assert.equal(cleared.stdout, 'removed the friendly signature of fraud-mlflow@1\n');
      assert.equal((await client.getVersion('fraud-mlflow', 1)).friendlySignature, null);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a hosted model: registered from a descriptor, served through a deployment with its secret', async () => {
    const descriptor = {
      url: `http://127.0.0.1:${port}`,
      protocol: 'v2',
      model: 'remote',
      signature: {
        inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 2] }],
        outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 2] }],
      },
      auth: { header: 'Authorization', env: 'REMOTE_TOKEN', prefix: 'Bearer ' },
    };
    const v = await client.registerVersion('remote', new TextEncoder().encode(JSON.stringify(descriptor)), {
      format: 'hosted',
      signature: { features: [{ name: 'a' }, { name: 'b' }] as never },
    });
    assert.equal(v.format, 'hosted');
    await client.setSecret('REMOTE_TOKEN', 'tok-123');
    await client.applyDeployment('remote', {
      traffic: [{ model: 'remote@1', weight: 100 }],
      secrets: [{ env: 'REMOTE_TOKEN', secret: 'REMOTE_TOKEN' }],
    } as never);
    await client.waitDeployment('remote', 60);
    const res = await post('/v2/models/remote/infer', {
      inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 2], data: [1, 2, 3, 4] }],
    });
    assert.equal(res.status, 200);
    assert.deepEqual(((await res.json()) as V2Answer).outputs[0]?.data, [2, 4, 6, 8]);
    assert.equal(keys.at(-1), 'Bearer tok-123');
    const v1 = await post('/v1/models/remote:predict', { instances: [{ a: 1, b: 5 }] });
    assert.deepEqual(await v1.json(), { predictions: [{ y: [2, 10] }] });

    // A descriptor pointing at a loopback address that is not allowed is refused at registration.
    const refused = client.registerVersion(
      'remote',
      new TextEncoder().encode(JSON.stringify({ ...descriptor, url: 'http://127.0.0.1:9' })),
      { format: 'hosted' },
    );
    await assert.rejects(refused, (e: unknown) => (e as { code?: string }).code === 'egress_refused');
  });

  test('a hosted model whose service redirects to a private address: refused, and the client never sees where', async () => {
    const descriptor = {
      url: `http://127.0.0.1:${port}`,
      protocol: 'v2',
      model: 'redirecting',
      signature: {
        inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 2] }],
        outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 2] }],
      },
    };
    await client.registerVersion('redirecting', new TextEncoder().encode(JSON.stringify(descriptor)), {
      format: 'hosted',
    });
    await client.applyDeployment('redirecting', { traffic: [{ model: 'redirecting@1', weight: 100 }] });
    await client.waitDeployment('redirecting', 60);
    const res = await post('/v2/models/redirecting/infer', {
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }],
    });
    const text = await res.text();
    assert.ok(res.status >= 400, text);
    assert.match(text, /redirect/);
    for (const hidden of ['10.20.30.40', '8443', 'internal-only']) assert.ok(!text.includes(hidden), text);
  });
});
