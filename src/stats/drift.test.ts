import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  binCounts,
  categoricalDrift,
  categoricalReference,
  chiSquareTest,
  createRng,
  datasetDrift,
  kolmogorovSf,
  ks2Samp,
  ksStatisticSketch,
  numericDrift,
  numericDriftSamples,
  numericReference,
  psi,
  quantileEdges,
} from './index.ts';

const close = (actual: number, expected: number, tolerance = 1e-12) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} is not ${expected} (within ${tolerance})`);

describe('PSI', () => {
  test('identical shares give 0; a 50/50 -> 25/75 shift gives 0.25 ln 2 + 0.25 ln 1.5', () => {
    assert.equal(psi([50, 50], [5, 5]), 0);
    close(psi([50, 50], [25, 75]), 0.25 * Math.log(2) + 0.25 * Math.log(1.5));
  });

  test('an empty bin counts as epsilon (1e-4), so PSI stays finite', () => {
    const expected = (0.5 - 1) * Math.log(0.5 / 1) + (0.5 - 1e-4) * Math.log(0.5 / 1e-4);
    close(psi([100, 0], [50, 50]), expected);
    assert.ok(Number.isNaN(psi([0, 0], [1, 1])), 'no reference rows: undefined');
  });

  test('quantile bins: right-closed, open at both ends, edges deduplicated for ties', () => {
    const values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const edges = quantileEdges(values, 2);
    assert.deepEqual(edges, [5.5]);
    assert.deepEqual(Array.from(binCounts([0, 5.5, 6, 100, Number.NaN], edges)), [2, 2]);
    assert.deepEqual(quantileEdges([1, 1, 1, 1, 2], 4), [1], 'three tied edges become one');
  });
});

describe('Kolmogorov-Smirnov', () => {
  test('disjoint samples: D = 1 and the exact p-value 2 / C(6, 3) = 0.1', () => {
    const r = ks2Samp([1, 2, 3], [4, 5, 6]);
    assert.equal(r.statistic, 1);
    close(r.pValue, 0.1, 1e-15);
    assert.equal(r.method, 'exact');
  });

  test('unequal sizes, exact (scipy: D = 4/7, p = 0.23737373737373738)', () => {
    const r = ks2Samp([1, 2, 3, 4, 5], [3, 4, 5, 6, 7, 8, 9]);
    close(r.statistic, 4 / 7, 1e-15);
    close(r.pValue, 0.23737373737373738, 1e-14);
  });

  test('equal samples: D = 0, p = 1; NaN values are dropped; an empty sample is refused', () => {
    const r = ks2Samp([3, 1, 2, Number.NaN], [2, 3, 1]);
    assert.deepEqual([r.statistic, r.pValue], [0, 1]);
    assert.throws(() => ks2Samp([], [1]), /at least one value/);
  });

  test("the one-sample Kolmogorov tail in each of scipy's regions", () => {
    close(kolmogorovSf(10, 0.5), 0.00777741, 1e-12); // 2 x smirnov: x >= 0.5
    close(kolmogorovSf(200, 0.2), 1.7317874617308334e-7, 1e-18); // 2 x smirnov
    close(kolmogorovSf(20000, 0.01), 0.03638603905248727, 1e-12); // Durbin matrix
    close(kolmogorovSf(1000, 0.05), 0.013012074781090332, 1e-12); // 2 x smirnov
    assert.equal(kolmogorovSf(10, 0.04), 1, 'n x <= 0.5');
  });

  test('against a quantile sketch the statistic is within the sketch resolution of the exact one', () => {
    const rng = createRng(3);
    const ref = Float64Array.from({ length: 20000 }, () => rng.normal());
    const cur = Float64Array.from({ length: 5000 }, () => rng.normal() + 0.2);
    const exact = ks2Samp(ref, cur).statistic;
    const sketch = ksStatisticSketch(numericReference(ref, { sketch: 100 }).quantiles, Float64Array.from(cur).sort());
    assert.ok(Math.abs(sketch - exact) <= 0.01 + 1e-12, `sketch ${sketch} vs exact ${exact}`);
  });
});

describe('numeric drift', () => {
  const rng = createRng(11);
  const reference = Float64Array.from({ length: 5000 }, () => rng.normal());
  const same = Float64Array.from({ length: 5000 }, () => rng.normal());
  const shifted = Float64Array.from({ length: 5000 }, () => rng.normal() + 1);

  test('a shift of one standard deviation drifts; another sample of the same distribution does not', () => {
    const stable = numericDriftSamples(reference, same);
    assert.equal(stable.drifted, false, JSON.stringify({ psi: stable.psi, ks: stable.ks }));
    assert.ok(stable.psi < 0.02);
    const moved = numericDriftSamples(reference, shifted);
    assert.equal(moved.drifted, true);
    assert.ok(moved.psi > 0.5 && moved.ks.statistic > 0.3, JSON.stringify({ psi: moved.psi, ks: moved.ks }));
    assert.equal(moved.bins.length, 10);
    assert.equal(moved.bins[0]!.lo, -Infinity);
    assert.equal(
      moved.bins.reduce((a, b) => a + b.current, 0),
      5000,
    );
  });

  test('from a stored reference (no raw reference data) the verdicts are the same', () => {
    const stored = JSON.parse(JSON.stringify(numericReference(reference)));
    assert.equal(numericDrift(stored, same).drifted, false);
    const moved = numericDrift(stored, shifted);
    assert.equal(moved.drifted, true);
    assert.equal(moved.ks.method, 'sketch');
    close(moved.psi, numericDriftSamples(reference, shifted).psi, 1e-12);
  });

  test('a current sample with no values gives NaN, never a p-value of 0', () => {
    const r = numericDrift(numericReference([1, 2, 3]), [Number.NaN]);
    assert.ok(Number.isNaN(r.ks.pValue) && Number.isNaN(r.psi));
    assert.equal(r.drifted, false);
  });

  test('null shares are reported apart from the values', () => {
    const r = numericDriftSamples([1, 2, Number.NaN, 4], [1, Number.NaN, Number.NaN, Number.NaN]);
    assert.deepEqual(r.nullShare, { reference: 0.25, current: 0.75 });
  });
});

test('against a sketch, a binary column compares its point masses: the same share does not drift, a moved share does', () => {
  const rng = createRng(5);
  const binary = (n: number, p: number) => Float64Array.from({ length: n }, () => (rng.next() < p ? 1 : 0));
  const reference = numericReference(binary(5000, 0.5), { bins: 10, sketch: 100 });
  const same = binary(600, 0.5);
  const stable = numericDrift(reference, same);
  // The exact statistic is the difference of the shares of zeros; the sketch must find it, not the jump itself.
  const exact = ks2Samp(binary(5000, 0.5), same).statistic;
  assert.ok(stable.ks.statistic < 0.06, JSON.stringify(stable.ks));
  assert.ok(Math.abs(stable.ks.statistic - exact) < 0.05, `${stable.ks.statistic} against ${exact}`);
  assert.equal(stable.drifted, false);
  const moved = numericDrift(reference, binary(600, 0.8));
  assert.ok(Math.abs(moved.ks.statistic - 0.3) < 0.05, JSON.stringify(moved.ks));
  assert.equal(moved.drifted, true);
});

describe('categorical drift', () => {
  test('chi-square with Yates correction on a 2 x 2 table (scipy: 5.4, p 0.02013675155034633)', () => {
    const r = chiSquareTest([10, 20], [20, 10]);
    close(r.statistic, 5.4);
    close(r.pValue, 0.02013675155034633, 1e-14);
    assert.equal(r.dof, 1);
    const r3 = chiSquareTest([10, 20, 30, 0], [30, 20, 10, 0]);
    close(r3.statistic, 20);
    close(r3.pValue, 4.539992976248486e-5, 1e-17);
    assert.equal(r3.dof, 2, 'a category empty in both rows is dropped');
  });

  test('a new category and a changed mix drift; the same mix does not', () => {
    const ref = categoricalReference(['a', 'a', 'b', 'b', null, ...Array(200).fill('a'), ...Array(200).fill('b')]);
    assert.equal(ref.nulls, 1);
    const same = categoricalDrift(ref, [...Array(100).fill('a'), ...Array(100).fill('b')]);
    assert.equal(same.drifted, false);
    close(same.psi, 0);
    const moved = categoricalDrift(ref, [...Array(150).fill('a'), ...Array(30).fill('b'), ...Array(20).fill('c')]);
    assert.equal(moved.drifted, true);
    assert.deepEqual(
      moved.categories.map((c) => c.value),
      ['a', 'b', 'c'],
    );
    close(moved.totalVariation, (Math.abs(0.5 - 0.75) + Math.abs(0.5 - 0.15) + 0.1) / 2);
  });

  test('a summarised reference pools categories it does not list into __other__', () => {
    const ref = { kind: 'categorical' as const, n: 100, nulls: 0, counts: { a: 60, b: 30 }, other: 10 };
    const r = categoricalDrift(ref, { counts: { a: 6, b: 3, x: 1 }, nulls: 0 });
    assert.deepEqual(
      r.categories.map((c) => [c.value, c.reference, c.current]),
      [
        ['__other__', 10, 1],
        ['a', 60, 6],
        ['b', 30, 3],
      ],
    );
    close(r.psi, 0);
  });
});

test('dataset verdict: drifted when the share of drifted features reaches the threshold', () => {
  const features = [
    { name: 'a', drifted: true },
    { name: 'b', drifted: false },
    { name: 'c', drifted: false },
  ];
  assert.deepEqual(datasetDrift(features), {
    share: 1 / 3,
    drifted: true,
    driftedFeatures: ['a'],
    features: 3,
    threshold: 0.3,
  });
  assert.equal(datasetDrift(features, { share: 0.5 }).drifted, false);
  assert.equal(datasetDrift([]).drifted, false);
});
