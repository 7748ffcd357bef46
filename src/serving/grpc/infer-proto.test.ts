import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ModelInferRequest } from './generated/inference/ModelInferRequest.generated.ts';
import type { ModelInferResponse } from './generated/inference/ModelInferResponse.generated.ts';
import { frameMessage, framePrefix } from './grpc-wire.ts';
import { fastDecodeInferRequest, fastEncodeInferResponse } from './infer-proto.ts';
import { inferenceService } from './proto.ts';

const { ModelInfer } = inferenceService();
const serialize = (message: ModelInferRequest) => ModelInfer.requestSerialize(message);
const full = (bytes: Buffer) => ModelInfer.requestDeserialize(bytes);
const raw = (n: number) => Buffer.from(Float32Array.from({ length: n }, (_, i) => i / 3).buffer);

/** Requests the fast path must decode exactly as protobufjs does. */
const COMMON: ModelInferRequest[] = [
  { model_name: 'fraud', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 30] }], raw_input_contents: [raw(30)] },
  {
    model_name: 'm',
    model_version: '3',
    id: 'req-é-1',
    inputs: [
      { name: 'a', datatype: 'FP32', shape: [2, 2] },
      { name: 'b', datatype: 'BYTES', shape: [] },
      { name: '', datatype: '', shape: [0, 2 ** 40] },
    ],
    outputs: [{ name: 'y' }, { name: '' }],
    raw_input_contents: [raw(4), Buffer.alloc(0), raw(1)],
  },
  { model_name: 'no-raw', inputs: [{ name: 'x', datatype: 'FP32', shape: [1] }] },
  {},
];

describe('fastDecodeInferRequest', () => {
  test('decodes the common messages to exactly what proto-loader gives', () => {
    for (const message of COMMON) {
      const bytes = serialize(message);
      const fast = fastDecodeInferRequest(bytes);
      assert.ok(fast, JSON.stringify(message));
      assert.deepEqual(fast, full(bytes));
    }
  });

  test('reads unpacked shapes and skips unknown fields, as protobufjs does', () => {
    // inputs { name "x" (1), shape 2 and 3 as separate varints (3), an unknown varint field 9 } + unknown field 15.
    const input = Buffer.from([0x0a, 1, 0x78, 0x18, 2, 0x18, 3, 0x48, 0x96, 0x01]);
    const bytes = Buffer.concat([Buffer.from([0x2a, input.length]), input, Buffer.from([0x7a, 2, 0xff, 0xfe])]);
    const fast = fastDecodeInferRequest(bytes);
    assert.deepEqual(fast?.inputs[0]?.shape, ['2', '3']);
    assert.deepEqual(fast, full(bytes));
  });

  test('leaves parameters, typed contents, negative or huge dimensions and broken bytes to the full decode', () => {
    const others: ModelInferRequest[] = [
      { model_name: 'm', parameters: { p: { bool_param: true } } },
      { inputs: [{ name: 'x', datatype: 'FP32', shape: [1], parameters: { q: { string_param: 's' } } }] },
      { inputs: [{ name: 'x', datatype: 'FP32', shape: [1], contents: { fp32_contents: [1] } }] },
      { inputs: [{ name: 'x', datatype: 'FP32', shape: [-1] }] },
      { inputs: [{ name: 'x', datatype: 'FP32', shape: ['9223372036854775807'] }] },
      { outputs: [{ name: 'y', parameters: { binary_data: { bool_param: true } } }] },
    ];
    for (const message of others) assert.equal(fastDecodeInferRequest(serialize(message)), undefined);
    const bytes = serialize(COMMON[1] as ModelInferRequest);
    for (let cut = 1; cut < bytes.length; cut++) {
      const fast = fastDecodeInferRequest(bytes.subarray(0, cut));
      // A cut that lands between top-level fields is a shorter valid message; anything else is not decoded here.
      if (fast !== undefined) assert.deepEqual(fast, full(bytes.subarray(0, cut)));
    }
    assert.equal(fastDecodeInferRequest(Buffer.from([0x0a, 5, 0x61])), undefined); // a string past the end
    assert.equal(fastDecodeInferRequest(Buffer.from([0x0b])), undefined); // a group
  });

  test('never accepts what protobufjs decodes differently or refuses (seeded mutations)', () => {
    let seed = 0x5eed;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    let decoded = 0;
    for (let round = 0; round < 5000; round++) {
      const bytes = Buffer.from(serialize(COMMON[round % 2] as ModelInferRequest));
      for (let flips = 1 + (next() % 3); flips > 0; flips--) bytes[next() % bytes.length] = next() % 256;
      const fast = fastDecodeInferRequest(bytes);
      if (fast === undefined) continue;
      decoded++;
      assert.deepEqual(fast, full(bytes));
    }
    assert.ok(decoded > 100, `only ${decoded} mutated messages took the fast path`);
  });
});

describe('fastEncodeInferResponse', () => {
  const decode = (bytes: Buffer) => ModelInfer.responseDeserialize(bytes);

  test('encodes raw responses to what protobufjs decodes back the same as its own encoding', () => {
    const responses: ModelInferResponse[] = [
      {
        model_name: 'fraud',
        model_version: '1',
        id: '',
        outputs: [
          { name: 'label', datatype: 'INT64', shape: [1] },
          { name: 'probabilities', datatype: 'FP32', shape: [1, 2] },
        ],
        raw_output_contents: [Buffer.from(BigInt64Array.of(1n).buffer), raw(2)],
      },
      {
        model_name: 'ü',
        model_version: '',
        id: 'x'.repeat(300),
        outputs: [{ name: 'e', datatype: 'BYTES', shape: [0, 2 ** 40] }],
        raw_output_contents: [new Uint8Array(0)],
      },
      { model_name: 'm', outputs: [], raw_output_contents: [] },
    ];
    for (const response of responses) {
      const fast = fastEncodeInferResponse(response);
      assert.ok(fast);
      assert.deepEqual(decode(fast), decode(ModelInfer.responseSerialize(response)));
      // With room for the gRPC prefix: the same bytes after it, framed in place.
      const framed = framePrefix(fastEncodeInferResponse(response, 5) as Buffer);
      assert.deepEqual(framed, frameMessage(fast));
    }
  });

  test('leaves typed contents and parameters to protobufjs', () => {
    const base = { model_name: 'm', outputs: [{ name: 'y', datatype: 'FP32', shape: [1] }] };
    assert.equal(fastEncodeInferResponse({ ...base, outputs: [{ ...base.outputs[0], contents: {} }] }), undefined);
    assert.equal(fastEncodeInferResponse({ ...base }), undefined);
    assert.equal(
      fastEncodeInferResponse({ ...base, raw_output_contents: [raw(1)], parameters: { p: { bool_param: true } } }),
      undefined,
    );
    const withParameters = [{ ...base.outputs[0], parameters: { p: { bool_param: true } } }];
    assert.equal(
      fastEncodeInferResponse({ ...base, outputs: withParameters, raw_output_contents: [raw(1)] }),
      undefined,
    );
  });
});
