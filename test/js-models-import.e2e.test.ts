/**
 * Custom JavaScript models and model import end to end: a real server, js models in worker processes behind V2
 * REST and gRPC with batching, registration refusals, MLflow and js folder imports through the CLI, https imports
 * through the egress guard, and ONNX external data refused.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { credentials, Metadata } from '@grpc/grpc-js';
import { type ModelportApiError, ModelportClient } from '../src/client/client.ts';
import { buildMultiInputModel, ProtoWriter } from '../src/onnx-builder/index.ts';
import { expectedSum, type JsModelFiles, writeJsModels } from '../src/runtimes/js/js-models.fixture.ts';
import { loadInferenceProto } from '../src/serving/grpc/grpc-client.fixture.ts';
import { cli, cliJson } from './support/cli.ts';
import { startTestServer, type TestServer } from './support/server.ts';

/** The multi-input model plus an initializer whose values live in an external file at `location`. */
function externalDataModel(location: string): Uint8Array {
  const entry = (key: string, value: string) => new ProtoWriter().string(1, key).string(2, value).finish();
  const tensor = new ProtoWriter()
    .int64(1, 2)
    .int64(2, 1)
    .string(8, 'external_weights')
    .message(13, entry('location', location))
    .message(13, entry('offset', '0'))
    .int64(14, 1)
    .finish();
  // Protobuf merges repeated embedded messages: a second `graph` field adds the initializer to the first.
  const graph = new ProtoWriter().message(5, tensor).finish();
  const extra = new ProtoWriter().message(7, graph).finish();
  const base = buildMultiInputModel();
  return Buffer.concat([base, extra]);
}

type V2Response = { model_version: string; outputs: { name: string; shape: number[]; data: number[] }[] };

describe('js models and imports', { timeout: 120_000 }, () => {
  let t: TestServer;
  let client: ModelportClient;
  let models: JsModelFiles;
  let files: string;
  let origin: Server;
  let originPort: number;
  let hits: string[];

  before(async () => {
    models = await writeJsModels();
    files = await mkdtemp(join(tmpdir(), 'modelport-import-'));
    hits = [];
    const onnx = Buffer.from(buildMultiInputModel());
    const sumTgz = Buffer.from(await models.bytes('sum'));
    origin = createServer((req, res) => {
      hits.push(req.url ?? '');
      if (req.url === '/models/multi.onnx') res.end(onnx);
      else if (req.url?.startsWith('/models/sum.tgz')) res.end(sumTgz);
      else if (req.url === '/redirect-to-private') {
        res.writeHead(302, { location: 'http://127.0.0.2:9/secret.onnx' }).end();
      } else res.writeHead(404).end();
    });
    origin.listen(0, '127.0.0.1');
    await new Promise((resolve) => origin.once('listening', resolve));
    originPort = (origin.address() as AddressInfo).port;
    t = await startTestServer('embedded', { egressAllowHosts: `127.0.0.1:${originPort}` });
    client = new ModelportClient({ url: t.url });
  });
  after(async () => {
    await t?.close();
    origin?.close();
    await models.cleanup();
    await rm(files, { recursive: true, force: true });
  });

  test('a js model registered as .tgz serves through V2 and gRPC, batched, with env and secrets', async () => {
    const version = await client.registerVersion('sum', await models.bytes('sum'));
    assert.equal(version.format, 'js');
    assert.equal(version.modelType, 'js');
    assert.deepEqual(
      version.signature.inputs.map((i) => [i.name, i.datatype, i.shape]),
      [
        ['a', 'FP32', [-1, 2]],
        ['b', 'FP32', [-1, 2]],
      ],
    );
    await client.setSecret('SUM_BIAS', '100');
    await client.createDeployment('summer', {
      traffic: [{ model: 'sum@1', weight: 100 }],
      env: { SCALE: '2' },
      secrets: [{ env: 'BIAS', secret: 'SUM_BIAS' }],
      runtime: { batching: { maxBatchSize: 4, minBatchDelay: '5s', maxQueueDelay: '5s' } },
    });
    await client.waitDeployment('summer');

    // Four concurrent one-row requests fill one batch, which runs at once; each learns the batch had 4 rows.
    const answers = await Promise.all(
      [0, 1, 2, 3].map(async (i) => {
        const res = await fetch(`${t.url}/v2/models/summer/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            inputs: [
              { name: 'a', datatype: 'FP32', shape: [1, 2], data: [i, i + 0.5] },
              { name: 'b', datatype: 'FP32', shape: [1, 2], data: [10, 20] },
            ],
          }),
        });
        assert.equal(res.status, 200);
        return (await res.json()) as V2Response;
      }),
    );
    for (const [i, answer] of answers.entries()) {
      const sum = answer.outputs.find((o) => o.name === 'sum')!;
      assert.deepEqual(sum.data, expectedSum([i, i + 0.5], [10, 20], 2, 100));
      assert.deepEqual(answer.outputs.find((o) => o.name === 'rows')!.data, [4]);
    }

    const { GRPCInferenceService } = loadInferenceProto();
    const grpc = new GRPCInferenceService(`127.0.0.1:${t.server.grpcPort}`, credentials.createInsecure());
    try {
      const response = await new Promise<{ outputs: { name: string }[]; raw_output_contents: Buffer[] }>(
        (resolve, reject) =>
          (
            grpc as unknown as Record<string, (r: object, m: Metadata, cb: (e: Error | null, v: never) => void) => void>
          )['ModelInfer']!(
            {
              model_name: 'sum',
              inputs: [
                { name: 'a', datatype: 'FP32', shape: [1, 2] },
                { name: 'b', datatype: 'FP32', shape: [1, 2] },
              ],
              raw_input_contents: [
                Buffer.from(new Float32Array([1, 2]).buffer),
                Buffer.from(new Float32Array([3, 4]).buffer),
              ],
            },
            new Metadata(),
            (error, value) => (error ? reject(error) : resolve(value)),
          ),
      );
      const raw = response.raw_output_contents[response.outputs.findIndex((o) => o.name === 'sum')]!;
      // Served by name from the registry: no deployment env, so SCALE 1 and BIAS 0.
      assert.deepEqual(
        [...new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length))],
        expectedSum([1, 2], [3, 4]),
      );
    } finally {
      grpc.close();
    }
  });

  test('a js model whose load throws is refused at registration and nothing is stored', async () => {
    await assert.rejects(client.registerVersion('broken', await models.bytes('error')), (error: ModelportApiError) => {
      assert.equal(error.status, 400);
      assert.equal(error.code, 'invalid_model');
      assert.match(error.message, /ErrorModel refuses to load/);
      return true;
    });
    await assert.rejects(client.getModel('broken'), { code: 'not_found' });
    await assert.rejects(client.registerVersion('broken', await models.bytes('syntax'), { format: 'js' }), {
      code: 'invalid_model',
    });
  });

  test('CLI: register a js folder (packed by the CLI); import an MLflow folder and a js folder', async () => {
    const folder = await cliJson<{ format: string; version: number }>(
      t.url,
      'models',
      'register',
      'sumdir',
      models.folder('sum'),
    );
    assert.equal(folder.format, 'js');

    const mlflow = join(files, 'mlflow-model');
    await mkdir(mlflow);
    await writeFile(join(mlflow, 'model.onnx'), buildMultiInputModel());
    await writeFile(
      join(mlflow, 'MLmodel'),
      [
        'artifact_path: model',
        'flavors:',
        '  onnx:',
        '    data: model.onnx',
        '    onnx_version: 1.16.0',
        '  python_function:',
        '    loader_module: mlflow.onnx',
        'signature:',
        `  inputs: '[{"name": "features", "type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}]'`,
        `  outputs: '[{"name": "scaled", "type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}]'`,
        '',
      ].join('\n'),
    );
    const imported = await cliJson<{ format: string; tags: Record<string, string>; description: string }>(
      t.url,
      'models',
      'import',
      'from-mlflow',
      mlflow,
    );
    assert.equal(imported.format, 'onnx');
    assert.equal(imported.tags['imported.from'], 'mlflow');
    assert.deepEqual(JSON.parse(imported.tags['mlflow.signature.inputs']!)[0].name, 'features');
    assert.match(imported.description, /inputs: features: float32\[-1,4\]/);

    const js = await cliJson<{ format: string }>(t.url, 'models', 'import', 'from-js-folder', models.folder('sum'));
    assert.equal(js.format, 'js');

    const noFlavor = join(files, 'mlflow-sklearn');
    await mkdir(noFlavor);
    await writeFile(join(noFlavor, 'MLmodel'), 'flavors:\n  sklearn:\n    pickled_model: model.pkl\n');
    // A sklearn flavor maps to the sklearn-1.5 container type, which needs a signature (the MLmodel has none here).
    const refused = await cli(t.url, 'models', 'import', 'sk', noFlavor);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /signature: the MLmodel has no signature .*'sklearn-1\.5'/);
    // A flavor no model type names is refused, saying how to map it.
    const h2o = join(files, 'mlflow-h2o');
    await mkdir(h2o);
    await writeFile(join(h2o, 'MLmodel'), 'flavors:\n  h2o:\n    data: model.h2o\n');
    const unmapped = await cli(t.url, 'models', 'import', 'h2o', h2o);
    assert.equal(unmapped.code, 1);
    assert.match(unmapped.stderr, /flavors: the MLflow model has the flavors h2o, and no model type maps them/);
  });

  test('https import: allowed host fetched by the server; loopback without allow and redirects to it refused', async () => {
    const onnx = await client.importModel('remote', { url: `http://127.0.0.1:${originPort}/models/multi.onnx` });
    assert.equal(onnx.format, 'onnx');
    assert.equal(onnx.lineage.source, `http://127.0.0.1:${originPort}/models/multi.onnx`);
    const js = await client.importModel('remote-js', {
      url: `http://127.0.0.1:${originPort}/models/sum.tgz?X-Amz-Signature=secret-token`,
    });
    assert.equal(js.format, 'js');
    assert.doesNotMatch(JSON.stringify(js), /secret-token/);

    const before = hits.length;
    for (const url of [
      `https://localhost:${originPort}/models/multi.onnx`,
      `http://127.0.0.1:${originPort + 1}/models/multi.onnx`,
      `https://[::ffff:127.0.0.1]:${originPort}/models/multi.onnx`,
      `https://2130706433:${originPort + 1}/models/multi.onnx`,
      `https://0177.0.0.1:${originPort + 1}/models/multi.onnx`,
      'http://169.254.169.254/latest/meta-data/',
    ]) {
      await assert.rejects(client.importModel('evil', { url }), (error: ModelportApiError) => {
        assert.ok(['egress_refused', 'invalid_request'].includes(error.code), `${url}: ${error.code}`);
        return true;
      });
    }
    await assert.rejects(client.importModel('evil', { url: `http://127.0.0.1:${originPort}/redirect-to-private` }), {
      code: 'egress_refused',
    });
    assert.deepEqual(hits.slice(before), ['/redirect-to-private']);
    await assert.rejects(client.importModel('evil', { url: 'file:///etc/passwd' }), { code: 'invalid_request' });
    await assert.rejects(client.getModel('evil'), { code: 'not_found' });
  });

  test('ONNX external data: refused at registration, and outside its folder refused by the CLI import', async () => {
    for (const location of ['../../../../etc/passwd', '/etc/passwd', 'weights.bin']) {
      await assert.rejects(client.registerVersion('ext', externalDataModel(location)), (error: ModelportApiError) => {
        assert.equal(error.code, 'invalid_model');
        assert.match(error.message, location === 'weights.bin' ? /self-contained/ : /outside the model's folder/);
        return true;
      });
    }
    const file = join(files, 'escaping.onnx');
    await writeFile(file, externalDataModel('../secrets/weights.bin'));
    const result = await cli(t.url, 'models', 'import', 'ext', file);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /outside the model's folder/);
    await assert.rejects(client.getModel('ext'), { code: 'not_found' });
  });
});
