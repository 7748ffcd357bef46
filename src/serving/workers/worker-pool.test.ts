import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ModelportError, Tensor } from '../../core/index.ts';
import { createRuntime, type ModelRuntime } from '../../runtimes/index.ts';
import { writeJsModels } from '../../runtimes/js/js-models.fixture.ts';
import { alive, lrInput, type TestModels, writeTestModels } from '../../runtimes/onnx/model-files.fixture.ts';
import { DynamicBatcher } from '../batcher/dynamic-batcher.ts';
import { WorkerPool, type WorkerPoolOptions } from './worker-pool.ts';

/** Polls a condition (no fixed sleeps): resolves once it holds; the test's own timeout bounds the wait. */
/** Polls `condition`; gives up after 60 s, so a test cancelled by its suite's timeout never keeps the file alive. */
async function waitFor(condition: () => boolean | Promise<boolean>): Promise<void> {
  const giveUp = Date.now() + 60_000;
  while (!(await condition())) {
    if (Date.now() > giveUp) throw new Error('the condition did not hold within 60 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const lrRows = (rows: number, offset = 0): Tensor[] => [
  { name: 'input', datatype: 'FP32', shape: [rows, 30], data: lrInput(rows, offset) },
];

describe('WorkerPool with ONNX Runtime in worker processes', { timeout: 180_000 }, () => {
  let models: TestModels;
  let reference: ModelRuntime;
  const pools: WorkerPool[] = [];
  const pool = (options: Partial<WorkerPoolOptions> = {}) => {
    const created = new WorkerPool({ kind: 'onnx', load: { path: models.lr }, stdio: 'ignore', ...options });
    pools.push(created);
    return created;
  };
  const pids = (p: WorkerPool) => p.stats().workers.map((w) => w.pid as number);

  before(async () => {
    models = await writeTestModels();
    reference = await createRuntime('onnx');
    await reference.load({ path: models.lr });
  });
  after(async () => {
    await Promise.all(pools.map((p) => p.close()));
    await reference.unload();
    await models.cleanup();
  });

  test('predict through the pool equals predict in-process', async () => {
    const lr = pool({ replicas: 2 });
    await lr.start();
    assert.equal(lr.ready, true);
    assert.deepEqual(lr.signature?.inputs[0]?.shape, [-1, 30]);
    for (const rows of [1, 3, 64]) {
      assert.deepEqual(await lr.predict(lrRows(rows)), await reference.predict(lrRows(rows)));
    }
    assert.deepEqual(
      await lr.predict(lrRows(2), ['probabilities']),
      await reference.predict(lrRows(2), ['probabilities']),
    );

    const cnn = pool({ load: { path: models.cnn, settings: { intraOpNumThreads: 2 } } });
    await cnn.start();
    const image: Tensor[] = [
      {
        name: 'input',
        datatype: 'FP32',
        shape: [2, 1, 28, 28],
        data: new Float32Array(2 * 784).map((_, i) => (i % 29) / 29),
      },
    ];
    const local = await createRuntime('onnx');
    await local.load({ path: models.cnn });
    assert.deepEqual(await cnn.predict(image), await local.predict(image));
    await local.unload();
  });

  test('the batcher merges concurrent requests into the batches the worker runs, and splits answers exactly', async () => {
    const lr = pool({ replicas: 1 });
    await lr.start();
    const batcher = new DynamicBatcher(lr.signature!, lr, { maxBatchSize: 8, minBatchDelayMs: 20 });
    const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => batcher.submit({ inputs: lrRows(1, i) })));
    const [stats] = await lr.workerStats();
    assert.deepEqual(stats?.batchSizes, { 8: 2 });
    for (const [i, answer] of answers.entries()) assert.deepEqual(answer, await reference.predict(lrRows(1, i)));
    // Multi-row requests are merged whole and each gets back exactly its rows.
    const mixed = await Promise.all([
      batcher.submit({ inputs: lrRows(3, 100) }),
      batcher.submit({ inputs: lrRows(5, 200) }),
    ]);
    assert.deepEqual(mixed[0], await reference.predict(lrRows(3, 100)));
    assert.deepEqual(mixed[1], await reference.predict(lrRows(5, 200)));
    const [after8] = await lr.workerStats();
    assert.equal(after8?.batchSizes[8], 3);
    await batcher.close();
  });

  test('kill -9 under load: the batches on that worker run again on the other, none fails; it is restarted', async () => {
    const lr = pool({ replicas: 2, restartDelayMs: 10 });
    await lr.start();
    await waitFor(() => lr.stats().ready === 2);
    const burst = Array.from({ length: 200 }, (_, i) => lr.predict(lrRows(16, i)));
    const victim = lr.stats().workers[0]!;
    const onVictim = victim.inFlight;
    assert.ok(onVictim > 0 && onVictim < 200, `requests spread over both workers (${onVictim} on the victim)`);
    process.kill(victim.pid!, 'SIGKILL');
    const results = await Promise.all(burst);
    for (const [i, outputs] of results.entries()) assert.deepEqual(outputs, await reference.predict(lrRows(16, i)));
    assert.ok(lr.retries > 0 && lr.retries <= onVictim, `${lr.retries} retried, ${onVictim} were on the killed worker`);
    await waitFor(() => lr.restarts === 1 && lr.stats().ready === 2);
    assert.ok(!pids(lr).includes(victim.pid!));
    const later = await Promise.all(Array.from({ length: 10 }, (_, i) => lr.predict(lrRows(1, i))));
    assert.equal(later.length, 10);
  });

  test('kill -9 of the only worker mid-flight: its batches wait for the replacement and are answered', async () => {
    const lr = pool({ replicas: 1, restartDelayMs: 10 });
    await lr.start();
    const [victim] = pids(lr);
    const burst = Array.from({ length: 20 }, (_, i) =>
      lr.predict(lrRows(4, i), undefined, { deadline: Date.now() + 30_000 }),
    );
    process.kill(victim!, 'SIGKILL');
    const results = await Promise.all(burst);
    for (const [i, outputs] of results.entries()) assert.deepEqual(outputs, await reference.predict(lrRows(4, i)));
    assert.equal(lr.restarts, 1);
    assert.ok(!pids(lr).includes(victim!));
  });

  test('a batch that crashes two workers fails with worker_failed (503, Retry-After); other batches are answered', async () => {
    const js = await writeJsModels();
    const crashes = pool({ kind: 'js', load: { path: await js.archive('dies') }, replicas: 2, restartDelayMs: 10 });
    try {
      await crashes.start();
      await waitFor(() => crashes.stats().ready === 2);
      const pair = (a: number) =>
        [
          { name: 'a', datatype: 'FP32', shape: [1, 2], data: new Float32Array([a, a]) },
          { name: 'b', datatype: 'FP32', shape: [1, 2], data: new Float32Array([1, 1]) },
        ] satisfies Tensor[];
      const poison = crashes.predict(pair(-1), undefined, { deadline: Date.now() + 30_000 });
      await assert.rejects(poison, (error: ModelportError) => {
        assert.equal(error.code, 'worker_failed');
        assert.equal(error.httpStatus, 503);
        assert.equal(error.retryAfter, 1);
        return true;
      });
      assert.equal(crashes.retries, 1);
      const [sum] = await crashes.predict(pair(2));
      assert.deepEqual([...(sum!.data as Float32Array)], [3, 3]);
    } finally {
      await crashes.close();
      await js.cleanup();
    }
  });

  test('a hung worker is killed on its request timeout and replaced', async () => {
    const lr = pool({ replicas: 1, requestTimeoutMs: 500, restartDelayMs: 10 });
    await lr.start();
    const [hung] = pids(lr);
    process.kill(hung!, 'SIGSTOP');
    await assert.rejects(lr.predict(lrRows(1)), (error: ModelportError) => {
      assert.equal(error.code, 'timeout');
      return true;
    });
    await waitFor(() => !alive(hung!));
    // Requests sent while it restarts wait for the new worker instead of failing.
    assert.deepEqual(await lr.predict(lrRows(2)), await reference.predict(lrRows(2)));
    assert.equal(lr.restarts, 1);
    assert.notEqual(pids(lr)[0], hung);
  });

  test('scaleTo grows and shrinks at run time; scaled to zero it refuses until scaled up; close leaves no process', async () => {
    const lr = pool({ replicas: 1 });
    await lr.start();
    const seen = new Set(pids(lr));
    lr.scaleTo(3);
    await waitFor(() => lr.stats().ready === 3);
    for (const pid of pids(lr)) seen.add(pid);
    assert.equal(seen.size, 3);
    lr.scaleTo(1);
    await waitFor(() => lr.stats().workers.length === 1);
    assert.equal([...seen].filter(alive).length, 1);
    lr.scaleTo(0);
    await waitFor(() => lr.stats().workers.length === 0);
    assert.equal(lr.ready, false);
    assert.deepEqual([...seen].filter(alive), []);
    await assert.rejects(lr.predict(lrRows(1)), { code: 'not_ready', retryAfter: 1 });
    // Start on demand: scale up, hold the request until the worker is ready.
    lr.scaleTo(1);
    const held = lr.predict(lrRows(1));
    assert.deepEqual(await held, await reference.predict(lrRows(1)));
    for (const pid of pids(lr)) seen.add(pid);
    lr.scaleTo(2);
    await waitFor(() => lr.stats().ready === 2);
    for (const pid of pids(lr)) seen.add(pid);
    const inFlight = lr.predict(lrRows(4));
    await lr.close();
    assert.deepEqual(await inFlight, await reference.predict(lrRows(4)), 'close waits for in-flight work');
    assert.deepEqual([...seen].filter(alive), []);
    assert.equal(lr.restarts, 0);
    await assert.rejects(lr.predict(lrRows(1)), { code: 'not_ready' });
  });

  test('a model that cannot load fails start with invalid_model and leaves no process', async () => {
    const bad = join(models.dir, 'bad.onnx');
    await writeFile(bad, new Uint8Array([0x08, 0x08, 0x3a, 0x02, 0x0a, 0x00]));
    const events: string[] = [];
    const broken = pool({ load: { path: bad }, replicas: 2, onEvent: (e) => events.push(e.type) });
    await assert.rejects(broken.start(), (error: ModelportError) => {
      assert.equal(error.code, 'invalid_model');
      assert.ok(!error.message.includes(models.dir));
      return true;
    });
    assert.ok(events.includes('load_failed'));
    await waitFor(() => broken.stats().workers.length === 0);
    assert.equal(broken.ready, false);
  });

  test('a worker exits when its parent dies (no orphans)', async () => {
    const fixture = fileURLToPath(new URL('./orphan.fixture.ts', import.meta.url));
    const parent = spawn(process.execPath, [fixture, models.lr], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    parent.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    try {
      await waitFor(() => out.includes('\n') || parent.exitCode !== null);
      const workerPid = Number(out.trim());
      assert.ok(alive(workerPid));
      parent.kill('SIGKILL');
      await waitFor(() => !alive(workerPid));
    } finally {
      parent.kill('SIGKILL');
    }
  });
});
