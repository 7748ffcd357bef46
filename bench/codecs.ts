/**
 * Micro-benchmark of the REST codecs: decode a V2 request and encode a response echoing its tensor, for a
 * 30-float (tabular) and a 784-float (MNIST) input, as JSON and with the binary tensor extension. The floor is
 * bare `JSON.parse` + `JSON.stringify` of the same JSON body, measured in the same run, so the printed ratios
 * carry across machines.
 *
 * Run: node bench/codecs.ts [seconds per case, default 1]
 */
import type { InferRequest, InferResponse } from '../src/core/tensor.ts';
import { decodeV2Request, encodeV2Response } from '../src/protocols/index.ts';

const seconds = Number(process.argv[2] ?? 1);

function opsPerSecond(fn: () => void): number {
  const warmUntil = performance.now() + 200;
  while (performance.now() < warmUntil) fn();
  let ops = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 100; i++) fn();
    ops += 100;
  }
  return ops / ((performance.now() - start) / 1000);
}

const echo = (request: InferRequest): InferResponse => ({
  model_name: 'm',
  outputs: request.inputs.map((t) => ({ ...t, name: 'y' })),
});

function cases(size: number) {
  const values = Array.from({ length: size }, (_, i) => Math.fround(Math.sin(i) * 100));
  const json = Buffer.from(
    JSON.stringify({ inputs: [{ name: 'x', shape: [1, size], datatype: 'FP32', data: values }] }),
  );
  const header = Buffer.from(
    JSON.stringify({
      inputs: [{ name: 'x', shape: [1, size], datatype: 'FP32', parameters: { binary_data_size: size * 4 } }],
      parameters: { binary_data_output: true },
    }),
  );
  const binary = Buffer.concat([header, Buffer.from(new Float32Array(values).buffer)]);
  const binaryHeaders = { 'inference-header-content-length': String(header.length) };
  return {
    floor: () => {
      JSON.stringify(JSON.parse(json.toString()));
    },
    json: () => {
      const request = decodeV2Request(json, {});
      encodeV2Response(echo(request), request);
    },
    binary: () => {
      const request = decodeV2Request(binary, binaryHeaders);
      encodeV2Response(echo(request), request);
    },
  };
}

const format = (n: number) => `${Math.round(n).toLocaleString('en-US')} ops/s`.padStart(16);
for (const size of [30, 784]) {
  const c = cases(size);
  const floor = opsPerSecond(c.floor);
  const json = opsPerSecond(c.json);
  const binary = opsPerSecond(c.binary);
  console.log(`${size} floats, decode + encode:`);
  console.log(`  JSON.parse+stringify floor ${format(floor)}`);
  console.log(`  V2 JSON                    ${format(json)}  ${(json / floor).toFixed(2)}x floor`);
  console.log(
    `  V2 binary                  ${format(binary)}  ${(binary / floor).toFixed(2)}x floor, ${(binary / json).toFixed(1)}x JSON`,
  );
}
