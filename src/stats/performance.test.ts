import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  accuracy,
  averagePrecision,
  binaryMetrics,
  bootstrapCi,
  brierScore,
  calibrationCurve,
  classificationMetrics,
  confusionMatrix,
  f1,
  logLoss,
  multiclassLogLoss,
  multiclassMetrics,
  precision,
  precisionRecallCurve,
  recall,
  regressionMetrics,
  rocAuc,
  rocCurve,
  wilsonInterval,
} from './index.ts';

const close = (actual: number, expected: number, tolerance = 1e-12) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} is not ${expected} (within ${tolerance})`);

// Four rows worked by hand: positives score 0.35 and 0.8, negatives 0.1 and 0.4.
const scores = [0.1, 0.4, 0.35, 0.8];
const truth = [0, 0, 1, 1];

describe('performance metrics (hand-computed)', () => {
  test('ROC AUC counts the pairs a positive outranks: 3 of 4; ties count one half', () => {
    close(rocAuc(scores, truth), 0.75);
    close(rocAuc([0.5, 0.5], [1, 0]), 0.5);
    close(rocAuc([0.2, 0.9, 0.9, 0.1], [0, 1, 0, 1]), (1 + 0.5) / 4);
    assert.ok(Number.isNaN(rocAuc([0.1, 0.2], [1, 1])), 'undefined with one class');
  });

  test('ROC curve points: (0,0) first, then the corners, as scikit-learn with drop_intermediate', () => {
    const curve = rocCurve(scores, truth);
    assert.deepEqual(curve.fpr, [0, 0, 0.5, 0.5, 1]);
    assert.deepEqual(curve.tpr, [0, 0.5, 0.5, 1, 1]);
    assert.deepEqual(curve.thresholds, [Infinity, 0.8, 0.4, 0.35, 0.1]);
  });

  test('average precision: recall steps weighted by precision, 0.5 x 1 + 0.5 x 2/3', () => {
    close(averagePrecision(scores, truth), 0.5 + 0.5 * (2 / 3));
    const pr = precisionRecallCurve(scores, truth);
    assert.deepEqual(pr.recall, [0, 0.5, 0.5, 1]);
    close(pr.precision[3]!, 2 / 3);
  });

  test('at threshold 0.5 one positive is found: accuracy 3/4, precision 1, recall 1/2, F1 2/3', () => {
    const m = binaryMetrics(scores, truth, 0.5);
    assert.deepEqual(m.confusion, { tn: 2, fp: 0, fn: 1, tp: 1 });
    close(m.accuracy, 0.75);
    close(m.precision, 1);
    close(m.recall, 0.5);
    close(m.f1, 2 / 3);
    const hard = [0, 0, 0, 1];
    close(accuracy(truth, hard), 0.75);
    close(precision(truth, hard), 1);
    close(recall(truth, hard), 0.5);
    close(f1(truth, hard), 2 / 3);
    assert.equal(precision([1, 0], [0, 0]), 0, 'nothing predicted positive: 0, not NaN');
  });

  test('log loss and Brier score', () => {
    close(logLoss(scores, truth), -(Math.log(0.9) + Math.log(0.6) + Math.log(0.35) + Math.log(0.8)) / 4);
    close(logLoss(scores, truth), 0.47228795380917615, 1e-15); // scikit-learn 1.2
    close(brierScore(scores, truth), (0.01 + 0.16 + 0.4225 + 0.04) / 4);
    assert.ok(Number.isFinite(logLoss([0, 1], [1, 0])), 'probabilities 0 and 1 are clipped, never infinite');
    close(multiclassLogLoss([0.7, 0.2, 0.1, 0.1, 0.1, 0.8], [0, 2], 3), -(Math.log(0.7) + Math.log(0.8)) / 2);
  });

  test('calibration curve: two bins, a value on the inner edge falls in the lower bin, empty bins left out', () => {
    const bins = calibrationCurve([0.1, 0.2, 0.5, 0.9], [0, 1, 0, 1], { bins: 2 });
    assert.equal(bins.length, 2);
    assert.deepEqual(
      bins.map((b) => [b.lo, b.hi, b.count]),
      [
        [0, 0.5, 3],
        [0.5, 1, 1],
      ],
    );
    close(bins[0]!.meanPredicted, 0.8 / 3);
    close(bins[0]!.fractionPositive, 1 / 3);
    close(bins[1]!.fractionPositive, 1);
    assert.equal(calibrationCurve([0.1, 0.2], [0, 1], { bins: 10 }).length, 2, 'eight empty bins are not listed');
    assert.throws(() => calibrationCurve([1.5], [1]), /probability 1.5/);
  });

  test('confusion matrix, multiclass: rows are the truth, columns the prediction', () => {
    assert.deepEqual(confusionMatrix([0, 1, 2, 2], [0, 2, 2, 1]), [
      [1, 0, 0],
      [0, 0, 1],
      [0, 1, 1],
    ]);
    const m = multiclassMetrics([0, 1, 2, 2], [0, 2, 2, 1]);
    close(m.accuracy, 0.5);
    close(m.macroRecall, (1 + 0 + 0.5) / 3);
    close(m.macroPrecision, (1 + 0 + 0.5) / 3);
    assert.throws(() => confusionMatrix([0, 3], [0, 1], 2), /labels must be integers/);
  });

  test('regression: MAE, RMSE and R2 worked by hand; constant truth gives R2 1 when perfect, else 0', () => {
    const m = regressionMetrics([1, 2, 3], [1, 3, 5]);
    close(m.mae, 1);
    close(m.rmse, Math.sqrt(5 / 3));
    close(m.r2, 1 - 5 / 8);
    assert.equal(regressionMetrics([2, 2], [2, 2]).r2, 1);
    assert.equal(regressionMetrics([1, 3], [2, 2]).r2, 0);
  });

  test("the pipelines' flat record keeps its keys, and leaves auc out when it is undefined", () => {
    const { metrics, confusion } = classificationMetrics(scores, truth, 0.5);
    assert.deepEqual(Object.keys(metrics), [
      'accuracy',
      'precision',
      'recall',
      'f1',
      'auc',
      'log_loss',
      'tn',
      'fp',
      'fn',
      'tp',
    ]);
    assert.deepEqual(confusion, [
      [2, 0],
      [1, 1],
    ]);
    assert.equal('auc' in classificationMetrics([0.2, 0.7], [1, 1], 0.5).metrics, false);
  });

  test('arrays of different lengths are refused', () => {
    assert.throws(() => rocAuc([0.1], [1, 0]), /differ in length/);
  });
});

describe('intervals', () => {
  test('bootstrap: the same seed gives the same interval, which holds the estimate; a constant sample has no width', () => {
    const values = Array.from({ length: 200 }, (_, i) => (i * 37) % 101);
    const mean = (v: Float64Array) => v.reduce((a, b) => a + b, 0) / v.length;
    const a = bootstrapCi([values], mean, { replicates: 300, seed: 4 });
    const b = bootstrapCi([values], mean, { replicates: 300, seed: 4 });
    assert.deepEqual(a, b);
    assert.ok(a.lo < a.estimate && a.estimate < a.hi, `${a.lo} < ${a.estimate} < ${a.hi}`);
    const c = bootstrapCi([values], mean, { replicates: 300, seed: 5 });
    assert.notEqual(c.lo, a.lo, 'another seed, another resample');
    const flat = bootstrapCi([[3, 3, 3, 3]], mean, { replicates: 50 });
    assert.deepEqual([flat.lo, flat.estimate, flat.hi], [3, 3, 3]);
  });

  test('bootstrap drops replicates where the statistic is undefined and says how many were kept', () => {
    const r = bootstrapCi([scores, truth], (s, t) => rocAuc(s, t), { replicates: 200 });
    assert.equal(r.estimate, 0.75);
    assert.ok(r.replicates < 200 && r.replicates > 100, `${r.replicates} replicates kept`);
  });

  test('Wilson interval of 5 / 10 at 95% is 0.2366 - 0.7634', () => {
    const w = wilsonInterval(5, 10);
    close(w.lo, 0.23659309051725275, 1e-9);
    close(w.hi, 0.763406909482747, 1e-9);
  });
});
