import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import type { InferRequest, ModelportError, ModelSignature, Tensor } from '../../core/index.ts';
import { compileBatcherOptions } from './batcher-options.ts';
import { type BatchExecutor, DynamicBatcher } from './dynamic-batcher.ts';

/** x FP32 [N, F] -> y = 2x and z = x + 1, both [N, F]. */
const SIGNATURE: ModelSignature = {
  inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, -1] }],
  outputs: [
    { name: 'y', datatype: 'FP32', shape: [-1, -1] },
    { name: 'z', datatype: 'FP32', shape: [-1, -1] },
  ],
};

interface Call {
  inputs: Tensor[];
  outputs: string[] | undefined;
  rows: number;
  answer(): void;
  fail(error: Error): void;
}

/** An executor that records each batch and answers only when the test says so: y = 2x, z = x + 1. */
function doublingExecutor(capacity = 1): BatchExecutor & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    capacity: () => capacity,
    predict(inputs, outputs) {
      return new Promise((resolve, reject) => {
        const x = inputs[0] as Tensor;
        const values = x.data as Float32Array;
        const all: Tensor[] = [
          { name: 'y', datatype: 'FP32', shape: x.shape, data: values.map((v) => v * 2) },
          { name: 'z', datatype: 'FP32', shape: x.shape, data: values.map((v) => v + 1) },
        ];
        calls.push({
          inputs,
          outputs,
          rows: x.shape[0] ?? 0,
          answer: () => resolve(outputs ? all.filter((t) => outputs.includes(t.name)) : all),
          fail: reject,
        });
      });
    },
  };
}

/** A request of `rows` rows and `features` columns, row r holding first + r in every column. */
function request(rows: number, first: number, options: { features?: number; outputs?: string[] } = {}): InferRequest {
  const features = options.features ?? 2;
  const data = new Float32Array(rows * features).map((_, i) => first + Math.floor(i / features));
  const req: InferRequest = { inputs: [{ name: 'x', datatype: 'FP32', shape: [rows, features], data }] };
  if (options.outputs) req.outputs = options.outputs.map((name) => ({ name }));
  return req;
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function useClock(t: TestContext): void {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
}

describe('DynamicBatcher', () => {
  test('work-conserving by default: a lone request is sent at once, with zero time elapsed', async (t) => {
    useClock(t);
    const executor = doublingExecutor();
    const batcher = new DynamicBatcher(SIGNATURE, executor, { maxQueueDelayMs: 50 });
    const started = Date.now();
    const answer = batcher.submit(request(1, 3));
    assert.equal(executor.calls.length, 1);
    assert.equal(Date.now() - started, 0);
    executor.calls[0]?.answer();
    const [y] = await answer;
    assert.deepEqual([...(y!.data as Float32Array)], [6, 6]);
  });

  test('the next batch is sent before the finished batch callers are answered (the worker never waits on them)', async (t) => {
    useClock(t);
    const executor = doublingExecutor();
    const batcher = new DynamicBatcher(SIGNATURE, executor, { maxBatchSize: 8 });
    const events: string[] = [];
    const first = batcher
      .submit(request(1, 1))
      .then(() => events.push(`answered first with ${executor.calls.length} batches sent`));
    const queued = [batcher.submit(request(1, 2)), batcher.submit(request(1, 3))];
    assert.equal(executor.calls.length, 1);
    executor.calls[0]?.answer();
    await first;
    assert.deepEqual(events, ['answered first with 2 batches sent']);
    assert.equal(executor.calls[1]?.rows, 2);
    executor.calls[1]?.answer();
    await Promise.all(queued);
  });

  test('work-conserving under load: batches form from what gathers while every worker is busy, up to maxBatchSize', async (t) => {
    useClock(t);
    const executor = doublingExecutor(2);
    const batcher = new DynamicBatcher(SIGNATURE, executor, { maxBatchSize: 4 });
    const answers = Array.from({ length: 11 }, (_, i) => batcher.submit(request(1, i)));
    // Two free slots: the first two requests go alone at once, no timer involved. Then requests pile up faster than
    // the workers drain them: each full batch of 4 goes at once to wait behind a running one (one per worker); the
    // eleventh stays queued, an incomplete batch waits for a free worker.
    assert.deepEqual(
      executor.calls.map((c) => c.rows),
      [1, 1, 4, 4],
    );
    executor.calls[0]?.answer();
    executor.calls[1]?.answer();
    await settle();
    assert.deepEqual(
      executor.calls.map((c) => c.rows),
      [1, 1, 4, 4],
    );
    executor.calls[2]?.answer();
    await settle();
    assert.deepEqual(
      executor.calls.map((c) => c.rows),
      [1, 1, 4, 4, 1],
    );
    for (const call of executor.calls.slice(3)) call.answer();
    const results = await Promise.all(answers);
    assert.deepEqual(
      results.map((r) => (r[0]!.data as Float32Array)[0]),
      Array.from({ length: 11 }, (_, i) => 2 * i),
    );
  });

  test('with minBatchDelayMs a lone request waits exactly that long, then runs alone', async (t) => {
    useClock(t);
    const executor = doublingExecutor();
    const batcher = new DynamicBatcher(SIGNATURE, executor, { minBatchDelayMs: 5 });
    const answer = batcher.submit(request(1, 3));
    t.mock.timers.tick(4);
    assert.equal(executor.calls.length, 0);
    t.mock.timers.tick(1);
    assert.equal(executor.calls.length, 1);
    executor.calls[0]?.answer();
    const [y, z] = await answer;
    assert.deepEqual([...(y!.data as Float32Array)], [6, 6]);
    assert.deepEqual([...(z!.data as Float32Array)], [4, 4]);
  });

  test('a full batch runs at once; answers split back exactly by row counts', async (t) => {
    useClock(t);
    const executor = doublingExecutor();
    const batcher = new DynamicBatcher(SIGNATURE, executor, { maxBatchSize: 6, minBatchDelayMs: 50 });
    const answers = [batcher.submit(request(1, 10)), batcher.submit(request(3, 20)), batcher.submit(request(2, 30))];
    assert.deepEqual(
      executor.calls.map((c) => c.rows),
      [6],
    );
    assert.deepEqual(
      [...(executor.calls[0]!.inputs[0]!.data as Float32Array)],
      [10, 10, 20, 20, 21, 21, 22, 22, 30, 30, 31, 31],
    );
    executor.calls[0]?.answer();
    const [a, b, c] = await Promise.all(answers);
    assert.deepEqual(
      a?.map((o) => [o.name, o.shape, [...(o.data as Float32Array)]]),
      [
        ['y', [1, 2], [20, 20]],
        ['z', [1, 2], [11, 11]],
      ],
    );
    assert.deepEqual([...(b![0]!.data as Float32Array)], [40, 40, 42, 42, 44, 44]);
    assert.deepEqual(b?.[0]?.shape, [3, 2]);
    assert.deepEqual([...(c![1]!.data as Float32Array)], [31, 31, 32, 32]);
  });

  test('requests are merged whole: one that would overflow the batch waits for the next', async (t) => {
    useClock(t);
    const executor = doublingExecutor(2);
    const batcher = new DynamicBatcher(SIGNATURE, executor, { maxBatchSize: 4, minBatchDelayMs: 5 });
    void batcher.submit(request(3, 0));
    assert.equal(executor.calls.length, 0);
    void batcher.submit(request(2, 0));
    assert.deepEqual(
      executor.calls.map((c) => c.rows),
      [3],
    );
    t.mock.timers.tick(5);
    assert.deepEqual(
      executor.calls.map((c) => c.rows),
      [3, 2],
    );
  });

  test('a preferred batch size runs at once, cut at the largest preferred size reached', async (t) => {
    useClock(t);
    const executor = doublingExecutor(2);
    const batcher = new DynamicBatcher(SIGNATURE, executor, {
      maxBatchSize: 8,
      preferredBatchSizes: [2],
      minBatchDelayMs: 5,
    });
    void batcher.submit(request(1, 0));
    assert.equal(executor.calls.length, 0);
    void batcher.submit(request(1, 1));
    assert.deepEqual(
      executor.calls.map((c) => c.rows),
      [2],
    );
  });

  test('requests asking for different outputs or with different non-batch dims are never merged', async (t) => {
    useClock(t);
    const executor = doublingExecutor(4);
    const batcher = new DynamicBatcher(SIGNATURE, executor, { minBatchDelayMs: 5 });
    const answers = [
      batcher.submit(request(1, 1)),
      batcher.submit(request(1, 2, { outputs: ['z'] })),
      batcher.submit(request(1, 3, { features: 3 })),
      batcher.submit(request(1, 4)),
    ];
    t.mock.timers.tick(5);
    assert.deepEqual(
      executor.calls.map((c) => [c.rows, c.outputs, c.inputs[0]?.shape]),
      [
        [2, undefined, [2, 2]],
        [1, ['z'], [1, 2]],
        [1, undefined, [1, 3]],
      ],
    );
    for (const call of executor.calls) call.answer();
    const [first, second, third, fourth] = await Promise.all(answers);
    assert.deepEqual([...(first![0]!.data as Float32Array)], [2, 2]);
    assert.deepEqual(
      second?.map((o) => [o.name, [...(o.data as Float32Array)]]),
      [['z', [3, 3]]],
    );
    assert.deepEqual([...(third![0]!.data as Float32Array)], [6, 6, 6]);
    assert.deepEqual([...(fourth![0]!.data as Float32Array)], [8, 8]);
  });

  test('while the executor is at capacity requests gather, then run together', async (t) => {
    useClock(t);
    const executor = doublingExecutor(1);
    const batcher = new DynamicBatcher(SIGNATURE, executor, { minBatchDelayMs: 1 });
    const answers = [batcher.submit(request(1, 0))];
    t.mock.timers.tick(1);
    for (let i = 1; i <= 5; i++) answers.push(batcher.submit(request(1, i)));
    t.mock.timers.tick(100);
    assert.deepEqual(
      executor.calls.map((c) => c.rows),
      [1],
    );
    assert.equal(batcher.stats().queued, 5);
    executor.calls[0]?.answer();
    await settle();
    assert.deepEqual(
      executor.calls.map((c) => c.rows),
      [1, 5],
    );
    executor.calls[1]?.answer();
    const results = await Promise.all(answers);
    assert.deepEqual(
      results.map((r) => (r[0]!.data as Float32Array)[0]),
      [0, 2, 4, 6, 8, 10],
    );
    assert.deepEqual(batcher.stats(), { queued: 0, runningBatches: 0, batches: 2, rows: 6, rejected: 0, dropped: 0 });
  });

  test('a full queue rejects at once with overloaded and Retry-After 1', async (t) => {
    useClock(t);
    const executor = doublingExecutor(1);
    const batcher = new DynamicBatcher(SIGNATURE, executor, { maxQueueSize: 2, minBatchDelayMs: 0 });
    const running = batcher.submit(request(1, 0));
    const queued = [batcher.submit(request(1, 1)), batcher.submit(request(1, 2))];
    await assert.rejects(batcher.submit(request(1, 3)), (error: ModelportError) => {
      assert.equal(error.code, 'overloaded');
      assert.equal(error.retryAfter, 1);
      return true;
    });
    assert.equal(batcher.stats().rejected, 1);
    executor.calls[0]?.answer();
    await running;
    await settle();
    executor.calls[1]?.answer();
    assert.equal((await Promise.all(queued)).length, 2);
  });

  test('admit refuses with overloaded before anything is read once the queue is full, and admits again after', async (t) => {
    useClock(t);
    const executor = doublingExecutor(1);
    const batcher = new DynamicBatcher(SIGNATURE, executor, { maxQueueSize: 1 });
    batcher.admit();
    const running = batcher.submit(request(1, 0));
    const queued = batcher.submit(request(1, 1));
    assert.throws(() => batcher.admit(), { code: 'overloaded', retryAfter: 1 });
    assert.equal(batcher.stats().rejected, 1);
    executor.calls[0]?.answer();
    await running;
    await settle();
    assert.equal(batcher.stats().queued, 0);
    batcher.admit();
    executor.calls[1]?.answer();
    await queued;
  });

  test('a request cancelled while queued is removed and never runs', async (t) => {
    useClock(t);
    const executor = doublingExecutor(1);
    const batcher = new DynamicBatcher(SIGNATURE, executor, { minBatchDelayMs: 5 });
    const controller = new AbortController();
    const cancelled = batcher.submit(request(1, 7), { signal: controller.signal });
    const kept = batcher.submit(request(1, 8));
    controller.abort();
    await assert.rejects(cancelled, { code: 'timeout' });
    t.mock.timers.tick(5);
    assert.deepEqual(
      executor.calls.map((c) => [...(c.inputs[0]!.data as Float32Array)]),
      [[8, 8]],
    );
    executor.calls[0]?.answer();
    await kept;
    assert.equal(batcher.stats().dropped, 1);
    await assert.rejects(batcher.submit(request(1, 9), { signal: AbortSignal.abort() }), { code: 'timeout' });
  });

  test('a request whose deadline passes while queued is dropped and never runs', async (t) => {
    useClock(t);
    const executor = doublingExecutor(1);
    const batcher = new DynamicBatcher(SIGNATURE, executor, { minBatchDelayMs: 0, timeoutMs: 1000 });
    const busy = batcher.submit(request(1, 0));
    const late = batcher.submit(request(1, 1), { deadline: Date.now() + 10 });
    const defaulted = batcher.submit(request(1, 2));
    t.mock.timers.tick(10);
    await assert.rejects(late, { code: 'timeout' });
    t.mock.timers.tick(990);
    await assert.rejects(defaulted, { code: 'timeout' });
    // The running one passed its deadline too: its caller is answered now; the late result is discarded.
    await assert.rejects(busy, { code: 'timeout' });
    executor.calls[0]?.answer();
    await settle();
    assert.equal(executor.calls.length, 1);
    assert.equal(batcher.stats().dropped, 2);
    await assert.rejects(batcher.submit(request(1, 3), { deadline: Date.now() }), { code: 'timeout' });
  });

  test('a model without a dynamic first dimension is not batched, but still queued and bounded', async (t) => {
    useClock(t);
    const fixed: ModelSignature = {
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 2] }],
    };
    const executor = doublingExecutor(1);
    const batcher = new DynamicBatcher(fixed, executor, { minBatchDelayMs: 50, maxQueueSize: 1 });
    assert.equal(batcher.batching, false);
    // Unbatched, a worker holds up to 8 requests (it runs them one after another), each sent alone at once, with no
    // wait for companions; the ninth queues, the tenth finds the queue full.
    const answers = Array.from({ length: 9 }, (_, i) => batcher.submit(request(1, i)));
    await assert.rejects(batcher.submit(request(1, 9)), { code: 'overloaded' });
    assert.deepEqual(
      executor.calls.map((c) => c.rows),
      [1, 1, 1, 1, 1, 1, 1, 1],
    );
    executor.calls[0]?.answer();
    await answers[0];
    await settle();
    assert.equal(executor.calls.length, 9);
    for (const call of executor.calls.slice(1)) call.answer();
    assert.deepEqual(
      (await Promise.all(answers)).map((r) => (r[0]!.data as Float32Array)[0]),
      Array.from({ length: 9 }, (_, i) => 2 * i),
    );
  });

  test('a failed batch fails each of its requests; an output not batched on dim 0 fails a merged batch', async (t) => {
    useClock(t);
    const executor = doublingExecutor(1);
    const batcher = new DynamicBatcher(SIGNATURE, executor, { maxBatchSize: 2, minBatchDelayMs: 1 });
    const pair = [batcher.submit(request(1, 0)), batcher.submit(request(1, 1))];
    executor.calls[0]?.fail(new Error('boom'));
    for (const answer of pair) await assert.rejects(answer, { code: 'internal' });

    const broken: BatchExecutor = {
      capacity: () => 1,
      predict: async () => [{ name: 'y', datatype: 'FP32', shape: [1], data: new Float32Array(1) }],
    };
    const other = new DynamicBatcher(SIGNATURE, broken, { maxBatchSize: 2, minBatchDelayMs: 1 });
    const merged = [other.submit(request(1, 0)), other.submit(request(1, 1))];
    for (const answer of merged) await assert.rejects(answer, /not batched along its first dimension/);
  });

  test('close sends what is queued without waiting and resolves once answered; later requests are refused', async (t) => {
    useClock(t);
    const executor = doublingExecutor(1);
    const batcher = new DynamicBatcher(SIGNATURE, executor, { minBatchDelayMs: 1000 });
    const answer = batcher.submit(request(1, 5));
    let closed = false;
    const closing = batcher.close().then(() => {
      closed = true;
    });
    assert.equal(executor.calls.length, 1);
    await assert.rejects(batcher.submit(request(1, 6)), { code: 'not_ready' });
    await settle();
    assert.equal(closed, false);
    executor.calls[0]?.answer();
    await answer;
    await closing;
    assert.equal(closed, true);
  });

  test('rejects inputs whose first dimensions disagree', async () => {
    const two: ModelSignature = {
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [-1] },
        { name: 'b', datatype: 'FP32', shape: [-1] },
      ],
      outputs: [{ name: 'y', datatype: 'FP32', shape: [-1] }],
    };
    const batcher = new DynamicBatcher(two, doublingExecutor());
    const req: InferRequest = {
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [2], data: new Float32Array(2) },
        { name: 'b', datatype: 'FP32', shape: [3], data: new Float32Array(3) },
      ],
    };
    await assert.rejects(batcher.submit(req), { code: 'invalid_input', field: 'inputs' });
  });
});

describe('compileBatcherOptions', () => {
  test('documented defaults, frozen', () => {
    const config = compileBatcherOptions();
    assert.deepEqual(config, {
      maxBatchSize: 32,
      minBatchDelayMs: 0,
      maxQueueDelayMs: 1,
      preferredBatchSizes: [],
      maxQueueSize: 256,
      timeoutMs: 30_000,
    });
    assert.ok(Object.isFrozen(config));
    assert.deepEqual(compileBatcherOptions({ preferredBatchSizes: [16, 4, 16] }).preferredBatchSizes, [4, 16]);
    // The bound follows a larger minimum delay when it is not given.
    assert.equal(compileBatcherOptions({ minBatchDelayMs: 5 }).maxQueueDelayMs, 5);
  });

  test('errors name the option', () => {
    const cases: [object, string][] = [
      [{ maxBatchSize: 0 }, 'batching.maxBatchSize'],
      [{ maxBatchSize: 2.5 }, 'batching.maxBatchSize'],
      [{ maxQueueDelayMs: -1 }, 'batching.maxQueueDelayMs'],
      [{ maxQueueDelayMs: Number.NaN }, 'batching.maxQueueDelayMs'],
      [{ minBatchDelayMs: -1 }, 'batching.minBatchDelayMs'],
      [{ minBatchDelayMs: 5, maxQueueDelayMs: 2 }, 'batching.minBatchDelayMs'],
      [{ preferredBatchSizes: [64] }, 'batching.preferredBatchSizes'],
      [{ maxQueueSize: 0 }, 'batching.maxQueueSize'],
      [{ timeoutMs: 0 }, 'batching.timeoutMs'],
    ];
    for (const [options, field] of cases) {
      assert.throws(() => compileBatcherOptions(options), { code: 'invalid_request', field }, field);
    }
  });
});
