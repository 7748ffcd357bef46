import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type BatchModel,
  counterfactualSparsity,
  counterfactuals,
  createRng,
  flipRate,
  kernelShap,
  permutationImportance,
  rocAuc,
  trustComponents,
  trustScore,
} from './index.ts';

const close = (actual: number, expected: number, tolerance = 1e-9) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} is not ${expected} (within ${tolerance})`);

/** A model whose score is its first feature: the decision flips at x0 = 0.5. Counts the rows it scores. */
function firstFeature(width: number) {
  const calls = { rows: 0, largest: 0 };
  const model: BatchModel = async (rows, n) => {
    calls.rows += n;
    calls.largest = Math.max(calls.largest, n);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = rows[i * width]!;
    return out;
  };
  return { model, calls };
}

const unit = (width: number) => Array.from({ length: width }, () => ({ min: 0, max: 1 }));

describe('robustness', () => {
  test('rows far from the boundary never flip; a row on it flips about half the time', async () => {
    const { model, calls } = firstFeature(2);
    const progress: string[] = [];
    const far = await flipRate({
      model,
      data: { rows: Float32Array.of(0.1, 0.5, 0.9, 0.5), n: 2, width: 2 },
      ranges: unit(2),
    });
    assert.equal(far.flipRate, 0);
    const edge = await flipRate({
      model,
      data: { rows: Float32Array.of(0.5, 0.5), n: 1, width: 2 },
      ranges: unit(2),
      samples: 400,
      batchRows: 64,
      onProgress: (done, total) => progress.push(`${done}/${total}`),
    });
    assert.deepEqual(progress, ['1/1']);
    assert.ok(edge.flipRate > 0.35 && edge.flipRate < 0.65, `${edge.flipRate}`);
    assert.equal(edge.rowsFlipped, 1);
    assert.ok(calls.largest <= 64, 'the model is never called with more than batchRows rows');
  });

  test('counterfactuals: the nearest flip changes only the feature that matters, restricted features never', async () => {
    const { model } = firstFeature(3);
    const rows = Float32Array.of(0.4, 0.5, 0.5, 0.8, 0.2, 0.9);
    const found = await counterfactuals({
      model,
      data: { rows, n: 2, width: 3 },
      ranges: unit(3),
      mutable: [true, false, true],
      seed: 3,
    });
    for (const [i, cf] of found.entries()) {
      assert.ok(cf.row, `row ${i} has a counterfactual`);
      assert.deepEqual(cf.changed, [0], 'the sparse counterfactual moves x0 only');
      assert.equal(cf.row![1], rows[i * 3 + 1], 'the restricted feature is unchanged');
      assert.ok(
        cf.row!.every((v) => v >= 0 && v <= 1),
        'inside the ranges',
      );
      assert.notEqual(cf.counterfactualScore > 0.5, cf.score > 0.5);
    }
    assert.ok(found[0]!.distance > 0.1 - 1e-6 && found[0]!.distance < 0.2, `${found[0]!.distance}`);
    assert.ok(found[1]!.distance > 0.3 - 1e-6 && found[1]!.distance < 0.4, `${found[1]!.distance}`);
  });

  test('no counterfactual when the only feature that matters is restricted: NaN distance, no row', async () => {
    const { model } = firstFeature(2);
    const [cf] = await counterfactuals({
      model,
      data: { rows: Float32Array.of(0.4, 0.5), n: 1, width: 2 },
      ranges: unit(2),
      mutable: [false, true],
      maxLayers: 5,
    });
    assert.ok(Number.isNaN(cf!.distance));
    assert.equal(cf!.row, null);
  });
});

describe('explainability', () => {
  test('permutation importance: a feature the model ignores scores exactly 0, the one it uses more', async () => {
    const { model } = firstFeature(2);
    const rng = createRng(5);
    const n = 400;
    const rows = new Float32Array(n * 2).map(() => rng.next());
    const truth = Array.from({ length: n }, (_, i) => (rows[i * 2]! + 0.2 * (rng.next() - 0.5) > 0.5 ? 1 : 0));
    const progress: number[] = [];
    const r = await permutationImportance({
      model,
      data: { rows, n, width: 2 },
      truth,
      metric: rocAuc,
      repeats: 4,
      onProgress: (done) => progress.push(done),
    });
    assert.deepEqual(progress, [1, 2]);
    const [x0, x1] = r.importances;
    assert.ok(x0!.mean > 0.3 && x0!.lo > 0, JSON.stringify(x0));
    assert.deepEqual([x1!.mean, x1!.std, x1!.lo, x1!.hi], [0, 0, 0, 0]);
    assert.equal(r.rowsScored, n * (1 + 2 * 4));
  });

  test('KernelSHAP of a linear model is w_j (x_j - mean background x_j), exact and sampled, and sums to f(x) - E[f]', async () => {
    const w = [2, -1, 0.5];
    const model: BatchModel = async (rows, n) => {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = w[0]! * rows[i * 3]! + w[1]! * rows[i * 3 + 1]! + w[2]! * rows[i * 3 + 2]!;
      return out;
    };
    const background = { rows: Float32Array.of(0, 0, 0, 1, 1, 1, 0.5, 0, 1), n: 3, width: 3 };
    const x = Float32Array.of(1, 0.25, 0);
    const means = [0.5, 1 / 3, 2 / 3];
    for (const samples of [undefined, 4]) {
      const [a] = await kernelShap({ model, data: { rows: x, n: 1, width: 3 }, background, samples });
      assert.equal(a!.exact, samples === undefined);
      for (let j = 0; j < 3; j++) close(a!.phi[j]!, w[j]! * (x[j]! - means[j]!), 1e-5);
      close(
        a!.phi.reduce((s, v) => s + v, 0),
        a!.value - a!.base,
        1e-6,
      );
    }
  });
});

describe('trust score', () => {
  test('a weighted mean of the components present, the weights renormalised', () => {
    const t = trustScore({ performance: 0.8, drift: 0.5 });
    close(t.score, (0.3 * 0.8 + 0.15 * 0.5) / 0.45);
    assert.deepEqual(t.missing, ['fairness', 'robustness', 'explainability']);
    close(trustScore({ performance: 0.8, drift: 0.5 }, { drift: 0 }).score, 0.8);
    assert.throws(() => trustScore({ performance: 1 }, { fairness: -1 }), /fairness must be >= 0/);
    assert.ok(Number.isNaN(trustScore({}).score));
  });

  test('components from scan results: Gini of the AUC, the lower fairness ratio, 1 - flip rate, 1 - drift share', () => {
    assert.deepEqual(
      trustComponents({ rocAuc: 0.9, disparateImpact: 0.7, burdenRatio: 0.9, flipRate: 0.1, driftShare: 0.25 }),
      {
        performance: 0.8,
        fairness: 0.7,
        robustness: 0.9,
        drift: 0.75,
      },
    );
    close(counterfactualSparsity([1, 1, 3], 3), (1 + 1 + 0) / 3);
  });
});
