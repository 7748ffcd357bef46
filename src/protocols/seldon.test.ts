import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { InferResponse, ModelSignature } from '../core/index.ts';
import { ModelportError } from '../core/index.ts';
import { assertRejects, TABULAR } from './assertions.fixture.ts';
import { decodeSeldon, encodeSeldon, seldonErrorBody } from './seldon.ts';

const JSON_TYPE = 'application/json';
const FORM = 'application/x-www-form-urlencoded; charset=utf-8';
const columns: ModelSignature = {
  inputs: [
    { name: 'age', datatype: 'INT64', shape: [-1] },
    { name: 'city', datatype: 'BYTES', shape: [-1, 1] },
  ],
  outputs: [],
};

describe('Seldon decode', () => {
  test('data.ndarray into the single input', () => {
    const decoded = decodeSeldon('{"data":{"names":["a","b","c"],"ndarray":[[1,2,3],[4,5,6]]}}', JSON_TYPE, TABULAR);
    assert.equal(decoded.format, 'ndarray');
    assert.deepEqual(decoded.names, ['a', 'b', 'c']);
    assert.deepEqual(decoded.request.inputs, [
      { name: 'x', datatype: 'FP32', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
    ]);
  });

  test('data.tensor with shape and values, and meta.puid as the request id', () => {
    const decoded = decodeSeldon(
      '{"meta":{"puid":"p1"},"data":{"tensor":{"shape":[1,3],"values":[1,2,3]}}}',
      JSON_TYPE,
      TABULAR,
    );
    assert.equal(decoded.format, 'tensor');
    assert.equal(decoded.request.id, 'p1');
    assert.deepEqual(decoded.request.inputs[0]!.data, new Float32Array([1, 2, 3]));
  });

  test('the form-encoded json= field decodes like the JSON body', () => {
    const json = '{"data":{"ndarray":[[1,2,3]]}}';
    const form = `json=${encodeURIComponent(json)}`;
    assert.deepEqual(decodeSeldon(Buffer.from(form), FORM, TABULAR), decodeSeldon(json, JSON_TYPE, TABULAR));
  });

  test('named columns feed the inputs of a multi-input model', () => {
    const body = '{"data":{"names":["city","age"],"ndarray":[["Paris",31],["Oslo",42]]}}';
    const [city, age] = decodeSeldon(body, JSON_TYPE, columns).request.inputs;
    assert.deepEqual(city, {
      name: 'city',
      datatype: 'BYTES',
      shape: [2, 1],
      data: [new TextEncoder().encode('Paris'), new TextEncoder().encode('Oslo')],
    });
    assert.deepEqual(age, { name: 'age', datatype: 'INT64', shape: [2], data: new BigInt64Array([31n, 42n]) });
    const numeric: ModelSignature = {
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [-1] },
        { name: 'b', datatype: 'FP64', shape: [-1, 1] },
      ],
      outputs: [],
    };
    const tensor = decodeSeldon(
      '{"data":{"names":["a","b"],"tensor":{"shape":[2,2],"values":[1,2,3,4]}}}',
      JSON_TYPE,
      numeric,
    );
    assert.deepEqual(
      tensor.request.inputs.map((t) => t.data),
      [new Float32Array([1, 3]), new Float64Array([2, 4])],
    );
  });

  const cases: [string, string, string | undefined, ModelSignature, string, RegExp][] = [
    [
      'an unknown field',
      '{"data":{"ndarray":[]},"extra":1}',
      JSON_TYPE,
      TABULAR,
      'unknown_field',
      /^extra: is not a SeldonMessage field$/,
    ],
    ['strData', '{"strData":"hi"}', JSON_TYPE, TABULAR, 'invalid_request', /^strData: is not supported/],
    [
      'both ndarray and tensor',
      '{"data":{"ndarray":[],"tensor":{}}}',
      JSON_TYPE,
      TABULAR,
      'invalid_request',
      /not both/,
    ],
    ['no data', '{"meta":{}}', JSON_TYPE, TABULAR, 'invalid_request', /^data: must be an object/],
    [
      'tensor values not matching the shape',
      '{"data":{"tensor":{"shape":[2,3],"values":[1]}}}',
      JSON_TYPE,
      TABULAR,
      'invalid_input',
      /^input 'x': tensor.values has 1 elements but shape needs 6$/,
    ],
    [
      'a negative tensor dimension',
      '{"data":{"tensor":{"shape":[-2,3],"values":[]}}}',
      JSON_TYPE,
      TABULAR,
      'invalid_input',
      /shape dimension 0 is -2/,
    ],
    ['a form body without json', 'data=1', FORM, TABULAR, 'invalid_request', /no `json` field/],
    [
      'columns without names',
      '{"data":{"ndarray":[[1,"a"]]}}',
      JSON_TYPE,
      columns,
      'invalid_request',
      /name the input of each column/,
    ],
    [
      'an unknown column name',
      '{"data":{"names":["age","town"],"ndarray":[[1,"a"]]}}',
      JSON_TYPE,
      columns,
      'invalid_input',
      /^input 'town': is not an input/,
    ],
    [
      'a row of the wrong width',
      '{"data":{"names":["age","city"],"ndarray":[[1]]}}',
      JSON_TYPE,
      columns,
      'invalid_request',
      /must be a row of 2 values/,
    ],
    [
      'a string in a number column',
      '{"data":{"names":["age","city"],"ndarray":[["1","a"]]}}',
      JSON_TYPE,
      columns,
      'invalid_input',
      /^input 'age': element 0 is "1"/,
    ],
  ];
  for (const [name, body, type, signature, code, message] of cases) {
    test(name, () => {
      assertRejects(() => decodeSeldon(body, type, signature), code as never, message);
    });
  }
});

describe('Seldon encode', () => {
  const response: InferResponse = {
    model_name: 'iris',
    outputs: [
      { name: 'label', datatype: 'INT64', shape: [1], data: new BigInt64Array([0n]) },
      { name: 'probabilities', datatype: 'FP32', shape: [1, 2], data: new Float32Array([0.9, 0.1]) },
    ],
  };

  test('ndarray in, ndarray out, with t:i column names and the probabilities output', () => {
    assert.equal(encodeSeldon(response, 'ndarray'), '{"data":{"names":["t:0","t:1"],"ndarray":[[0.9,0.1]]},"meta":{}}');
  });

  test('tensor in, tensor out; given names and output; puid echoed', () => {
    assert.equal(
      encodeSeldon({ ...response, id: 'p1' }, 'tensor', { names: ['setosa', 'versicolor'] }),
      '{"data":{"names":["setosa","versicolor"],"tensor":{"shape":[1,2],"values":[0.9,0.1]}},"meta":{"puid":"p1"}}',
    );
    assert.equal(
      encodeSeldon(response, 'tensor', { output: 'label' }),
      '{"data":{"names":[],"tensor":{"shape":[1],"values":[0]}},"meta":{}}',
    );
    assertRejects(() => encodeSeldon(response, 'tensor', { output: 'nope' }), 'invalid_request', /no output 'nope'/);
  });

  test('non-numeric outputs are always ndarray', () => {
    const text: InferResponse = {
      model_name: 'm',
      outputs: [
        {
          name: 's',
          datatype: 'BYTES',
          shape: [2],
          data: [new TextEncoder().encode('a'), new TextEncoder().encode('b')],
        },
      ],
    };
    assert.equal(encodeSeldon(text, 'tensor'), '{"data":{"names":[],"ndarray":["a","b"]},"meta":{}}');
  });

  test('the error body', () => {
    const body = JSON.parse(seldonErrorBody(new ModelportError('invalid_input', "input 'x': bad")));
    assert.deepEqual(body, {
      status: { code: 400, info: "input 'x': bad", reason: 'MICROSERVICE_BAD_DATA', status: 'FAILURE' },
    });
  });
});
