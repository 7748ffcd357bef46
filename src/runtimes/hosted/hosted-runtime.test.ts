import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Tensor } from '../../core/index.ts';
import { ModelportError } from '../../core/index.ts';
import { runtimeConformance } from '../runtime.conformance.ts';
import { createRuntime } from '../runtime.ts';
import { pointer } from './hosted-codecs.ts';
import { HostedRuntime } from './hosted-runtime.ts';

const signature = {
  inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 2] }],
  outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 2] }],
};
const batch: Tensor[] = [{ name: 'x', datatype: 'FP32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }];
const doubled = [2, 4, 6, 8];

const readJson = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
  let text = '';
  for await (const chunk of req) text += chunk;
  return JSON.parse(text) as Record<string, unknown>;
};
const double = (rows: number[][]) => rows.map((r) => r.map((v) => v * 2));

/** A prediction service speaking V2, V1, Seldon and plain JSON, with failure modes by model name. */
function upstream() {
  const calls: Record<string, number> = {};
  const auth: (string | undefined)[] = [];
  const server = createServer(async (req, res) => {
    const path = req.url ?? '/';
    calls[path] = (calls[path] ?? 0) + 1;
    auth.push(req.headers['x-api-key'] as string | undefined);
    const send = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const body = await readJson(req);
    if (path === '/v2/models/flaky/infer' && (calls[path] ?? 0) <= 2) return send(503, { error: 'warming up' });
    if (path === '/v2/models/bad/infer') return send(400, { error: 'no' });
    if (path === '/v2/models/slow/infer') return res.flushHeaders();
    if (path.startsWith('/v2/models/')) {
      const input = (body['inputs'] as { data: number[]; shape: number[] }[])[0]!;
      return send(200, {
        outputs: [{ name: 'y', datatype: 'FP32', shape: input.shape, data: input.data.map((v) => v * 2) }],
      });
    }
    if (path === '/v1/models/m:predict') return send(200, { predictions: double(body['instances'] as number[][]) });
    if (path === '/api/v1.0/predictions') {
      const data = body['data'] as { ndarray: number[][] };
      return send(200, { data: { names: ['a', 'b'], ndarray: double(data.ndarray) }, meta: {} });
    }
    if (path === '/plain') return send(200, { result: { scores: double(body['rows'] as number[][]) } });
    send(404, { error: 'not found' });
  });
  return { server, calls, auth };
}

async function listen(server: Server, host: string): Promise<number> {
  server.listen(0, host);
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** The conformance fakes behind one V2 upstream: `sum` answers a + b, `crash` always answers HTTP 500. */
async function conformanceFakes() {
  const server = createServer(async (req, res) => {
    const body = await readJson(req);
    if (req.url === '/v2/models/crash/infer') return res.writeHead(500).end();
    const [a, b] = body['inputs'] as { data: number[]; shape: number[] }[];
    const sum = a!.data.map((v, i) => v + (b!.data[i] ?? 0));
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ outputs: [{ name: 'sum', datatype: 'FP32', shape: a!.shape, data: sum }] }));
  });
  const port = await listen(server, '127.0.0.1');
  const dir = await mkdtemp(join(tmpdir(), 'modelport-hosted-fakes-'));
  const sumSignature = {
    inputs: [
      { name: 'a', datatype: 'FP32', shape: [-1, 2] },
      { name: 'b', datatype: 'FP32', shape: [-1, 2] },
    ],
    outputs: [{ name: 'sum', datatype: 'FP32', shape: [-1, 2] }],
  };
  const descriptor = async (name: string, fields: Record<string, unknown>) => {
    const path = join(dir, `${name}.json`);
    await writeFile(path, JSON.stringify({ url: `http://127.0.0.1:${port}`, signature: sumSignature, ...fields }));
    return { path, egressAllowHosts: ['127.0.0.1'] };
  };
  return {
    sum: await descriptor('sum', { model: 'sum' }),
    error: await descriptor('error', { protocol: 'grpc', model: 'sum' }),
    slow: await descriptor('slow', { model: 'sum' }),
    crash: await descriptor('crash', { model: 'crash' }),
    cleanup: async () => {
      server.closeAllConnections();
      server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

runtimeConformance({
  name: 'hosted',
  create: () => createRuntime('hosted', { env: {} }),
  fakes: conformanceFakes,
  expectedSum: (a, b) => a.map((x, i) => Math.fround(x + (b[i] ?? 0))),
  skip: {
    warmup:
      'hosted runs no warm-up: a zero batch would be a call to a service that may bill per request, at every start',
  },
});

describe('hosted runtime', () => {
  let dir: string;
  let up: ReturnType<typeof upstream>;
  let port: number;
  let redirector: Server;
  let redirectPort: number;
  const runtimes: HostedRuntime[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'modelport-hosted-'));
    up = upstream();
    port = await listen(up.server, '127.0.0.1');
    redirector = createServer((req, res) => {
      res.writeHead(307, { location: `http://127.0.0.1:${port}/v2/models/m/infer` }).end();
      req.resume();
    });
    redirectPort = await listen(redirector, '127.0.0.2');
  });
  after(async () => {
    await Promise.all(runtimes.map((r) => r.unload()));
    up.server.closeAllConnections();
    up.server.close();
    redirector.close();
    await rm(dir, { recursive: true, force: true });
  });

  let n = 0;
  async function load(
    descriptor: Record<string, unknown>,
    options: { allow?: string[]; env?: Record<string, string> } = {},
  ): Promise<HostedRuntime> {
    const path = join(dir, `d${n++}.json`);
    await writeFile(
      path,
      JSON.stringify({ url: `http://127.0.0.1:${port}`, signature, backoff: '1ms', ...descriptor }),
    );
    const runtime = new HostedRuntime({ env: options.env ?? {} });
    runtimes.push(runtime);
    await runtime.load({ path, egressAllowHosts: options.allow ?? ['127.0.0.1'] });
    return runtime;
  }
  const values = (outputs: Tensor[]) => [...(outputs[0]!.data as Float32Array)];

  test('V2, V1, Seldon and plain JSON upstreams answer the batch', async () => {
    const v2 = await load({ protocol: 'v2', model: 'm' });
    assert.deepEqual(v2.signature(), signature);
    const out = await v2.predict(batch);
    assert.deepEqual(out[0]?.shape, [2, 2]);
    assert.deepEqual(values(out), doubled);
    assert.deepEqual(values(await (await load({ protocol: 'v1', model: 'm' })).predict(batch)), doubled);
    assert.deepEqual(values(await (await load({ protocol: 'seldon' })).predict(batch)), doubled);
    const plain = await load({
      protocol: 'json',
      url: `http://127.0.0.1:${port}/plain`,
      request: { template: { rows: '$x', options: ['keep', 1] } },
      response: { y: '/result/scores' },
    });
    assert.deepEqual(values(await plain.predict(batch)), doubled);
    assert.deepEqual(pointer({ a: [{ 'b/c': 1 }] }, '/a/0/b~1c'), 1);
  });

  test('503 is retried with backoff until it succeeds; 400 is not retried', async () => {
    const flaky = await load({ model: 'flaky', retries: 3 });
    assert.deepEqual(values(await flaky.predict(batch)), doubled);
    assert.equal(up.calls['/v2/models/flaky/infer'], 3);
    const bad = await load({ model: 'bad', retries: 3 });
    await assert.rejects(bad.predict(batch), (e: unknown) => e instanceof ModelportError && e.code === 'invalid_input');
    assert.equal(up.calls['/v2/models/bad/infer'], 1);
    // A connection error is retried too, then reported as unavailable.
    const closed = createServer();
    const closedPort = await listen(closed, '127.0.0.1');
    closed.close();
    const gone = await load({ model: 'm', url: `http://127.0.0.1:${closedPort}`, retries: 2 });
    await assert.rejects(gone.predict(batch), (e: unknown) => e instanceof ModelportError && e.code === 'not_ready');
    assert.equal(gone.attempts, 3);
  });

  test('a hanging upstream hits the timeout and is not retried', async () => {
    const slow = await load({ model: 'slow', timeout: '200ms', retries: 2 });
    await assert.rejects(slow.predict(batch), (e: unknown) => e instanceof ModelportError && e.code === 'timeout');
    assert.equal(up.calls['/v2/models/slow/infer'], 1);
  });

  test('the auth header comes from the environment (a deployment secret); a missing variable fails the load', async () => {
    const authed = await load(
      { model: 'm', auth: { header: 'X-Api-Key', env: 'UPSTREAM_KEY', prefix: 'k-' } },
      { env: { UPSTREAM_KEY: 's3cr3t' } },
    );
    up.auth.length = 0;
    await authed.predict(batch);
    assert.deepEqual(up.auth, ['k-s3cr3t']);
    await assert.rejects(load({ model: 'm', auth: { header: 'X-Api-Key', env: 'UPSTREAM_KEY' } }), (e: unknown) => {
      assert.ok(e instanceof ModelportError && e.field === 'auth.env');
      return true;
    });
  });

  test('loopback is refused unless allowed, and so is a redirect to it', async () => {
    const before = up.calls['/v2/models/m/infer'] ?? 0;
    await assert.rejects(
      load({ model: 'm' }, { allow: [] }),
      (e: unknown) => e instanceof ModelportError && e.code === 'egress_refused',
    );
    const redirected = await load({ model: 'm', url: `http://127.0.0.2:${redirectPort}` }, { allow: ['127.0.0.2'] });
    await assert.rejects(
      redirected.predict(batch),
      (e: unknown) => e instanceof ModelportError && e.code === 'egress_refused',
    );
    assert.equal(up.calls['/v2/models/m/infer'] ?? 0, before, 'the loopback upstream was never reached');
  });

  test('a descriptor with a bad field is refused naming it', async () => {
    for (const [descriptor, field] of [
      [{ protocol: 'grpc', model: 'm' }, 'protocol'],
      [{ model: 'm', url: 'ftp://x' }, 'url'],
      [{ model: 'm', timeout: 'soon' }, 'timeout'],
      [{ protocol: 'v1' }, 'model'],
      [{ protocol: 'json', request: { template: {} }, response: { z: '/a' } }, 'response.y'],
    ] as const) {
      await assert.rejects(load(descriptor), (e: unknown) => {
        assert.ok(e instanceof ModelportError && e.code === 'invalid_model', String(e));
        assert.equal(e.field, field);
        return true;
      });
    }
  });
});
