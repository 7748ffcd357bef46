import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ModelportError } from '../core/index.ts';
import { buildLogisticRegressionModel } from '../onnx-builder/index.ts';
import { InProcessScorer } from '../scoring/index.ts';
import { evaluateInChild } from './evaluate-process.ts';
import { evaluateModel } from './evaluation.ts';

let dir: string;
let job: { model: string; file: string; label: string; task: 'classification'; threshold: number };

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelport-evaluate-'));
  const model = join(dir, 'model.onnx');
  await writeFile(model, buildLogisticRegressionModel({ weights: [2, -1], bias: 0, featureCount: 2 }));
  const rows = ['a,b,y'];
  for (let i = 0; i < 200; i++) rows.push(`${(i % 7) - 3},${(i % 5) - 2},${(i * 3) % 7 > 3 ? 1 : 0}`);
  const file = join(dir, 'holdout.csv');
  await writeFile(file, `${rows.join('\n')}\n`);
  job = { model, file, label: 'y', task: 'classification', threshold: 0.5 };
});
after(() => rm(dir, { recursive: true, force: true }));

test('the child process measures the same metrics as the in-process scorer', async () => {
  const child = await evaluateInChild(job, { timeoutMs: 60_000 });
  const scorer = await InProcessScorer.open(job.model);
  try {
    const here = await evaluateModel(scorer, scorer.signature, job);
    assert.deepEqual(child, here);
    assert.equal(child.rows, 200);
  } finally {
    await scorer.close();
  }
});

test("a bad label is the child's error, reported as such", async () => {
  await assert.rejects(
    evaluateInChild({ ...job, label: 'nope' }, { timeoutMs: 60_000 }),
    (error: unknown) => error instanceof ModelportError && /no header column 'nope'/.test(error.message),
  );
});

test('past its timeout, or on cancel, the child is killed and the evaluation fails saying so', async () => {
  await assert.rejects(
    evaluateInChild(job, { timeoutMs: 1 }),
    (error: unknown) => error instanceof ModelportError && error.code === 'timeout',
  );
  const abort = new AbortController();
  const pending = evaluateInChild(job, { timeoutMs: 60_000, signal: abort.signal });
  abort.abort();
  await assert.rejects(pending, /cancelled/);
});
