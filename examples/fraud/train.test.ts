import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import ort from 'onnxruntime-node';
import { ModelportError } from '../../src/core/errors.ts';
import { createRandom } from '../../src/onnx-builder/index.ts';
import { fraudArtifacts } from './artifacts.ts';
import { FEATURE_NAMES, type FraudModel, fraudProbability, generateTransactions, trainFraudModel } from './train.ts';

const committed = (file: string) => readFileSync(join(import.meta.dirname, file), 'utf8');

describe('trainFraudModel', () => {
  let model: FraudModel;
  before(() => {
    model = trainFraudModel();
  });

  test('the synthetic data looks like creditcard.csv', () => {
    const { data, labels } = generateTransactions(createRandom(1), 10_000);
    const fraudShare = labels.filter((l) => l === 1).length / labels.length;
    assert.ok(fraudShare >= 0.005 && fraudShare <= 0.02, `fraud share ${fraudShare}`);
    assert.ok(data.every((row) => row.length === 30 && row[0]! >= 0 && row[0]! < 172_800 && Number.isInteger(row[0])));
    const amounts = data.map((row) => row[29]!).sort((a, b) => a - b);
    const median = amounts[amounts.length >> 1]!;
    assert.ok(median > 5 && median < 60 && amounts.at(-1)! > 500, `amount median ${median}, max ${amounts.at(-1)}`);
    assert.ok(
      amounts.every((a) => a >= 0 && Math.abs(Math.round(a * 100) - a * 100) < 1e-6),
      'amounts in cents',
    );
    const mean = (label: number, column: number) => {
      const rows = data.filter((_, i) => labels[i] === label);
      return rows.reduce((a, row) => a + row[column]!, 0) / rows.length;
    };
    assert.ok(mean(1, 14) < mean(0, 14) - 2, 'fraud rows are shifted down on v14');
    assert.ok(mean(1, 4) > mean(0, 4) + 1, 'fraud rows are shifted up on v4');
  });

  test('separates fraud on held-out data (AUC above 0.95)', () => {
    const { accuracy, auc, precision, recall } = model.metrics;
    assert.ok(auc > 0.95, `auc ${auc}`);
    assert.ok(accuracy > 0.98, `accuracy ${accuracy}`);
    assert.ok(precision > 0.5 && recall > 0.5, `precision ${precision}, recall ${recall}`);
    assert.deepEqual(model.featureNames, FEATURE_NAMES);
    assert.equal(model.weights.length, 30);
  });

  test('is deterministic for a seed', () => {
    const again = trainFraudModel();
    assert.deepEqual(again.onnx, model.onnx);
    assert.deepEqual(again.metrics, model.metrics);
    assert.notDeepEqual(trainFraudModel({ seed: 7, rows: 4000 }).weights, model.weights);
  });

  test('rejects too few rows, naming the option', () => {
    assert.throws(
      () => trainFraudModel({ rows: 100 }),
      (e: unknown) => e instanceof ModelportError && e.field === 'rows',
    );
  });

  test('the committed JSON files are what build.ts generates (no drift)', () => {
    for (const [file, text] of Object.entries(fraudArtifacts(model))) {
      assert.equal(committed(file), text, `${file} is stale: run node examples/fraud/build.ts`);
    }
  });

  test('ONNX Runtime reproduces expected-response.json from sample-request.json', async () => {
    const request = JSON.parse(committed('sample-request.json'));
    const expected = JSON.parse(committed('expected-response.json'));
    const input = request.inputs[0];
    const session = await ort.InferenceSession.create(model.onnx);
    try {
      const out = await session.run({ input: new ort.Tensor('float32', Float32Array.from(input.data), input.shape) });
      const [label, probabilities] = expected.outputs;
      assert.deepEqual(
        Array.from(out['label']!.data as BigInt64Array, Number),
        label.data,
        'labels: one legit, one fraud',
      );
      assert.deepEqual(label.data, [0, 1]);
      assert.deepEqual(out['probabilities']!.dims, probabilities.shape);
      const got = out['probabilities']!.data as Float32Array;
      probabilities.data.forEach((want: number, k: number) => {
        assert.ok(Math.abs(got[k]! - want) <= 1e-4, `probabilities[${k}]: ${got[k]} vs ${want}`);
      });
    } finally {
      await session.release();
    }
  });

  test('the ONNX model equals the TypeScript model on held-out-like rows, and matches signature.json', async () => {
    const signature = JSON.parse(committed('signature.json'));
    const { data } = generateTransactions(createRandom(99), 2000);
    const session = await ort.InferenceSession.create(model.onnx);
    try {
      assert.deepEqual(
        session.inputMetadata.map((m) => m.isTensor && [m.name, m.type, m.shape]),
        [['input', 'float32', ['N', 30]]],
      );
      assert.deepEqual(
        session.inputNames,
        signature.inputs.map((i: { name: string }) => i.name),
      );
      assert.deepEqual(
        session.outputNames,
        signature.outputs.map((o: { name: string }) => o.name),
      );
      const x = Float32Array.from(data.flat());
      const out = await session.run({ input: new ort.Tensor('float32', x, [data.length, 30]) });
      const got = out['probabilities']!.data as Float32Array;
      for (let r = 0; r < data.length; r++) {
        const p = fraudProbability(model, x.subarray(r * 30, (r + 1) * 30));
        assert.ok(Math.abs(got[2 * r + 1]! - p) < 1e-5, `row ${r}: ${got[2 * r + 1]} vs ${p}`);
      }
    } finally {
      await session.release();
    }
  });
});
