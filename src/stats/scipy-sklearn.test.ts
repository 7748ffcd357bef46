/**
 * The metrics against scikit-learn, scipy and numpy on generated data: the data is written to a temporary file,
 * Python computes the same metrics with the reference libraries, and each value must agree within 1e-9 (p-values:
 * 1e-9 absolute or 1e-8 relative, docs/metrics.md says why). Skips, with the reason, when python3 or the modules
 * are missing (Debian: python3-sklearn python3-scipy python3-numpy).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  averagePrecision,
  binaryMetrics,
  calibrationCurve,
  chiSquareTest,
  confusionMatrix,
  createRng,
  kolmogorovSf,
  ks2Samp,
  multiclassLogLoss,
  multiclassMetrics,
  numericDriftSamples,
  numericReference,
  regressionMetrics,
  rocCurve,
} from './index.ts';

function findPython(): { python?: string; reason?: string } {
  for (const python of ['/usr/bin/python3', 'python3']) {
    try {
      execFileSync(python, ['-c', 'import numpy, scipy, sklearn'], { stdio: 'ignore' });
      return { python };
    } catch {}
  }
  return {
    reason:
      'python3 with numpy, scipy and scikit-learn is not installed (apt-get install python3-sklearn python3-scipy)',
  };
}

const { python, reason } = findPython();

const PY = `
import json, sys
import numpy as np
from scipy import stats
from sklearn import metrics
d = json.load(open(sys.argv[1]))
out = {}
s, t = np.array(d['scores']), np.array(d['truth'])
pred = (s > 0.5).astype(int)
out['accuracy'] = metrics.accuracy_score(t, pred)
out['precision'] = metrics.precision_score(t, pred, zero_division=0)
out['recall'] = metrics.recall_score(t, pred, zero_division=0)
out['f1'] = metrics.f1_score(t, pred, zero_division=0)
out['rocAuc'] = metrics.roc_auc_score(t, s)
out['prAuc'] = metrics.average_precision_score(t, s)
out['logLoss'] = metrics.log_loss(t, s)
out['brier'] = metrics.brier_score_loss(t, s)
fpr, tpr, thr = metrics.roc_curve(t, s)
out['roc'] = {'fpr': fpr.tolist(), 'tpr': tpr.tolist(), 'thresholds': thr[1:].tolist()}
pt, pp = __import__('sklearn.calibration', fromlist=['calibration_curve']).calibration_curve(t, s, n_bins=10)
out['calibration'] = {'fractionPositive': pt.tolist(), 'meanPredicted': pp.tolist()}
mt, mp = np.array(d['multiTruth']), np.array(d['multiPred'])
out['confusion'] = metrics.confusion_matrix(mt, mp).tolist()
out['macroF1'] = metrics.f1_score(mt, mp, average='macro')
out['macroPrecision'] = metrics.precision_score(mt, mp, average='macro', zero_division=0)
out['macroRecall'] = metrics.recall_score(mt, mp, average='macro', zero_division=0)
out['multiLogLoss'] = metrics.log_loss(mt, np.array(d['multiProbs']).reshape(-1, 3), labels=[0, 1, 2])
rp, rt = np.array(d['regPred']), np.array(d['regTruth'])
out['mae'] = metrics.mean_absolute_error(rt, rp)
out['rmse'] = float(np.sqrt(metrics.mean_squared_error(rt, rp)))
out['r2'] = metrics.r2_score(rt, rp)
out['ks'] = []
for a, b in d['ksPairs']:
    r = stats.ks_2samp(np.array(a), np.array(b))
    out['ks'].append([float(r.statistic), float(r.pvalue)])
out['kstwo'] = [float(stats.kstwo.sf(x, n)) for n, x in d['kstwo']]
out['chi2'] = []
for a, b in d['tables']:
    tab = np.array([a, b])
    r = stats.chi2_contingency(tab[:, tab.sum(0) > 0])
    out['chi2'].append([float(r[0]), float(r[1])])
ref, cur = np.array(d['psiRef']), np.array(d['psiCur'])
edges = np.unique(np.quantile(ref, np.arange(1, 10) / 10))
rc = np.bincount(np.searchsorted(edges, ref, side='left'), minlength=len(edges) + 1) / len(ref)
cc = np.bincount(np.searchsorted(edges, cur, side='left'), minlength=len(edges) + 1) / len(cur)
rc, cc = np.maximum(rc, 1e-4), np.maximum(cc, 1e-4)
out['psi'] = float(np.sum((cc - rc) * np.log(cc / rc)))
out['psiEdges'] = edges.tolist()
json.dump(out, open(sys.argv[2], 'w'))
`;

const dir = mkdtempSync(join(tmpdir(), 'modelport-stats-ref-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const rng = createRng(2027);
const n = 3000;
// Scores rounded to 3 decimals so ties occur, as they do with real models.
const truth = Array.from({ length: n }, () => (rng.next() < 0.3 ? 1 : 0));
const scores = truth.map((t) => Math.round(1000 / (1 + Math.exp(-(rng.normal() + (t ? 1.2 : -0.4))))) / 1000);
const multiTruth = Array.from({ length: 500 }, () => rng.int(3));
const multiPred = multiTruth.map((t) => (rng.next() < 0.6 ? t : rng.int(3)));
const multiProbs = multiTruth.flatMap(() => {
  const p = [rng.next() + 0.05, rng.next() + 0.05, rng.next() + 0.05];
  const sum = p[0]! + p[1]! + p[2]!;
  return p.map((v) => v / sum);
});
const regTruth = Array.from({ length: 800 }, () => 10 * rng.normal());
const regPred = regTruth.map((v) => v + 3 * rng.normal() + 0.5);
const sample = (m: number, shift: number, round?: number) =>
  Array.from({ length: m }, () => {
    const v = rng.normal() + shift;
    return round ? Math.round(v * round) / round : v;
  });
// Exact (equal and unequal sizes, with ties) and asymptotic (one side over 10,000) p-values.
const ksPairs = [
  [sample(60, 0), sample(60, 0.4)],
  [sample(300, 0, 10), sample(450, 0.1, 10)],
  [sample(2000, 0), sample(1500, 0.05)],
  [sample(20, 0), sample(15000, 0.5)],
  [sample(12000, 0), sample(11000, 0.02)],
  [sample(30000, 0), sample(25000, 0.03, 100)],
];
const kstwo = [
  [5, 0.3],
  [100, 0.05],
  [100, 0.15],
  [1000, 0.02],
  [1000, 0.06],
  [50000, 0.004],
  [200000, 0.002],
  [400000, 0.0021],
  [80000, 0.003],
];
const tables = [
  [
    [10, 20],
    [20, 10],
  ],
  [
    [5, 40, 30, 0, 7],
    [9, 33, 41, 0, 2],
  ],
];
const psiRef = sample(5000, 0);
const psiCur = sample(4000, 0.3);

describe('agreement with scikit-learn and scipy', { skip: reason }, () => {
  // biome-ignore lint/suspicious/noExplicitAny: the JSON Python wrote
  let py: Record<string, any>;
  test('python computes the reference values', () => {
    const input = join(dir, 'input.json');
    const output = join(dir, 'output.json');
    writeFileSync(
      input,
      JSON.stringify({
        scores,
        truth,
        multiTruth,
        multiPred,
        multiProbs,
        regTruth,
        regPred,
        ksPairs,
        kstwo,
        tables,
        psiRef,
        psiCur,
      }),
    );
    writeFileSync(join(dir, 'ref.py'), PY);
    execFileSync(python!, [join(dir, 'ref.py'), input, output], { stdio: ['ignore', 'ignore', 'inherit'] });
    py = JSON.parse(readFileSync(output, 'utf8'));
  });

  const near = (name: string, actual: number, expected: number, tolerance = 1e-9) =>
    assert.ok(Math.abs(actual - expected) <= tolerance, `${name}: ${actual} vs ${expected}`);
  const nearP = (name: string, actual: number, expected: number) =>
    assert.ok(
      Math.abs(actual - expected) <= 1e-9 || Math.abs(actual - expected) <= 1e-8 * Math.abs(expected),
      `${name}: ${actual} vs ${expected}`,
    );

  test('binary metrics, ROC curve, average precision, calibration curve', () => {
    const m = binaryMetrics(scores, truth);
    for (const key of ['accuracy', 'precision', 'recall', 'f1', 'rocAuc', 'prAuc', 'logLoss', 'brier'] as const) {
      near(key, m[key], py[key]);
    }
    near('averagePrecision', averagePrecision(scores, truth), py['prAuc']);
    const roc = rocCurve(scores, truth);
    assert.equal(roc.fpr.length, py['roc'].fpr.length, 'the same points after drop_intermediate');
    for (const [i, v] of roc.fpr.entries()) near(`fpr[${i}]`, v, py['roc'].fpr[i]);
    for (const [i, v] of roc.tpr.entries()) near(`tpr[${i}]`, v, py['roc'].tpr[i]);
    assert.deepEqual(roc.thresholds.slice(1), py['roc'].thresholds);
    const cal = calibrationCurve(scores, truth, { bins: 10 });
    assert.equal(cal.length, py['calibration'].fractionPositive.length);
    cal.forEach((b, i) => {
      near(`calibration[${i}].fractionPositive`, b.fractionPositive, py['calibration'].fractionPositive[i]);
      near(`calibration[${i}].meanPredicted`, b.meanPredicted, py['calibration'].meanPredicted[i]);
    });
  });

  test('multiclass: confusion matrix, macro precision, recall and F1, log loss', () => {
    assert.deepEqual(confusionMatrix(multiTruth, multiPred), py['confusion']);
    const m = multiclassMetrics(multiTruth, multiPred);
    near('macroF1', m.macroF1, py['macroF1']);
    near('macroPrecision', m.macroPrecision, py['macroPrecision']);
    near('macroRecall', m.macroRecall, py['macroRecall']);
    near('multiLogLoss', multiclassLogLoss(multiProbs, multiTruth, 3), py['multiLogLoss']);
  });

  test('regression: MAE, RMSE, R2', () => {
    const m = regressionMetrics(regPred, regTruth);
    near('mae', m.mae, py['mae']);
    near('rmse', m.rmse, py['rmse']);
    near('r2', m.r2, py['r2']);
  });

  test("two-sample KS: statistic and p-value as ks_2samp's 'auto' method, exact and asymptotic", () => {
    ksPairs.forEach(([a, b], i) => {
      const r = ks2Samp(a!, b!);
      near(`ks[${i}].statistic`, r.statistic, py['ks'][i][0], 1e-12);
      nearP(`ks[${i}].pValue (${r.method})`, r.pValue, py['ks'][i][1]);
    });
    for (const [i, [m, x]] of kstwo.entries()) nearP(`kstwo.sf(${x}, ${m})`, kolmogorovSf(m!, x!), py['kstwo'][i]);
  });

  test('chi-square of contingency tables, and PSI over numpy quantile bins', () => {
    tables.forEach(([a, b], i) => {
      const r = chiSquareTest(a!, b!);
      near(`chi2[${i}].statistic`, r.statistic, py['chi2'][i][0]);
      nearP(`chi2[${i}].pValue`, r.pValue, py['chi2'][i][1]);
    });
    assert.deepEqual(numericReference(psiRef).edges, py['psiEdges']);
    near('psi', numericDriftSamples(psiRef, psiCur).psi, py['psi']);
  });
});
