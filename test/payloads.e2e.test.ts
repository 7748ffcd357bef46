/**
 * Payload logging end to end: a real server with a deployment logging every call (a primary, a tagged canary and a
 * shadow) to the built-in store and to a CloudEvents receiver on loopback (parsed with the `cloudevents` package);
 * calls over V2 JSON, V1 and gRPC; the records queried through the API and the CLI; redaction proven with a canary
 * value searched for in every sink (the Parquet files read back with DuckDB, the CloudEvents bodies); drops counted
 * when a sink is down while every answer still succeeds; delayed labels and live accuracy; purge; bad input.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { credentials, Metadata } from '@grpc/grpc-js';
import { type CloudEvent, HTTP } from 'cloudevents';
import { trainFraudModel } from '../examples/fraud/train.ts';
import { ModelportApiError, ModelportClient } from '../src/client/client.ts';
import { loadInferenceProto } from '../src/serving/grpc/grpc-client.fixture.ts';
import { cli, cliJson } from './support/cli.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const fraud = trainFraudModel({ seed: 7, rows: 4000 });
const legit = [...(fraud.samples?.legit ?? [])];
const fraudRow = [...(fraud.samples?.fraud ?? [])];
/** A value that must never reach a sink: feature `v3` (column 3) is redacted. */
const CANARY = 424242.5;
const REDACTED_FEATURE = 'v3';
const withCanary = (row: number[]) => row.map((v, i) => (i === 3 ? CANARY : v));

interface Receiver {
  url: string;
  events: CloudEvent<unknown>[];
  bodies: string[];
  headers: IncomingMessage['headers'][];
  close(): Promise<void>;
}

/** A CloudEvents consumer as KServe's logger's users run one: every POST parsed with the cloudevents SDK. */
async function startReceiver(): Promise<Receiver> {
  const events: CloudEvent<unknown>[] = [];
  const bodies: string[] = [];
  const headers: IncomingMessage['headers'][] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      bodies.push(body);
      headers.push(req.headers);
      events.push(HTTP.toEvent({ headers: req.headers, body }) as CloudEvent<unknown>);
      res.writeHead(200).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/events`,
    events,
    bodies,
    headers,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const FRIENDLY = {
  features: fraud.featureNames.map((name) => ({ name, type: 'number' as const })),
  outputs: { labels: ['legit', 'fraud'], probabilities: 'probabilities', label: 'label' },
};

describe('payload logging', () => {
  let t: TestServer;
  let client: ModelportClient;
  let receiver: Receiver;
  let downPort: number;

  const spec = (sinks: unknown[], extra: Record<string, unknown> = {}) => ({
    traffic: [
      { model: 'fraud@1', weight: 100 },
      { model: 'fraud@2', weight: 0, tag: 'canary' },
    ],
    shadow: { model: 'fraud@2', percent: 100 },
    logging: { sample: 100, mode: 'all', redact: [REDACTED_FEATURE], sinks, ...extra },
  });

  const v2 = (model: string, rows: number[][], id?: string) =>
    fetch(`${t.url}/v2/models/${model}/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        ...(id ? { id } : {}),
        inputs: [{ name: 'input', datatype: 'FP32', shape: [rows.length, 30], data: rows.flat() }],
      }),
    });

  before(async () => {
    receiver = await startReceiver();
    // A port nothing listens on: the sink that is down.
    const probe = createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    downPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    t = await startTestServer('embedded', {
      egressAllowHosts: `${new URL(receiver.url).host},127.0.0.1:${downPort}`,
    });
    client = new ModelportClient({ url: t.url });
    await client.registerVersion('fraud', fraud.onnx, { signature: FRIENDLY });
    await client.registerVersion('fraud', fraud.onnx, { signature: FRIENDLY });
  });
  after(async () => {
    await t?.close();
    await receiver?.close();
  });

  test('bad logging specs are refused naming the field; nothing is stored', async () => {
    const refused = async (logging: unknown, field: RegExp) => {
      const error = await client.applyDeployment('fraud', { ...spec([{ type: 'store' }]), logging } as never).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(error instanceof ModelportApiError, `expected a refusal for ${JSON.stringify(logging)}`);
      assert.equal(error.status, 400);
      assert.match(String(error.field), field);
    };
    await refused({ sample: 150 }, /^(body\.)?spec\.logging\.sample$/);
    await refused({ sample: -1 }, /^(body\.)?spec\.logging\.sample$/);
    await refused({ mode: 'everything' }, /^(body\.)?spec\.logging\.mode$/);
    await refused(
      { sinks: [{ type: 'cloudevents', url: 'http://10.1.2.3/events' }] },
      /^(body\.)?spec\.logging\.sinks(\[0\]|\.0)\.url$/,
    );
    await refused(
      { sinks: [{ type: 'cloudevents', url: 'ftp://example.com/' }] },
      /^(body\.)?spec\.logging\.sinks(\[0\]|\.0)\.url$/,
    );
    await refused({ sinks: [{ type: 'store', retention: { maxAge: 'forever' } }] }, /retention\.maxAge$/);
    const compose = await client
      .applyDeployment('fraud', { ...spec([{ type: 'store' }]), backend: 'compose' } as never)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(compose instanceof ModelportApiError && compose.field === 'spec.logging', String(compose));
    await assert.rejects(client.getDeployment('fraud'), (e: ModelportApiError) => e.status === 404);
  });

  test('every protocol answers with modelport-request-id, and each call is logged with its fields', async () => {
    await client.applyDeployment(
      'fraud',
      spec([{ type: 'store' }, { type: 'cloudevents', url: receiver.url }]) as never,
    );
    await client.waitDeployment('fraud', 120);

    const a = await v2('fraud', [withCanary(legit)], 'req-v2-legit');
    assert.equal(a.status, 200);
    assert.equal(a.headers.get('modelport-request-id'), 'req-v2-legit');
    const b = await v2('fraud', [fraudRow], 'req-v2-fraud');
    assert.equal(b.headers.get('modelport-request-id'), 'req-v2-fraud');
    const canary = await v2('fraud@canary', [fraudRow], 'req-canary');
    assert.equal(canary.status, 200);
    const noId = await v2('fraud', [legit]);
    const generated = noId.headers.get('modelport-request-id');
    assert.match(String(generated), /^[0-9a-f-]{36}$/);

    const v1 = await fetch(`${t.url}/v1/models/fraud:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'req-v1' },
      body: JSON.stringify({ instances: [legit] }),
    });
    assert.equal(v1.status, 200);
    assert.equal(v1.headers.get('modelport-request-id'), 'req-v1');

    const { GRPCInferenceService } = loadInferenceProto();
    const grpc = new GRPCInferenceService(`127.0.0.1:${t.server.grpcPort}`, credentials.createInsecure());
    const trailer = await new Promise<string>((resolve, reject) => {
      const call = (
        grpc as unknown as Record<
          string,
          (
            r: object,
            m: Metadata,
            cb: (e: Error | null) => void,
          ) => { on(event: 'status', fn: (s: { metadata: Metadata }) => void): void }
        >
      ).ModelInfer!(
        {
          model_name: 'fraud',
          id: 'req-grpc',
          inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 30] }],
          raw_input_contents: [Buffer.from(new Float32Array(fraudRow).buffer)],
        },
        new Metadata(),
        (error) => {
          if (error) reject(error);
        },
      );
      call.on('status', (status) => resolve(String(status.metadata.get('modelport-request-id')[0])));
    });
    grpc.close();
    assert.equal(trailer, 'req-grpc');

    // A failed call is logged too, with its error code; it answers with its id as well.
    const bad = await fetch(`${t.url}/v2/models/fraud/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        id: 'req-bad',
        inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }],
      }),
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get('modelport-request-id'), 'req-bad');

    await t.server.payloads.flush();
    const { records } = await client.listPayloads('fraud', { limit: 100 });
    const primary = (id: string) => records.find((r) => r.requestId === id && r.arm !== 'shadow');
    const first = primary('req-v2-legit');
    assert.ok(first, 'the V2 call is logged');
    assert.equal(first.deployment, 'fraud');
    assert.equal(first.project, 'default');
    assert.equal(first.revision, 1);
    assert.equal(first.arm, 'primary');
    assert.equal(first.model, 'fraud');
    assert.equal(first.modelVersion, 1);
    assert.equal(first.protocol, 'v2-json');
    assert.equal(first.status, 'ok');
    assert.equal(first.caller, 'local');
    assert.equal(first.prediction, 'legit');
    assert.ok(first.totalMs > 0 && first.queueMs >= 0 && first.computeMs >= 0);
    assert.ok(first.queueMs + first.computeMs <= first.totalMs + 1);
    assert.ok(Math.abs(Date.parse(first.time) - Date.now()) < 120_000);
    assert.equal(first.inputs?.[0]?.data?.[3], null, 'the redacted feature is blanked');
    assert.deepEqual(first.inputs?.[0]?.redacted, [REDACTED_FEATURE]);
    assert.equal(first.inputs?.[0]?.data?.[0], legit[0]);
    assert.deepEqual(
      first.outputs?.map((o) => o.name),
      ['label', 'probabilities'],
    );
    assert.equal(primary('req-v2-fraud')?.prediction, 'fraud');
    const c = primary('req-canary');
    assert.equal(c?.arm, 'canary');
    assert.equal(c?.modelVersion, 2);
    assert.equal(primary(String(generated))?.protocol, 'v2-json');
    assert.equal(primary('req-v1')?.protocol, 'v1');
    assert.equal(primary('req-grpc')?.protocol, 'grpc');
    assert.equal(primary('req-grpc')?.prediction, 'fraud');
    const failed = primary('req-bad');
    assert.equal(failed?.status, 'invalid_input');
    assert.equal(failed?.outputs, null);
    // The shadow answered every primary call; its record carries the same request id.
    const both = await client.getPayload('req-v2-legit');
    assert.deepEqual(both.map((r) => r.arm).sort(), ['primary', 'shadow']);
    assert.equal(both.find((r) => r.arm === 'shadow')?.modelVersion, 2);
  });

  test('filters are parsed, bound and safe; bad ones are refused naming where', async () => {
    const fraudOnly = await client.listPayloads('fraud', { where: "prediction = 'fraud' AND arm != 'shadow'" });
    assert.deepEqual(fraudOnly.records.map((r) => r.requestId).sort(), ['req-canary', 'req-grpc', 'req-v2-fraud']);
    const arms = await client.listPayloads('fraud', { where: "arm IN ('canary') OR status LIKE 'invalid%'" });
    assert.deepEqual(arms.records.map((r) => r.requestId).sort(), ['req-bad', 'req-canary']);
    const limited = await client.listPayloads('fraud', { limit: 2, since: '1h' });
    assert.equal(limited.records.length, 2);
    assert.ok(limited.records[0]!.time >= limited.records[1]!.time, 'newest first');
    for (const where of [
      "prediction = 'x'; DROP TABLE pending",
      "read_parquet('/etc/passwd') IS NULL",
      "prediction = 'x' OR deployment = 'other'",
      "prediction = 'x' OR project != ''",
      "prediction = 'unclosed",
      'total_ms > (SELECT 1)',
    ]) {
      const error = await client.listPayloads('fraud', { where }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(error instanceof ModelportApiError, `refused: ${where}`);
      assert.equal(error.status, 400);
      assert.equal(error.field, 'where');
    }
    // A quote inside a value is a value, not SQL.
    assert.equal((await client.listPayloads('fraud', { where: "prediction = 'x'' OR ''1''=''1'" })).records.length, 0);
  });

  test('the CLI lists, gets and filters', async () => {
    const listed = await cli(t.url, 'payloads', 'list', 'fraud', '--where', "prediction = 'fraud'", '--limit', '10');
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /req-v2-fraud/);
    assert.doesNotMatch(listed.stdout, /req-v2-legit/);
    const got = await cli(t.url, 'payloads', 'get', 'req-canary');
    assert.equal(got.code, 0, got.stderr);
    assert.match(got.stdout, /arm canary/);
    assert.match(got.stdout, /latency:\s+queue/);
    const missing = await cli(t.url, 'payloads', 'get', 'no-such-request');
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /not_found/);
  });

  test('CloudEvents arrive in the form of KServe’s logger, and the canary reaches no sink', async () => {
    const requests = receiver.events.filter((e) => e.type === 'org.kubeflow.serving.inference.request');
    const responses = receiver.events.filter((e) => e.type === 'org.kubeflow.serving.inference.response');
    const request = requests.find((e) => e.id === 'req-v2-legit' && e['endpoint'] === 'default');
    assert.ok(request, 'the request event of the primary call');
    assert.equal(request.specversion, '1.0');
    assert.equal(request['inferenceservicename'], 'fraud');
    assert.equal(request['namespace'], 'default');
    assert.equal(request['component'], 'predictor');
    assert.equal(request.datacontenttype, 'application/json');
    const header = receiver.headers.find(
      (h) => h['ce-id'] === 'req-v2-legit' && h['ce-type'] === 'org.kubeflow.serving.inference.request',
    );
    assert.ok(header, 'binary mode: the attributes are ce- headers');
    assert.equal(header['ce-inferenceservicename'], 'fraud');
    assert.equal(header['ce-endpoint'], 'default');
    const response = responses.find((e) => e.id === 'req-v2-legit' && e['endpoint'] === 'default');
    const body = (typeof response?.data === 'string' ? JSON.parse(response.data) : response?.data) as {
      outputs: { name: string }[];
    };
    assert.deepEqual(
      body.outputs.map((o) => o.name),
      ['label', 'probabilities'],
    );
    assert.ok(responses.some((e) => e.id === 'req-canary' && e['endpoint'] === 'canary'));
    assert.ok(responses.some((e) => e.id === 'req-v2-legit' && e['endpoint'] === 'shadow'));
    // A failed call sends its request and no response, as KServe's logger does.
    assert.ok(requests.some((e) => e.id === 'req-bad'));
    assert.ok(!responses.some((e) => e.id === 'req-bad'));

    // The canary: nowhere in the CloudEvents, the API's records, or the Parquet files (read back whole with DuckDB).
    const canary = String(CANARY);
    assert.ok(!receiver.bodies.some((b) => b.includes(canary)), 'not in any CloudEvent');
    await t.server.payloads.flush();
    const all = await client.listPayloads('fraud', { limit: 1000 });
    assert.ok(!JSON.stringify(all).includes(canary), 'not in the store');
    const files = await t.server.payloads.store.usage('default', 'fraud');
    assert.ok(files.files >= 1 && files.rows >= all.records.length, 'the records were written to Parquet files');
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const connection = await db.connect();
    const paths = await t.server.payloads.store.filePaths('default', 'fraud');
    const rows = (
      await connection.runAndReadAll(`SELECT * FROM read_parquet([${paths.map((p) => `'${p}'`).join(',')}])`)
    ).getRowObjectsJson();
    connection.closeSync();
    db.closeSync();
    assert.ok(rows.length >= all.records.length);
    assert.ok(!JSON.stringify(rows).includes(canary), 'not in the Parquet files');
    assert.ok(JSON.stringify(rows).includes('req-v2-legit'));
  });

  test('a sink that is down: every answer still succeeds, its records are dropped and counted', async () => {
    await client.applyDeployment(
      'fraud',
      spec([{ type: 'store' }, { type: 'cloudevents', url: `http://127.0.0.1:${downPort}/events` }]) as never,
    );
    await client.waitDeployment('fraud', 120);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => v2('fraud', [legit], `down-${i}`)));
    assert.ok(answers.every((r) => r.status === 200));
    await t.server.payloads.flush();
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    const dropped =
      /modelport_payload_records_dropped_total\{deployment="fraud",sink="cloudevents",reason="sink_failed"\} (\d+)/.exec(
        metrics,
      );
    assert.ok(
      dropped,
      metrics
        .split('\n')
        .filter((l) => l.includes('payload'))
        .join('\n'),
    );
    assert.ok(Number(dropped[1]) >= 20, `dropped ${dropped[1]}`);
    assert.match(metrics, /modelport_payload_records_total\{deployment="fraud",sink="store"\} \d+/);
    // The store kept them all.
    const kept = await client.listPayloads('fraud', { where: "request_id LIKE 'down-%' AND arm = 'primary'" });
    assert.equal(kept.records.length, 20);
    assert.equal(kept.records[0]?.revision, 2);
  });

  test('delayed labels: joined to the log, unknown ids counted, live accuracy per arm', async () => {
    const json = await client.sendFeedback('fraud', {
      labels: [
        { requestId: 'req-v2-legit', label: 'legit' },
        { requestId: 'req-v2-fraud', label: 'legit' },
        { requestId: 'ghost-1', label: 'fraud' },
      ],
    });
    assert.deepEqual(json, { received: 3, accepted: 2, unknown: 1, unknownIds: ['ghost-1'] });
    const csv = 'request_id,label\nreq-canary,fraud\nreq-grpc,fraud\n"ghost-2",legit\n';
    const fromCsv = await cliJson<{ accepted: number; unknown: number }>(
      t.url,
      'payloads',
      'feedback',
      'fraud',
      '-f',
      await writeTemp(csv),
    );
    assert.deepEqual([fromCsv.accepted, fromCsv.unknown], [2, 1]);
    const report = await client.deploymentAccuracy('fraud', { window: '1h', since: '1h', positive: 'fraud' });
    const primary = report.arms.find((a) => a.arm === 'primary');
    const canary = report.arms.find((a) => a.arm === 'canary');
    // primary: legit->legit right, fraud->legit wrong, fraud(grpc)->fraud right.
    assert.deepEqual(primary?.total, { n: 3, correct: 2, accuracy: 0.6667, precision: 0.5, recall: 1 });
    assert.deepEqual(canary?.total, { n: 1, correct: 1, accuracy: 1, precision: 1, recall: 1 });
    assert.ok(!report.arms.some((a) => a.arm === 'shadow'));
    assert.equal(primary?.points.length, 1);
    // A new label for the same request replaces the old one.
    await client.sendFeedback('fraud', { requestId: 'req-v2-fraud', label: 'fraud' });
    const again = await client.deploymentAccuracy('fraud', { since: '1h', positive: 'fraud' });
    assert.equal(again.arms.find((a) => a.arm === 'primary')?.total.accuracy, 1);
    const table = await cli(t.url, 'payloads', 'accuracy', 'fraud', '--since', '1h');
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /primary\s+total\s+3\s+100\.0%/);
    // Bad input: a label without an id, an empty CSV, a window too small.
    await assert.rejects(
      client.sendFeedback('fraud', { requestId: '', label: 'x' }),
      (e: ModelportApiError) => e.status === 400 && /requestId/.test(String(e.field)),
    );
    await assert.rejects(client.sendFeedbackCsv('fraud', 'id_only\nx\n'), (e: ModelportApiError) => e.status === 400);
    await assert.rejects(
      client.deploymentAccuracy('fraud', { window: '1s' }),
      (e: ModelportApiError) => e.status === 400 && e.field === 'window',
    );
    await assert.rejects(
      client.sendFeedback('nope', { requestId: 'a', label: 'b' }),
      (e: ModelportApiError) => e.status === 404,
    );
  });

  test('deleting keeps the payloads unless asked; --purge-payloads deletes them', async () => {
    const kept = await cli(t.url, 'deployments', 'delete', 'fraud');
    assert.equal(kept.code, 0, kept.stderr);
    assert.match(kept.stdout, /payload log is kept/);
    assert.ok((await client.listPayloads('fraud')).records.length > 0);
    assert.equal((await client.getPayload('req-v2-legit')).length, 2);

    await client.applyDeployment('fraud', spec([{ type: 'store' }]) as never);
    await client.waitDeployment('fraud', 120);
    await v2('fraud', [legit], 'after-recreate');
    await t.server.payloads.flush();
    const paths = await t.server.payloads.store.filePaths('default', 'fraud');
    assert.ok(paths.length > 0);
    const purged = await cli(t.url, 'deployments', 'delete', 'fraud', '--purge-payloads');
    assert.equal(purged.code, 0, purged.stderr);
    assert.equal((await client.listPayloads('fraud')).records.length, 0);
    await assert.rejects(client.getPayload('req-v2-legit'), (e: ModelportApiError) => e.status === 404);
    assert.deepEqual(await t.server.payloads.store.usage('default', 'fraud'), { files: 0, rows: 0, bytes: 0 });
    const { access } = await import('node:fs/promises');
    for (const path of paths) await assert.rejects(access(path), 'the Parquet file is deleted');
    const report = await client.deploymentAccuracy('fraud', { since: '1h' }).catch((e: unknown) => e);
    assert.ok(report instanceof ModelportApiError && report.status === 404);
  });
});

async function writeTemp(text: string): Promise<string> {
  const { mkdtemp, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), 'modelport-labels-'));
  const file = join(dir, 'labels.csv');
  await writeFile(file, text);
  return file;
}
