import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ModelportError } from '../../core/index.ts';
import { buildLogisticRegressionModel } from '../../onnx-builder/index.ts';
import { inspectOnnxModel } from './inspect.ts';
import { SHARED_SKIP, sharedModel, type TestModels, writeTestModels } from './model-files.fixture.ts';

describe('inspectOnnxModel', () => {
  let models: TestModels;
  before(async () => {
    models = await writeTestModels();
  });
  after(() => models.cleanup());

  const refused = (pattern: RegExp) => (error: ModelportError) => {
    assert.equal(error.code, 'invalid_model');
    assert.match(error.message, pattern);
    assert.ok(!error.message.includes(models.dir), `the message echoes the server path: ${error.message}`);
    return true;
  };

  test('reads generated models: names, V2 datatypes, -1 for dynamic dims, labels kept', async () => {
    const [lr, cnn, multi] = await Promise.all([
      inspectOnnxModel(models.lr),
      inspectOnnxModel(models.cnn),
      inspectOnnxModel(models.multi),
    ]);
    assert.deepEqual(lr, {
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 30], dimNames: ['N', null] }],
      outputs: [
        { name: 'label', datatype: 'INT64', shape: [-1], dimNames: ['N'] },
        { name: 'probabilities', datatype: 'FP32', shape: [-1, 2], dimNames: ['N', null] },
      ],
    });
    assert.deepEqual(cnn.inputs, [
      { name: 'input', datatype: 'FP32', shape: [-1, 1, 28, 28], dimNames: ['N', null, null, null] },
    ]);
    assert.deepEqual(
      cnn.outputs.map((o) => [o.name, o.datatype, o.shape]),
      [['logits', 'FP32', [-1, 10]]],
    );
    assert.deepEqual(
      multi.inputs.map((i) => [i.name, i.datatype, i.shape]),
      [
        ['features', 'FP32', [-1, 4]],
        ['counts', 'INT64', [-1, 3]],
        ['scale', 'FP32', []],
        ['mask', 'BOOL', [-1, 4]],
        ['ids', 'INT32', [-1]],
      ],
    );
    assert.deepEqual(
      multi.outputs.map((o) => [o.name, o.datatype]),
      [
        ['scaled', 'FP32'],
        ['masked', 'FP32'],
        ['total', 'INT64'],
        ['next_ids', 'INT32'],
      ],
    );
  });

  test('reads real-world models', async (t) => {
    const rf = sharedModel('sk_rf30');
    const silero = sharedModel('silero_vad');
    if (!rf || !silero) return t.skip(SHARED_SKIP);
    const forest = await inspectOnnxModel(rf);
    assert.deepEqual(
      forest.outputs.map((o) => [o.name, o.datatype, o.shape]),
      [
        ['label', 'INT64', [-1]],
        ['probabilities', 'FP32', [-1, 2]],
      ],
    );
    const vad = await inspectOnnxModel(silero);
    assert.deepEqual(vad.inputs[1], { name: 'sr', datatype: 'INT64', shape: [] });
    assert.deepEqual(vad.inputs[2], {
      name: 'h',
      datatype: 'FP32',
      shape: [2, -1, 64],
      dimNames: [null, 'batch', null],
    });
  });

  test('refuses garbage, a pickle, a zip, an empty file and a truncated model without harm', async () => {
    const onnx = buildLogisticRegressionModel({ weights: [1], bias: 0, featureCount: 1 });
    const cases: [string, Uint8Array, RegExp][] = [
      ['garbage.onnx', new Uint8Array(512).map((_, i) => (i * 151 + 7) % 256), /not an ONNX model/],
      ['model.pkl', new Uint8Array([0x80, 0x04, 0x95, 0x20, 0, 0, 0]), /pickle/],
      ['model.pt', new TextEncoder().encode('PK\x03\x04archive'), /zip/],
      ['empty.onnx', new Uint8Array(0), /empty/],
      ['truncated.onnx', onnx.subarray(0, Math.floor(onnx.length / 2)), /truncated/],
    ];
    for (const [name, bytes, pattern] of cases) {
      const path = join(models.dir, name);
      await writeFile(path, bytes);
      await assert.rejects(inspectOnnxModel(path), refused(pattern), name);
    }
  });

  test('a protobuf that passes the sniff but ORT cannot load is refused by the child', async () => {
    // A well-formed ModelProto whose ir_version (the varint after tag 0x08) claims 99, which ORT refuses.
    const onnx = buildLogisticRegressionModel({ weights: [1], bias: 0, featureCount: 1 });
    const broken = new Uint8Array(onnx);
    assert.equal(broken[0], 0x08);
    broken[1] = 99;
    const path = join(models.dir, 'future-ir.onnx');
    await writeFile(path, broken);
    await assert.rejects(inspectOnnxModel(path), refused(/ONNX Runtime cannot load the model/));
  });

  test('an inspection past its timeout kills the child and refuses the file', async () => {
    await assert.rejects(inspectOnnxModel(models.cnn, { timeoutMs: 1 }), refused(/did not load the model within 1 ms/));
  });
});
