import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Datatype, InferResponse, Tensor } from '../core/index.ts';
import { assertRejects } from './assertions.fixture.ts';
import { decodeV2Json, encodeV2Json } from './v2-json.ts';

const body = (inputs: unknown[], extra: Record<string, unknown> = {}) => JSON.stringify({ inputs, ...extra });
const one = (input: Record<string, unknown>) => decodeV2Json(body([{ name: 'x', ...input }])).inputs[0]!;
const responseWith = (output: Tensor): InferResponse => ({ model_name: 'm', outputs: [output] });

describe('V2 JSON: the spec examples (kserve docs/predict-api/v2/required_api.md)', () => {
  // The request exactly as printed in the spec, whitespace and all.
  const specRequest = `{
      "id" : "42",
      "inputs" : [
        {
          "name" : "input0",
          "shape" : [ 2, 2 ],
          "datatype" : "UINT32",
          "data" : [ 1, 2, 3, 4 ]
        },
        {
          "name" : "input1",
          "shape" : [ 3 ],
          "datatype" : "BOOL",
          "data" : [ true ]
        }
      ],
      "outputs" : [
        {
          "name" : "output0"
        }
      ]
    }`;

  test('the printed request is refused: input1 has shape [3] but one element', () => {
    assertRejects(
      () => decodeV2Json(specRequest),
      'invalid_input',
      /^input 'input1': data has 1 elements but the shape needs 3$/,
      'input1',
    );
  });

  test('the request with input1 completed decodes to typed arrays', () => {
    const request = decodeV2Json(Buffer.from(specRequest.replace('[ true ]', '[ true, false, true ]')));
    assert.equal(request.id, '42');
    assert.deepEqual(request.outputs, [{ name: 'output0' }]);
    const [input0, input1] = request.inputs;
    assert.deepEqual(input0, {
      name: 'input0',
      datatype: 'UINT32',
      shape: [2, 2],
      data: new Uint32Array([1, 2, 3, 4]),
    });
    assert.deepEqual(input1, { name: 'input1', datatype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) });
  });

  test('the response encodes byte for byte (FP32 1.1 prints as 1.1)', () => {
    const text = encodeV2Json({
      model_name: 'mymodel',
      id: '42',
      outputs: [
        { name: 'output0', shape: [3, 2], datatype: 'FP32', data: new Float32Array([1.0, 1.1, 2.0, 2.1, 3.0, 3.1]) },
      ],
    });
    assert.equal(
      text,
      '{"model_name":"mymodel","id":"42","outputs":[{"name":"output0","shape":[3,2],"datatype":"FP32","data":[1,1.1,2,2.1,3,3.1]}]}',
    );
  });
});

describe('V2 JSON: every datatype round-trips', () => {
  const cases: [Datatype, unknown[], new (n: number) => unknown][] = [
    ['BOOL', [true, false, true, true], Uint8Array],
    ['UINT8', [0, 255, 7, 1], Uint8Array],
    ['UINT16', [0, 65535, 300, 1], Uint16Array],
    ['UINT32', [0, 4294967295, 70000, 1], Uint32Array],
    ['UINT64', [0, 9007199254740991, 5, 1], BigUint64Array],
    ['INT8', [-128, 127, 0, -1], Int8Array],
    ['INT16', [-32768, 32767, 0, -1], Int16Array],
    ['INT32', [-2147483648, 2147483647, 0, -1], Int32Array],
    ['INT64', [-9007199254740991, 9007199254740991, 0, -1], BigInt64Array],
    ['FP16', [0.1, -2.5, 2048, 0.0001], Uint16Array],
    ['FP32', [0.1, -1e-7, 3.4e38, 1], Float32Array],
    ['FP64', [0.1, 1e300, -5e-324, 2], Float64Array],
    ['BYTES', ['hello', '', 'ünïcode', '😀'], Array],
  ];
  for (const [datatype, values, kind] of cases) {
    test(datatype, () => {
      const input = one({ datatype, shape: [2, 2], data: values });
      assert.ok(input.data instanceof kind, `${datatype} decodes to ${kind.name}`);
      assert.equal(input.data.length, 4);
      const encoded = JSON.parse(encodeV2Json(responseWith({ ...input, name: 'y' })));
      assert.deepEqual(encoded.outputs[0], { name: 'y', shape: [2, 2], datatype, data: values });
    });
  }

  test('FP16 holds IEEE half bits converted from the JSON numbers', () => {
    assert.deepEqual(
      one({ datatype: 'FP16', shape: [3], data: [1, -2, 0.1] }).data,
      new Uint16Array([0x3c00, 0xc000, 0x2e66]),
    );
  });

  test('floats print as the shortest number that reads back to the same value, like numpy', () => {
    const text = encodeV2Json(
      responseWith({ name: 'y', datatype: 'FP16', shape: [2], data: new Uint16Array([0x7bff, 0x2e66]) }),
    );
    assert.match(text, /"data":\[65500,0.1\]/); // 65500 reads back as the half 65504, as np.float16 prints it
    const f32 = new Float32Array([16777216, 1 / 3, 1e-30, 0]);
    const values = JSON.parse(encodeV2Json(responseWith({ name: 'y', datatype: 'FP32', shape: [4], data: f32 })))
      .outputs[0].data;
    assert.deepEqual(values, [16777216, 0.33333334, 1e-30, 0]);
    assert.deepEqual(new Float32Array(values), f32);
  });

  test('BYTES elements are the UTF-8 bytes of each string', () => {
    assert.deepEqual(one({ datatype: 'BYTES', shape: [1], data: ['é'] }).data, [new Uint8Array([0xc3, 0xa9])]);
  });

  test('INT64 beyond 2^53 encodes exactly as a JSON number', () => {
    const text = encodeV2Json(
      responseWith({
        name: 'y',
        datatype: 'INT64',
        shape: [2],
        data: new BigInt64Array([2n ** 62n + 1n, -(2n ** 63n)]),
      }),
    );
    assert.match(text, /"data":\[4611686018427387905,-9223372036854775808\]/);
    const u = encodeV2Json(
      responseWith({ name: 'y', datatype: 'UINT64', shape: [1], data: new BigUint64Array([2n ** 64n - 1n]) }),
    );
    assert.match(u, /"data":\[18446744073709551615\]/);
  });

  test('non-finite floats encode as null (JSON has no NaN)', () => {
    const text = encodeV2Json(
      responseWith({ name: 'y', datatype: 'FP32', shape: [3], data: new Float32Array([Number.NaN, Infinity, 1]) }),
    );
    assert.match(text, /"data":\[null,null,1\]/);
  });
});

describe('V2 JSON: nested and flat data', () => {
  test('nested data equals flat data, row-major', () => {
    const flat = one({ datatype: 'FP32', shape: [2, 3], data: [1, 2, 3, 4, 5, 6] });
    const nested = one({
      datatype: 'FP32',
      shape: [2, 3],
      data: [
        [1, 2, 3],
        [4, 5, 6],
      ],
    });
    assert.deepEqual(nested, flat);
    const deep = one({
      datatype: 'INT32',
      shape: [2, 2, 2],
      data: [
        [
          [1, 2],
          [3, 4],
        ],
        [
          [5, 6],
          [7, 8],
        ],
      ],
    });
    assert.deepEqual(deep.data, new Int32Array([1, 2, 3, 4, 5, 6, 7, 8]));
  });

  test('any nesting with the right count is flattened, as Triton and KServe accept', () => {
    assert.deepEqual(
      one({
        datatype: 'FP64',
        shape: [4],
        data: [
          [1, 2],
          [3, 4],
        ],
      }).data,
      new Float64Array([1, 2, 3, 4]),
    );
  });

  test('a flat array that turns out to hold a nested one falls back to the general path', () => {
    assert.deepEqual(one({ datatype: 'FP32', shape: [2], data: [1, [2]] }).data, new Float32Array([1, 2]));
    assertRejects(() => one({ datatype: 'FP32', shape: [2], data: [1, 'a'] }), 'invalid_input', /element 1 is "a"/);
  });

  test('an empty tensor decodes', () => {
    assert.deepEqual(one({ datatype: 'FP32', shape: [0, 3], data: [] }).data, new Float32Array(0));
  });

  test('nesting of exactly 100 levels is accepted, 101 refused', () => {
    // {inputs: [{data: ...}]} is three levels before data.
    const depth = (levels: number) => ({
      datatype: 'FP32',
      shape: Array(levels).fill(1),
      data: JSON.parse('['.repeat(levels) + '1' + ']'.repeat(levels)),
    });
    assert.equal(one(depth(97)).data.length, 1);
    assertRejects(() => one(depth(98)), 'invalid_json', /nests deeper than 100 levels/);
  });
});

describe('V2 JSON: request fields', () => {
  test('request and tensor parameters and requested outputs are kept', () => {
    const request = decodeV2Json(
      body([{ name: 'x', shape: [1], datatype: 'FP32', data: [1], parameters: { content_type: 'np' } }], {
        parameters: { binary_data_output: true, priority: 2 },
        outputs: [{ name: 'y', parameters: { binary_data: false } }],
      }),
    );
    assert.deepEqual(request.parameters, { binary_data_output: true, priority: 2 });
    assert.deepEqual(request.inputs[0]!.parameters, { content_type: 'np' });
    assert.deepEqual(request.outputs, [{ name: 'y', parameters: { binary_data: false } }]);
  });

  test('unknown fields are ignored at every level', () => {
    const request = decodeV2Json(
      body([{ name: 'x', shape: [1], datatype: 'FP32', data: [1], extra: {} }], { model_name: 'm' }),
    );
    assert.deepEqual(request, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: new Float32Array([1]) }] });
  });

  test('response fields are written in the spec order, parameters included', () => {
    const text = encodeV2Json({
      model_name: 'm',
      model_version: '3',
      id: 'a',
      parameters: { p: 1 },
      outputs: [{ name: 'y', datatype: 'BOOL', shape: [1], data: new Uint8Array([1]), parameters: { q: 'r' } }],
    });
    assert.equal(
      text,
      '{"model_name":"m","model_version":"3","id":"a","parameters":{"p":1},"outputs":[{"name":"y","shape":[1],"datatype":"BOOL","parameters":{"q":"r"},"data":[true]}]}',
    );
  });
});

describe('V2 JSON: refusals name the field', () => {
  const x = (input: Record<string, unknown>) => () => one({ datatype: 'FP32', shape: [2], data: [1, 2], ...input });
  const cases: [string, () => unknown, RegExp, string?][] = [
    ['negative dimension', x({ shape: [-1, 2] }), /^input 'x': shape dimension 0 is -1; dimensions are integers >= 0$/],
    ['fractional dimension', x({ shape: [1.5] }), /^input 'x': shape dimension 0 is 1.5/],
    ['string dimension', x({ shape: ['2'] }), /^input 'x': shape dimension 0 is "2"/],
    [
      'overflowing shape',
      x({ shape: [2 ** 40, 2 ** 40] }),
      /^input 'x': shape \[1099511627776,1099511627776\] has too many elements$/,
    ],
    ['huge shape, small data', x({ shape: [1e9] }), /^input 'x': data has 2 elements but the shape needs 1000000000$/],
    ['too little data', x({ data: [1] }), /^input 'x': data has 1 elements but the shape needs 2$/],
    ['too much nested data', x({ data: [[1, 2], [3]] }), /^input 'x': data has 3 elements/],
    ['a string for FP32', x({ data: [1, 'NaN'] }), /^input 'x': element 1 is "NaN", expected an FP32 number for FP32$/],
    ['null for FP32', x({ data: [null, 1] }), /element 0 is null/],
    ['an object for FP32', x({ data: [{}, 1] }), /element 0 is an object/],
    ['FP32 overflow', x({ data: [1e39, 1] }), /element 0 is 1e\+39, expected an FP32 number/],
    ['FP16 overflow', x({ datatype: 'FP16', data: [70000, 1] }), /element 0 is 70000, expected an FP16 number/],
    ['UINT8 out of range', x({ datatype: 'UINT8', data: [300, 1] }), /element 0 is 300, expected a UINT8 integer/],
    ['INT8 out of range', x({ datatype: 'INT8', data: [1, -129] }), /element 1 is -129, expected an INT8 integer/],
    ['UINT32 negative', x({ datatype: 'UINT32', data: [-1, 1] }), /element 0 is -1, expected a UINT32 integer/],
    ['INT32 fraction', x({ datatype: 'INT32', data: [1.5, 1] }), /element 0 is 1.5, expected an INT32 integer/],
    [
      'INT64 unsafe',
      x({ datatype: 'INT64', data: [2 ** 53, 1] }),
      /element 0 is 9007199254740992, expected an integer within/,
    ],
    ['UINT64 negative', x({ datatype: 'UINT64', data: [-1, 1] }), /element 0 is -1, expected an integer from 0/],
    ['BOOL as a number', x({ datatype: 'BOOL', data: [1, 0] }), /element 0 is 1, expected true or false for BOOL/],
    ['BYTES as a number', x({ datatype: 'BYTES', data: ['a', 5] }), /element 1 is 5, expected a string for BYTES/],
    ['unknown datatype', x({ datatype: 'FP8' }), /^input 'x': datatype "FP8" is not one of/],
    ['data not an array', x({ data: 5 }), /^input 'x': data must be an array, got 5$/],
    ['no data', () => decodeV2Json(body([{ name: 'x', shape: [1], datatype: 'FP32' }])), /^input 'x': has no data/],
    [
      'binary size without the header',
      x({ parameters: { binary_data_size: 8 }, data: undefined }),
      /no Inference-Header-Content-Length/,
    ],
  ];
  for (const [name, fn, message] of cases) {
    test(name, () => {
      assertRejects(fn, 'invalid_input', message, 'x');
    });
  }

  test('a duplicate input name', () => {
    const input = { name: 'x', shape: [1], datatype: 'FP32', data: [1] };
    assertRejects(() => decodeV2Json(body([input, input])), 'invalid_input', /^input 'x': is given twice/, 'x');
  });

  const structural: [string, string, RegExp, string][] = [
    ['a body that is not an object', '[1]', /^body: must be a JSON object, got an array$/, 'body'],
    ['inputs missing', '{}', /^inputs: must be an array of inputs, got undefined$/, 'inputs'],
    ['an input that is not an object', '{"inputs":[5]}', /^inputs\[0\]: must be an object/, 'inputs[0]'],
    [
      'an input without a name',
      '{"inputs":[{"shape":[1]}]}',
      /^inputs\[0\]\.name: must be a non-empty string/,
      'inputs[0].name',
    ],
    ['an id that is a number', '{"id":4,"inputs":[]}', /^id: must be a string, got 4$/, 'id'],
    ['parameters that are a list', '{"inputs":[],"parameters":[]}', /^parameters: must be an object/, 'parameters'],
    [
      'a parameter that is an object',
      '{"inputs":[],"parameters":{"a":{}}}',
      /^parameters\.a: must be a string, number or boolean/,
      'parameters.a',
    ],
    ['outputs not a list', '{"inputs":[],"outputs":{}}', /^outputs: must be an array/, 'outputs'],
    ['an output without a name', '{"inputs":[],"outputs":[{}]}', /^outputs\[0\]\.name/, 'outputs[0].name'],
  ];
  for (const [name, text, message, field] of structural) {
    test(name, () => {
      assertRejects(() => decodeV2Json(text), 'invalid_request', message, field);
    });
  }

  test('malformed JSON', () => {
    assertRejects(() => decodeV2Json('{"inputs": ['), 'invalid_json', /^body is not valid JSON/);
    assertRejects(() => decodeV2Json(''), 'invalid_json', /^body is not valid JSON/);
  });

  test('a hostile name is clipped in the message', () => {
    const name = 'n'.repeat(10_000);
    const error = assertRejects(
      () => decodeV2Json(body([{ name, shape: [-1], datatype: 'FP32', data: [] }])),
      'invalid_input',
      /\.\.\.': shape/,
    );
    assert.ok(error.message.length < 300);
  });
});
