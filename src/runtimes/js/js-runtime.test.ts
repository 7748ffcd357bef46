import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ModelportError, Tensor } from '../../core/index.ts';
import { memoryLogger } from '../../logging/index.ts';
import { WorkerPool } from '../../serving/index.ts';
import { runtimeConformance } from '../runtime.conformance.ts';
import { createRuntime } from '../runtime.ts';
import { inspectJsModel } from './inspect.ts';
import { expectedSum, type JsModelFiles, writeJsModels } from './js-models.fixture.ts';
import { JsRuntime } from './js-runtime.ts';

const rows = (a: number[][], b: number[][]): Tensor[] => [
  { name: 'a', datatype: 'FP32', shape: [a.length, 2], data: new Float32Array(a.flat()) },
  { name: 'b', datatype: 'FP32', shape: [b.length, 2], data: new Float32Array(b.flat()) },
];

runtimeConformance({
  name: 'js',
  create: () => createRuntime('js', { env: {} }),
  fakes: async () => {
    const files = await writeJsModels();
    return {
      sum: { path: await files.archive('sum') },
      error: { path: await files.archive('error') },
      slow: { path: await files.archive('slow') },
      crash: { path: await files.archive('crash') },
      cleanup: () => files.cleanup(),
    };
  },
  expectedSum: (a, b) => expectedSum(a, b),
});

describe('the js runtime', { timeout: 60_000 }, () => {
  let models: JsModelFiles;
  before(async () => {
    models = await writeJsModels();
  });
  after(() => models.cleanup());

  test('SumModel in process: TypeScript module, a file from its folder and the environment, plain arrays converted, context.log and unload', async () => {
    const log = memoryLogger();
    const runtime = new JsRuntime({ env: { SCALE: '2', BIAS: '100' }, log });
    const archive = await models.archive('sum');
    await runtime.load({ path: archive });
    assert.ok(
      log.records.some((r) => r.msg === 'sum model loaded' && r['component'] === 'js-model' && r['offset'] === 3),
    );
    assert.deepEqual(
      runtime.signature().outputs.map((o) => o.name),
      ['sum', 'rows'],
    );
    const [sum, count] = await runtime.predict(
      rows(
        [
          [1, 2],
          [3, 4],
        ],
        [
          [10, 20],
          [30, 40],
        ],
      ),
    );
    assert.deepEqual(
      [...(sum!.data as Float32Array)],
      [...expectedSum([1, 2], [10, 20], 2, 100), ...expectedSum([3, 4], [30, 40], 2, 100)],
    );
    assert.deepEqual(sum!.shape, [2, 2]);
    assert.deepEqual(count, { name: 'rows', datatype: 'INT64', shape: [2], data: new BigInt64Array([2n, 2n]) });
    // Extracted once, beside the archive, under its sha256.
    const cached = await readdir(join(models.root, '.js-models'));
    assert.equal(cached.length, 1);
    assert.match(cached[0]!, /^[0-9a-f]{64}$/);
    const g = globalThis as { sumModelUnloads?: number };
    const unloads = g.sumModelUnloads ?? 0;
    await runtime.unload();
    assert.equal(g.sumModelUnloads, unloads + 1, "the module's unload(context) ran");
  });

  test('in worker processes: the environment is the deployment env, nothing of the parent', async () => {
    const pool = new WorkerPool({
      kind: 'js',
      load: { path: await models.archive('sum') },
      replicas: 2,
      env: { SCALE: '2', BIAS: '100' },
      stdio: 'ignore',
    });
    try {
      await pool.start();
      const [sum] = await pool.predict(rows([[1, 1]], [[2, 3]]));
      assert.deepEqual([...(sum!.data as Float32Array)], expectedSum([1, 1], [2, 3], 2, 100));
    } finally {
      await pool.close();
    }
  });

  test('registration checks: broken modules are refused with invalid_model and a reason, never a path', async () => {
    const refusedWith = (pattern: RegExp) => (error: ModelportError) => {
      assert.equal(error.code, 'invalid_model');
      assert.match(error.message, pattern);
      assert.doesNotMatch(error.message, /\/tmp\/|modelport-js/);
      return true;
    };
    assert.deepEqual(
      (await inspectJsModel(await models.archive('sum'))).inputs.map((i) => i.name),
      ['a', 'b'],
    );
    // The server's own settings and secrets never reach a model loaded at registration.
    process.env['MODELPORT_SECRET_CANARY'] = 'canary';
    try {
      await inspectJsModel(await models.archive('envprobe'));
    } finally {
      delete process.env['MODELPORT_SECRET_CANARY'];
    }
    await assert.rejects(
      inspectJsModel(await models.archive('error')),
      refusedWith(/load\(\) failed: ErrorModel refuses to load: weights missing/),
    );
    await assert.rejects(inspectJsModel(await models.archive('nopredict')), refusedWith(/must export a predict/));
    await assert.rejects(inspectJsModel(await models.archive('syntax')), refusedWith(/cannot be imported/));
    await assert.rejects(
      inspectJsModel(await models.archive('hang'), { timeoutMs: 1000 }),
      refusedWith(/did not load within 1000 ms/),
    );
    await assert.rejects(inspectJsModel(await models.archive('exits')), refusedWith(/exited while loading/));
    await assert.rejects(
      inspectJsModel(await models.archive('badsignature')),
      refusedWith(/signature\.inputs\[0\]\.datatype/),
    );
    await assert.rejects(inspectJsModel(await models.archive('nomanifest')), refusedWith(/needs a modelport\.json/));
  });
});
