import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ModelportError } from '../core/index.ts';
import { silentLogger } from '../logging/index.ts';
import type { InferenceService } from './inference-service.ts';
import { createRestHandler } from './rest-handler.ts';

/**
 * The transport alone, over real HTTP on loopback, in front of an `InferenceService` stand-in whose admission is
 * switched by the test (the gateway's own admission, a full batcher queue, is covered in the batcher's tests).
 */
describe('REST transport: admission before the body is read', () => {
  let full = false;
  let inferred = 0;
  const service: InferenceService = {
    live: () => true,
    ready: () => true,
    serverMetadata: () => ({ name: 'test', version: '0', extensions: [] }),
    resolve: async (name) => ({
      name,
      version: '1',
      signature: { inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 1] }], outputs: [] },
    }),
    modelReady: async () => true,
    modelMetadata: async () => {
      throw new ModelportError('not_found', 'no');
    },
    admit: async () => {
      if (full)
        throw new ModelportError('overloaded', 'the queue of this model is full (1 requests)', { retryAfter: 1 });
    },
    infer: async (name, _version, req) => {
      inferred++;
      return { model_name: name, outputs: req.inputs };
    },
  };
  const server = createServer((req, res) => {
    const handle = createRestHandler(service, { maxRequestBytes: 1 << 20, log: silentLogger() });
    void handle(req, res, req.url ?? '/');
  });
  let port = 0;
  before(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  after(() => server.close());

  /** Sends the headers and half of a body, then waits for the answer without sending the rest. */
  async function halfSent(path: string, headers: Record<string, string> = {}) {
    const req = request({
      host: '127.0.0.1',
      port,
      path,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': '1000', ...headers },
    });
    req.write('{"inputs": [');
    const [res] = await once(req, 'response');
    req.destroy();
    return res as import('node:http').IncomingMessage;
  }

  test('a full queue answers 429 with Retry-After while the body is still unsent, for V2, V1 and Seldon', async () => {
    full = true;
    for (const [path, headers] of [
      ['/v2/models/m/infer', {}],
      ['/v1/models/m:predict', {}],
      ['/api/v1.0/predictions', { 'model-id': 'm' }],
    ] as const) {
      const res = await halfSent(path, headers);
      assert.equal(res.statusCode, 429, path);
      assert.equal(res.headers['retry-after'], '1', path);
    }
    assert.equal(inferred, 0);
  });

  test('with room in the queue the request is read and answered', async () => {
    full = false;
    const body = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1], data: [2] }] });
    const res = await fetch(`http://127.0.0.1:${port}/v2/models/m/infer`, { method: 'POST', body });
    assert.equal(res.status, 200);
    assert.deepEqual(((await res.json()) as { outputs: { data: number[] }[] }).outputs[0]?.data, [2]);
    assert.equal(inferred, 1);
  });
});
