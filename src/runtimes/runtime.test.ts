import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ModelportError } from '../core/index.ts';
import { compileRuntimeSettings, createRuntime, isRuntimeKind, RUNTIME_KINDS } from './runtime.ts';
import { zeroBatch } from './zero-batch.ts';

describe('runtime factory', () => {
  test('knows onnx, js and hosted, and refuses an unknown kind, naming the field', async () => {
    assert.deepEqual([...RUNTIME_KINDS].sort(), ['hosted', 'js', 'onnx']);
    assert.equal(isRuntimeKind('onnx'), true);
    assert.equal(isRuntimeKind('toString'), false);
    await assert.rejects(createRuntime('pickle'), (error: ModelportError) => {
      assert.equal(error.code, 'invalid_request');
      assert.equal(error.field, 'runtime');
      assert.match(error.message, /use one of onnx/);
      return true;
    });
  });

  test('settings get defaults, are frozen, and errors name the knob', () => {
    const settings = compileRuntimeSettings({ intraOpNumThreads: 2 });
    assert.deepEqual(settings, {
      intraOpNumThreads: 2,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      warmup: true,
    });
    assert.ok(Object.isFrozen(settings));
    assert.throws(() => compileRuntimeSettings({ intraOpNumThreads: 0 }), { field: 'settings.intraOpNumThreads' });
    assert.throws(() => compileRuntimeSettings({ interOpNumThreads: 1.5 }), { field: 'settings.interOpNumThreads' });
    assert.throws(() => compileRuntimeSettings({ graphOptimizationLevel: 'max' as 'all' }), {
      field: 'settings.graphOptimizationLevel',
    });
  });

  test('zeroBatch makes dynamic dims 1 and fills zeros of the right type', () => {
    const batch = zeroBatch({
      inputs: [
        { name: 'x', datatype: 'FP32', shape: [-1, 3] },
        { name: 'n', datatype: 'INT64', shape: [] },
        { name: 's', datatype: 'BYTES', shape: [-1] },
      ],
      outputs: [],
    });
    assert.deepEqual(
      batch.map((t) => [t.name, t.shape, t.data.constructor.name, t.data.length]),
      [
        ['x', [1, 3], 'Float32Array', 3],
        ['n', [], 'BigInt64Array', 1],
        ['s', [1], 'Array', 1],
      ],
    );
  });
});
