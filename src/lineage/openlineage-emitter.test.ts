/**
 * The emitter against a real HTTP receiver on loopback: events arrive in order and valid; a receiver that is down
 * or refuses, a full queue, and an event that fails the schema are each counted and never thrown to the caller.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { MetricsRegistry } from '../metrics/index.ts';
import { OpenLineageEvents, OpenLineageValidator } from './openlineage.ts';
import { OpenLineageEmitter } from './openlineage-emitter.ts';

const events = new OpenLineageEvents({ namespace: 'test', producer: 'urn:modelport:server:test' });
const validator = new OpenLineageValidator();
const revision = {
  revision: 1,
  createdAt: '2026-12-06T10:00:00.000Z',
  targets: { traffic: [{ ref: 'fraud@2', model: 'fraud', version: 2, weight: 100 }] },
};
const rollout = (i: number) =>
  events.rollout('default', `d${i}`, revision, 'START', new Date(Date.UTC(2026, 11, 6, 10, 0, i)).toISOString());

const post = async (url: string, body: string, signal: AbortSignal) => {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    signal,
  });
  await response.arrayBuffer();
  return { status: response.status };
};

describe('OpenLineageEmitter', () => {
  let server: Server;
  let url: string;
  let handle: (req: IncomingMessage, res: ServerResponse, body: string) => void;
  const received: unknown[] = [];

  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => handle(req, res, body));
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/lineage`;
  });
  after(() => server.close());

  test('sends each event once, in the order queued, each valid against the schema', async () => {
    received.length = 0;
    handle = (_req, res, body) => {
      received.push(JSON.parse(body));
      res.writeHead(201).end();
    };
    const metrics = new MetricsRegistry();
    const counter = metrics.counter('modelport_openlineage_events_total', 'events', ['outcome']);
    const emitter = new OpenLineageEmitter({ url, post, validator, counter });
    for (let i = 0; i < 20; i++) emitter.enqueue(async () => [rollout(i)]);
    await emitter.flush();
    assert.deepEqual(emitter.counts, { sent: 20, dropped: 0, failed: 0, invalid: 0 });
    assert.deepEqual(
      received.map((e) => (e as { job: { name: string } }).job.name),
      Array.from({ length: 20 }, (_, i) => `default/deployments/d${i}`),
    );
    for (const e of received) assert.deepEqual(validator.check(e), []);
    assert.match(metrics.render(), /modelport_openlineage_events_total\{outcome="sent"\} 20/);
  });

  test('a full queue drops what does not fit, and counts it, without waiting', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    handle = (_req, res) => {
      void gate.then(() => res.writeHead(200).end());
    };
    const emitter = new OpenLineageEmitter({ url, post, validator, maxQueue: 5 });
    for (let i = 0; i < 50; i++) emitter.enqueue(async () => [rollout(i)]);
    // Every enqueue returned while the receiver still held the first event: nothing waited for it.
    assert.equal(emitter.counts.sent, 0);
    release();
    await emitter.flush();
    const counts = emitter.counts;
    assert.equal(counts.sent + counts.dropped, 50, JSON.stringify(counts));
    assert.ok(counts.dropped >= 44, `at most the one in flight and the 5 queued were kept: ${JSON.stringify(counts)}`);
  });

  test('a receiver that refuses or is down: counted as failed, and the next events still go', async () => {
    let refuse = true;
    handle = (_req, res) => res.writeHead(refuse ? 503 : 200).end();
    const emitter = new OpenLineageEmitter({ url, post, validator });
    emitter.enqueue(async () => [rollout(1)]);
    await emitter.flush();
    refuse = false;
    emitter.enqueue(async () => [rollout(2)]);
    await emitter.flush();
    assert.deepEqual(emitter.counts, { sent: 1, dropped: 0, failed: 1, invalid: 0 });

    const down = new OpenLineageEmitter({ url: 'http://127.0.0.1:1/api/v1/lineage', post, validator });
    down.enqueue(async () => [rollout(3)]);
    down.enqueue(async () => {
      throw new Error('the run is gone');
    });
    await down.flush();
    assert.deepEqual(down.counts, { sent: 0, dropped: 0, failed: 2, invalid: 0 });
  });

  test('an event that fails the schema is not sent; it is counted as invalid with the problem logged', async () => {
    const sent: unknown[] = [];
    handle = (_req, res, body) => {
      sent.push(body);
      res.writeHead(200).end();
    };
    const logged: Record<string, unknown>[] = [];
    const emitter = new OpenLineageEmitter({ url, post, validator, log: (_m, fields) => logged.push(fields) });
    emitter.enqueue(async () => [{ ...rollout(1), run: { runId: 'not-a-uuid' } }]);
    await emitter.flush();
    assert.deepEqual(emitter.counts, { sent: 0, dropped: 0, failed: 0, invalid: 1 });
    assert.equal(sent.length, 0);
    assert.match(JSON.stringify(logged), /run\.runId: must match format \\"uuid\\"/);
  });

  test('close: events queued after it are dropped and counted', async () => {
    handle = (_req, res) => res.writeHead(200).end();
    const emitter = new OpenLineageEmitter({ url, post, validator });
    await emitter.close();
    emitter.enqueue(async () => [rollout(1)]);
    assert.deepEqual(emitter.counts, { sent: 0, dropped: 1, failed: 0, invalid: 0 });
  });
});
