import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import ort from 'onnxruntime-node';
import { ModelportError } from '../core/index.ts';
import { buildLogisticRegressionModel } from './logistic-regression-model.ts';
import { createRandom } from './random.ts';

describe('buildLogisticRegressionModel', () => {
  test('ONNX Runtime gives sigmoid(x.w + b) and its argmax, row by row', async () => {
    const rng = createRandom(7);
    const featureCount = 5;
    const weights = Array.from({ length: featureCount }, () => rng.normal());
    const bias = -0.3;
    const rows = 64;
    const x = Float32Array.from({ length: rows * featureCount }, () => 3 * rng.normal());
    const session = await ort.InferenceSession.create(buildLogisticRegressionModel({ weights, bias, featureCount }));
    try {
      const out = await session.run({ input: new ort.Tensor('float32', x, [rows, featureCount]) });
      const probabilities = out['probabilities']!.data as Float32Array;
      const label = out['label']!.data as BigInt64Array;
      assert.deepEqual(out['probabilities']!.dims, [rows, 2]);
      assert.deepEqual(out['label']!.dims, [rows]);
      let positives = 0;
      for (let r = 0; r < rows; r++) {
        let z = bias;
        for (let j = 0; j < featureCount; j++) z += x[r * featureCount + j]! * weights[j]!;
        const p = 1 / (1 + Math.exp(-z));
        assert.ok(Math.abs(probabilities[2 * r + 1]! - p) < 1e-6, `row ${r}: p ${probabilities[2 * r + 1]} vs ${p}`);
        assert.ok(Math.abs(probabilities[2 * r]! - (1 - p)) < 1e-6, `row ${r}: 1 - p`);
        if (Math.abs(p - 0.5) > 1e-6) assert.equal(label[r], p > 0.5 ? 1n : 0n, `row ${r}: label`);
        if (p > 0.5) positives++;
      }
      assert.ok(positives > 0 && positives < rows, 'both classes occur, so the labels were really checked');
    } finally {
      await session.release();
    }
  });

  test('extreme logits saturate cleanly to [0, 1] and [1, 0]', async () => {
    const session = await ort.InferenceSession.create(
      buildLogisticRegressionModel({ weights: [1], bias: 0, featureCount: 1 }),
    );
    try {
      const out = await session.run({ input: new ort.Tensor('float32', new Float32Array([200, -200]), [2, 1]) });
      assert.deepEqual([...(out['probabilities']!.data as Float32Array)], [0, 1, 1, 0]);
      assert.deepEqual([...(out['label']!.data as BigInt64Array)], [1n, 0n]);
    } finally {
      await session.release();
    }
  });

  test('rejects weights that do not match featureCount, and non-finite values', () => {
    const field = (f: string) => (e: unknown) => e instanceof ModelportError && e.field === f;
    assert.throws(() => buildLogisticRegressionModel({ weights: [1, 2], bias: 0, featureCount: 3 }), field('weights'));
    assert.throws(() => buildLogisticRegressionModel({ weights: [], bias: 0, featureCount: 0 }), field('featureCount'));
    assert.throws(
      () => buildLogisticRegressionModel({ weights: [Number.NaN], bias: 0, featureCount: 1 }),
      field('weights'),
    );
  });
});
