import assert from 'node:assert/strict';
import { test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { DATATYPE_SIZE, DATATYPES } from '../../core/index.ts';
import type { InferTensorContents } from './generated/inference/InferTensorContents.generated.ts';
import type {
  _inference_ModelInferRequest_InferInputTensor as InferInputTensor,
  ModelInferRequest,
} from './generated/inference/ModelInferRequest.generated.ts';
import { startTestServer, TestService } from './grpc-client.fixture.ts';
import { inferenceService } from './proto.ts';

const SEED = 0x5eed;
const CASES = 3000;
const CONCURRENCY = 50;
/** What a hostile request may get back; never INTERNAL or UNKNOWN. */
const ALLOWED = new Set([status.OK, status.INVALID_ARGUMENT, status.NOT_FOUND, status.RESOURCE_EXHAUSTED]);

/** mulberry32: small, fast, seeded. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  return { next, int, pick, bytes };
}

type Random = ReturnType<typeof prng>;

const FIELDS: (keyof InferTensorContents)[] = [
  'bool_contents',
  'int_contents',
  'int64_contents',
  'uint_contents',
  'uint64_contents',
  'fp32_contents',
  'fp64_contents',
  'bytes_contents',
];

function randomValues(r: Random, field: keyof InferTensorContents, n: number): unknown[] {
  return Array.from({ length: n }, () => {
    switch (field) {
      case 'bool_contents':
        return r.next() < 0.5;
      case 'int_contents':
        return r.pick([0, -1, 127, 128, -129, 65535, 2147483647, -2147483648, r.int(1000) - 500]);
      case 'uint_contents':
        return r.pick([0, 1, 255, 256, 65536, 4294967295, r.int(1000)]);
      case 'int64_contents':
        return r.pick(['0', '-1', '9223372036854775807', '-9223372036854775808', String(r.int(1e9))]);
      case 'uint64_contents':
        return r.pick(['0', '18446744073709551615', String(r.int(1e9))]);
      case 'bytes_contents':
        return r.bytes(r.int(8));
      default:
        return r.pick([0, -0, 1.5, Number.NaN, Number.POSITIVE_INFINITY, -1e30, r.next()]);
    }
  });
}

function randomShape(r: Random): (number | string)[] {
  return Array.from({ length: r.int(5) }, () =>
    r.pick([0, 1, 1, 2, 3, 4, -1, 2 ** 31, 2 ** 40, '9223372036854775807', '-9223372036854775808', r.int(6)]),
  );
}

/** Sometimes a well-formed tensor (so the OK path runs too), mostly a broken one. */
function randomInput(r: Random, raw: boolean): { input: InferInputTensor; raw?: Buffer } {
  const datatype = r.next() < 0.9 ? r.pick(DATATYPES) : r.pick(['FP128', '', 'fp32', 'STRING']);
  const name = r.pick(['x', 'y', 'z', '', 'x', 'pixels']);
  if (r.next() < 0.25 && datatype !== 'BYTES' && datatype in DATATYPE_SIZE) {
    const n = r.int(4);
    const size = DATATYPE_SIZE[datatype as keyof typeof DATATYPE_SIZE];
    const data = datatype === 'BOOL' ? Buffer.from(Array.from({ length: n }, () => r.int(2))) : r.bytes(n * size);
    return { input: { name, datatype, shape: [n] }, raw: raw ? data : undefined };
  }
  const input: InferInputTensor = { name, datatype, shape: randomShape(r) };
  if (!raw || r.next() < 0.1) {
    const contents: Record<string, unknown[]> = {};
    for (let k = r.int(3); k > 0; k--) {
      const field = r.pick(FIELDS);
      contents[field] = randomValues(r, field, r.int(9));
    }
    input.contents = contents as InferTensorContents;
  }
  if (r.next() < 0.2)
    input.parameters = { p: r.pick([{ bool_param: true }, { int64_param: '-5' }, { string_param: 's' }]) };
  const bytes = r.next() < 0.3 && datatype === 'BYTES' ? Buffer.from([2, 0, 0, 0, 104, 105]) : r.bytes(r.int(40));
  return { input, raw: raw ? bytes : undefined };
}

function randomRequest(r: Random): ModelInferRequest {
  const raw = r.next() < 0.5;
  const generated = Array.from({ length: r.int(5) }, () => randomInput(r, raw));
  const request: ModelInferRequest = {
    model_name: r.pick(['echo', 'echo', 'echo', 'sum', 'sum', 'nope', '', 'busy']),
    inputs: generated.map((g) => g.input),
  };
  if (raw) {
    const contents = generated.map((g) => g.raw ?? Buffer.alloc(0));
    if (r.next() < 0.1) contents.push(r.bytes(4));
    request.raw_input_contents = contents;
  }
  if (r.next() < 0.2) request.outputs = [{ name: r.pick(['x', 'y', '', 'q']) }];
  if (r.next() < 0.1) request.parameters = { priority: { int64_param: '9223372036854775807' } };
  return request;
}

test(`${CASES} seeded malformed ModelInferRequests all get a proper status and the server stays up`, async (t) => {
  const s = await startTestServer(new TestService());
  t.after(() => s.close());
  const r = prng(SEED);
  const serialize = inferenceService().ModelInfer.requestSerialize;
  const seen = new Map<number, number>();

  const one = async (i: number): Promise<void> => {
    const request = randomRequest(r);
    let code: number;
    if (r.next() < 0.15) {
      // Protobuf-level damage: flipped bytes in a real message, or noise.
      const bytes = r.next() < 0.5 ? Buffer.from(serialize(request)) : r.bytes(r.int(64));
      for (let k = 0; k < 3 && bytes.length > 0; k++) bytes[r.int(bytes.length)] = r.int(256);
      code = await s.callRaw('ModelInfer', bytes);
    } else {
      code = await s.call('ModelInfer', request).then(
        () => status.OK,
        (error: { code: number }) => error.code,
      );
    }
    seen.set(code, (seen.get(code) ?? 0) + 1);
    assert.ok(ALLOWED.has(code), `case ${i} (seed ${SEED}) got status ${status[code]}: ${JSON.stringify(request)}`);
  };

  for (let i = 0; i < CASES; i += CONCURRENCY) {
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, CASES - i) }, (_, k) => one(i + k)));
  }

  assert.ok((seen.get(status.OK) ?? 0) > 0, 'some requests were well-formed');
  assert.ok((seen.get(status.INVALID_ARGUMENT) ?? 0) > CASES / 3, 'most requests were refused as invalid');
  assert.deepEqual(await s.call('ServerLive', {}), { live: true });
  const check = await s.call('ModelInfer', {
    model_name: 'sum',
    inputs: [{ name: 'x', datatype: 'FP32', shape: [3], contents: { fp32_contents: [1, 2, 3] } }],
  });
  assert.deepEqual(check.outputs[0]?.contents?.fp64_contents, [6]);
});
