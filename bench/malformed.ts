/**
 * Hostile traffic for the memory-growth figure: `count` malformed inference requests over keep-alive connections,
 * cycling through broken JSON, wrong datatypes, shapes and lengths, unknown inputs and models, a lying binary
 * header length, over-deep nesting and a V1 body without instances. Returns how many got each status.
 *
 * Example: `await sendMalformed('http://127.0.0.1:8080', 'fraud', 10_000)` -> `{ 400: 8750, 404: 1250 }`.
 */
import { Agent, request } from 'node:http';

interface Case {
  path: string;
  body: string | Buffer;
  headers?: Record<string, string>;
}

function cases(model: string): Case[] {
  const infer = `/v2/models/${model}/infer`;
  const row = Array.from({ length: 30 }, (_, i) => i / 10);
  const json = (value: unknown) => JSON.stringify(value);
  const header = json({
    inputs: [{ name: 'input', shape: [1, 30], datatype: 'FP32', parameters: { binary_data_size: 120 } }],
  });
  return [
    { path: infer, body: '{"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP32", "data": [1, 2,' },
    { path: infer, body: json({ inputs: [{ name: 'input', shape: [1, 30], datatype: 'BYTES', data: row }] }) },
    { path: infer, body: json({ inputs: [{ name: 'input', shape: [1, 31], datatype: 'FP32', data: row }] }) },
    { path: infer, body: json({ inputs: [{ name: 'input', shape: [2, 30], datatype: 'FP32', data: row }] }) },
    { path: infer, body: json({ inputs: [{ name: 'nope', shape: [1, 30], datatype: 'FP32', data: row }] }) },
    {
      path: infer,
      body: json({ inputs: [{ name: 'input', shape: [4294967296, 4294967296], datatype: 'FP32', data: row }] }),
    },
    {
      path: '/v2/models/no-such-model/infer',
      body: json({ inputs: [{ name: 'input', shape: [1, 30], datatype: 'FP32', data: row }] }),
    },
    {
      path: infer,
      body: Buffer.concat([Buffer.from(header), Buffer.alloc(60)]),
      headers: {
        'content-type': 'application/octet-stream',
        'inference-header-content-length': String(header.length + 500),
      },
    },
    { path: infer, body: `${'['.repeat(200)}${']'.repeat(200)}` },
    { path: `/v1/models/${model}:predict`, body: json({ instance: [row] }) },
  ];
}

export async function sendMalformed(
  url: string,
  model: string,
  count: number,
  concurrency = 16,
): Promise<Record<number, number>> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const all = cases(model);
  const statuses: Record<number, number> = {};
  let next = 0;
  const one = (c: Case) =>
    new Promise<number>((resolve, reject) => {
      const body = typeof c.body === 'string' ? Buffer.from(c.body) : c.body;
      const req = request(
        `${url}${c.path}`,
        {
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', ...c.headers, 'content-length': body.length },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const lane = async () => {
    while (next < count) {
      const status = await one(all[next++ % all.length] as Case);
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  agent.destroy();
  return statuses;
}
