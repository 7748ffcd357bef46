import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bucketGroups, burdenByGroup, categoryGroups, fairness } from './index.ts';

const close = (actual: number, expected: number, tolerance = 1e-12) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} is not ${expected} (within ${tolerance})`);

// Worked by hand. Group A: predicted 1 1 0 0, truth 1 0 1 0. Group B: predicted 1 0 0 0, truth 1 1 0 0.
const groups = categoryGroups(['A', 'A', 'A', 'A', 'B', 'B', 'B', 'B']);
const predicted = [1, 1, 0, 0, 1, 0, 0, 0];
const truth = [1, 0, 1, 0, 1, 1, 0, 0];

describe('fairness by group (hand-computed)', () => {
  test('rates per group, and the summaries across them', () => {
    const r = fairness({ predicted, truth, groups, minGroupSize: 1 });
    const [a, b] = r.groups;
    assert.deepEqual(
      [a!.group, a!.n, a!.selectionRate, a!.truePositiveRate, a!.falsePositiveRate, a!.accuracy],
      ['A', 4, 0.5, 0.5, 0.5, 0.5],
    );
    assert.deepEqual(
      [b!.group, b!.n, b!.selectionRate, b!.truePositiveRate, b!.falsePositiveRate, b!.accuracy],
      ['B', 4, 0.25, 0.5, 0, 0.75],
    );
    close(r.demographicParityDifference, 0.25);
    close(r.demographicParityRatio, 0.5);
    close(r.disparateImpact, 0.5);
    assert.equal(r.fourFifthsViolation, true, '0.5 < 0.8');
    close(r.equalOpportunityDifference, 0);
    close(r.equalizedOddsDifference, 0.5, 1e-12);
    close(r.accuracyRatio, 0.5 / 0.75);
    assert.deepEqual(
      r.groups.map((g) => g.disparateImpact),
      [1, 0.5],
    );
    assert.ok(a!.intervals.selectionRate[0] < 0.5 && a!.intervals.selectionRate[1] > 0.5);
  });

  test('groups smaller than the minimum are listed and flagged, never hidden, and left out of the summaries', () => {
    const r = fairness({ predicted, truth, groups, minGroupSize: 5 });
    assert.equal(r.groups.length, 2);
    assert.ok(r.groups.every((g) => g.tooSmall));
    assert.equal(r.judged, 0);
    assert.ok(Number.isNaN(r.disparateImpact));
    assert.equal(r.fourFifthsViolation, false);
  });

  test('bootstrap intervals of the summaries hold the estimate and repeat with the seed', () => {
    const many = <T>(v: T[]) => Array.from({ length: 25 }, () => v).flat();
    const big = {
      predicted: many(predicted),
      truth: many(truth),
      groups: categoryGroups(many(['A', 'A', 'A', 'A', 'B', 'B', 'B', 'B'])),
    };
    const r = fairness({ ...big, bootstrap: { replicates: 200, seed: 2 } });
    const di = r.intervals!.disparateImpact!;
    close(di.estimate, 0.5);
    assert.ok(di.lo < 0.5 && 0.5 < di.hi, JSON.stringify(di));
    assert.deepEqual(fairness({ ...big, bootstrap: { replicates: 200, seed: 2 } }).intervals, r.intervals);
  });

  test('numeric buckets [25, 45, 65]: <25, 25-45, 45-65, >=65; an edge value goes up; NaN is in no group', () => {
    const g = bucketGroups([10, 25, 44.9, 45, 64, 65, 80, Number.NaN], [25, 45, 65]);
    assert.deepEqual(g.labels, ['<25', '25-45', '45-65', '>=65']);
    assert.deepEqual(Array.from(g.index), [0, 1, 1, 2, 2, 3, 3, -1]);
    assert.throws(() => bucketGroups([1], [3, 2]), /strictly increasing/);
  });

  test('categorical groups: sorted labels; null is in no group', () => {
    const g = categoryGroups(['m', 'f', null, 'f']);
    assert.deepEqual(g.labels, ['f', 'm']);
    assert.deepEqual(Array.from(g.index), [1, 0, -1, 0]);
  });

  test("Certifai's burden: the mean counterfactual distance of each group's unfavourable predictions", () => {
    const r = burdenByGroup({
      distances: [0.9, 0.2, 0.4, Number.NaN, 0.1, 0.3, 0.5, 0.7],
      predicted: [1, 0, 0, 0, 0, 0, 0, 1],
      groups,
      minGroupSize: 1,
    });
    assert.equal(r.unresolved, 1);
    assert.deepEqual(
      r.groups.map((g) => [g.group, g.n]),
      [
        ['A', 2],
        ['B', 3],
      ],
    );
    close(r.groups[0]!.burden, 0.3);
    close(r.groups[1]!.burden, 0.3);
    close(r.ratio, 1);
  });
});
