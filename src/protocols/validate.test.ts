import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { InferRequest, ModelSignature, Tensor } from '../core/index.ts';
import { assertRejects } from './assertions.fixture.ts';
import { validateRequest, zeroRequest } from './validate.ts';

const signature: ModelSignature = {
  inputs: [
    { name: 'x', datatype: 'FP32', shape: [-1, 3] },
    { name: 'ids', datatype: 'INT64', shape: [-1] },
  ],
  outputs: [
    { name: 'label', datatype: 'INT64', shape: [-1] },
    { name: 'probabilities', datatype: 'FP32', shape: [-1, 2] },
  ],
};
const x = (over: Partial<Tensor> = {}): Tensor => ({
  name: 'x',
  datatype: 'FP32',
  shape: [2, 3],
  data: new Float32Array(6),
  ...over,
});
const ids = (): Tensor => ({ name: 'ids', datatype: 'INT64', shape: [2], data: new BigInt64Array(2) });
const check = (request: InferRequest) => () => validateRequest(request, signature);

describe('validateRequest', () => {
  test('a request matching the signature passes, any size on -1 dimensions', () => {
    validateRequest({ inputs: [x(), ids()], outputs: [{ name: 'label' }] }, signature);
    validateRequest({ inputs: [ids(), x({ shape: [0, 3], data: new Float32Array(0) })] }, signature);
  });

  const cases: [string, InferRequest, RegExp, string][] = [
    [
      'a wrong datatype',
      { inputs: [x({ datatype: 'INT64', data: new BigInt64Array(6) }), ids()] },
      /^input 'x': expected FP32, got INT64$/,
      'x',
    ],
    [
      'a wrong rank',
      { inputs: [x({ shape: [6], data: new Float32Array(6) }), ids()] },
      /^input 'x': expected rank 2 \(shape \[-1,3\]\), got shape \[6\]$/,
      'x',
    ],
    [
      'a wrong fixed dimension',
      { inputs: [x({ shape: [3, 2] }), ids()] },
      /^input 'x': dimension 1 is 2 but the model expects 3 \(shape \[-1,3\]\)$/,
      'x',
    ],
    [
      'data shorter than the shape',
      { inputs: [x({ data: new Float32Array(5) }), ids()] },
      /^input 'x': data has 5 elements but shape \[2,3\] needs 6$/,
      'x',
    ],
    ['a negative dimension', { inputs: [x({ shape: [-2, 3] }), ids()] }, /^input 'x': shape dimension 0 is -2/, 'x'],
    ['a missing input', { inputs: [x()] }, /^missing input 'ids' \(INT64 \[-1\]\)$/, 'ids'],
    [
      'an unknown input',
      { inputs: [x(), ids(), { ...ids(), name: 'z' }] },
      /^unknown input 'z'; the model's inputs are 'x', 'ids'$/,
      'z',
    ],
    ['an input given twice', { inputs: [x(), ids(), x()] }, /^input 'x' is given twice$/, 'x'],
    [
      'an input given twice in place of another (as many inputs as the signature has)',
      { inputs: [x(), x()] },
      /^input 'x' is given twice; missing input 'ids' \(INT64 \[-1\]\)$/,
      'x',
    ],
    [
      'an unknown output',
      { inputs: [x(), ids()], outputs: [{ name: 'proba' }] },
      /^unknown output 'proba'; the model's outputs are 'label', 'probabilities'$/,
      'proba',
    ],
  ];
  for (const [name, request, message, field] of cases) {
    test(name, () => {
      assertRejects(check(request), 'invalid_input', message, field);
    });
  }

  test('a signature of many inputs is checked the same way', () => {
    const wide: ModelSignature = {
      inputs: Array.from({ length: 40 }, (_, i) => ({ name: `f${i}`, datatype: 'FP32' as const, shape: [-1] })),
      outputs: [{ name: 'y', datatype: 'FP32', shape: [-1] }],
    };
    const inputs = wide.inputs.map((spec): Tensor => ({ ...spec, shape: [1], data: new Float32Array(1) }));
    validateRequest({ inputs: inputs.toReversed(), outputs: [{ name: 'y' }] }, wide);
    assertRejects(
      () => validateRequest({ inputs: [...inputs.slice(1), inputs[2]!] }, wide),
      'invalid_input',
      /^input 'f2' is given twice; missing input 'f0' \(FP32 \[-1\]\)$/,
      'f2',
    );
  });

  test('several problems are reported together; field names the first', () => {
    const error = assertRejects(
      check({ inputs: [x({ datatype: 'FP64', data: new Float64Array(6) })], outputs: [{ name: 'nope' }] }),
      'invalid_input',
      /expected FP32, got FP64; missing input 'ids'.*; unknown output 'nope'/,
    );
    assert.equal(error.field, 'x');
  });
});

describe('zeroRequest', () => {
  test('fills every input with zeros, dynamic dimensions as the batch size then 1', () => {
    const request = zeroRequest(
      { ...signature, inputs: [...signature.inputs, { name: 's', datatype: 'BYTES', shape: [-1, -1] }] },
      4,
    );
    assert.deepEqual(request.inputs[0], { name: 'x', datatype: 'FP32', shape: [4, 3], data: new Float32Array(12) });
    assert.deepEqual(request.inputs[1], { name: 'ids', datatype: 'INT64', shape: [4], data: new BigInt64Array(4) });
    assert.deepEqual(request.inputs[2]!.shape, [4, 1]);
    assert.deepEqual(request.inputs[2]!.data, [
      new Uint8Array(0),
      new Uint8Array(0),
      new Uint8Array(0),
      new Uint8Array(0),
    ]);
    validateRequest({ inputs: request.inputs.slice(0, 2) }, signature);
  });
});
