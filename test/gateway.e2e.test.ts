/**
 * The inference gateway end to end: a real server, real worker processes running ONNX Runtime, and clients that
 * speak each protocol as an outside client would (fetch with hand-built bodies, a grpc-js client from the
 * official proto). Covers every protocol, routing by alias, version and model-id, errors, metrics, hostile input
 * and a worker killed under load.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { credentials, Metadata } from '@grpc/grpc-js';
import { trainFraudModel } from '../examples/fraud/train.ts';
import { ModelportClient } from '../src/client/client.ts';
import { buildMultiInputModel } from '../src/onnx-builder/index.ts';
import { loadInferenceProto } from '../src/serving/grpc/grpc-client.fixture.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const fraud = trainFraudModel({ seed: 7, rows: 4000 });
const legit = fraud.samples?.legit ?? [];
const fraudRow = fraud.samples?.fraud ?? [];

function expectedProbability(row: readonly number[]): number {
  let z = fraud.bias;
  for (let i = 0; i < row.length; i++) z += fraud.weights[i]! * row[i]!;
  return 1 / (1 + Math.exp(-z));
}

type V2Response = {
  model_name: string;
  model_version: string;
  id?: string;
  outputs: { name: string; datatype: string; shape: number[]; data: number[] }[];
};

describe('inference gateway', () => {
  let t: TestServer;
  let client: ModelportClient;

  before(async () => {
    t = await startTestServer('embedded', {}, {});
    client = new ModelportClient({ url: t.url });
    await client.registerVersion('fraud', fraud.onnx, { aliases: ['champion'] });
    await client.registerVersion('fraud', fraud.onnx);
    await client.registerVersion('multi', buildMultiInputModel());
  });
  after(() => t.close());

  const infer = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${t.url}${path}`, {
      method: 'POST',
      body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...headers },
    });

  const fraudRequest = (rows: number[][], extra: Record<string, unknown> = {}) => ({
    inputs: [{ name: 'input', datatype: 'FP32', shape: [rows.length, 30], data: rows.flat() }],
    ...extra,
  });

  test('V2 JSON: the answer matches the model, the id is echoed, outputs can be selected', async () => {
    const res = await infer(
      '/v2/models/fraud/infer',
      fraudRequest([legit, fraudRow], { id: 'req-1', outputs: [{ name: 'probabilities' }] }),
    );
    assert.equal(res.status, 200);
    const body = (await res.json()) as V2Response;
    assert.equal(body.id, 'req-1');
    assert.equal(body.model_version, '2');
    assert.deepEqual(
      body.outputs.map((o) => o.name),
      ['probabilities'],
    );
    const p = body.outputs[0]!.data;
    assert.ok(Math.abs(p[1]! - expectedProbability(legit)) < 1e-5);
    assert.ok(Math.abs(p[3]! - expectedProbability(fraudRow)) < 1e-5);
    assert.ok(p[3]! > 0.5 && p[1]! < 0.5);
  });

  test('V2 JSON and gRPC: an empty outputs list asks for every output (never a 500)', async () => {
    const res = await infer('/v2/models/fraud/infer', fraudRequest([legit], { outputs: [] }));
    assert.equal(res.status, 200, await res.clone().text());
    const body = (await res.json()) as V2Response;
    assert.deepEqual(
      body.outputs.map((o) => o.name),
      ['label', 'probabilities'],
    );
    assert.ok(Math.abs(body.outputs[1]!.data[1]! - expectedProbability(legit)) < 1e-5);
  });

  test('routing: name@alias, name@version, /versions/N and unknown names', async () => {
    const alias = (await (await infer('/v2/models/fraud@champion/infer', fraudRequest([legit]))).json()) as V2Response;
    assert.equal(alias.model_version, '1');
    const path = (await (await infer('/v2/models/fraud/versions/1/infer', fraudRequest([legit]))).json()) as V2Response;
    assert.equal(path.model_version, '1');
    const unknown = await infer('/v2/models/ghost/infer', fraudRequest([legit]));
    assert.equal(unknown.status, 404);
    assert.match(((await unknown.json()) as { error: string }).error, /ghost/);
    const badVersion = await infer('/v2/models/fraud/versions/9/infer', fraudRequest([legit]));
    assert.equal(badVersion.status, 404);
  });

  test('V2 binary tensors: request and response in the binary extension', async () => {
    const rows = new Float32Array([...legit, ...fraudRow]);
    const header = Buffer.from(
      JSON.stringify({
        inputs: [
          { name: 'input', datatype: 'FP32', shape: [2, 30], parameters: { binary_data_size: rows.byteLength } },
        ],
        outputs: [{ name: 'probabilities', parameters: { binary_data: true } }],
      }),
    );
    const res = await infer('/v2/models/fraud/infer', Buffer.concat([header, Buffer.from(rows.buffer)]), {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(header.length),
    });
    assert.equal(res.status, 200);
    const headerLength = Number(res.headers.get('inference-header-content-length'));
    const bytes = Buffer.from(await res.arrayBuffer());
    const json = JSON.parse(bytes.subarray(0, headerLength).toString()) as {
      outputs: { parameters: { binary_data_size: number } }[];
    };
    assert.equal(json.outputs[0]!.parameters.binary_data_size, 16);
    const raw = bytes.subarray(headerLength);
    const probabilities = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
    assert.ok(Math.abs(probabilities[3]! - expectedProbability(fraudRow)) < 1e-5);
  });

  test('multi-input model: several datatypes and outputs through V2 JSON', async () => {
    const res = await infer('/v2/models/multi/infer', {
      inputs: [
        { name: 'features', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] },
        { name: 'counts', datatype: 'INT64', shape: [1, 3], data: [1, 2, 3] },
        { name: 'scale', datatype: 'FP32', shape: [], data: [2] },
        { name: 'mask', datatype: 'BOOL', shape: [1, 4], data: [true, false, true, false] },
        { name: 'ids', datatype: 'INT32', shape: [1], data: [41] },
      ],
    });
    assert.equal(res.status, 200, await res.clone().text());
    const body = (await res.json()) as V2Response;
    const out = Object.fromEntries(body.outputs.map((o) => [o.name, o.data]));
    assert.deepEqual(out['scaled'], [2, 4, 6, 8]);
    assert.deepEqual(out['masked'], [1, 0, 3, 0]);
    assert.deepEqual(out['total'], [6]);
    assert.deepEqual(out['next_ids'], [42]);
  });

  test('V1 / TF Serving: instances and inputs, and model status', async () => {
    const instances = await infer('/v1/models/fraud:predict', { instances: [legit, fraudRow] });
    assert.equal(instances.status, 200);
    const rows = ((await instances.json()) as { predictions: { label: number; probabilities: number[] }[] })
      .predictions;
    assert.deepEqual(
      rows.map((r) => r.label),
      [0, 1],
    );
    const columnar = await infer('/v1/models/fraud:predict', { inputs: [legit] });
    assert.equal(columnar.status, 200);
    assert.ok('outputs' in ((await columnar.json()) as object));
    const status = await fetch(`${t.url}/v1/models/fraud`);
    assert.deepEqual(await status.json(), { name: 'fraud', ready: true });
  });

  test('Seldon: ndarray and tensor, JSON and form bodies, model-id header', async () => {
    const ndarray = await infer('/api/v1.0/predictions', { data: { ndarray: [fraudRow] } }, { 'model-id': 'fraud' });
    assert.equal(ndarray.status, 200);
    const body = (await ndarray.json()) as { data: { names: string[]; ndarray: number[][] } };
    assert.deepEqual(body.data.names, ['t:0', 't:1']);
    assert.ok(body.data.ndarray[0]![1]! > 0.5);
    const form = await infer(
      '/predict',
      `json=${encodeURIComponent(JSON.stringify({ data: { tensor: { shape: [1, 30], values: legit } } }))}`,
      { 'model-id': 'fraud', 'content-type': 'application/x-www-form-urlencoded' },
    );
    assert.equal(form.status, 200);
    assert.ok('tensor' in ((await form.json()) as { data: object }).data);
    const missing = await infer('/predict', { data: { ndarray: [legit] } });
    assert.equal(missing.status, 400);
    assert.match(JSON.stringify(await missing.json()), /model-id/);
  });

  test('gRPC: metadata, readiness and ModelInfer with raw contents, routed by model-id', async () => {
    const { GRPCInferenceService } = loadInferenceProto();
    const grpc = new GRPCInferenceService(`127.0.0.1:${t.server.grpcPort}`, credentials.createInsecure());
    const call = <T>(method: string, request: object, metadata = new Metadata()) =>
      new Promise<T>((resolve, reject) =>
        (grpc as unknown as Record<string, (r: object, m: Metadata, cb: (e: Error | null, v: T) => void) => void>)[
          method
        ]!(request, metadata, (error, value) => (error ? reject(error) : resolve(value))),
      );
    try {
      assert.deepEqual(await call('ServerLive', {}), { live: true });
      assert.deepEqual(await call('ModelReady', { name: 'fraud', version: '' }), { ready: true });
      const meta = await call<{ platform: string; inputs: { name: string }[] }>('ModelMetadata', {
        name: 'fraud',
        version: '',
      });
      assert.equal(meta.platform, 'onnxruntime_onnx');
      const rows = new Float32Array([...legit, ...fraudRow]);
      const metadata = new Metadata();
      metadata.set('model-id', 'fraud@champion');
      const response = await call<{
        model_version: string;
        outputs: { name: string }[];
        raw_output_contents: Buffer[];
      }>(
        'ModelInfer',
        {
          model_name: '',
          inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 30] }],
          raw_input_contents: [Buffer.from(rows.buffer)],
        },
        metadata,
      );
      assert.equal(response.model_version, '1');
      const index = response.outputs.findIndex((o) => o.name === 'probabilities');
      const raw = response.raw_output_contents[index]!;
      const probabilities = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
      assert.ok(Math.abs(probabilities[3]! - expectedProbability(fraudRow)) < 1e-5);
      await assert.rejects(
        call('ModelInfer', { model_name: 'ghost', inputs: [] }),
        (e: { code: number }) => e.code === 5,
      );
    } finally {
      grpc.close();
    }
  });

  test('bad input is a 4xx naming the problem; the server stays live', async () => {
    const cases: [string, unknown, number, RegExp][] = [
      [
        'wrong datatype',
        { inputs: [{ name: 'input', datatype: 'INT64', shape: [1, 30], data: legit.map(Math.round) }] },
        400,
        /input/,
      ],
      [
        'wrong width',
        { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 29], data: legit.slice(1) }] },
        400,
        /input/,
      ],
      ['data length', { inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 30], data: legit }] }, 400, /input/],
      ['unknown input', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 30], data: legit }] }, 400, /'x'|x/],
      [
        'overflowing shape',
        { inputs: [{ name: 'input', datatype: 'FP32', shape: [2 ** 40, 2 ** 40], data: [1] }] },
        400,
        /input/,
      ],
      ['unknown output', { ...fraudRequest([legit]), outputs: [{ name: 'nope' }] }, 400, /nope/],
      ['malformed json', '{"inputs": [', 400, /JSON/],
      ['deep json', `${'['.repeat(500)}${']'.repeat(500)}`, 400, /deeper/],
    ];
    for (const [what, body, status, message] of cases) {
      const res = await infer('/v2/models/fraud/infer', body);
      assert.equal(res.status, status, what);
      const json = (await res.json()) as { error: string };
      assert.match(json.error, message, what);
    }
    assert.equal((await fetch(`${t.url}/v2/models/fraud/infer`)).status, 405);
    assert.equal((await fetch(`${t.url}/v2/health/live`)).status, 200);
  });

  test('an oversized body is refused with 413 before it is read', async () => {
    const small = await startTestServer('embedded', { maxRequestSize: '1KiB' });
    try {
      const res = await fetch(`${small.url}/v2/models/fraud/infer`, {
        method: 'POST',
        body: JSON.stringify(fraudRequest([legit, legit, legit, legit, legit, legit])),
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(res.status, 413);
    } finally {
      await small.close();
    }
  });

  test('past --max-connections a new connection gets a canned 503 with Retry-After and is closed; once one closes, requests are served', async () => {
    const small = await startTestServer('embedded', { maxConnections: '2' });
    const { port } = new URL(small.url);
    const open = () =>
      new Promise<Socket>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () => resolve(socket));
        socket.on('error', reject);
      });
    try {
      const held = [await open(), await open()];
      // Make sure the server has accepted both before the third arrives.
      for (const socket of held) socket.write('GET /v2/health/live HTTP/1.1\r\nhost: x\r\n\r\n');
      await Promise.all(held.map((socket) => once(socket, 'data')));
      const third = await open();
      let answer = '';
      third.on('data', (chunk: Buffer) => {
        answer += chunk.toString('latin1');
      });
      // Its request is never parsed: the answer is the same whatever it sends, and it arrives whole before the close
      // (no reset), even though the request was still being written.
      third.write('POST /v2/models/fraud/infer HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\n{"in');
      await once(third, 'close');
      const [head = '', body = ''] = answer.split('\r\n\r\n');
      assert.match(head, /^HTTP\/1\.1 503 /);
      assert.match(head, /\r\nretry-after: 1\r\n/i);
      assert.match(head, /\r\nconnection: close\r\n/i);
      assert.match(JSON.parse(body).error, /2 open connections/);
      held[0]?.destroy();
      // Polls until the server has seen the close (no fixed sleep; the test's timeout bounds it).
      for (;;) {
        const res = await fetch(`${small.url}/v2/health/live`).catch(() => undefined);
        if (res?.status === 200) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      held[1]?.destroy();
      let metrics = '';
      while (!metrics.includes('modelport_http_connections_refused_total ')) {
        const scraped = await fetch(`${small.url}/metrics`).catch(() => undefined);
        if (scraped?.status === 200) metrics = await scraped.text();
        else await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.match(metrics, /^modelport_http_connections_refused_total [1-9]/m);
    } finally {
      await small.close();
    }
  });

  test('1,000 mutated bodies all get 4xx (never 5xx), and a known-good request still answers right', async () => {
    const good = JSON.stringify(fraudRequest([legit]));
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const statuses = new Map<number, number>();
    for (let i = 0; i < 1000; i++) {
      const chars = good.split('');
      const edits = 1 + Math.floor(random() * 4);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(random() * chars.length);
        const pick = random();
        if (pick < 0.4) chars[at] = '{}[],:"0-9eE.'.charAt(Math.floor(random() * 14));
        else if (pick < 0.7) chars.splice(at, 1);
        else chars.splice(at, 0, String.fromCharCode(Math.floor(random() * 128)));
      }
      const res = await infer('/v2/models/fraud/infer', chars.join(''));
      await res.arrayBuffer();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      assert.ok(res.status === 200 || (res.status >= 400 && res.status < 500), `body ${i} got ${res.status}`);
    }
    assert.ok((statuses.get(400) ?? 0) > 500, JSON.stringify([...statuses]));
    const res = await infer('/v2/models/fraud/infer', good);
    const body = (await res.json()) as V2Response;
    assert.ok(Math.abs(body.outputs[1]!.data[1]! - expectedProbability(legit)) < 1e-5);
  });

  test('metrics: requests by model, version, protocol and outcome; latency histograms; batch sizes', async () => {
    await infer('/v2/models/fraud/infer', fraudRequest([legit]));
    const text = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(
      text,
      /^modelport_inference_requests_total\{model="fraud",version="2",protocol="v2-json",outcome="ok"\} \d+$/m,
    );
    assert.match(
      text,
      /^modelport_inference_requests_total\{model="fraud",version="2",protocol="v2-json",outcome="invalid_input"\} \d+$/m,
    );
    assert.match(
      text,
      /^modelport_inference_requests_total\{model="fraud",version="1",protocol="grpc",outcome="ok"\} 1$/m,
    );
    for (const name of ['request_seconds', 'queue_seconds', 'compute_seconds', 'batch_size']) {
      assert.match(text, new RegExp(`^modelport_inference_${name}_count\\{model="fraud",version="2"`, 'm'), name);
    }
    assert.match(text, /^modelport_workers\{model="fraud",version="2"\} 1$/m);
  });

  test('kill -9 of a worker under load: no request fails (a batch caught by the crash runs again), answers stay right', async () => {
    const served = t.server.host.list().find((s) => s.version.model === 'fraud' && s.version.version === 2)!;
    const pid = served.pool.stats().workers.find((w) => w.pid !== undefined)!.pid!;
    const restartsBefore = served.pool.restarts;
    const body = JSON.stringify(fraudRequest([fraudRow]));
    let killed = false;
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        if (i === 100 && !killed) {
          killed = true;
          process.kill(pid, 'SIGKILL');
        }
        const res = await infer('/v2/models/fraud/infer', body);
        const json = (await res.json()) as V2Response & { error?: string };
        if (res.status === 200) {
          assert.ok(Math.abs(json.outputs[1]!.data[1]! - expectedProbability(fraudRow)) < 1e-5, 'a wrong answer');
        }
        return res.status;
      }),
    );
    const failed = results.filter((s) => s !== 200);
    assert.deepEqual(failed, [], 'a worker crash under load fails no request');
    await served.pool.whenReady();
    assert.equal(served.pool.restarts, restartsBefore + 1);
    const after = await infer('/v2/models/fraud/infer', body);
    assert.equal(after.status, 200);
    const text = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(text, /^modelport_worker_restarts_total\{model="fraud",version="2"\} 1$/m);
  });
});
