import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Tensor } from '../../core/index.ts';
import { ModelportError } from '../../core/index.ts';
import type { InferTensorContents } from './generated/inference/InferTensorContents.generated.ts';
import type { ModelInferRequest } from './generated/inference/ModelInferRequest.generated.ts';
import type { ModelInferResponse__Output } from './generated/inference/ModelInferResponse.generated.ts';
import { CASES, rawBytes } from './grpc-client.fixture.ts';
import { decodeInferRequest, encodeInferResponse } from './grpc-codec.ts';
import { inferenceService } from './proto.ts';

const infer = inferenceService().ModelInfer;

/** Through real protobuf bytes, as the server receives it. */
function decode(message: ModelInferRequest) {
  return decodeInferRequest(infer.requestDeserialize(infer.requestSerialize(message)));
}

/** Through real protobuf bytes, as a client receives it. */
function wire(response: Parameters<typeof encodeInferResponse>[0], raw: boolean): ModelInferResponse__Output {
  return infer.responseDeserialize(infer.responseSerialize(encodeInferResponse(response, raw)));
}

function rejects(message: ModelInferRequest, code: string, pattern: RegExp): void {
  assert.throws(
    () => decode(message),
    (error: unknown) => {
      assert.ok(error instanceof ModelportError);
      assert.equal(error.code, code);
      assert.match(error.message, pattern);
      return true;
    },
  );
}

const fp32 = (shape: (number | string)[], values: number[]) => ({
  name: 'x',
  datatype: 'FP32',
  shape,
  contents: { fp32_contents: values },
});

describe('decodeInferRequest', () => {
  for (const c of CASES.filter((c) => c.contents !== undefined)) {
    test(`${c.datatype} through typed contents`, () => {
      const { request, raw } = decode({
        inputs: [{ name: 'in', datatype: c.datatype, shape: [3], contents: c.contents }],
      });
      assert.equal(raw, false);
      assert.deepEqual(request.inputs, [{ name: 'in', datatype: c.datatype, shape: [3], data: c.data }]);
    });
  }

  for (const c of CASES) {
    test(`${c.datatype} through raw_input_contents, at an unaligned offset`, () => {
      // A leading odd-length input shifts the second input's bytes off any alignment inside the message.
      const { request, raw } = decode({
        inputs: [
          { name: 'pad', datatype: 'UINT8', shape: [1] },
          { name: 'in', datatype: c.datatype, shape: [3] },
        ],
        raw_input_contents: [Buffer.of(9), rawBytes(c.datatype, c.data)],
      });
      assert.equal(raw, true);
      assert.deepEqual(request.inputs[1], { name: 'in', datatype: c.datatype, shape: [3], data: c.data });
    });
  }

  test('keeps id, parameters of every kind, requested outputs and shapes', () => {
    const { request } = decode({
      id: 'req-1',
      parameters: {
        flag: { bool_param: true },
        small: { int64_param: '-42' },
        big: { int64_param: '9223372036854775807' },
        text: { string_param: 'hi' },
        // An own "__proto__" key, as a hostile client can send it.
        ...JSON.parse('{"__proto__": {"string_param": "plain data"}}'),
      },
      inputs: [{ ...fp32([2, 1], [1, 2]), parameters: { binary_data_size: { int64_param: 8 } } }],
      outputs: [{ name: 'y', parameters: { classification: { int64_param: 2 } } }],
    });
    assert.equal(request.id, 'req-1');
    const { __proto__: data, ...rest } = Object.getOwnPropertyDescriptors(request.parameters);
    assert.deepEqual(Object.fromEntries(Object.entries(rest).map(([k, d]) => [k, d.value])), {
      flag: true,
      small: -42,
      big: 2n ** 63n - 1n,
      text: 'hi',
    });
    assert.equal(data?.value, 'plain data');
    assert.equal(Object.getPrototypeOf(request.parameters), Object.prototype);
    assert.deepEqual(request.inputs[0]?.shape, [2, 1]);
    assert.deepEqual(request.inputs[0]?.parameters, { binary_data_size: 8 });
    assert.deepEqual(request.outputs, [{ name: 'y', parameters: { classification: 2 } }]);
  });

  test('absent parts stay absent: no id, no parameters, all outputs', () => {
    const { request } = decode({ inputs: [fp32([1], [1])] });
    assert.deepEqual(Object.keys(request).sort(), ['inputs']);
  });

  test('a zero-element tensor needs no contents, even FP16', () => {
    const { request } = decode({
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [0, 3] },
        { name: 'b', datatype: 'FP16', shape: [0] },
      ],
    });
    assert.deepEqual(
      request.inputs.map((t) => t.data.length),
      [0, 0],
    );
  });

  test('rejects shapes whose element count overflows or that have negative dimensions, naming the input', () => {
    rejects(
      { inputs: [fp32(['9223372036854775807', '9223372036854775807'], [1])] },
      'invalid_input',
      /input 'x' has dimension 9223372036854775807/,
    );
    rejects(
      { inputs: [fp32([4294967296, 4294967296], [1])] },
      'invalid_input',
      /input 'x' has shape .* not a safe integer/,
    );
    rejects({ inputs: [fp32([-1, 3], [1, 2, 3])] }, 'invalid_input', /input 'x' has dimension -1/);
  });

  test('rejects raw contents whose byte length does not match shape and datatype', () => {
    rejects(
      { inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 2] }], raw_input_contents: [Buffer.alloc(15)] },
      'invalid_input',
      /input 'x' has 15 raw bytes; FP32 with 4 elements needs 16/,
    );
  });

  test('rejects contents and raw_input_contents together, and a raw count that differs from the inputs', () => {
    rejects(
      { inputs: [fp32([1], [1])], raw_input_contents: [Buffer.alloc(4)] },
      'invalid_input',
      /input 'x' sets contents while the request uses raw_input_contents/,
    );
    rejects(
      { inputs: [fp32([1], [1]), fp32([1], [1])], raw_input_contents: [Buffer.alloc(4)] },
      'invalid_request',
      /raw_input_contents has 1 entries for 2 inputs/,
    );
  });

  test('rejects malformed raw BYTES before allocating for them', () => {
    const bytes = (shape: number[], raw: Buffer) => ({
      inputs: [{ name: 's', datatype: 'BYTES', shape }],
      raw_input_contents: [raw],
    });
    rejects(bytes([1e9], Buffer.alloc(8)), 'invalid_input', /input 's' has 8 raw bytes, too few for 1000000000/);
    rejects(bytes([1], Buffer.from([9, 0, 0, 0, 1])), 'invalid_input', /element 0 overruns/);
    rejects(bytes([1], Buffer.from([1, 0, 0, 0, 65, 66])), 'invalid_input', /has 1 bytes after its 1 BYTES elements/);
  });

  test('rejects contents that do not fit the datatype', () => {
    rejects({ inputs: [fp32([3], [1, 2])] }, 'invalid_input', /input 'x' has 2 values in fp32_contents; shape needs 3/);
    rejects(
      { inputs: [{ name: 'x', datatype: 'FP32', shape: [1], contents: { fp64_contents: [1] } }] },
      'invalid_input',
      /input 'x' is FP32 but sets fp64_contents; send it in fp32_contents/,
    );
    rejects(
      { inputs: [{ name: 'x', datatype: 'INT8', shape: [1], contents: { int_contents: [128] } }] },
      'invalid_input',
      /outside the INT8 range/,
    );
    rejects(
      { inputs: [{ name: 'x', datatype: 'UINT16', shape: [1], contents: { uint_contents: [65536] } }] },
      'invalid_input',
      /outside the UINT16 range/,
    );
    rejects(
      { inputs: [{ name: 'h', datatype: 'FP16', shape: [1], contents: { uint_contents: [1] } }] },
      'invalid_input',
      /input 'h' is FP16, which has no typed contents field; send it in raw_input_contents/,
    );
    rejects(
      { inputs: [{ name: 'x', datatype: 'FP32', shape: [2] }] },
      'invalid_input',
      /has 0 values in fp32_contents/,
    );
    rejects(
      { inputs: [{ name: 'b', datatype: 'BOOL', shape: [1] }], raw_input_contents: [Buffer.of(2)] },
      'invalid_input',
      /BOOL bytes other than 0 and 1/,
    );
  });

  test('rejects unknown datatypes, missing and duplicate names, and empty output names', () => {
    rejects(
      { inputs: [{ name: 'x', datatype: 'FP128', shape: [0] }] },
      'invalid_input',
      /input 'x' has datatype 'FP128'/,
    );
    rejects({ inputs: [{ ...fp32([1], [1]), name: '' }] }, 'invalid_input', /inputs\[0\] has no name/);
    rejects({ inputs: [fp32([1], [1]), fp32([1], [1])] }, 'invalid_input', /input 'x' appears twice/);
    rejects({ inputs: [fp32([1], [1])], outputs: [{ name: '' }] }, 'invalid_request', /outputs\[0\]\.name is empty/);
  });

  test('clips long client-chosen names in messages', () => {
    const name = 'n'.repeat(10_000);
    assert.throws(
      () => decode({ inputs: [{ name, datatype: 'FP32', shape: [1] }] }),
      (e: Error) => e.message.length < 200,
    );
  });
});

describe('encodeInferResponse', () => {
  const response = (outputs: Tensor[]) => ({ model_name: 'm', model_version: '3', id: 'r', outputs });

  for (const c of CASES.filter((c) => c.contents !== undefined)) {
    test(`${c.datatype} into typed contents`, () => {
      const message = wire(response([{ name: 'y', datatype: c.datatype, shape: [3], data: c.data }]), false);
      assert.deepEqual(message.raw_output_contents, []);
      const [field, values] = Object.entries(c.contents!)[0]!;
      assert.deepEqual(message.outputs[0]?.contents?.[field as keyof InferTensorContents], values);
      assert.deepEqual(message.outputs[0]?.shape, ['3']);
    });
  }

  for (const c of CASES) {
    test(`${c.datatype} into raw_output_contents`, () => {
      const message = wire(response([{ name: 'y', datatype: c.datatype, shape: [3], data: c.data }]), true);
      assert.equal(message.outputs[0]?.contents, null);
      assert.deepEqual(message.raw_output_contents, [rawBytes(c.datatype, c.data)]);
    });
  }

  test('an FP16 output makes the whole response raw, since the proto has no FP16 field', () => {
    const message = wire(
      response([
        { name: 'a', datatype: 'FP32', shape: [1], data: Float32Array.of(2) },
        { name: 'h', datatype: 'FP16', shape: [1], data: Uint16Array.of(0x3c00) },
      ]),
      false,
    );
    assert.deepEqual(message.raw_output_contents, [Buffer.from([0, 0, 0, 64]), Buffer.from([0, 0x3c])]);
    assert.ok(message.outputs.every((o) => o.contents === null));
  });

  test('sends model, version, id and parameters, with non-integers as strings', () => {
    const message = wire(
      {
        ...response([]),
        parameters: { ok: true, n: 7, big: 2n ** 63n - 1n, ratio: 0.5, text: 's', obj: { a: 1 }, gone: undefined },
      },
      false,
    );
    assert.equal(message.model_name, 'm');
    assert.equal(message.model_version, '3');
    assert.equal(message.id, 'r');
    assert.deepEqual(message.parameters, {
      ok: { bool_param: true, parameter_choice: 'bool_param' },
      n: { int64_param: '7', parameter_choice: 'int64_param' },
      big: { int64_param: '9223372036854775807', parameter_choice: 'int64_param' },
      ratio: { string_param: '0.5', parameter_choice: 'string_param' },
      text: { string_param: 's', parameter_choice: 'string_param' },
      obj: { string_param: '{"a":1}', parameter_choice: 'string_param' },
    });
  });

  test('refuses an output whose data does not match its shape or datatype, as internal', () => {
    for (const output of [
      { name: 'y', datatype: 'FP32', shape: [3], data: new Float32Array(2) },
      { name: 'y', datatype: 'FP32', shape: [2], data: new Float64Array(2) },
      { name: 'y', datatype: 'BYTES', shape: [1], data: new Uint8Array(1) },
      { name: 'y', datatype: 'INT8', shape: [1], data: [Buffer.alloc(1)] },
    ] satisfies Tensor[]) {
      assert.throws(() => encodeInferResponse(response([output]), false), { code: 'internal' });
    }
  });
});
