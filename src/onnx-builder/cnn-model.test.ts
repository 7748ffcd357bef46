import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import ort from 'onnxruntime-node';
import { buildCnnModel, type CnnChannels, type CnnWeights, cnnWeights } from './cnn-model.ts';
import { createRandom } from './random.ts';

const PIXELS = 28 * 28;

/** conv 5x5 pad 2 + bias, then relu, then 2x2 max pool: [inC, size, size] -> [outC, size / 2, size / 2]. */
function convReluPool(x: Float64Array, inC: number, size: number, w: Float32Array, b: Float32Array, outC: number) {
  const conv = new Float64Array(outC * size * size);
  for (let o = 0; o < outC; o++) {
    for (let r = 0; r < size; r++) {
      for (let c = 0; c < size; c++) {
        let sum = b[o]!;
        for (let i = 0; i < inC; i++) {
          for (let kr = 0; kr < 5; kr++) {
            const rr = r + kr - 2;
            if (rr < 0 || rr >= size) continue;
            for (let kc = 0; kc < 5; kc++) {
              const cc = c + kc - 2;
              if (cc < 0 || cc >= size) continue;
              sum += x[(i * size + rr) * size + cc]! * w[((o * inC + i) * 5 + kr) * 5 + kc]!;
            }
          }
        }
        conv[(o * size + r) * size + c] = Math.max(0, sum);
      }
    }
  }
  const half = size / 2;
  const pooled = new Float64Array(outC * half * half);
  for (let o = 0; o < outC; o++) {
    for (let r = 0; r < half; r++) {
      for (let c = 0; c < half; c++) {
        const at = (dr: number, dc: number) => conv[(o * size + 2 * r + dr) * size + 2 * c + dc]!;
        pooled[(o * half + r) * half + c] = Math.max(at(0, 0), at(0, 1), at(1, 0), at(1, 1));
      }
    }
  }
  return pooled;
}

/** An independent forward pass of the documented architecture, in float64. */
function referenceLogits(image: Float32Array, w: CnnWeights, [c1, c2]: CnnChannels = [8, 16]): number[] {
  const p1 = convReluPool(Float64Array.from(image), 1, 28, w.conv1, w.conv1Bias, c1);
  const p2 = convReluPool(p1, c1, 14, w.conv2, w.conv2Bias, c2);
  return Array.from({ length: 10 }, (_, k) => {
    let sum = w.fcBias[k]!;
    for (let i = 0; i < 49 * c2; i++) sum += p2[i]! * w.fc[i * 10 + k]!;
    return sum;
  });
}

const images = (count: number, seed: number) => {
  const rng = createRandom(seed);
  return Float32Array.from({ length: count * PIXELS }, () => rng.uniform());
};

describe('buildCnnModel', () => {
  let session: ort.InferenceSession;
  const run = async (data: Float32Array, n: number) => {
    const out = await session.run({ input: new ort.Tensor('float32', data, [n, 1, 28, 28]) });
    return out['logits']!;
  };
  before(async () => {
    session = await ort.InferenceSession.create(buildCnnModel({ seed: 1 }));
  });
  after(() => session.release());

  test('declares a dynamic batch and gives finite [N, 10] logits that differ by class and by input', async () => {
    assert.deepEqual(session.inputMetadata, [
      { name: 'input', isTensor: true, type: 'float32', shape: ['N', 1, 28, 28] },
    ]);
    assert.deepEqual(session.outputMetadata, [{ name: 'logits', isTensor: true, type: 'float32', shape: ['N', 10] }]);
    const logits = await run(images(3, 5), 3);
    assert.deepEqual(logits.dims, [3, 10]);
    const data = [...(logits.data as Float32Array)];
    assert.ok(data.every(Number.isFinite));
    assert.ok(new Set(data.slice(0, 10)).size === 10, 'classes differ');
    assert.notDeepEqual(data.slice(0, 10), data.slice(10, 20), 'inputs differ');
  });

  test('computes the documented architecture (matches a TypeScript forward pass)', async () => {
    const image = images(1, 9);
    const got = [...((await run(image, 1)).data as Float32Array)];
    const want = referenceLogits(image, cnnWeights(1));
    for (let k = 0; k < 10; k++) assert.ok(Math.abs(got[k]! - want[k]!) < 1e-4, `class ${k}: ${got[k]} vs ${want[k]}`);
  });

  test('a batch of 4 equals 4 single runs', async () => {
    const batch = images(4, 11);
    const together = (await run(batch, 4)).data as Float32Array;
    for (let i = 0; i < 4; i++) {
      const alone = (await run(batch.slice(i * PIXELS, (i + 1) * PIXELS), 1)).data as Float32Array;
      for (let k = 0; k < 10; k++)
        assert.ok(Math.abs(together[i * 10 + k]! - alone[k]!) < 1e-5, `image ${i} class ${k}`);
    }
  });

  test('takes other channel counts: the 64/128 network matches the forward pass with its own weights', async () => {
    const channels = [64, 128] as const;
    const wide = await ort.InferenceSession.create(buildCnnModel({ seed: 2, channels }));
    try {
      const image = images(1, 13);
      const out = await wide.run({ input: new ort.Tensor('float32', image, [1, 1, 28, 28]) });
      const got = [...(out['logits']!.data as Float32Array)];
      const want = referenceLogits(image, cnnWeights(2, channels), channels);
      for (let k = 0; k < 10; k++)
        assert.ok(Math.abs(got[k]! - want[k]!) < 1e-3, `class ${k}: ${got[k]} vs ${want[k]}`);
    } finally {
      await wide.release();
    }
    assert.equal(cnnWeights(2, channels).fc.length, 49 * 128 * 10);
  });

  test('is deterministic for a seed and differs between seeds', () => {
    assert.deepEqual(buildCnnModel({ seed: 3 }), buildCnnModel({ seed: 3 }));
    assert.notDeepEqual(buildCnnModel({ seed: 3 }), buildCnnModel({ seed: 4 }));
    assert.deepEqual(buildCnnModel(), buildCnnModel({ seed: 0 }));
  });
});
