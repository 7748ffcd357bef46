/**
 * The model registry end to end: the `modelport` CLI against a running server, on the embedded stores and on
 * PostgreSQL + S3. Bad input must get a clear error and leave stored data unchanged.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { main } from '../src/cli/main.ts';
import { buildLogisticRegressionModel } from '../src/onnx-builder/index.ts';
import type { Model, ModelVersion } from '../src/registry/types.ts';
import { cli, cliJson } from './support/cli.ts';
import { REPO_ROOT, STORE_KINDS, startTestServer, type TestServer } from './support/server.ts';

let files: string;
let modelV1: string;
let modelV2: string;
let corrupt: string;
let pickle: string;

before(async () => {
  files = await mkdtemp(join(tmpdir(), 'modelport-cli-'));
  modelV1 = join(files, 'v1.onnx');
  modelV2 = join(files, 'v2.onnx');
  corrupt = join(files, 'corrupt.onnx');
  pickle = join(files, 'model.pkl');
  const v1 = buildLogisticRegressionModel({ weights: [1, -1], bias: 0, featureCount: 2 });
  await writeFile(modelV1, v1);
  await writeFile(modelV2, buildLogisticRegressionModel({ weights: [2, 1], bias: 0.5, featureCount: 2 }));
  await writeFile(corrupt, v1.subarray(0, Math.floor(v1.length / 2)));
  await writeFile(pickle, Buffer.from([0x80, 0x04, 0x95, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x8c, 0x05]));
});
after(() => rm(files, { recursive: true, force: true }));

for (const kind of STORE_KINDS) {
  describe(`registry through the CLI [${kind}]`, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer(kind, { maxUploadSize: '64KiB' });
    });
    after(() => t.close());

    test('register, list, show, versions, alias, delete', async () => {
      const v1 = await cliJson<ModelVersion>(
        t.url,
        'models',
        'register',
        'churn',
        modelV1,
        '--alias',
        'champion',
        '--description',
        'first cut',
        '--tag',
        'team=growth',
        '--metric',
        'auc=0.91',
      );
      assert.equal(v1.version, 1);
      assert.deepEqual(v1.aliases, ['champion']);
      assert.deepEqual(v1.metrics, { auc: 0.91 });
      const v2 = await cliJson<ModelVersion>(t.url, 'models', 'register', 'churn', modelV2);
      assert.equal(v2.version, 2);

      const table = await cli(t.url, 'models', 'list');
      assert.equal(table.code, 0);
      assert.match(table.stdout, /^NAME\s+LATEST\s+VERSIONS/m);
      assert.match(table.stdout, /^churn\s+2\s+2\s+champion=1/m);

      const shown = await cli(t.url, 'models', 'show', 'churn@champion');
      assert.equal(shown.code, 0);
      assert.match(shown.stdout, /model:\s+churn@1/);
      assert.match(shown.stdout, /^input\s+FP32\s+\[-1, 2\]$/m);

      // A bare name shows the model and its latest version, signature included.
      const bare = await cli(t.url, 'models', 'show', 'churn');
      assert.match(bare.stdout, /latest version \(churn@2; /);
      assert.match(bare.stdout, /model:\s+churn@2/);
      assert.match(bare.stdout, /^input\s+FP32\s+\[-1, 2\]$/m);
      assert.match(bare.stdout, /^probabilities\s+FP32\s+\[-1, 2\]$/m);

      // Lineage from the CLI (a --data-commit must name a data repository's commit: see the data repositories tests); the same bytes again are a new version, with a note naming the one they duplicate.
      const again = await cli(t.url, 'models', 'register', 'churn', modelV1, '--pipeline-run', 'run-42');
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /registered churn@3/);
      assert.match(again.stderr, /note: churn@3 duplicates churn@1 \(the same bytes, sha256 [0-9a-f]{12}\)/);
      const lineage = await cli(t.url, 'models', 'show', 'churn@3');
      assert.match(lineage.stdout, /pipeline run:\s+run-42/);
      assert.doesNotMatch((await cli(t.url, 'models', 'register', 'other', modelV2)).stderr, /duplicates/);
      assert.equal((await cli(t.url, 'models', 'delete', 'other')).code, 0);
      assert.equal((await cli(t.url, 'models', 'delete', 'churn@3')).code, 0);

      await cliJson(t.url, 'models', 'alias', 'churn', 'champion', '2');
      const model = await cliJson<Model>(t.url, 'models', 'show', 'churn');
      assert.deepEqual(model.aliases, { champion: 2 });

      const versions = await cliJson<ModelVersion[]>(t.url, 'models', 'versions', 'churn');
      assert.deepEqual(
        versions.map((v) => v.version),
        [1, 2],
      );

      assert.equal((await cli(t.url, 'models', 'delete', 'churn@1')).code, 0);
      assert.deepEqual(
        (await cliJson<ModelVersion[]>(t.url, 'models', 'versions', 'churn')).map((v) => v.version),
        [2],
      );
      assert.equal((await cli(t.url, 'models', 'delete', 'churn')).code, 0);
      assert.deepEqual(await cliJson<Model[]>(t.url, 'models', 'list'), []);
    });

    test('global options may stand before the command words, and their values are not taken for words', async () => {
      const env = {};
      let stdout = '';
      let stderr = '';
      const io = {
        out: (s: string) => {
          stdout += s;
        },
        err: (s: string) => {
          stderr += s;
        },
        interactive: false,
      };
      const code = await main(['--url', t.url, '-o', 'json', 'models', 'register', 'early', modelV1], env, io);
      assert.equal(code, 0, stderr);
      assert.equal((JSON.parse(stdout) as ModelVersion).model, 'early');
      stdout = '';
      assert.equal(await main(['--project', 'default', '--url', t.url, 'models', 'list', '-o', 'json'], env, io), 0);
      assert.ok((JSON.parse(stdout) as Model[]).some((m) => m.name === 'early'));
      stderr = '';
      assert.equal(await main(['--url', t.url, 'models', 'lisst'], env, io), 2);
      assert.match(stderr, /unknown command 'models lisst'/);
    });

    test('bad input gets a one-line error, a non-zero exit, and changes nothing', async () => {
      await cliJson(t.url, 'models', 'register', 'stable', modelV1, '--alias', 'champion');
      const before = await cliJson<ModelVersion[]>(t.url, 'models', 'versions', 'stable');

      const cases: [string[], RegExp][] = [
        [['models', 'register', 'stable', corrupt], /not a model ONNX Runtime can load|invalid_model/],
        [['models', 'register', 'stable', pickle], /invalid_model/],
        [['models', 'register', 'stable', join(files, 'missing.onnx')], /cannot read the file/],
        [['models', 'register', 'Bad Name', modelV1], /not a valid name/],
        [['models', 'show', 'ghost'], /not found \(not_found\)/],
        [['models', 'alias', 'stable', 'champion', '9'], /version 9 of model 'stable' not found/],
        [['models', 'alias', 'stable', 'Champion!', '1'], /invalid_request/],
        [['models', 'register', 'stable', modelV1, '--metric', 'auc=high'], /'high' is not a number/],
        [['models', 'frobnicate'], /unknown command/],
        [['models', 'show'], /expected 1 argument/],
      ];
      for (const [argv, message] of cases) {
        const result = await cli(t.url, ...argv);
        assert.notEqual(result.code, 0, argv.join(' '));
        assert.match(result.stderr, message, argv.join(' '));
        assert.equal(result.stderr.trim().split('\n')[0]!.startsWith('modelport: '), true);
      }
      const after = await cliJson<ModelVersion[]>(t.url, 'models', 'versions', 'stable');
      assert.deepEqual(after, before);
    });

    test('an oversized upload is refused with 413 and nothing is stored', async () => {
      const big = join(files, 'big.onnx');
      await writeFile(big, Buffer.alloc(200 * 1024, 1));
      const result = await cli(t.url, 'models', 'register', 'huge', big);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /payload_too_large/);
      const response = await fetch(`${t.url}/api/v1/projects/default/models/huge`);
      assert.equal(response.status, 404);
    });

    test('malformed JSON and unknown fields get the one error shape naming the field', async () => {
      const post = (body: string) =>
        fetch(`${t.url}/api/v1/projects`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      const malformed = await post('{"name": ');
      assert.equal(malformed.status, 400);
      assert.equal(((await malformed.json()) as { error: { code: string } }).error.code, 'invalid_json');
      const unknown = await post('{"name": "p", "owner": "me"}');
      assert.equal(unknown.status, 400);
      assert.deepEqual(((await unknown.json()) as { error: { field: string } }).error.field, 'body.owner');
      const projects = await fetch(`${t.url}/api/v1/projects`);
      assert.deepEqual(
        ((await projects.json()) as { projects: { name: string }[] }).projects.map((p) => p.name),
        ['default'],
      );
    });

    test('the artifact downloads byte for byte with its checksum', async () => {
      const v = await cliJson<ModelVersion>(t.url, 'models', 'register', 'dl', modelV2);
      const response = await fetch(`${t.url}/api/v1/projects/default/models/dl/versions/1/artifact`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('x-checksum-sha256'), v.sha256);
      const bytes = Buffer.from(await response.arrayBuffer());
      assert.deepEqual(
        bytes,
        Buffer.from(buildLogisticRegressionModel({ weights: [2, 1], bias: 0.5, featureCount: 2 })),
      );
    });
  });
}

test('models import s3:// on a server whose S3 settings do not work says what to configure, not 500', async () => {
  // An endpoint that refuses connections: whether or not this machine has AWS credentials, S3 cannot be read.
  const t = await startTestServer('embedded', { s3Endpoint: 'http://127.0.0.1:1' });
  try {
    const result = await cli(t.url, 'models', 'import', 'fraud', 's3://models/fraud/model.onnx');
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /reading s3:\/\/models\/fraud\/model\.onnx needs the server's S3 settings: .*(AWS_ACCESS_KEY_ID|--s3-endpoint).* \(not_configured\)\n$/,
    );
    const response = await fetch(`${t.url}/api/v1/projects/default/models/fraud/import`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: 's3://models/fraud/model.onnx' }),
    });
    assert.equal(response.status, 501);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'not_configured');
    assert.deepEqual(await cliJson<Model[]>(t.url, 'models', 'list'), []);
  } finally {
    await t.close();
  }
});

test('the OpenAPI document lists every route with its permission', async () => {
  const t = await startTestServer('embedded');
  try {
    const doc = (await (await fetch(`${t.url}/api/v1/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, Record<string, { 'x-permission': string }>>;
    };
    assert.equal(doc.openapi, '3.1.0');
    const versions = doc.paths['/api/v1/projects/{project}/models/{model}/versions']!;
    assert.equal(versions['post']!['x-permission'], 'write');
    assert.equal(versions['get']!['x-permission'], 'read');
    assert.deepEqual(
      (versions['post'] as { 'x-also-needs'?: { permission: string } })['x-also-needs']?.permission,
      'code',
    );
    assert.equal(doc.paths['/api/v1/projects/{project}/members/{kind}/{name}']!['put']!['x-permission'], 'admin');
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        assert.ok(['read', 'self', 'write', 'admin'].includes(op['x-permission']), `${method} ${path}`);
      }
    }
  } finally {
    await t.close();
  }
});

test('the installed `modelport` command exits non-zero with a one-line error when the server is down', async () => {
  const run = promisify(execFile);
  const result = await run(process.execPath, [
    join(REPO_ROOT, 'bin/modelport.js'),
    'models',
    'list',
    '--url',
    'http://127.0.0.1:9',
  ])
    .then(() => ({ code: 0, stderr: '' }))
    .catch((e: { code: number; stderr: string }) => e);
  assert.equal(result.code, 1);
  assert.match(
    result.stderr,
    /^modelport: the Modelport server at http:\/\/127\.0\.0\.1:9 is not reachable \(unreachable\)\n$/,
  );
});
