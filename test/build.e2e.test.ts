/**
 * `modelport build` through the CLI and a running server: the context of an onnx model (Modelport's image) and of a
 * scikit-learn pickle (MLServer), the same bytes twice (the folder and its tar, with fixed mtimes and owners), the
 * artifact checked, a model image refused, a wrong --base-image refused naming the field.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildLogisticRegressionModel } from '../src/onnx-builder/index.ts';
import { cli } from './support/cli.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let files: string;
let t: TestServer;

/** The entries of a ustar archive: path, mode, uid, gid, mtime (enough to check what the writer fixed). */
function tarEntries(tar: Buffer): { path: string; mode: number; uid: number; gid: number; mtime: number }[] {
  const entries = [];
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const h = tar.subarray(offset, offset + 512);
    if (h.every((b) => b === 0)) break;
    const field = (start: number, length: number) =>
      h
        .subarray(start, start + length)
        .toString('ascii')
        .replace(/\0.*$/s, '')
        .trim();
    const size = Number.parseInt(field(124, 12), 8);
    entries.push({
      path: field(0, 100),
      mode: Number.parseInt(field(100, 8), 8),
      uid: Number.parseInt(field(108, 8), 8),
      gid: Number.parseInt(field(116, 8), 8),
      mtime: Number.parseInt(field(136, 12), 8),
    });
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return entries;
}

before(async () => {
  files = await mkdtemp(join(tmpdir(), 'modelport-build-e2e-'));
  t = await startTestServer('embedded');
  await writeFile(
    join(files, 'fraud.onnx'),
    buildLogisticRegressionModel({ weights: [1, -1], bias: 0, featureCount: 2 }),
  );
  await writeFile(join(files, 'model.joblib'), Buffer.from('a scikit-learn pickle, never opened here'));
  await writeFile(
    join(files, 'signature.yaml'),
    'inputs:\n  - { name: input-0, datatype: FP64, shape: [-1, 2] }\noutputs:\n  - { name: predict, datatype: INT64, shape: [-1] }\n',
  );
});
after(async () => {
  await t.close();
  await rm(files, { recursive: true, force: true });
});

describe('modelport build', () => {
  test('an onnx model: a context on Modelport image, the same bytes twice, its tar too', async () => {
    const registered = await cli(t.url, 'models', 'register', 'fraud', join(files, 'fraud.onnx'));
    assert.equal(registered.code, 0, registered.stderr);
    const a = join(files, 'ctx-a');
    const b = join(files, 'ctx-b');
    const first = await cli(t.url, 'build', 'fraud@1', '-o', a, '--tar', join(files, 'a.tar'));
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stdout,
      /wrote the build context of fraud@1 \(onnx, on ghcr\.io\/modelport\/modelport:0\.1\.0\)/,
    );
    assert.match(first.stdout, /docker build -t <registry>\/fraud:1 /);
    const second = await cli(t.url, 'build', 'fraud', '--output', b, '--tar', join(files, 'b.tar'));
    assert.equal(second.code, 0, second.stderr);
    const written = [...second.stdout.matchAll(/^ {2}(\S+)$/gm)].map((m) => m[1]);
    const sha = createHash('sha256')
      .update(await readFile(join(files, 'fraud.onnx')))
      .digest('hex');
    assert.deepEqual(written, [
      '.dockerignore',
      'Dockerfile',
      `model/${sha}`,
      'modelport/healthcheck.sh',
      'modelport/sbom.cdx.json',
      'modelport/signature.json',
      'modelport/verify-sha256.sh',
    ]);
    for (const path of written) {
      assert.deepEqual(await readFile(join(a, path)), await readFile(join(b, path)), path);
    }
    assert.deepEqual(await readFile(join(a, `model/${sha}`)), await readFile(join(files, 'fraud.onnx')));
    const tarA = await readFile(join(files, 'a.tar'));
    assert.ok(tarA.equals(await readFile(join(files, 'b.tar'))), 'the tar is the same bytes twice');
    const entries = tarEntries(tarA);
    assert.deepEqual(
      entries.map((e) => e.path),
      written,
    );
    for (const e of entries) {
      assert.deepEqual([e.uid, e.gid, e.mtime], [0, 0, 0], e.path);
      assert.equal(e.mode, e.path.endsWith('.sh') ? 0o755 : 0o644, e.path);
    }
    const dockerfile = await readFile(join(a, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /^FROM ghcr\.io\/modelport\/modelport:0\.1\.0$/m);
    assert.match(dockerfile, /CMD \["serve-model","--model-uri","\/models\/fraud\/1"/);
  });

  test('a scikit-learn pickle: MLServer base image, or another of the type images with --base-image', async () => {
    const registered = await cli(
      t.url,
      'models',
      'register',
      'churn',
      join(files, 'model.joblib'),
      '--type',
      'sklearn-1.5',
      '--signature',
      join(files, 'signature.yaml'),
    );
    assert.equal(registered.code, 0, registered.stderr);
    const dir = join(files, 'ctx-churn');
    const built = await cli(t.url, 'build', 'churn@1', '-o', dir, '--base-image', 'mlserver-1.5-sklearn');
    assert.equal(built.code, 0, built.stderr);
    const dockerfile = await readFile(join(dir, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /^FROM docker\.io\/seldonio\/mlserver:1\.5\.0-sklearn$/m);
    assert.match(dockerfile, /ENV MLSERVER_MODEL_URI="\/models\/churn\/1"/);
    const wrong = await cli(t.url, 'build', 'churn@1', '-o', join(files, 'ctx-wrong'), '--base-image', 'triton');
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /baseImage: 'triton' is not one of the images of the model type 'sklearn-1.5'/);
  });

  test('a model that IS an image: refused, nothing written', async () => {
    const registered = await cli(
      t.url,
      'models',
      'register',
      'scorer',
      '--image',
      'registry.example.com/sas/scorer:1.4',
      '--type',
      'sas-scr',
      '--signature',
      join(files, 'signature.yaml'),
    );
    assert.equal(registered.code, 0, registered.stderr);
    const dir = join(files, 'ctx-scorer');
    const built = await cli(t.url, 'build', 'scorer@1', '-o', dir);
    assert.notEqual(built.code, 0);
    assert.match(
      built.stderr,
      /scorer@1 is the image registry.example.com\/sas\/scorer:1.4 itself, so there is nothing to build/,
    );
    await assert.rejects(readFile(join(dir, 'Dockerfile')));
  });

  test('usage: -o is required', async () => {
    const built = await cli(t.url, 'build', 'fraud@1');
    assert.equal(built.code, 2);
    assert.match(built.stderr, /-o <dir> is required/);
  });
});
