/**
 * The commands Modelport's image runs, as real processes and against a real S3 server (s3rver):
 * `serve-model` from a file and from an s3:// storage URI answering V2 inference, refusing a file whose sha256
 * does not match; `fetch-models` downloading a bundle's models, verified, keeping what is already there.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { main } from '../src/cli/main.ts';
import { expectedSum, writeJsModels } from '../src/runtimes/js/js-models.fixture.ts';
import { FolderArtifactStore, hashFile, S3ArtifactStore } from '../src/store/artifacts/index.ts';
import { type S3rverFixture, startS3rver } from '../src/store/artifacts/s3rver.fixture.ts';
import { type CommandProcess, startCommand, stopProcess } from './support/process.ts';
import { REPO_ROOT } from './support/server.ts';

const MODEL = join(REPO_ROOT, 'examples', 'fraud', 'model.onnx');

let dir: string;
let s3: S3rverFixture;
let sha256: string;
let s3Env: Record<string, string>;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelport-image-'));
  s3 = await startS3rver();
  const store = new S3ArtifactStore(`s3://${s3.bucket}/models`, {
    cacheDir: join(dir, 'put-cache'),
    endpoint: s3.endpoint,
    region: 'us-east-1',
    credentials: s3.credentials,
  });
  sha256 = (await store.putFile(MODEL)).sha256;
  await store.close();
  s3Env = {
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
  };
});
after(async () => {
  await s3.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Starts `modelport serve-model` and resolves with its URL once it prints it (or rejects when it exits first). */
function serve(args: string[], extraEnv: Record<string, string> = {}): Promise<CommandProcess> {
  return startCommand(
    ['serve-model', '--host', '127.0.0.1', '--port', '0', ...args],
    { MODELPORT_HOME: dir, ...s3Env, ...extraEnv },
    /serving \S+ at (http:\/\/\S+)/,
  );
}

const stop = stopProcess;

async function infer(url: string, name: string) {
  const body = await readFile(join(REPO_ROOT, 'examples', 'fraud', 'sample-request.json'), 'utf8');
  const res = await fetch(`${url}/v2/models/${name}/infer`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json' },
  });
  return { status: res.status, body: (await res.json()) as { outputs?: { name: string; data: number[] }[] } };
}

describe('serve-model', () => {
  for (const source of ['a local file', 'an s3 storage URI'] as const) {
    test(`serves V2 inference from ${source}`, async () => {
      const uri = source === 'a local file' ? MODEL : `s3://${s3.bucket}/models/sha256/${sha256}`;
      const { url, child } = await serve(['--model-uri', uri, '--model-name', 'fraud', '--grpc-port', '0']);
      try {
        const ready = await fetch(`${url}/v2/health/ready`);
        assert.equal(ready.status, 200);
        const answer = await infer(url, 'fraud');
        assert.equal(answer.status, 200);
        assert.deepEqual(answer.body.outputs?.find((o) => o.name === 'label')?.data, [0, 1]);
        assert.equal((await infer(url, 'other')).status, 404);
        assert.equal((await fetch(`${url}/api/v1/projects`)).status, 404, 'no control plane in single-model mode');
      } finally {
        await stop(child);
      }
    });
  }

  test('serves a js model (.tgz) in single-model mode with the container environment', async () => {
    const models = await writeJsModels();
    const { url, child } = await serve(
      ['--model-uri', await models.archive('sum'), '--model-name', 'sum', '--grpc-port', '0'],
      { SCALE: '2' },
    );
    try {
      const res = await fetch(`${url}/v2/models/sum/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          inputs: [
            { name: 'a', datatype: 'FP32', shape: [1, 2], data: [1, 2] },
            { name: 'b', datatype: 'FP32', shape: [1, 2], data: [10, 20] },
          ],
        }),
      });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { outputs: { name: string; data: number[] }[] };
      assert.deepEqual(body.outputs.find((o) => o.name === 'sum')?.data, expectedSum([1, 2], [10, 20], 2));
    } finally {
      await stop(child);
      await models.cleanup();
    }
  });

  test('refuses a local file whose sha256 does not match', async () => {
    await assert.rejects(
      serve(['--model-uri', MODEL, '--model-name', 'fraud', '--grpc-port', '0', '--sha256', 'ab'.repeat(32)]),
      /exited 1/,
    );
  });
});

describe('fetch-models', () => {
  async function fetchModels(manifest: object, to: string, artifacts = `s3://${s3.bucket}/models`) {
    const file = join(dir, `models-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(file, JSON.stringify(manifest));
    let stdout = '';
    let stderr = '';
    const code = await main(
      ['fetch-models', '--manifest', file, '--to', to],
      { ...s3Env, MODELPORT_ARTIFACTS: artifacts },
      {
        out: (t) => {
          stdout += t;
        },
        err: (t) => {
          stderr += t;
        },
        interactive: false,
      },
    );
    return { code, stdout, stderr };
  }

  test('downloads each model verified, and keeps a verified copy on a second run', async () => {
    const to = join(dir, 'models');
    const manifest = { models: [{ model: 'fraud', version: 1, sha256, path: '/models/fraud/1' }] };
    const first = await fetchModels(manifest, to);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /fetched fraud@1/);
    assert.equal(await hashFile(join(to, 'fraud', '1')), sha256);
    const second = await fetchModels(manifest, to);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /kept\s+fraud@1/);
  });

  test("reads from a folder artifact store (the server's artifacts mounted read-only)", async () => {
    const folder = join(dir, 'folder-artifacts');
    const { sha256: digest } = await new FolderArtifactStore(folder).putFile(MODEL);
    const to = join(dir, 'models-from-folder');
    const result = await fetchModels({ models: [{ model: 'fraud', version: 1, sha256: digest }] }, to, folder);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await hashFile(join(to, 'fraud', '1')), digest);
  });

  test('an artifact whose bytes do not match its digest fails and leaves no file', async () => {
    const bad = 'cd'.repeat(32);
    await s3.raw.putObject({ Bucket: s3.bucket, Key: `models/sha256/${bad}`, Body: 'not the model' });
    const to = join(dir, 'models-bad');
    const result = await fetchModels({ models: [{ model: 'fraud', version: 2, sha256: bad }] }, to);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /artifact_corrupt|does not match/);
    await assert.rejects(stat(join(to, 'fraud', '2')));
  });
});
