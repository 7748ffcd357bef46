import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ModelportError } from '../core/index.ts';
import { DEFAULT_PACE, type ModelSources, openModel } from './models.ts';
import { compileUseCase, cpuThreads, resolveScanConfig } from './spec.ts';

const base = {
  name: 'credit-approval',
  task: 'binary-classification',
  dataset: { repo: 'applicants', commit: 'main', path: 'eval.csv' },
  label: 'approved',
  favorable: 1,
  protected: [{ column: 'gender' }, { column: 'age', buckets: [25, 45, 65] }],
  restricted: ['gender', 'age'],
  models: ['credit@1', 'credit@2', { deployment: 'credit-api' }],
  scans: ['performance', 'fairness', 'robustness', 'explainability', 'drift'],
  scanConfig: { parallel: 2, cpu: '1', memory: '1Gi' },
};

const refused = (spec: object, field: string, message: RegExp) =>
  assert.throws(
    () => compileUseCase(spec),
    (e: unknown) => e instanceof ModelportError && e.field === field && message.test(e.message),
  );

test("the issue's use case compiles, with defaults filled", () => {
  const spec = compileUseCase(base);
  assert.equal(spec.threshold, 0.5);
  assert.equal(spec.fairnessThreshold, 0.8);
  assert.deepEqual(spec.protected[1], { column: 'age', buckets: [25, 45, 65] });
  assert.deepEqual(compileUseCase({ ...base, dataset: { upload: 'a'.repeat(64) } }).dataset, {
    upload: 'a'.repeat(64),
  });
});

test('bad specs are refused naming the field', () => {
  refused({ ...base, task: 'ranking' }, 'task', /binary-classification/);
  refused({ ...base, models: [] }, 'models', /at least 1|>=1|too small/i);
  refused({ ...base, models: ['credit@1', 'credit@1'] }, 'models[1]', /listed twice/);
  refused({ ...base, models: ['Credit!'] }, 'models[0]', /name/);
  refused({ ...base, dataset: { repo: 'applicants', commit: 'main', path: 'eval.parquet' } }, 'dataset.path', /\.csv/);
  refused({ ...base, protected: [{ column: 'approved' }] }, 'protected[0].column', /is the label/);
  refused({ ...base, protected: [{ column: 'age', buckets: [45, 25] }] }, 'protected[0].buckets', /must increase/);
  refused({ ...base, protected: [] }, 'protected', /fairness scan needs at least one protected attribute/);
  refused({ ...base, favorable: undefined }, 'favorable', /favourable outcome/);
  refused(
    { ...base, task: 'regression', metrics: ['accuracy'] },
    'metrics[0]',
    /classification metric and the task is regression/,
  );
  refused({ ...base, metrics: ['rmse'] }, 'metrics[0]', /regression metric and the task is binary-classification/);
  refused({ ...base, scanConfig: { memory: '10Mi' } }, 'scanConfig.memory', /at least 64Mi/);
  refused({ ...base, scanConfig: { cpu: 'lots' } }, 'scanConfig.cpu', /CPU quantity/);
  refused({ ...base, extra: 1 }, 'extra', /unrecognized|unknown/i);
});

test("the use case's scanConfig overrides the server's default field by field", () => {
  assert.deepEqual(resolveScanConfig({ parallel: 3, cpu: '2', memory: '2Gi' }, { parallel: 1 }), {
    parallel: 1,
    cpu: '2',
    memory: '2Gi',
    threads: 2,
    memoryBytes: 2 * 1024 ** 3,
  });
  assert.equal(cpuThreads('500m', 'cpu'), 1);
  assert.equal(cpuThreads(3, 'cpu'), 3);
});

test('a deployment that stays down fails within the budget, with the reason', async () => {
  let calls = 0;
  const signature = {
    inputs: [{ name: 'x', datatype: 'FP32' as const, shape: [-1, 2] }],
    outputs: [{ name: 'p', datatype: 'FP32' as const, shape: [-1, 2] }],
    featureNames: ['a', 'b'],
  };
  const sources: ModelSources = {
    version: () => Promise.reject(new Error('unused')),
    modelFile: () => Promise.reject(new Error('unused')),
    openScorer: () => Promise.reject(new Error('unused')),
    gateway: {
      deployment: async () => ({ model: 'm', version: 1, format: 'onnx', sha256: '', signature, dataCommit: null }),
      infer: async () => {
        calls++;
        throw new ModelportError('not_ready', "model 'm' has no ready worker", { retryAfter: 1 });
      },
    },
  };
  const handle = await openModel(
    sources,
    { kind: 'deployment', deployment: 'api' },
    {
      project: 'default',
      task: 'binary-classification',
      favorable: 1,
      header: ['a', 'b', 'y'],
      label: 'y',
      pace: { ...DEFAULT_PACE, budgetMs: 600 },
      field: 'models[0].deployment',
    },
  );
  const started = Date.now();
  await assert.rejects(
    handle.predict(1, new Float32Array([1, 2]), new AbortController().signal),
    (e: unknown) =>
      e instanceof ModelportError &&
      /deployment 'api' did not answer within the scan's budget.*no ready worker/.test(e.message),
  );
  const elapsed = Date.now() - started;
  assert.ok(calls >= 2, `retried (${calls} calls)`);
  assert.ok(elapsed < 5000, `gave up after ${elapsed} ms`);
});
