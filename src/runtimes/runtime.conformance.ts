/**
 * The runtime conformance suite: every `ModelRuntime` (onnx, js, hosted, and any new one) runs it from its own
 * test file with its own fakes, named for what they do (after MLServer's test fixtures):
 *
 * - `SumModel`: inputs `a`, `b` FP32 [-1, 2]; output `sum` (what `expectedSum` says, row by row);
 * - `ErrorModel`: its load fails with a `ModelportError` (a broken file, a load that throws);
 * - `SlowModel`: takes a while to load, so an abort lands while the load is in flight;
 * - `CrashModel`: loads, but every predict fails; for runtimes that warm up, the warm-up failure shows in
 *   `warmupError` and the model still loads.
 *
 * A runtime that cannot run a case says why in `skip` (a written reason, shown in the test output).
 *
 * Example (in onnx-runtime.test.ts):
 *   runtimeConformance({ name: 'onnx', create: () => createRuntime('onnx'), fakes: () => onnxFakes(dir), ... });
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Tensor } from '../core/index.ts';
import { ModelportError } from '../core/index.ts';
import type { ModelRuntime, RuntimeLoadOptions } from './runtime.ts';
import { zeroBatch } from './zero-batch.ts';

export interface RuntimeFakes {
  sum: RuntimeLoadOptions;
  error: RuntimeLoadOptions;
  slow: RuntimeLoadOptions;
  crash: RuntimeLoadOptions;
  /** Removes what the fakes made (temp folders, servers). */
  cleanup?(): Promise<void>;
}

export interface RuntimeConformanceOptions {
  /** The runtime kind, for test names. */
  name: string;
  /** A fresh, unloaded runtime (through `createRuntime` where the kind allows, so the factory is covered). */
  create(): Promise<ModelRuntime>;
  /** Writes (or starts) the fakes; called once, before the cases. */
  fakes(): Promise<RuntimeFakes>;
  /** What SumModel answers for one row `a`, `b` (each 2 numbers), as float32 values. */
  expectedSum(a: number[], b: number[]): number[];
  /** Cases this runtime cannot run, each with the reason. */
  skip?: { warmup?: string };
}

const sumBatch = (a: number[][], b: number[][]): Tensor[] => [
  { name: 'a', datatype: 'FP32', shape: [a.length, 2], data: new Float32Array(a.flat()) },
  { name: 'b', datatype: 'FP32', shape: [b.length, 2], data: new Float32Array(b.flat()) },
];

const isNotReady = (error: unknown) => error instanceof ModelportError && error.code === 'not_ready';

/** Asserts that `runtime` holds no model: signature and predict are `not_ready`. */
async function assertNotLoaded(runtime: ModelRuntime): Promise<void> {
  assert.throws(() => runtime.signature(), isNotReady);
  await assert.rejects(runtime.predict(sumBatch([[1, 2]], [[3, 4]])), isNotReady);
}

export function runtimeConformance(options: RuntimeConformanceOptions): void {
  describe(`runtime conformance: ${options.name}`, { timeout: 120_000 }, () => {
    let fakes: RuntimeFakes;
    const made: ModelRuntime[] = [];
    const fresh = async () => {
      const runtime = await options.create();
      made.push(runtime);
      return runtime;
    };
    before(async () => {
      fakes = await options.fakes();
    });
    after(async () => {
      for (const runtime of made) await runtime.unload().catch(() => {});
      await fakes?.cleanup?.();
    });

    test('SumModel: load -> predict -> unload; every output, or only those asked for', async () => {
      const runtime = await fresh();
      await runtime.load(fakes.sum);
      const signature = runtime.signature();
      assert.deepEqual(
        signature.inputs.map((i) => i.name),
        ['a', 'b'],
      );
      assert.ok(signature.outputs.some((o) => o.name === 'sum'));
      const rows = {
        a: [
          [1, 2],
          [3, 4],
        ],
        b: [
          [10, 20],
          [30, 40],
        ],
      };
      const outputs = await runtime.predict(sumBatch(rows.a, rows.b));
      assert.deepEqual(
        outputs.map((o) => o.name),
        signature.outputs.map((o) => o.name),
        'all outputs, in the order of the signature',
      );
      const sum = outputs.find((o) => o.name === 'sum');
      assert.deepEqual(sum?.shape, [2, 2]);
      assert.deepEqual(
        [...(sum!.data as Float32Array)],
        [...options.expectedSum([1, 2], [10, 20]), ...options.expectedSum([3, 4], [30, 40])],
      );
      const only = await runtime.predict(sumBatch([[0, 0]], [[1, 1]]), ['sum']);
      assert.deepEqual(
        only.map((o) => o.name),
        ['sum'],
      );
      await runtime.unload();
    });

    test('predict before load and after unload is not_ready; unload is idempotent; it loads again', async () => {
      const runtime = await fresh();
      await assertNotLoaded(runtime);
      await runtime.unload();
      await runtime.load(fakes.sum);
      await runtime.unload();
      await runtime.unload();
      await assertNotLoaded(runtime);
      await runtime.load(fakes.sum);
      assert.equal((await runtime.predict(sumBatch([[1, 1]], [[1, 1]]), ['sum'])).length, 1);
      await runtime.unload();
    });

    test('ErrorModel: the load fails with a coded error and leaves nothing behind', async () => {
      const runtime = await fresh();
      await assert.rejects(runtime.load(fakes.error), (error: unknown) => {
        assert.ok(error instanceof ModelportError, `a ModelportError, got ${String(error)}`);
        assert.ok(['invalid_model', 'invalid_config'].includes(error.code), error.code);
        return true;
      });
      await assertNotLoaded(runtime);
      await runtime.load(fakes.sum);
      await runtime.unload();
    });

    test('SlowModel: a load aborted while in flight rejects and leaves nothing behind', async () => {
      const runtime = await fresh();
      const controller = new AbortController();
      const loading = runtime.load(fakes.slow, controller.signal);
      controller.abort();
      await assert.rejects(loading);
      await assertNotLoaded(runtime);
      // Nothing is held: the next load is accepted (a held model would be a `conflict`).
      await runtime.load(fakes.sum);
      await runtime.unload();
    });

    test('CrashModel: a failing predict rejects, and the runtime stays usable', async () => {
      const runtime = await fresh();
      await runtime.load(fakes.crash);
      await assert.rejects(runtime.predict(zeroBatch(runtime.signature())));
      await assert.rejects(runtime.predict(zeroBatch(runtime.signature())), 'fails again, the same way');
      await runtime.unload();
      await assertNotLoaded(runtime);
    });

    test('warm-up errors surface in warmupError; the model still loads', async (t) => {
      if (options.skip?.warmup) return t.skip(options.skip.warmup);
      const runtime = await fresh();
      await runtime.load(fakes.sum);
      assert.equal(runtime.warmupError, undefined, 'SumModel warms up cleanly');
      await runtime.unload();
      const crashing = await fresh();
      await crashing.load(fakes.crash);
      assert.equal(typeof crashing.warmupError, 'string');
      assert.ok((crashing.warmupError ?? '').length > 0);
      const skipped = await fresh();
      await skipped.load({ ...fakes.crash, settings: { ...fakes.crash.settings, warmup: false } });
      assert.equal(skipped.warmupError, undefined, 'no warm-up, no warm-up error');
      await Promise.all([crashing.unload(), skipped.unload()]);
    });
  });
}
