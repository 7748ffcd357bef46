/**
 * Container model types end to end through the CLI and a running server: a scikit-learn pickle stored and never
 * opened, a folder packed, a model that IS an image, and each bad input refused with its field, nothing stored.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ModelportClient } from '../src/client/index.ts';
import type { ModelVersion } from '../src/registry/index.ts';
import { cli, cliJson } from './support/cli.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let files: string;
let marker: string;
let pickle: string;
let signature: string;
let friendlyOnly: string;
let binaryPickle: string;

/** A protocol-0 pickle whose loading runs `os.system('touch <file>')`: opening it anywhere would leave the file. */
const hostilePickle = (file: string) => Buffer.from(`cos\nsystem\n(S'touch ${file}'\ntR.`, 'latin1');
const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

before(async () => {
  files = await mkdtemp(join(tmpdir(), 'modelport-any-framework-'));
  marker = join(files, 'opened');
  pickle = join(files, 'model.joblib');
  await writeFile(pickle, hostilePickle(marker));
  signature = join(files, 'signature.yaml');
  await writeFile(
    signature,
    [
      'inputs:',
      '  - { name: input-0, datatype: FP64, shape: [-1, 2] }',
      'outputs:',
      '  - { name: predict, datatype: INT64, shape: [-1] }',
      'friendly:',
      '  outputs: { labels: [stay, churn] }',
    ].join('\n'),
  );
  binaryPickle = join(files, 'model.pkl');
  await writeFile(binaryPickle, Buffer.from([0x80, 0x04, 0x95, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x8c, 0x05]));
  friendlyOnly = join(files, 'friendly.yaml');
  await writeFile(friendlyOnly, 'outputs: { labels: [stay, churn] }\n');
});
after(() => rm(files, { recursive: true, force: true }));

describe('container model types through the CLI', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer('embedded');
  });
  after(() => t.close());

  test('the test pickle really runs code when a Python loader opens it (so the next test can fail)', async (ctx) => {
    const probe = join(files, 'probe');
    const copy = join(files, 'probe.pkl');
    await writeFile(copy, hostilePickle(probe));
    const ran = await promisify(execFile)('python3', ['-c', `import pickle; pickle.load(open('${copy}', 'rb'))`]).then(
      () => true,
      () => false,
    );
    if (!ran) return ctx.skip('no python3 here to prove it');
    assert.equal(await exists(probe), true);
  });

  test('a pickle registers under sklearn-1.5: stored and checksummed, never opened', async () => {
    const v = await cliJson<ModelVersion>(
      t.url,
      'models',
      'register',
      'churn',
      pickle,
      '--type',
      'sklearn-1.5',
      '--signature',
      signature,
    );
    assert.equal(v.modelType, 'sklearn-1.5');
    assert.equal(v.format, 'container');
    assert.deepEqual(v.signature.inputs, [{ name: 'input-0', datatype: 'FP64', shape: [-1, 2] }]);
    assert.deepEqual(v.friendlySignature?.outputs?.labels, ['stay', 'churn']);
    const bytes = await readFile(pickle);
    assert.equal(v.sha256, createHash('sha256').update(bytes).digest('hex'));
    const download = await new ModelportClient({ url: t.url }).downloadArtifact('churn', 1);
    const chunks: Uint8Array[] = [];
    for await (const chunk of download.body) chunks.push(chunk);
    assert.deepEqual(Buffer.concat(chunks), bytes);
    assert.equal(await exists(marker), false, 'nothing opened the pickle');
  });

  test('a folder is packed and stored under a container type', async () => {
    const folder = join(files, 'torch');
    await mkdir(join(folder, 'model-store'), { recursive: true });
    await writeFile(join(folder, 'model-store', 'model.mar'), hostilePickle(marker));
    const v = await cliJson<ModelVersion>(
      t.url,
      'models',
      'register',
      'torch',
      folder,
      '--type',
      'pytorch-2.4',
      '--signature',
      signature,
    );
    assert.equal(v.modelType, 'pytorch-2.4');
    assert.ok(v.size > 0);
    assert.equal(await exists(marker), false);
  });

  test('a model image is a version with no artifact of its own', async () => {
    const digest = `sha256:${'a1'.repeat(32)}`;
    const v = await cliJson<ModelVersion>(
      t.url,
      'models',
      'register',
      'scorer',
      '--image',
      'registry.example.com/sas/scorer:1.4',
      '--digest',
      digest,
      '--type',
      'sas-scr',
      '--signature',
      signature,
    );
    assert.equal(v.image, `registry.example.com/sas/scorer:1.4@${digest}`);
    assert.equal(v.format, 'image');
    assert.equal(v.modelType, 'sas-scr');
  });

  test('an MLflow sklearn model imports under the type its flavor maps to, with its signature', async () => {
    const folder = join(files, 'mlflow-sklearn');
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'model.pkl'), hostilePickle(marker));
    await writeFile(
      join(folder, 'MLmodel'),
      [
        'flavors:',
        '  python_function: { loader_module: mlflow.sklearn, model_path: model.pkl }',
        '  sklearn: { pickled_model: model.pkl, sklearn_version: 1.5.2, serialization_format: cloudpickle }',
        'signature:',
        '  inputs: \'[{"name": "tenure", "type": "double"}, {"name": "plan", "type": "long"}]\'',
        '  outputs: \'[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]\'',
      ].join('\n'),
    );
    const v = await cliJson<ModelVersion>(t.url, 'models', 'import', 'churn-mlflow', folder);
    assert.equal(v.modelType, 'sklearn-1.5');
    assert.equal(v.tags['mlflow.flavor'], 'sklearn');
    assert.deepEqual(v.signature, {
      inputs: [
        { name: 'tenure', datatype: 'FP64', shape: [-1] },
        { name: 'plan', datatype: 'INT64', shape: [-1] },
      ],
      outputs: [{ name: 'output-0', datatype: 'INT64', shape: [-1] }],
    });
    // A pyfunc-only model maps to the mlflow-pyfunc type.
    const pyfunc = join(files, 'mlflow-pyfunc');
    await mkdir(pyfunc, { recursive: true });
    await writeFile(
      join(pyfunc, 'MLmodel'),
      (await readFile(join(folder, 'MLmodel'), 'utf8')).replace(/\n {2}sklearn:.*\n/, '\n'),
    );
    const p = await cliJson<ModelVersion>(t.url, 'models', 'import', 'pyfunc-model', pyfunc);
    assert.equal(p.modelType, 'mlflow-pyfunc');
    assert.equal(await exists(marker), false);
  });

  test('backend local refuses a container type naming the model type; compose writes a bundle it does not observe', async () => {
    const spec = join(files, 'local.yaml');
    await writeFile(spec, 'name: churn-local\nspec:\n  backend: local\n  traffic: [{ model: churn@1, weight: 100 }]\n');
    const refused = await cli(t.url, 'deployments', 'apply', '-f', spec);
    assert.notEqual(refused.code, 0);
    assert.match(
      refused.stderr,
      /spec\.traffic\[0\]\.model: churn@1 has the model type 'sklearn-1\.5'.*backend: kubernetes or backend: compose/,
    );
    const c = new ModelportClient({ url: t.url });
    assert.deepEqual(
      (await c.listDeployments()).map((d) => d.name),
      [],
      'nothing stored',
    );
    const d = await c.applyDeployment('churn-bundle', {
      backend: 'compose',
      traffic: [{ model: 'churn@1', weight: 100 }],
    });
    const ready = (await c.waitDeployment(d.name, 60)).status.conditions.find((x) => x.type === 'Ready');
    assert.equal(ready?.status, 'Unknown');
    assert.equal(ready?.reason, 'BundleWritten');
    assert.match(ready?.message ?? '', /docker compose up -d/);
  });

  test('spec.baseImage picks one of the type images for compose and kubernetes; another name is refused at apply', async () => {
    const c = new ModelportClient({ url: t.url });
    const d = await c.applyDeployment('churn-mls15', {
      backend: 'compose',
      baseImage: 'mlserver-1.5-sklearn',
      traffic: [{ model: 'churn@1', weight: 100 }],
    });
    await c.waitDeployment(d.name, 60);
    const image = 'docker.io/seldonio/mlserver:1.5.0-sklearn';
    for (const format of ['compose', 'kserve', 'knative'] as const) {
      const { files: exported } = await c.exportDeployment('churn-mls15', format);
      const text = exported.map((f) => f.content).join('\n');
      assert.ok(text.includes(image), `${format} renders on ${image}`);
      assert.ok(!text.includes('mlserver:1.6.1-sklearn'), `${format} leaves the default image`);
    }
    const before = (await c.listDeployments()).map((x) => x.name);
    for (const [backend, pattern] of [
      [
        'compose',
        /spec\.baseImage: 'triton' is not one of the images of the model type 'sklearn-1\.5' \(mlserver-1\.6-sklearn, mlserver-1\.5-sklearn\)/,
      ],
      ['local', /spec\.baseImage: the local backend runs models in this server's own workers/],
    ] as const) {
      await assert.rejects(
        c.applyDeployment('churn-triton', {
          backend,
          baseImage: 'triton',
          traffic: [{ model: 'churn@1', weight: 100 }],
        }),
        (e: Error & { status?: number; field?: string }) => e.status === 400 && pattern.test(e.message),
      );
    }
    assert.deepEqual(
      (await c.listDeployments()).map((x) => x.name),
      before,
      'nothing stored',
    );
  });

  test('bad input names the field and the fix, and stores nothing', async () => {
    const listing = async () => {
      const c = new ModelportClient({ url: t.url });
      return Promise.all((await c.listModels()).map((m) => c.listVersions(m.name)));
    };
    const before = await listing();
    const cases: [string[], RegExp][] = [
      [
        ['models', 'register', 'x', pickle, '--type', 'h2o-3', '--signature', signature],
        /type: unknown model type 'h2o-3'.*modeltypes/,
      ],
      [
        ['models', 'register', 'x', '--image', 'registry.example.com/a:1', '--type', 'onnx', '--signature', signature],
        /image: the model type 'onnx' runs in Modelport/,
      ],
      [
        [
          'models',
          'register',
          'x',
          '--image',
          'Registry.Example.com/UPPER//bad:tag!',
          '--type',
          'sas-scr',
          '--signature',
          signature,
        ],
        /image: .* is not an OCI image reference/,
      ],
      [['models', 'register', 'x', pickle, '--type', 'sklearn-1.5'], /signature: .*must be declared.*--signature/],
      [
        ['models', 'register', 'x', pickle, '--type', 'sklearn-1.5', '--signature', friendlyOnly],
        /signature: .*must be declared/,
      ],
      [
        ['models', 'register', 'x', '--image', 'registry.example.com/a:1', '--type', 'sas-scr'],
        /signature: .*must be declared/,
      ],
      // Sniffing still refuses a pickle for the onnx type (a protocol 2+ pickle is named as one).
      [['models', 'register', 'x', binaryPickle, '--type', 'onnx'], /Python pickle.*\(invalid_model\)/],
      [['models', 'register', 'x', pickle, '--type', 'onnx'], /\(invalid_model\)/],
      [['models', 'register', 'x', pickle], /invalid_model/],
    ];
    for (const [argv, message] of cases) {
      const result = await cli(t.url, ...argv);
      assert.notEqual(result.code, 0, argv.join(' '));
      assert.match(result.stderr, message, argv.join(' '));
      assert.match(result.stderr, /^modelport: /);
    }
    assert.deepEqual(await listing(), before);
    assert.equal(await exists(marker), false);
  });
});
