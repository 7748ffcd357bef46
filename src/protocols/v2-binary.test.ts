import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Datatype, ErrorCode, InferRequest, InferResponse, Tensor } from '../core/index.ts';
import { assertRejects } from './assertions.fixture.ts';
import { decodeV2Request, encodeV2Response } from './v2-binary.ts';
import { decodeV2Json } from './v2-json.ts';

/** A request the way tritonclient builds it: the JSON header, then each binary input's bytes, in order. */
function binaryRequest(header: unknown, ...chunks: Uint8Array[]): [Buffer, Record<string, string>] {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  return [Buffer.concat([json, ...chunks]), { 'inference-header-content-length': String(json.length) }];
}

/** tritonclient's serialize_byte_tensor: each element as a uint32 little-endian length, then its bytes. */
function serializeBytes(items: string[]): Buffer {
  return Buffer.concat(
    items.flatMap((s) => {
      const bytes = Buffer.from(s);
      const length = Buffer.alloc(4);
      length.writeUInt32LE(bytes.length);
      return [length, bytes];
    }),
  );
}

const le = (array: ArrayBufferView) => Buffer.from(array.buffer, array.byteOffset, array.byteLength);
const concat = (body: string | Buffer[]) => (Array.isArray(body) ? Buffer.concat(body) : Buffer.from(body));

describe('V2 binary: the examples of Triton docs/protocol/extension_binary_data.md', () => {
  test('the request: 16 bytes of UINT32 then 3 bytes of BOOL after the JSON header', () => {
    const header = `{
  "model_name" : "mymodel",
  "inputs" : [
    {
      "name" : "input0",
      "shape" : [ 2, 2 ],
      "datatype" : "UINT32",
      "parameters" : {
        "binary_data_size" : 16
      }
    },
    {
      "name" : "input1",
      "shape" : [ 3 ],
      "datatype" : "BOOL",
      "parameters" : {
        "binary_data_size" : 3
      }
    }
  ],
  "outputs" : [
    {
      "name" : "output0",
      "parameters" : {
        "binary_data" : true
      }
    }
  ]
}`;
    const [body, headers] = binaryRequest(header, le(new Uint32Array([1, 2, 3, 4])), new Uint8Array([1, 0, 1]));
    assert.equal(body.length, Buffer.byteLength(header) + 19);
    const request = decodeV2Request(body, headers);
    assert.deepEqual(request.inputs, [
      { name: 'input0', datatype: 'UINT32', shape: [2, 2], data: new Uint32Array([1, 2, 3, 4]) },
      { name: 'input1', datatype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) },
    ]);
    assert.deepEqual(request.outputs, [{ name: 'output0', parameters: { binary_data: true } }]);
  });

  test('the response: a JSON header with binary_data_size 24, then the 24 bytes of output0', () => {
    const data = new Float32Array([1, 1.1, 2, 2.1, 3, 3.1]);
    const request = decodeV2Json('{"inputs":[],"outputs":[{"name":"output0","parameters":{"binary_data":true}}]}');
    const encoded = encodeV2Response(
      { model_name: 'mymodel', outputs: [{ name: 'output0', shape: [3, 2], datatype: 'FP32', data }] },
      request,
    );
    const json =
      '{"model_name":"mymodel","outputs":[{"name":"output0","shape":[3,2],"datatype":"FP32","parameters":{"binary_data_size":24}}]}';
    assert.equal(encoded.contentType, 'application/octet-stream');
    assert.equal(encoded.headerLength, json.length);
    assert.ok(Array.isArray(encoded.body));
    assert.equal(encoded.body[0]!.toString(), json);
    assert.deepEqual(concat(encoded.body).subarray(json.length), le(data));
    assert.equal(encoded.body[1]!.buffer, data.buffer, 'fixed-size outputs are sent without a copy');
  });
});

describe('V2 binary: requests built like tritonclient', () => {
  test('BYTES with length prefixes, FP32 and a JSON input in one request', () => {
    const [body, headers] = binaryRequest(
      {
        inputs: [
          { name: 'text', shape: [3], datatype: 'BYTES', parameters: { binary_data_size: 4 * 3 + 5 + 0 + 5 } },
          { name: 'json', shape: [2], datatype: 'INT32', data: [7, 8] },
          { name: 'x', shape: [1, 2], datatype: 'FP32', parameters: { binary_data_size: 8, other: 'kept' } },
        ],
        parameters: { binary_data_output: true },
      },
      serializeBytes(['hello', '', 'ünï']),
      le(new Float32Array([0.5, -1])),
    );
    const request = decodeV2Request(body, headers);
    const [text, json, x] = request.inputs;
    assert.deepEqual(
      (text!.data as Uint8Array[]).map((b) => Buffer.from(b).toString()),
      ['hello', '', 'ünï'],
    );
    assert.deepEqual(json!.data, new Int32Array([7, 8]));
    assert.deepEqual(x!.data, new Float32Array([0.5, -1]));
    assert.deepEqual(x!.parameters, { other: 'kept' }, 'binary_data_size is a transport detail and is dropped');
    assert.equal(text!.parameters, undefined);
  });

  test('aligned data is a view into the body; misaligned data is copied', () => {
    for (const pad of [0, 1, 2, 3]) {
      const header = JSON.stringify({
        inputs: [{ name: 'x', shape: [2], datatype: 'FP64', parameters: { binary_data_size: 16 } }],
      });
      const json = Buffer.from(header + ' '.repeat(pad));
      const body = Buffer.alloc(json.length + 16);
      json.copy(body);
      body.writeDoubleLE(1.5, json.length);
      body.writeDoubleLE(-2, json.length + 8);
      const data = decodeV2Request(body, { 'inference-header-content-length': String(json.length) }).inputs[0]!.data;
      assert.deepEqual(data, new Float64Array([1.5, -2]));
      const aligned = (body.byteOffset + json.length) % 8 === 0;
      assert.equal((data as Float64Array).buffer === body.buffer, aligned);
    }
  });

  test('without the header the body is plain JSON', () => {
    const request = decodeV2Request(
      Buffer.from('{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[2]}]}'),
      {},
    );
    assert.deepEqual(request.inputs[0]!.data, new Float32Array([2]));
  });

  test('a header covering the whole body works with no binary inputs', () => {
    const [body, headers] = binaryRequest({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [2] }] });
    assert.deepEqual(decodeV2Request(body, headers).inputs[0]!.data, new Float32Array([2]));
  });
});

describe('V2 binary: every datatype round-trips through an encoded response', () => {
  const samples: [Datatype, Tensor['data']][] = [
    ['BOOL', new Uint8Array([1, 0, 1])],
    ['UINT8', new Uint8Array([0, 255, 3])],
    ['UINT16', new Uint16Array([0, 65535, 3])],
    ['UINT32', new Uint32Array([0, 4294967295, 3])],
    ['UINT64', new BigUint64Array([0n, 2n ** 64n - 1n, 3n])],
    ['INT8', new Int8Array([-128, 127, 3])],
    ['INT16', new Int16Array([-32768, 32767, 3])],
    ['INT32', new Int32Array([-(2 ** 31), 2 ** 31 - 1, 3])],
    ['INT64', new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 3n])],
    ['FP16', new Uint16Array([0x3c00, 0x7c00, 0x7e00])],
    ['FP32', new Float32Array([0.1, Number.NaN, -Infinity])],
    ['FP64', new Float64Array([0.1, Number.NaN, 5e-324])],
    ['BYTES', [new Uint8Array([0, 255]), new Uint8Array(0), new Uint8Array([1, 2, 3])]],
  ];
  for (const [datatype, data] of samples) {
    test(datatype, () => {
      const response: InferResponse = { model_name: 'm', outputs: [{ name: 'y', datatype, shape: [3], data }] };
      const request: InferRequest = { inputs: [], parameters: { binary_data_output: true } };
      const { body, headerLength } = encodeV2Response(response, request);
      const full = concat(body);
      // Turn the response header into a request header: outputs become inputs.
      const header = JSON.parse(full.subarray(0, headerLength).toString());
      const [again, headers] = binaryRequest({ inputs: header.outputs }, full.subarray(headerLength));
      const decoded = decodeV2Request(again, headers).inputs[0]!;
      assert.equal(decoded.datatype, datatype);
      assert.deepEqual(decoded.data, data);
    });
  }
});

describe('V2 binary: which outputs are binary', () => {
  const response: InferResponse = {
    model_name: 'm',
    outputs: [
      { name: 'a', datatype: 'INT32', shape: [1], data: new Int32Array([1]) },
      { name: 'b', datatype: 'INT32', shape: [1], data: new Int32Array([2]) },
    ],
  };
  const binaryNames = (request?: InferRequest) => {
    const { body, headerLength } = encodeV2Response(response, request);
    const full = concat(body);
    const header = JSON.parse(full.subarray(0, headerLength ?? full.length).toString());
    return header.outputs.filter((o: { data?: unknown }) => o.data === undefined).map((o: { name: string }) => o.name);
  };

  test('none by default: plain JSON without the header length', () => {
    const encoded = encodeV2Response(response);
    assert.equal(encoded.contentType, 'application/json');
    assert.equal(encoded.headerLength, undefined);
    assert.deepEqual(binaryNames(), []);
  });

  test('binary_data_output makes all binary; binary_data on an output overrides it', () => {
    assert.deepEqual(binaryNames({ inputs: [], parameters: { binary_data_output: true } }), ['a', 'b']);
    assert.deepEqual(
      binaryNames({
        inputs: [],
        parameters: { binary_data_output: true },
        outputs: [{ name: 'b', parameters: { binary_data: false } }],
      }),
      ['a'],
    );
    assert.deepEqual(binaryNames({ inputs: [], outputs: [{ name: 'b', parameters: { binary_data: true } }] }), ['b']);
  });
});

describe('V2 binary: hostile sizes are refused before any slice', () => {
  const header = (parameters: Record<string, unknown>, datatype = 'FP32', shape = [2]) => ({
    inputs: [{ name: 'x', shape, datatype, parameters }],
  });
  const reject = (body: Buffer, headers: Record<string, string>, code: ErrorCode, message: RegExp) =>
    assertRejects(() => decodeV2Request(body, headers), code, message);

  test('a size past the end of the body', () => {
    const [body, headers] = binaryRequest(header({ binary_data_size: 8 }), new Uint8Array(4));
    reject(
      body,
      headers,
      'invalid_input',
      /^input 'x': binary_data_size 8 runs past the end of the body \(4 bytes left\)$/,
    );
  });

  test('negative, fractional, huge and non-numeric sizes', () => {
    for (const size of [-8, 1.5, 2 ** 60, '8', null]) {
      const [body, headers] = binaryRequest(header({ binary_data_size: size }), new Uint8Array(8));
      assertRejects(
        () => decodeV2Request(body, headers),
        size === null ? 'invalid_request' : 'invalid_input',
        /binary_data_size/,
      );
    }
  });

  test('a size that does not match the shape', () => {
    const [body, headers] = binaryRequest(header({ binary_data_size: 12 }), new Uint8Array(12));
    reject(
      body,
      headers,
      'invalid_input',
      /^input 'x': binary_data_size is 12 but 2 FP32 elements of shape \[2\] take 8 bytes$/,
    );
  });

  test('a huge shape with a small size allocates nothing', () => {
    const [body, headers] = binaryRequest(
      header({ binary_data_size: 8 }, 'FP32', [2 ** 26, 2 ** 26]),
      new Uint8Array(8),
    );
    reject(body, headers, 'invalid_input', /take 18014398509481984 bytes/);
    const [b2, h2] = binaryRequest(header({ binary_data_size: 8 }, 'BYTES', [2 ** 40]), new Uint8Array(8));
    reject(b2, h2, 'invalid_input', /binary_data_size 8 is too small for 1099511627776 BYTES elements/);
  });

  test('bytes left over after the last input', () => {
    const [body, headers] = binaryRequest(header({ binary_data_size: 8 }), new Uint8Array(9));
    reject(body, headers, 'invalid_request', /the body has 1 bytes after the binary tensor data/);
  });

  test('BYTES lengths that claim past the end, missing prefixes and trailing bytes', () => {
    const claim = Buffer.from([0xff, 0xff, 0xff, 0x7f, 1, 2]);
    const [b1, h1] = binaryRequest(header({ binary_data_size: 6 }, 'BYTES', [1]), claim);
    reject(b1, h1, 'invalid_input', /BYTES element 0 claims 2147483647 bytes but only 2 remain/);
    const [b2, h2] = binaryRequest(
      header({ binary_data_size: 11 }, 'BYTES', [2]),
      Buffer.concat([serializeBytes(['abcd']), Buffer.from([1, 0, 0])]),
    );
    reject(b2, h2, 'invalid_input', /BYTES element 1 has no 4-byte length prefix/);
    const [b3, h3] = binaryRequest(
      header({ binary_data_size: 10 }, 'BYTES', [1]),
      Buffer.concat([serializeBytes(['abcd']), Buffer.from([1, 2])]),
    );
    reject(b3, h3, 'invalid_input', /has 2 bytes after the last BYTES element/);
  });

  test('BOOL bytes other than 0 and 1', () => {
    const [body, headers] = binaryRequest(header({ binary_data_size: 2 }, 'BOOL'), new Uint8Array([1, 2]));
    reject(body, headers, 'invalid_input', /BOOL element 1 is the byte 2/);
  });

  test('both data and binary_data_size', () => {
    const [body, headers] = binaryRequest(
      { inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1], parameters: { binary_data_size: 4 } }] },
      new Uint8Array(4),
    );
    reject(body, headers, 'invalid_input', /has both data and the binary_data_size parameter/);
  });

  test('bad Inference-Header-Content-Length values', () => {
    const [body] = binaryRequest(header({ binary_data_size: 8 }), new Uint8Array(8));
    for (const value of ['-1', '1e3', 'abc', '', '12, 12', String(body.length + 1), '99999999999999999999']) {
      reject(body, { 'inference-header-content-length': value }, 'invalid_request', /inference-header-content-length/);
    }
    assertRejects(
      () => decodeV2Request(body, { 'inference-header-content-length': ['1', '2'] } as never),
      'invalid_request',
      /must be one integer/,
    );
  });

  test('a header length that cuts the JSON', () => {
    const [body] = binaryRequest(header({ binary_data_size: 8 }), new Uint8Array(8));
    reject(body, { 'inference-header-content-length': '10' }, 'invalid_json', /the JSON header is not valid JSON/);
  });
});
