/**
 * Traces end to end: a real server with `--otlp-endpoint` pointing at an OTLP/HTTP receiver on loopback (this
 * test's own `node:http` server parsing the JSON export), a deployment served by real worker processes. A request
 * sent with a W3C `traceparent` yields request -> queue wait and request -> batch -> worker compute spans in the
 * caller's trace, carrying the deployment, revision, model version and request id, and the answer names its trace.
 * Without the setting, no span is made and no header is added.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { trainFraudModel } from '../examples/fraud/train.ts';
import { ModelportClient } from '../src/client/client.ts';
import { startTestServer, type TestServer } from './support/server.ts';

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: { key: string; value: OtlpValue }[];
  links?: { traceId: string; spanId: string }[];
}
interface Received {
  service: string;
  span: OtlpSpan;
}

/** An OTLP/HTTP receiver: every span of every POST to /v1/traces (JSON encoding), with its resource's service. */
async function startReceiver(): Promise<{ server: Server; url: string; host: string; spans: Received[] }> {
  const spans: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      assert.equal(req.url, '/v1/traces');
      assert.match(req.headers['content-type'] ?? '', /application\/json/);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans: {
          resource: { attributes: { key: string; value: OtlpValue }[] };
          scopeSpans: { spans: OtlpSpan[] }[];
        }[];
      };
      for (const rs of body.resourceSpans) {
        const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
        for (const ss of rs.scopeSpans) for (const span of ss.spans) spans.push({ service, span });
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/v1/traces`, host: `127.0.0.1:${port}`, spans };
}

function attribute(span: OtlpSpan, key: string): string | number | boolean | undefined {
  const v = span.attributes?.find((a) => a.key === key)?.value;
  if (!v) return undefined;
  if (v.intValue !== undefined) return Number(v.intValue);
  return v.stringValue ?? v.doubleValue ?? v.boolValue;
}

async function until<T>(what: string, probe: () => T | undefined, attempts = 300): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const value = probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}

const model = trainFraudModel({ seed: 1, rows: 4000 });
const body = (id: string) =>
  JSON.stringify({ id, inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 30], data: model.samples.fraud }] });

describe('traces (OTLP over HTTP)', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let t: TestServer;

  before(async () => {
    receiver = await startReceiver();
    t = await startTestServer('embedded', { otlpEndpoint: receiver.url, egressAllowHosts: receiver.host });
    const mp = new ModelportClient({ url: t.url });
    await mp.registerVersion('fraud', model.onnx, { aliases: ['champion'] });
    await mp.createDeployment('fraud-api', { traffic: [{ model: 'fraud@champion', weight: 100, tag: 'stable' }] });
    await mp.waitDeployment('fraud-api');
  });
  after(async () => {
    await t?.close();
    receiver?.server.close();
  });

  test("a request's spans join the caller's trace: request, queue wait, batch, worker compute", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    const res = await fetch(`${t.url}/v2/models/fraud-api/infer`, {
      method: 'POST',
      body: body('req-42'),
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${callerSpan}-01` },
    });
    assert.equal(res.status, 200);
    // The answer names its trace: the same trace id, the gateway's span as the parent id.
    const traceresponse = res.headers.get('traceresponse') ?? '';
    assert.match(traceresponse, new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));

    const inTrace = () => receiver.spans.filter((s) => s.span.traceId === traceId);
    const spans = await until('four spans of the trace', () => (inTrace().length >= 4 ? inTrace() : undefined));
    const named = (name: string) => {
      const found = spans.filter((s) => s.span.name === name);
      assert.equal(found.length, 1, `one '${name}' span, got ${spans.map((s) => s.span.name).join(', ')}`);
      return found[0]!;
    };
    const request = named('infer fraud-api');
    const queue = named('queue wait');
    const batch = named('batch');
    const worker = named('worker compute');

    // The chain: caller -> request -> (queue wait, batch -> worker compute).
    assert.equal(request.span.parentSpanId, callerSpan);
    assert.equal(request.span.kind, 2, 'the request span is a SERVER span');
    assert.equal(traceresponse.split('-')[2], request.span.spanId);
    assert.equal(queue.span.parentSpanId, request.span.spanId);
    assert.equal(batch.span.parentSpanId, request.span.spanId);
    assert.equal(worker.span.parentSpanId, batch.span.spanId);
    // The worker's span comes from the worker process, exported by its own SDK.
    assert.equal(request.service, 'modelport');
    assert.equal(worker.service, 'modelport-worker');

    assert.equal(attribute(request.span, 'modelport.deployment'), 'fraud-api');
    assert.equal(attribute(request.span, 'modelport.revision'), 1);
    assert.equal(attribute(request.span, 'modelport.arm'), 'stable');
    assert.equal(attribute(request.span, 'modelport.model'), 'fraud');
    assert.equal(attribute(request.span, 'modelport.model_version'), 1);
    assert.equal(attribute(request.span, 'modelport.request_id'), 'req-42');
    assert.equal(attribute(request.span, 'modelport.protocol'), 'v2-json');
    assert.equal(attribute(request.span, 'modelport.outcome'), 'ok');
    assert.equal(attribute(batch.span, 'modelport.batch.rows'), 1);
    assert.equal(attribute(worker.span, 'modelport.batch.rows'), 1);

    // Children sit inside their parents in time (same process, same clock; the worker's clock is its own).
    const ns = (v: string) => BigInt(v);
    assert.ok(ns(batch.span.startTimeUnixNano) >= ns(request.span.startTimeUnixNano));
    assert.ok(ns(batch.span.endTimeUnixNano) <= ns(request.span.endTimeUnixNano));
  });

  test('a request without traceparent starts its own trace; a failed one is marked', async () => {
    const res = await fetch(`${t.url}/v2/models/fraud-api/infer`, {
      method: 'POST',
      body: JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.status, 400);
    const traceId = (res.headers.get('traceresponse') ?? '').split('-')[1];
    assert.match(traceId ?? '', /^[0-9a-f]{32}$/);
    const span = await until('the failed request span', () =>
      receiver.spans.find((s) => s.span.traceId === traceId && s.span.name === 'infer fraud-api'),
    );
    assert.equal(span.span.parentSpanId ?? '', '');
    assert.equal(attribute(span.span, 'modelport.outcome'), 'invalid_input');
  });

  test('tracing off: no span, no traceresponse header', async () => {
    const plain = await startTestServer('embedded');
    try {
      const mp = new ModelportClient({ url: plain.url });
      await mp.registerVersion('fraud', model.onnx);
      const res = await fetch(`${plain.url}/v2/models/fraud/infer`, {
        method: 'POST',
        body: body('req-off'),
        headers: { 'content-type': 'application/json', traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` },
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('traceresponse'), null);
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(receiver.spans.filter((s) => s.span.traceId === 'a'.repeat(32)).length, 0);
    } finally {
      await plain.close();
    }
  });

  test('an OTLP endpoint the egress guard refuses stops the server with a message naming the setting', async () => {
    await assert.rejects(startTestServer('embedded', { otlpEndpoint: receiver.url }), (e: unknown) => {
      assert.match(String((e as Error).message), /--otlp-endpoint \/ MODELPORT_OTLP_ENDPOINT/);
      assert.match(String((e as Error).message), /egress-allow-hosts/);
      return true;
    });
  });
});
