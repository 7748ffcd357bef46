import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ModelportError } from '../core/index.ts';
import { BlobGuard, collectGarbage } from '../gc/index.ts';
import { buildLogisticRegressionModel } from '../onnx-builder/index.ts';
import { inspectOnnxModel } from '../runtimes/index.ts';
import { FolderArtifactStore } from '../store/index.ts';
import { forEachMetadataStore } from '../store/metadata/metadata-store.conformance.ts';
import { ModelRegistry } from './model-registry.ts';

let dir: string;
let modelA: string;
let modelB: string;
let garbage: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelport-registry-'));
  modelA = join(dir, 'a.onnx');
  modelB = join(dir, 'b.onnx');
  garbage = join(dir, 'garbage.onnx');
  await writeFile(modelA, buildLogisticRegressionModel({ weights: [0.5, -0.25, 1], bias: 0.1, featureCount: 3 }));
  await writeFile(modelB, buildLogisticRegressionModel({ weights: [1, 2, 3], bias: -1, featureCount: 3 }));
  await writeFile(garbage, Buffer.from('this is not an onnx model'));
});
after(() => rm(dir, { recursive: true, force: true }));

const isError = (code: string, field?: string) => (e: unknown) =>
  e instanceof ModelportError && e.code === code && (field === undefined || e.field === field);

forEachMetadataStore('model registry', (open) => {
  async function setup(usage?: { usersOf: () => Promise<string[]> }) {
    const store = await open();
    const root = await mkdtemp(join(dir, 'artifacts-'));
    const artifacts = new FolderArtifactStore(root);
    const registry = new ModelRegistry({
      store,
      artifacts,
      inspector: { inspect: (path) => inspectOnnxModel(path, { timeoutMs: 60_000 }) },
      ...(usage ? { usage } : {}),
    });
    const blobs = async () => (await readdir(join(root, 'sha256'), { recursive: true })).filter((f) => f.length > 60);
    // Contents go only through garbage collection, which sees every reference (grace 0: nothing runs meanwhile).
    const gc = () =>
      collectGarbage(
        { db: store.db, artifacts, guard: new BlobGuard(store), treeFiles: async () => [] },
        { graceMs: 0 },
      );
    return { store, registry, blobs, gc };
  }

  test('a friendly signature is checked against the model, stored, replaced and removed', async () => {
    const { registry, blobs } = await setup();
    const features = [
      { name: 'a', type: 'number' as const },
      { name: 'b', type: 'integer' as const, min: 0 },
    ];
    const stored = async () => (await blobs().catch(() => [])).length;
    await assert.rejects(
      registry.registerVersion('default', 'friendly', {
        file: modelA,
        friendlySignature: { features: features.slice(0, 1) },
      }),
      isError('invalid_request', 'signature.features'),
    );
    assert.equal(await stored(), 0, 'nothing stored for a refused signature');
    const v = await registry.registerVersion('default', 'friendly', {
      file: modelA,
      friendlySignature: {
        features: [...features, { name: 'c', type: 'boolean' }],
        outputs: { labels: ['no', 'yes'] },
      },
    });
    assert.equal(v.friendlySignature?.features?.length, 3);
    assert.deepEqual(v.friendlySignature?.outputs, {
      labels: ['no', 'yes'],
      probabilities: 'probabilities',
      label: 'label',
    });
    await assert.rejects(
      registry.setFriendlySignature(
        'default',
        { name: 'friendly', version: 1 },
        { outputs: { labels: ['x', 'y', 'z'] } },
      ),
      isError('invalid_request', 'signature.outputs.labels'),
    );
    const set = await registry.setFriendlySignature(
      'default',
      { name: 'friendly', version: 1 },
      { outputs: { labels: ['n', 'y'] } },
    );
    assert.equal(set.friendlySignature?.features, undefined);
    assert.deepEqual((await registry.getVersion('default', { name: 'friendly' })).friendlySignature?.outputs?.labels, [
      'n',
      'y',
    ]);
    const cleared = await registry.setFriendlySignature('default', { name: 'friendly', version: 1 }, null);
    assert.equal(cleared.friendlySignature, null);
  });

  test('registers a version with its signature, checksum, tags, metrics, lineage and aliases', async () => {
    const { registry } = await setup();
    const v = await registry.registerVersion('default', 'fraud', {
      file: modelA,
      description: 'first',
      tags: { team: 'risk' },
      metrics: { auc: 0.97 },
      aliases: ['champion'],
      lineage: { dataCommit: 'abc123' },
    });
    assert.equal(v.version, 1);
    assert.match(v.sha256, /^[0-9a-f]{64}$/);
    assert.deepEqual(v.signature.inputs, [{ name: 'input', datatype: 'FP32', shape: [-1, 3], dimNames: ['N', null] }]);
    assert.deepEqual(
      v.signature.outputs.map((o) => [o.name, o.datatype]),
      [
        ['label', 'INT64'],
        ['probabilities', 'FP32'],
      ],
    );
    assert.deepEqual(v.tags, { team: 'risk' });
    assert.deepEqual(v.metrics, { auc: 0.97 });
    assert.equal(v.lineage.dataCommit, 'abc123');
    assert.deepEqual(v.aliases, ['champion']);
    const model = await registry.getModel('default', 'fraud');
    assert.equal(model.latestVersion, 1);
    assert.deepEqual(model.aliases, { champion: 1 });
  });

  test('versionsFrom: the versions of every model that name a data commit or a pipeline run, oldest first', async () => {
    const { registry } = await setup();
    const commit = `transactions@${'a'.repeat(64)}`;
    const other = `transactions@${'b'.repeat(64)}`;
    await registry.registerVersion('default', 'fraud', {
      file: modelA,
      lineage: { dataCommit: commit, pipelineRun: 'r1' },
    });
    await registry.registerVersion('default', 'fraud', {
      file: modelA,
      lineage: { dataCommit: other, pipelineRun: 'r2' },
    });
    await registry.registerVersion('default', 'churn', {
      file: modelA,
      aliases: ['champion'],
      lineage: { dataCommit: commit },
    });
    await registry.createProject('elsewhere');
    await registry.registerVersion('elsewhere', 'fraud', { file: modelA, lineage: { dataCommit: commit } });
    const fromCommit = await registry.versionsFrom('default', { dataCommit: commit });
    assert.deepEqual(
      fromCommit.map((v) => [v.model, v.version, v.aliases]),
      [
        ['fraud', 1, []],
        ['churn', 1, ['champion']],
      ],
    );
    assert.deepEqual(
      (await registry.versionsFrom('default', { pipelineRun: 'r2' })).map((v) => `${v.model}@${v.version}`),
      ['fraud@2'],
    );
    assert.deepEqual(await registry.versionsFrom('default', { pipelineRun: 'none' }), []);
  });

  test('20 concurrent registrations get versions 1..20 with no gaps or duplicates', async () => {
    const { registry } = await setup();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        registry.registerVersion('default', 'race', { file: i % 2 ? modelA : modelB }),
      ),
    );
    assert.deepEqual(
      results.map((r) => r.version).sort((a, b) => a - b),
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    const listed = await registry.listVersions('default', 'race');
    assert.deepEqual(
      listed.map((v) => v.version),
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
  });

  test('references resolve: name (latest), name@N, name@alias; aliases move atomically', async () => {
    const { registry } = await setup();
    await registry.registerVersion('default', 'm', { file: modelA, aliases: ['champion'] });
    await registry.registerVersion('default', 'm', { file: modelB });
    assert.equal((await registry.getVersion('default', { name: 'm' })).version, 2);
    assert.equal((await registry.getVersion('default', { name: 'm', version: 1 })).version, 1);
    assert.equal((await registry.getVersion('default', { name: 'm', alias: 'champion' })).version, 1);
    await registry.setAlias('default', 'm', 'champion', 2);
    assert.equal((await registry.getVersion('default', { name: 'm', alias: 'champion' })).version, 2);
    await assert.rejects(registry.setAlias('default', 'm', 'champion', 9), isError('not_found', 'version'));
    assert.equal((await registry.getVersion('default', { name: 'm', alias: 'champion' })).version, 2);
    await assert.rejects(registry.setAlias('default', 'm', 'Bad Alias', 1), isError('invalid_request', 'alias'));
    await registry.deleteAlias('default', 'm', 'champion');
    await assert.rejects(
      registry.getVersion('default', { name: 'm', alias: 'champion' }),
      isError('not_found', 'alias'),
    );
  });

  test('a file that is not a model is refused with invalid_model and nothing is stored', async () => {
    const { registry, blobs } = await setup();
    await registry.registerVersion('default', 'm', { file: modelA });
    const before = await blobs();
    await assert.rejects(registry.registerVersion('default', 'm', { file: garbage }), isError('invalid_model'));
    await assert.rejects(registry.registerVersion('default', 'new', { file: garbage }), isError('invalid_model'));
    assert.deepEqual(await blobs(), before);
    assert.equal((await registry.listVersions('default', 'm')).length, 1);
    await assert.rejects(registry.getModel('default', 'new'), isError('not_found'));
  });

  test('unknown project, model and version are not_found; bad names are invalid_request', async () => {
    const { registry } = await setup();
    await assert.rejects(registry.listModels('nope'), isError('not_found', 'project'));
    await assert.rejects(registry.getModel('default', 'ghost'), isError('not_found', 'model'));
    await registry.registerVersion('default', 'm', { file: modelA });
    await assert.rejects(registry.getVersion('default', { name: 'm', version: 7 }), isError('not_found', 'version'));
    await assert.rejects(
      registry.registerVersion('default', '../etc', { file: modelA }),
      isError('invalid_request', 'model'),
    );
  });

  test('deleting a version in use is refused naming the deployment; gc collects unused artifacts', async () => {
    const { registry, blobs } = await setup({ usersOf: async () => ['fraud-prod'] });
    await registry.registerVersion('default', 'm', { file: modelA });
    await assert.rejects(
      registry.deleteVersion('default', 'm', 1),
      (e: unknown) => isError('conflict')(e) && (e as Error).message.includes("'fraud-prod'"),
    );
    assert.equal((await registry.listVersions('default', 'm')).length, 1);

    const free = await setup();
    await free.registry.registerVersion('default', 'm', { file: modelA });
    await free.registry.registerVersion('default', 'm', { file: modelA, aliases: ['champion'] });
    await free.registry.registerVersion('default', 'm', { file: modelB });
    assert.equal((await free.blobs()).length, 2);
    await free.registry.deleteVersion('default', 'm', 3);
    assert.equal((await free.blobs()).length, 2, 'deleting a version leaves its artifact to gc');
    assert.equal((await free.gc()).blobsDeleted, 1);
    assert.equal((await free.blobs()).length, 1, 'the artifact only version 3 used is gone');
    await free.registry.deleteVersion('default', 'm', 2);
    await free.gc();
    assert.equal((await free.blobs()).length, 1, 'version 1 still uses the shared artifact');
    assert.deepEqual((await free.registry.getModel('default', 'm')).aliases, {}, 'aliases of a deleted version go');
    const next = await free.registry.registerVersion('default', 'm', { file: modelB });
    assert.equal(next.version, 4, 'numbers are never reused');
    await free.registry.deleteModel('default', 'm');
    await free.gc();
    assert.deepEqual(await free.blobs(), []);
    assert.deepEqual(await free.registry.listModels('default'), []);
    void blobs;
  });

  test('projects: default exists, new ones can be created once', async () => {
    const { registry } = await setup();
    assert.deepEqual(
      (await registry.listProjects()).map((p) => p.name),
      ['default'],
    );
    await registry.createProject('risk');
    await assert.rejects(registry.createProject('risk'), isError('already_exists'));
    assert.deepEqual(
      (await registry.listProjects()).map((p) => p.name),
      ['default', 'risk'],
    );
  });
});
