/**
 * The issue's reproduction: a plain ONNX deployment with `spec.env.NODE_OPTIONS=--import=data:text/javascript;base64,...`
 * ran that code in its worker. The payload below writes a marker file; the test first proves it runs when Node gets
 * it, then that no way through Modelport (apply, create, a secret's name, and a worker given it directly) runs it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { trainFraudModel } from '../examples/fraud/train.ts';
import { ModelportApiError, ModelportClient } from '../src/client/client.ts';
import { examplesOfEveryEntry, NAMED_IN_THE_ISSUE } from '../src/core/env-policy.fixture.ts';
import { WorkerProcess } from '../src/serving/workers/index.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const model = trainFraudModel({ seed: 1, rows: 4000 });

describe('a deployment cannot take over its worker through the environment', () => {
  let t: TestServer;
  let mp: ModelportClient;
  let dir: string;
  let marker: string;
  let payload: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'modelport-worker-env-'));
    marker = join(dir, 'pwned');
    const code = `import { writeFileSync } from 'node:fs'; writeFileSync(${JSON.stringify(marker)}, 'pwned');`;
    payload = `--import=data:text/javascript;base64,${Buffer.from(code).toString('base64')}`;
    t = await startTestServer('embedded');
    mp = new ModelportClient({ url: t.url });
    await mp.registerVersion('fraud', model.onnx);
    await mp.setSecret('PAYLOAD', payload);
  });
  after(async () => {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('control: the payload runs when Node is given it', async () => {
    const check = join(dir, 'control');
    const code = `import { writeFileSync } from 'node:fs'; writeFileSync(${JSON.stringify(check)}, 'ran');`;
    execFileSync(process.execPath, ['-e', '0'], {
      env: { NODE_OPTIONS: `--import=data:text/javascript;base64,${Buffer.from(code).toString('base64')}` },
    });
    assert.ok(existsSync(check), 'the payload did not run: this test would prove nothing');
  });

  test('apply and create refuse NODE_OPTIONS naming the field; nothing is stored and nothing runs', async () => {
    const traffic = [{ model: 'fraud', weight: 100 }];
    const attempts: [() => Promise<unknown>, string][] = [
      [() => mp.applyDeployment('evil', { traffic, env: { NODE_OPTIONS: payload } }), 'spec.env.NODE_OPTIONS'],
      [() => mp.createDeployment('evil', { traffic, env: { NODE_OPTIONS: payload } }), 'spec.env.NODE_OPTIONS'],
      [() => mp.applyDeployment('evil', { traffic, env: { node_options: payload } }), 'spec.env.node_options'],
      [
        () => mp.applyDeployment('evil', { traffic, secrets: [{ env: 'NODE_OPTIONS', secret: 'PAYLOAD' }] }),
        'spec.secrets[0].env',
      ],
    ];
    for (const [attempt, field] of attempts) {
      await assert.rejects(attempt(), (e: unknown) => {
        assert.ok(e instanceof ModelportApiError, String(e));
        assert.equal(e.status, 400);
        assert.equal(e.field, field);
        assert.match(e.message, /may not be set by a deployment/);
        return true;
      });
    }
    await assert.rejects(mp.getDeployment('evil'), (e: unknown) => e instanceof ModelportApiError && e.status === 404);
    // A harmless deployment next to it starts and serves: the refusal is specific.
    await mp.createDeployment('fine', { traffic, env: { LOG_LEVEL: 'info', NODE_ENV: 'production' } });
    const ready = await mp.waitDeployment('fine');
    assert.equal(ready.status.conditions.find((c) => c.type === 'Ready')?.status, 'True');
    assert.equal(existsSync(marker), false);
  });

  test('every reserved name is refused over the API', async () => {
    const traffic = [{ model: 'fraud', weight: 100 }];
    const names = [...new Set([...examplesOfEveryEntry(), ...NAMED_IN_THE_ISSUE])];
    for (const name of names) {
      await assert.rejects(mp.applyDeployment('evil', { traffic, env: { [name]: 'x' } }), (e: unknown) => {
        assert.ok(e instanceof ModelportApiError, `${name}: ${String(e)}`);
        assert.equal(e.field, `spec.env.${name}`);
        return true;
      });
    }
  });

  test('a worker handed NODE_OPTIONS and LD_PRELOAD directly drops them and serves', async () => {
    const file = join(dir, 'fraud.onnx');
    await writeFile(file, model.onnx);
    const worker = new WorkerProcess({
      kind: 'onnx',
      load: { path: file },
      stdio: 'ignore',
      env: { NODE_OPTIONS: payload, LD_PRELOAD: join(dir, 'missing.so'), LOG_LEVEL: 'info' },
    });
    await worker.start();
    try {
      const out = await worker.predict([
        { name: 'input', datatype: 'FP32', shape: [1, 30], data: Float32Array.from(model.samples.fraud) },
      ]);
      assert.ok(out.length > 0);
    } finally {
      await worker.close();
    }
    assert.equal(existsSync(marker), false);
  });
});
