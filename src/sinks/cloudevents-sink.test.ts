import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { type CloudEvent, HTTP } from 'cloudevents';
import { EgressGuard } from '../egress/index.ts';
import { CE_REQUEST_TYPE, CE_RESPONSE_TYPE, CloudEventsSink, toCloudEvents } from './cloudevents-sink.ts';
import { sampleRecords, sinkConformance } from './sink.conformance.ts';
import type { LoggedTensor, PayloadRecord } from './sink.ts';

type Json = Record<string, unknown>;

/**
 * A consumer of KServe's logger on loopback: parses every POST with the cloudevents SDK and rebuilds the records
 * from the events alone (attributes, extensions, metadata and data), so the suite compares what a consumer sees.
 */
async function startConsumer() {
  const events: CloudEvent<unknown>[] = [];
  let down = false;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (down) {
        res.writeHead(503).end();
        return;
      }
      events.push(
        HTTP.toEvent({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }) as CloudEvent<unknown>,
      );
      res.writeHead(202).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    host: `127.0.0.1:${port}`,
    events,
    setDown: (value: boolean) => {
      down = value;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const data = (e: CloudEvent<unknown>): Json => (typeof e.data === 'string' ? JSON.parse(e.data) : (e.data as Json));

function tensors(list: unknown): LoggedTensor[] {
  return (list as (LoggedTensor & { parameters?: { redacted?: true | string[] } })[]).map(({ parameters, ...t }) => ({
    ...t,
    ...(parameters?.redacted ? { redacted: parameters.redacted } : {}),
  }));
}

/** The records the consumer can rebuild: one per request event, with its response event's outputs. */
function rebuild(events: readonly CloudEvent<unknown>[]): PayloadRecord[] {
  return events
    .filter((e) => e.type === CE_REQUEST_TYPE)
    .map((request) => {
      const response = events.find(
        (e) => e.type === CE_RESPONSE_TYPE && e.id === request.id && e['endpoint'] === request['endpoint'],
      );
      const meta = JSON.parse(String(request['metadata'])) as Record<string, string[]>;
      const [model, version] = meta['modelport-model']![0]!.split('@');
      const [queue, compute, total] = meta['modelport-latency-ms']!.map(Number);
      const endpoint = String(request['endpoint']);
      return {
        requestId: request.id,
        time: String(request.time),
        project: String(request['namespace']),
        deployment: String(request['inferenceservicename']),
        revision: Number(meta['modelport-revision']![0]),
        arm: endpoint === 'default' ? 'primary' : endpoint,
        model: model!,
        modelVersion: Number(version),
        protocol: meta['modelport-protocol']![0]!,
        status: meta['modelport-status']![0]!,
        error: meta['modelport-error']?.[0] ?? null,
        caller: meta['modelport-caller']?.[0] ?? null,
        queueMs: queue!,
        computeMs: compute!,
        totalMs: total!,
        inputs: tensors(data(request)['inputs']),
        outputs: response ? tensors(data(response)['outputs']) : null,
        prediction: meta['modelport-prediction']?.[0] ?? null,
      };
    });
}

sinkConformance('cloudevents', async () => {
  const consumer = await startConsumer();
  // Generous timeouts: a loaded test machine must not turn a slow POST into a drop.
  const guard = new EgressGuard({ allowHosts: [consumer.host], timeoutMs: 60_000 });
  const sink = new CloudEventsSink({
    url: consumer.url,
    fetch: (url, init) => guard.fetch(url, init),
    timeoutMs: 60_000,
  });
  return {
    sink,
    received: async () => rebuild(consumer.events),
    setDown: async (down) => consumer.setDown(down),
    cleanup: async () => {
      await guard.close();
      await consumer.close();
    },
  };
});

test('the events carry the headers and body KServe’s logger sends', async () => {
  const [record] = sampleRecords(2).slice(1);
  const [request, response] = await toCloudEvents(record!);
  const message = HTTP.binary(request!);
  const headers = message.headers as Record<string, string>;
  assert.equal(headers['ce-type'], 'org.kubeflow.serving.inference.request');
  assert.equal(headers['ce-id'], record!.requestId);
  assert.equal(headers['ce-specversion'], '1.0');
  assert.equal(headers['ce-inferenceservicename'], 'fraud');
  assert.equal(headers['ce-namespace'], 'default');
  assert.equal(headers['ce-component'], 'predictor');
  assert.equal(headers['ce-endpoint'], 'default');
  assert.equal(headers['content-type'], 'application/json');
  assert.deepEqual(Object.keys(JSON.parse(String(message.body))), ['id', 'inputs']);
  assert.equal(HTTP.binary(response!).headers['ce-type'], 'org.kubeflow.serving.inference.response');
  assert.deepEqual(Object.keys(JSON.parse(String(HTTP.binary(response!).body))), [
    'model_name',
    'model_version',
    'id',
    'outputs',
  ]);
});

test('a URL the egress guard refuses is never reached: the records count as not written', async () => {
  const guard = new EgressGuard({ timeoutMs: 2000 });
  try {
    const sink = new CloudEventsSink({ url: 'http://127.0.0.1:9/', fetch: (url, init) => guard.fetch(url, init) });
    assert.deepEqual(await sink.write(sampleRecords(3)), { written: 0 });
  } finally {
    await guard.close();
  }
});
