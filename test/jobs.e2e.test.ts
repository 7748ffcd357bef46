/**
 * Batch scoring jobs end to end: a real server on a real home (SQLite + artifact folder), the fraud model registered
 * through the client, inputs uploaded and jobs followed through the CLI and the client, outputs compared byte for
 * byte with `modelport score`. The restart test closes the server mid-job and starts another on the same home.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fraudSignature } from '../examples/fraud/artifacts.ts';
import { type FraudModel, generateTransactions, trainFraudModel } from '../examples/fraud/train.ts';
import { ModelportApiError, ModelportClient } from '../src/client/client.ts';
import { compileServerConfig } from '../src/core/config.ts';
import type { Job } from '../src/jobs/index.ts';
import { memoryLogger } from '../src/logging/index.ts';
import { createRandom } from '../src/onnx-builder/index.ts';
import { type RunningServer, startServer } from '../src/server/server.ts';
import { startS3rver } from '../src/store/artifacts/s3rver.fixture.ts';
import { cli } from './support/cli.ts';
import { REPO_ROOT } from './support/server.ts';

const ROWS = 2000;
/** Rows of the input that batch size 1 makes slow enough to cancel or interrupt mid-run. */
const BIG_ROWS = 60_000;

let home: string;
let dir: string;
let server: RunningServer;
let client: ModelportClient;
let model: FraudModel;
let smallCsv: string;
let bigCsv: string;
let signaturePath: string;

async function start(env: Record<string, string> = {}, s3Endpoint = ''): Promise<void> {
  const config = compileServerConfig({ home, port: '0', grpcPort: '0', example: 'false', s3Endpoint }, env);
  server = await startServer(config, {
    log: memoryLogger(),
    version: 'test',
    examplesDir: join(REPO_ROOT, 'examples'),
  });
  client = new ModelportClient({ url: server.url });
}

const run = (...argv: string[]) => cli(server.url, ...argv);

/** Polls the job until `done` holds for it (a condition, not a fixed sleep); returns every state seen. */
async function waitFor(id: string, done: (job: Job) => boolean): Promise<Job[]> {
  const seen: Job[] = [];
  for (;;) {
    const job = await client.getJob(id);
    seen.push(job);
    if (done(job)) return seen;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const ended = (job: Job) => ['succeeded', 'failed', 'cancelled'].includes(job.state);

function csv(rows: number[][]): string {
  const header = ['id', ...model.featureNames];
  return `${header.join(',')}\n${rows.map((r, i) => [i, ...r].join(',')).join('\n')}\n`;
}

async function upload(path: string): Promise<string> {
  return (await client.uploadJobInput(await readFile(path))).sha256;
}

async function apiError(promise: Promise<unknown>): Promise<ModelportApiError> {
  const error = await promise.then(
    () => assert.fail('expected the call to fail'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof ModelportApiError, String(error));
  return error;
}

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'modelport-jobs-home-'));
  dir = await mkdtemp(join(tmpdir(), 'modelport-jobs-'));
  await start();
  model = trainFraudModel();
  await client.registerVersion('fraud', model.onnx, { aliases: ['champion'] });
  signaturePath = join(dir, 'signature.json');
  await writeFile(signaturePath, JSON.stringify(fraudSignature(model)));
  const rng = createRandom(11);
  smallCsv = join(dir, 'small.csv');
  await writeFile(smallCsv, csv(generateTransactions(rng, ROWS).data));
  bigCsv = join(dir, 'big.csv');
  await writeFile(bigCsv, csv(generateTransactions(rng, BIG_ROWS).data));
});

after(async () => {
  await server?.close();
  await rm(home, { recursive: true, force: true });
  await rm(dir, { recursive: true, force: true });
});

describe('batch scoring jobs', () => {
  test('submit through the CLI, follow progress to the end, download: the same bytes as modelport score', async () => {
    const submitted = await run(
      'jobs',
      'submit',
      'fraud@champion',
      smallCsv,
      '--keep',
      'id',
      '--signature',
      signaturePath,
      '--batch-size',
      '64',
      '-o',
      'json',
    );
    assert.equal(submitted.code, 0, submitted.stderr);
    const job = JSON.parse(submitted.stdout) as Job;
    assert.equal(job.model, 'fraud');
    assert.equal(job.version, 1);
    assert.ok(['queued', 'running'].includes(job.state));

    const seen = await waitFor(job.id, ended);
    const last = seen.at(-1) as Job;
    assert.equal(last.state, 'succeeded', last.reason ?? '');
    for (let i = 1; i < seen.length; i++) {
      assert.ok((seen[i] as Job).progress.rows >= (seen[i - 1] as Job).progress.rows, 'rows never go back');
    }
    const size = (await stat(smallCsv)).size;
    assert.deepEqual(
      { rows: last.progress.rows, read: last.progress.bytesRead, total: last.progress.bytesTotal, rejects: 0 },
      { rows: ROWS, read: size, total: size, rejects: last.progress.rejects },
    );
    assert.ok(last.progress.rowsPerSecond > 0);
    assert.ok(last.output && /^[0-9a-f]{64}$/.test(last.output.sha256));

    const downloaded = join(dir, 'job-out.csv');
    const got = await run('jobs', 'download', job.id, '-o', downloaded);
    assert.equal(got.code, 0, got.stderr);
    const scored = join(dir, 'score-out.csv');
    const local = await run(
      'score',
      'fraud@champion',
      smallCsv,
      '-o',
      scored,
      '--keep',
      'id',
      '--signature',
      signaturePath,
    );
    assert.equal(local.code, 0, local.stderr);
    const jobText = await readFile(downloaded, 'utf8');
    assert.equal(jobText, await readFile(scored, 'utf8'));
    assert.match(jobText, /^id,prediction,probability_legit,probability_fraud\n0,(legit|fraud),/);

    const listed = await run('jobs', 'list');
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`${job.id}\\s+fraud@1\\s+succeeded\\s+100%`));
    const shown = await run('jobs', 'show', job.id);
    assert.match(shown.stdout, /state:\s+succeeded/);
  });

  test('bad rows with onError skip: counted, and downloadable as rejects with their line numbers', async () => {
    const path = join(dir, 'bad.csv');
    const lines = (await readFile(smallCsv, 'utf8')).split('\n').slice(0, 11);
    lines[3] = lines[3]?.replace(/,[^,]*$/, ',abc') ?? '';
    await writeFile(path, `${lines.join('\n')}\n`);
    const job = await client.submitJob({
      model: 'fraud',
      input: { artifact: await upload(path) },
      onError: 'skip',
      outputFormat: 'jsonl',
      signature: { featureNames: [...model.featureNames], labels: [...model.labels] },
    });
    const last = (await waitFor(job.id, ended)).at(-1) as Job;
    assert.equal(last.state, 'succeeded', last.reason ?? '');
    assert.equal(last.progress.rows, 9);
    assert.equal(last.progress.rejects, 1);
    const out = await client.downloadJobOutput(job.id);
    let text = '';
    for await (const chunk of out.body) text += Buffer.from(chunk).toString('utf8');
    assert.equal(text.trimEnd().split('\n').length, 9);
    assert.ok('prediction' in JSON.parse(text.split('\n')[0] as string));
    const rejectsPath = join(dir, 'rejects.csv');
    const got = await run('jobs', 'download', job.id, '--rejects', '-o', rejectsPath);
    assert.equal(got.code, 0, got.stderr);
    assert.match(await readFile(rejectsPath, 'utf8'), /^line,reason,record\n4,.*abc/);
  });

  test('a bad row with onError fail fails the job with its line number; no output', async () => {
    const path = join(dir, 'bad-fail.csv');
    await writeFile(path, `${model.featureNames.join(',')}\n${model.featureNames.map(() => 'x').join(',')}\n`);
    const job = await client.submitJob({ model: 'fraud@1', input: { artifact: await upload(path) } });
    const last = (await waitFor(job.id, ended)).at(-1) as Job;
    assert.equal(last.state, 'failed');
    assert.match(last.reason ?? '', /^line 2: .*onError skip/);
    assert.equal(last.output, null);
    const error = await apiError(client.downloadJobOutput(job.id));
    assert.equal(error.status, 409);
  });

  test('cancel a running job: it stops, says why, and leaves no output or scratch files', async () => {
    const job = await client.submitJob({
      model: 'fraud',
      input: { artifact: await upload(bigCsv) },
      batchSize: 1,
      signature: { featureNames: [...model.featureNames] },
    });
    await waitFor(job.id, (j) => (j.state === 'running' && j.progress.rows > 0) || ended(j));
    const cancelled = await run('jobs', 'cancel', job.id, '-o', 'json');
    assert.equal(cancelled.code, 0, cancelled.stderr);
    const after = JSON.parse(cancelled.stdout) as Job;
    assert.equal(after.state, 'cancelled');
    assert.equal(after.reason, 'cancelled by request');
    assert.ok(after.progress.rows < BIG_ROWS, 'it was stopped before the end');
    assert.equal(after.output, null);
    await assert.rejects(stat(join(home, 'tmp', 'jobs', job.id)), { code: 'ENOENT' });
    const path = join(dir, 'positional.csv');
    await writeFile(
      path,
      `${(await readFile(smallCsv, 'utf8'))
        .split('\n')
        .slice(1, 20)
        .map((l) => l.slice(l.indexOf(',') + 1))
        .join('\n')}\n`,
    );
    // Cancelling again is a no-op; the next job still runs (the slot was freed).
    assert.equal((await client.cancelJob(job.id)).state, 'cancelled');
    const next = await client.submitJob({ model: 'fraud', input: { artifact: await upload(path) } });
    assert.equal(((await waitFor(next.id, ended)).at(-1) as Job).state, 'succeeded');
    const error = await apiError(client.cancelJob(next.id));
    assert.equal(error.code, 'conflict');
  });

  test('a server restart mid-job: the job starts over, says so, and succeeds', async () => {
    const job = await client.submitJob({
      model: 'fraud@champion',
      input: { artifact: await upload(bigCsv) },
      batchSize: 1,
      keep: ['id'],
      signature: { featureNames: [...model.featureNames] },
    });
    await waitFor(job.id, (j) => (j.state === 'running' && j.progress.rows > 0) || ended(j));
    await server.close();
    await start();
    const restarted = await client.getJob(job.id);
    assert.equal(restarted.attempt, 2);
    assert.match(restarted.reason ?? '', /server restarted while the job ran \(attempt 1\); it starts over/);
    const last = (await waitFor(job.id, ended)).at(-1) as Job;
    assert.equal(last.state, 'succeeded', last.reason ?? '');
    assert.equal(last.progress.rows, BIG_ROWS);
    assert.match(last.reason ?? '', /starts over/);
    const out = await client.downloadJobOutput(job.id);
    let lines = 0;
    for await (const chunk of out.body) for (const byte of chunk) if (byte === 10) lines++;
    assert.equal(lines, BIG_ROWS + 1);
  });

  test('bad requests are 4xx naming the field', async () => {
    const input = { artifact: await upload(smallCsv) };
    const cases: [() => Promise<unknown>, number, string, string][] = [
      [() => client.submitJob({ model: 'nope@1', input }), 404, 'not_found', 'body.model'],
      [() => client.submitJob({ model: 'fraud@9', input }), 404, 'not_found', 'body.model'],
      [
        () => client.submitJob({ model: 'fraud', input: { artifact: 'a'.repeat(64) } }),
        404,
        'not_found',
        'body.input.artifact',
      ],
      [
        () => client.submitJob({ model: 'fraud', input: { artifact: 'xyz' } }),
        400,
        'invalid_request',
        'body.input.artifact',
      ],
      [() => client.submitJob({ model: 'fraud', input: {} as never }), 400, 'invalid_request', 'body.input'],
      [() => client.submitJob({ model: 'fraud', input, batchSize: 0 }), 400, 'invalid_request', 'body.batchSize'],
      [
        () => client.submitJob({ model: 'fraud', input, onError: 'ignore' as never }),
        400,
        'invalid_request',
        'body.onError',
      ],
      [() => client.submitJob({ model: 'fraud', input, speed: 'fast' } as never), 400, 'unknown_field', 'body.speed'],
      [() => client.getJob('0123456789ab'), 404, 'not_found', 'id'],
      [() => client.uploadJobInput(new Uint8Array()), 400, 'invalid_request', 'body'],
    ];
    for (const [call, status, code, field] of cases) {
      const error = await apiError(call());
      assert.deepEqual(
        { status: error.status, code: error.code, field: error.field },
        { status, code, field },
        error.message,
      );
    }
    const usage = await run('jobs', 'submit', 'fraud', smallCsv, '--batch-size', '0');
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--batch-size takes a whole number/);
  });
  test("without names in the request, the version's friendly signature names the columns and the labels", async () => {
    await client.setSignature('fraud', 1, {
      features: model.featureNames.map((name) => ({ name, type: 'number' as const })),
      outputs: { labels: [...model.labels] },
    });
    const job = await client.submitJob({ model: 'fraud@1', input: { artifact: await upload(smallCsv) }, keep: ['id'] });
    const last = (await waitFor(job.id, ended)).at(-1) as Job;
    assert.equal(last.state, 'succeeded', last.reason ?? '');
    const downloaded = join(dir, 'friendly-job-out.csv');
    assert.equal((await run('jobs', 'download', job.id, '-o', downloaded)).code, 0);
    const text = await readFile(downloaded, 'utf8');
    assert.match(text, /^id,prediction,probability_legit,probability_fraud\n0,(legit|fraud),/);
    // `modelport score` reads the same signature from the registry: the same bytes, no --signature anywhere.
    const scored = join(dir, 'friendly-score-out.csv');
    const local = await run('score', 'fraud@1', smallCsv, '-o', scored, '--keep', 'id');
    assert.equal(local.code, 0, local.stderr);
    assert.equal(text, await readFile(scored, 'utf8'));
  });

  test("an s3:// input is read with the server's S3 settings; a missing object fails the job naming it", async () => {
    const s3 = await startS3rver();
    try {
      await server.close();
      await start(
        { AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey },
        s3.endpoint,
      );
      await s3.raw.putObject({ Bucket: s3.bucket, Key: 'in/small.csv', Body: await readFile(smallCsv) });
      const signature = { featureNames: [...model.featureNames], labels: [...model.labels] };
      const job = await client.submitJob({
        model: 'fraud',
        input: { url: `s3://${s3.bucket}/in/small.csv` },
        signature,
      });
      const last = (await waitFor(job.id, ended)).at(-1) as Job;
      assert.equal(last.state, 'succeeded', last.reason ?? '');
      assert.equal(last.progress.rows, ROWS);
      assert.equal(last.progress.bytesTotal, (await stat(smallCsv)).size);
      const missing = await client.submitJob({ model: 'fraud', input: { url: `s3://${s3.bucket}/in/none.csv` } });
      const failed = (await waitFor(missing.id, ended)).at(-1) as Job;
      assert.equal(failed.state, 'failed');
      assert.match(failed.reason ?? '', /no object at s3:\/\/.*none\.csv/);
    } finally {
      await s3.stop();
    }
  });
});
