import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ModelportError } from '../../core/index.ts';
import { DATATYPES, type Tensor } from '../../core/index.ts';
import { runtimeConformance } from '../runtime.conformance.ts';
import { createRuntime } from '../runtime.ts';
import {
  LR_WEIGHTS,
  lrInput,
  SHARED_SKIP,
  sharedModel,
  type TestModels,
  writeTestModels,
} from './model-files.fixture.ts';
import { OnnxRuntime } from './onnx-runtime.ts';

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

runtimeConformance({
  name: 'onnx',
  create: () => createRuntime('onnx'),
  fakes: async () => {
    const files = await writeTestModels();
    return {
      sum: { path: files.sum },
      error: { path: files.broken },
      // The CNN is the slowest of the built models to turn into a session.
      slow: { path: files.cnn },
      crash: { path: files.crash },
      cleanup: () => files.cleanup(),
    };
  },
  expectedSum: (a, b) => a.map((x, i) => Math.fround(x + (b[i] ?? 0))),
});

describe('OnnxRuntime', () => {
  let models: TestModels;
  before(async () => {
    models = await writeTestModels();
  });
  after(() => models.cleanup());

  test('logistic regression: the probabilities and labels ONNX Runtime computes', async () => {
    const runtime = new OnnxRuntime();
    await runtime.load({ path: models.lr, settings: { intraOpNumThreads: 1 } });
    assert.equal(runtime.warmupError, undefined);
    const data = lrInput(3);
    const [label, probabilities] = await runtime.predict([{ name: 'input', datatype: 'FP32', shape: [3, 30], data }]);
    assert.equal(label?.datatype, 'INT64');
    assert.ok(label?.data instanceof BigInt64Array);
    assert.deepEqual(probabilities?.shape, [3, 2]);
    for (let r = 0; r < 3; r++) {
      const z = LR_WEIGHTS.reduce((sum, w, i) => sum + w * (data[r * 30 + i] ?? 0), 0.2);
      assert.ok(Math.abs((probabilities!.data as Float32Array)[r * 2 + 1]! - sigmoid(z)) < 1e-5);
      assert.equal((label!.data as BigInt64Array)[r], sigmoid(z) > 0.5 ? 1n : 0n);
    }
    const only = await runtime.predict(
      [{ name: 'input', datatype: 'FP32', shape: [1, 30], data: lrInput(1) }],
      ['label'],
    );
    assert.deepEqual(
      only.map((t) => t.name),
      ['label'],
    );
    await runtime.unload();
  });

  test('every V2 datatype crosses without loss, typed arrays as they are', async () => {
    const runtime = new OnnxRuntime();
    await runtime.load({ path: models.datatypes });
    const enc = new TextEncoder();
    const data: Record<string, Tensor['data']> = {
      BOOL: new Uint8Array([1, 0, 0, 1]),
      UINT8: new Uint8Array([0, 1, 254, 255]),
      UINT16: new Uint16Array([0, 1, 65534, 65535]),
      UINT32: new Uint32Array([0, 1, 2 ** 32 - 2, 2 ** 32 - 1]),
      UINT64: new BigUint64Array([0n, 1n, 2n ** 64n - 2n, 2n ** 64n - 1n]),
      INT8: new Int8Array([-128, -1, 0, 127]),
      INT16: new Int16Array([-32768, -1, 0, 32767]),
      INT32: new Int32Array([-(2 ** 31), -1, 0, 2 ** 31 - 1]),
      INT64: new BigInt64Array([-(2n ** 63n), -1n, 0n, 2n ** 63n - 1n]),
      FP16: new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001]),
      FP32: new Float32Array([1.5, -2.25, 3.4e38, 1e-45]),
      FP64: new Float64Array([Math.PI, -Math.E, Number.MAX_VALUE, 5e-324]),
      BYTES: [enc.encode('a'), enc.encode(''), enc.encode('héllo'), enc.encode('zz')],
    };
    const inputs: Tensor[] = DATATYPES.map((datatype) => ({
      name: datatype.toLowerCase(),
      datatype,
      shape: [2, 2],
      data: data[datatype] as Tensor['data'],
    }));
    const outputs = await runtime.predict(inputs);
    for (const [i, datatype] of DATATYPES.entries()) {
      const out = outputs[i];
      assert.equal(out?.name, `${datatype.toLowerCase()}_out`);
      assert.equal(out?.datatype, datatype);
      assert.deepEqual(out?.shape, [2, 2]);
      assert.deepEqual(out?.data, data[datatype], datatype);
    }
    await runtime.unload();
  });

  test('warm-up runs on a model with a scalar input; a model that cannot take zeros still loads', async (t) => {
    const multi = new OnnxRuntime();
    await multi.load({ path: models.multi });
    assert.equal(multi.warmupError, undefined);
    await multi.unload();
    const silero = sharedModel('silero_vad');
    if (!silero) return t.skip(SHARED_SKIP);
    const vad = new OnnxRuntime();
    await vad.load({ path: silero });
    assert.match(vad.warmupError ?? '', /Pad/);
    await vad.unload();
  });

  test('an unloadable file is invalid_model, and its message never shows the path', async () => {
    const runtime = new OnnxRuntime();
    await assert.rejects(runtime.load({ path: `${models.dir}/missing.onnx` }), (error: ModelportError) => {
      assert.equal(error.code, 'invalid_model');
      assert.ok(!error.message.includes(models.dir));
      return true;
    });
  });
});
