import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { InferResponse, ModelSignature } from '../core/index.ts';
import { assertRejects } from './assertions.fixture.ts';
import { decodeV1, encodeV1, encodeV1ModelList, encodeV1ModelStatus } from './v1.ts';

const halfPlusThree: ModelSignature = {
  inputs: [{ name: 'x', datatype: 'FP32', shape: [-1] }],
  outputs: [{ name: 'y', datatype: 'FP32', shape: [-1] }],
};
// The multi-input example of TF Serving's api_rest.md.
const tagged: ModelSignature = {
  inputs: [
    { name: 'tag', datatype: 'BYTES', shape: [-1] },
    { name: 'signal', datatype: 'INT32', shape: [-1, 5] },
    { name: 'sensor', datatype: 'FP32', shape: [-1, 2, 2] },
  ],
  outputs: [],
};

describe('V1 decode: the TF Serving examples', () => {
  test('half_plus_three: {"instances": [1.0, 2.0, 5.0]}', () => {
    const { request, format } = decodeV1('{"instances": [1.0,2.0,5.0]}', halfPlusThree);
    assert.equal(format, 'instances');
    assert.deepEqual(request.inputs, [{ name: 'x', datatype: 'FP32', shape: [3], data: new Float32Array([1, 2, 5]) }]);
  });

  test('rows of named inputs and the same data in columns give the same tensors', () => {
    const rows = decodeV1(
      `{"instances": [
         {"tag": "foo", "signal": [1, 2, 3, 4, 5], "sensor": [[1, 2], [3, 4]]},
         {"tag": "bar", "signal": [3, 4, 1, 2, 5], "sensor": [[4, 5], [6, 8]]}
       ]}`,
      tagged,
    );
    const columns = decodeV1(
      `{"inputs": {
         "tag": ["foo", "bar"],
         "signal": [[1, 2, 3, 4, 5], [3, 4, 1, 2, 5]],
         "sensor": [[[1, 2], [3, 4]], [[4, 5], [6, 8]]]
       }}`,
      tagged,
    );
    assert.equal(columns.format, 'inputs');
    assert.deepEqual(rows.request, columns.request);
    const [tag, signal, sensor] = rows.request.inputs;
    assert.deepEqual(tag, {
      name: 'tag',
      datatype: 'BYTES',
      shape: [2],
      data: [new TextEncoder().encode('foo'), new TextEncoder().encode('bar')],
    });
    assert.deepEqual(signal!.shape, [2, 5]);
    assert.deepEqual(signal!.data, new Int32Array([1, 2, 3, 4, 5, 3, 4, 1, 2, 5]));
    assert.deepEqual(sensor!.shape, [2, 2, 2]);
    assert.deepEqual(sensor!.data, new Float32Array([1, 2, 3, 4, 4, 5, 6, 8]));
  });

  test('a single input given by name, columns as a bare value, and b64 bytes', () => {
    assert.deepEqual(
      decodeV1('{"instances": [{"x": 1}, {"x": 2}]}', halfPlusThree).request.inputs[0]!.data,
      new Float32Array([1, 2]),
    );
    assert.deepEqual(decodeV1('{"inputs": [[1, 2]]}', halfPlusThree).request.inputs[0]!.shape, [1, 2]);
    const bytes: ModelSignature = { inputs: [{ name: 'image_bytes', datatype: 'BYTES', shape: [-1] }], outputs: [] };
    const { request } = decodeV1('{"instances": [{"b64": "aW1hZ2UgYnl0ZXM="}, "plain"]}', bytes);
    assert.deepEqual(request.inputs[0]!.data, [
      new TextEncoder().encode('image bytes'),
      new TextEncoder().encode('plain'),
    ]);
  });
});

describe('V1 decode: refusals', () => {
  const cases: [string, string, ModelSignature, string, RegExp][] = [
    ['neither instances nor inputs', '{"signature_name": "x"}', halfPlusThree, 'invalid_request', /needs `instances`/],
    ['both instances and inputs', '{"instances": [1], "inputs": [1]}', halfPlusThree, 'invalid_request', /not both/],
    ['empty instances', '{"instances": []}', halfPlusThree, 'invalid_request', /non-empty list of rows/],
    [
      'ragged rows',
      '{"instances": [[1, 2], [3]]}',
      halfPlusThree,
      'invalid_input',
      /^input 'x': data has 3 elements but the shape needs 4$/,
    ],
    [
      'ragged rows with the right count',
      '{"instances": [[1, 2], [3], [4, 5, 6]]}',
      halfPlusThree,
      'invalid_input',
      /not rectangular/,
    ],
    [
      'an unknown named input',
      '{"instances": [{"z": 1}]}',
      halfPlusThree,
      'invalid_input',
      /^input 'z': is not an input of the model; its inputs are 'x'$/,
    ],
    [
      'an instance missing an input',
      '{"instances": [{"tag": "a", "signal": [1,2,3,4,5]}, {"tag": "b"}]}',
      tagged,
      'invalid_request',
      /every instance names the same inputs/,
    ],
    [
      'rows that are not objects for a multi-input model',
      '{"instances": [[1]]}',
      tagged,
      'invalid_request',
      /must be an object of named inputs/,
    ],
    ['a bare column for a multi-input model', '{"inputs": [1]}', tagged, 'invalid_request', /the model has 3 inputs/],
    [
      'a string for FP32',
      '{"instances": ["1"]}',
      halfPlusThree,
      'invalid_input',
      /element 0 is "1", expected an FP32 number/,
    ],
    [
      'bad base64',
      '{"instances": [{"b64": "@@"}]}',
      { inputs: [{ name: 'b', datatype: 'BYTES', shape: [-1] }], outputs: [] },
      'invalid_input',
      /expected a string or \{"b64"/,
    ],
  ];
  for (const [name, body, signature, code, message] of cases) {
    test(name, () => {
      assertRejects(() => decodeV1(body, signature), code as never, message);
    });
  }
});

describe('V1 encode', () => {
  const probabilities = {
    name: 'probabilities',
    datatype: 'FP32' as const,
    shape: [2, 2],
    data: new Float32Array([0.9, 0.1, 0.2, 0.8]),
  };
  const label = { name: 'label', datatype: 'INT64' as const, shape: [2], data: new BigInt64Array([0n, 1n]) };

  test('one output: predictions are its rows, outputs its whole value', () => {
    const response: InferResponse = {
      model_name: 'half',
      outputs: [{ name: 'y', datatype: 'FP32', shape: [3], data: new Float32Array([3.5, 4, 5.5]) }],
    };
    assert.equal(encodeV1(response, 'instances'), '{"predictions":[3.5,4,5.5]}');
    assert.equal(
      encodeV1({ model_name: 'm', outputs: [probabilities] }, 'instances'),
      '{"predictions":[[0.9,0.1],[0.2,0.8]]}',
    );
    assert.equal(
      encodeV1({ model_name: 'm', outputs: [probabilities] }, 'inputs'),
      '{"outputs":[[0.9,0.1],[0.2,0.8]]}',
    );
  });

  test('several outputs: an object per row, or an object of outputs', () => {
    const response: InferResponse = { model_name: 'm', outputs: [label, probabilities] };
    assert.equal(
      encodeV1(response, 'instances'),
      '{"predictions":[{"label":0,"probabilities":[0.9,0.1]},{"label":1,"probabilities":[0.2,0.8]}]}',
    );
    assert.equal(encodeV1(response, 'inputs'), '{"outputs":{"label":[0,1],"probabilities":[[0.9,0.1],[0.2,0.8]]}}');
  });

  test('a scalar output is one row; BYTES named *_bytes are base64', () => {
    const scalar: InferResponse = {
      model_name: 'm',
      outputs: [{ name: 's', datatype: 'FP64', shape: [], data: new Float64Array([2]) }],
    };
    assert.equal(encodeV1(scalar, 'instances'), '{"predictions":[2]}');
    assert.equal(encodeV1(scalar, 'inputs'), '{"outputs":2}');
    const bytes = (name: string): InferResponse => ({
      model_name: 'm',
      outputs: [{ name, datatype: 'BYTES', shape: [1], data: [new TextEncoder().encode('hi')] }],
    });
    assert.equal(encodeV1(bytes('image_bytes'), 'instances'), '{"predictions":[{"b64":"aGk="}]}');
    assert.equal(encodeV1(bytes('text'), 'instances'), '{"predictions":["hi"]}');
  });

  test('outputs of different batch sizes cannot form rows', () => {
    const response: InferResponse = { model_name: 'm', outputs: [label, { ...probabilities, shape: [1, 4] }] };
    assertRejects(
      () => encodeV1(response, 'instances'),
      'invalid_request',
      /different batch sizes .*use the columnar `inputs` format/,
    );
  });

  test('model status and list bodies follow KServe', () => {
    assert.equal(encodeV1ModelStatus('fraud', true), '{"name":"fraud","ready":true}');
    assert.equal(encodeV1ModelList(['a', 'b']), '{"models":["a","b"]}');
  });
});
