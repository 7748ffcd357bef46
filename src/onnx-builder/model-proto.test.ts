import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import ort from 'onnxruntime-node';
import { tensor } from './graph-builder.ts';
import { encodeModel, type ModelProto } from './model-proto.ts';
import { fieldBytes, fieldBytesAll, fieldString, fieldVarints, readFields } from './protobuf-reader.ts';

/** One Constant node per attribute kind; each output shows ONNX Runtime read the attribute back. */
const constants: ModelProto = {
  producerVersion: '0.1.0',
  docString: 'attribute kinds',
  metadata: { labels: 'legit,fraud', owner: 'tests' },
  graph: {
    name: 'constants',
    docString: 'graph doc',
    nodes: [
      { opType: 'Constant', inputs: [], outputs: ['int'], attributes: [{ name: 'value_int', type: 'INT', value: -7 }] },
      {
        opType: 'Constant',
        inputs: [],
        outputs: ['ints'],
        attributes: [{ name: 'value_ints', type: 'INTS', value: [1, -2, 2n ** 40n] }],
      },
      {
        opType: 'Constant',
        inputs: [],
        outputs: ['float'],
        attributes: [{ name: 'value_float', type: 'FLOAT', value: 0.25 }],
      },
      {
        opType: 'Constant',
        inputs: [],
        outputs: ['floats'],
        attributes: [{ name: 'value_floats', type: 'FLOATS', value: [1.5, -2] }],
      },
      {
        opType: 'Constant',
        inputs: [],
        outputs: ['string'],
        attributes: [{ name: 'value_string', type: 'STRING', value: 'héllo' }],
      },
      {
        opType: 'Constant',
        inputs: [],
        outputs: ['tensor'],
        name: 'the_tensor',
        docString: 'a 2x2 double constant',
        attributes: [{ name: 'value', type: 'TENSOR', value: tensor('t', new Float64Array([1, 2, 3, 4]), [2, 2]) }],
      },
      { opType: 'Add', inputs: ['x', 'bias'], outputs: ['y'] },
    ],
    initializers: [tensor('bias', new Float32Array([10, 20, 30]), [3])],
    inputs: [{ name: 'x', elemType: 'FLOAT', shape: ['batch', 3], docString: 'x doc' }],
    outputs: [
      { name: 'int', elemType: 'INT64', shape: [] },
      { name: 'ints', elemType: 'INT64', shape: [3] },
      { name: 'float', elemType: 'FLOAT', shape: [] },
      { name: 'floats', elemType: 'FLOAT', shape: [2] },
      { name: 'string', elemType: 'STRING', shape: [] },
      { name: 'tensor', elemType: 'DOUBLE', shape: [2, 2] },
      { name: 'y', elemType: 'FLOAT' },
    ],
  },
};

describe('encodeModel', () => {
  test('ONNX Runtime loads the model and reads every attribute kind back', async () => {
    const session = await ort.InferenceSession.create(encodeModel(constants));
    try {
      const out = await session.run({ x: new ort.Tensor('float32', new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]) });
      assert.equal(out['int']!.data[0], -7n);
      assert.deepEqual([...(out['ints']!.data as BigInt64Array)], [1n, -2n, 2n ** 40n]);
      assert.equal(out['float']!.data[0], 0.25);
      assert.deepEqual([...(out['floats']!.data as Float32Array)], [1.5, -2]);
      assert.deepEqual(out['string']!.data, ['héllo']);
      assert.deepEqual(out['tensor']!.dims, [2, 2]);
      assert.deepEqual([...(out['tensor']!.data as Float64Array)], [1, 2, 3, 4]);
      assert.deepEqual([...(out['y']!.data as Float32Array)], [11, 22, 33, 14, 25, 36]);
    } finally {
      await session.release();
    }
  });

  test('ONNX Runtime sees the declared names, types, dynamic dims and scalars', async () => {
    const session = await ort.InferenceSession.create(encodeModel(constants));
    try {
      assert.deepEqual(session.inputMetadata, [{ name: 'x', isTensor: true, type: 'float32', shape: ['batch', 3] }]);
      const outputs = session.outputMetadata.map((m) => (m.isTensor ? [m.name, m.type, m.shape] : [m.name]));
      assert.deepEqual(outputs.slice(0, 6), [
        ['int', 'int64', []],
        ['ints', 'int64', [3]],
        ['float', 'float32', []],
        ['floats', 'float32', [2]],
        ['string', 'string', []],
        ['tensor', 'float64', [2, 2]],
      ]);
      assert.deepEqual(outputs[6]?.slice(0, 2), ['y', 'float32']);
    } finally {
      await session.release();
    }
  });

  test('writes the ModelProto fields of onnx.proto with their numbers', () => {
    const model = readFields(encodeModel(constants));
    assert.deepEqual(fieldVarints(model, 1), [8n], 'ir_version = 1');
    assert.equal(fieldString(model, 2), 'modelport', 'producer_name = 2');
    assert.equal(fieldString(model, 3), '0.1.0', 'producer_version = 3');
    assert.equal(fieldString(model, 6), 'attribute kinds', 'doc_string = 6');
    const opset = readFields(fieldBytes(model, 8)!);
    assert.equal(fieldString(opset, 1), '', 'opset_import.domain = 1');
    assert.deepEqual(fieldVarints(opset, 2), [17n], 'opset_import.version = 2');
    const metadata = fieldBytesAll(model, 14).map((b) => {
      const entry = readFields(b);
      return [fieldString(entry, 1), fieldString(entry, 2)];
    });
    assert.deepEqual(metadata, [
      ['labels', 'legit,fraud'],
      ['owner', 'tests'],
    ]);

    const graph = readFields(fieldBytes(model, 7)!);
    assert.equal(fieldString(graph, 2), 'constants');
    assert.equal(fieldString(graph, 10), 'graph doc');
    assert.equal(fieldBytesAll(graph, 1).length, 7, 'node = 1');
    const node = readFields(fieldBytesAll(graph, 1)[5]!);
    assert.equal(fieldString(node, 3), 'the_tensor');
    assert.equal(fieldString(node, 4), 'Constant');
    assert.equal(fieldString(node, 6), 'a 2x2 double constant');
    const attribute = readFields(fieldBytes(node, 5)!);
    assert.deepEqual(fieldVarints(attribute, 20), [4n], 'AttributeProto.type TENSOR = 4');
    const t = readFields(fieldBytes(attribute, 5)!);
    assert.deepEqual(fieldVarints(t, 1), [2n, 2n], 'dims, unpacked');
    assert.deepEqual(fieldVarints(t, 2), [11n], 'DOUBLE = 11');
    assert.equal(fieldBytes(t, 9)!.length, 32, 'raw_data');

    const input = readFields(fieldBytes(graph, 11)!);
    assert.equal(fieldString(input, 1), 'x');
    assert.equal(fieldString(input, 3), 'x doc');
    const tensorType = readFields(fieldBytes(readFields(fieldBytes(input, 2)!), 1)!);
    assert.deepEqual(fieldVarints(tensorType, 1), [1n], 'elem_type FLOAT');
    const dims = fieldBytesAll(readFields(fieldBytes(tensorType, 2)!), 1).map(readFields);
    assert.equal(fieldString(dims[0]!, 2), 'batch', 'dim_param = 2');
    assert.deepEqual(fieldVarints(dims[1]!, 1), [3n], 'dim_value = 1');

    const scalar = readFields(fieldBytesAll(graph, 12)[0]!);
    const scalarType = readFields(fieldBytes(readFields(fieldBytes(scalar, 2)!), 1)!);
    assert.equal(fieldBytes(scalarType, 2)?.length, 0, 'a scalar has an empty shape, not a missing one');
    const unknown = readFields(fieldBytesAll(graph, 12)[6]!);
    const unknownType = readFields(fieldBytes(readFields(fieldBytes(unknown, 2)!), 1)!);
    assert.equal(fieldBytes(unknownType, 2), undefined, 'unknown rank has no shape');
  });

  test('honours explicit ir_version and opsets', () => {
    const model = readFields(
      encodeModel({ ...constants, irVersion: 9, opsetImports: [{ domain: '', version: 19 }], modelVersion: 3 }),
    );
    assert.deepEqual(fieldVarints(model, 1), [9n]);
    assert.deepEqual(fieldVarints(model, 5), [3n]);
    assert.deepEqual(fieldVarints(readFields(fieldBytes(model, 8)!), 2), [19n]);
  });
});
