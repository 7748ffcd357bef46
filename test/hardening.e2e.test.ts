/**
 * Hardening found by probing (issue 14), on a real server: malformed JSON never echoes the body back, on any
 * protocol (V2 JSON and binary, V1, Seldon, the control API).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { trainFraudModel } from '../examples/fraud/train.ts';
import { ModelportClient } from '../src/client/client.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const CANARY = 'CANARY-7f3a91';

/** Malformed bodies of every kind V8 reports differently, each carrying the canary near the fault. */
const BODIES = [
  `{"inputs": [${CANARY}]}`,
  CANARY,
  `{"token": "${CANARY}`,
  `{"token": "${CANARY}" "more": 1}`,
  `{"token": "${CANARY}\u0001"}`,
  `{"token": "\\uZZZZ${CANARY}"}`,
  `["${CANARY}",]`,
  `{"${CANARY}": }`,
  `{"inputs": []} ${CANARY}`,
];

describe('malformed JSON is never echoed', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer('embedded');
    // Some protocols resolve the model before decoding: it must exist so that decoding is what fails.
    await new ModelportClient({ url: t.url }).registerVersion('fraud', trainFraudModel({ seed: 1, rows: 4000 }).onnx);
  });
  after(() => t.close());

  test('V2 JSON, V2 binary header, V1, Seldon and the control API answer 400 invalid_json without the body', async () => {
    const targets: [string, (body: string) => RequestInit][] = [
      ['/v2/models/fraud/infer', (body) => ({ body, headers: { 'content-type': 'application/json' } })],
      [
        '/v2/models/fraud/infer',
        (body) => ({
          body: `${body}\0\0\0\0`,
          headers: {
            'content-type': 'application/octet-stream',
            'inference-header-content-length': String(Buffer.byteLength(body)),
          },
        }),
      ],
      ['/v1/models/fraud:predict', (body) => ({ body, headers: { 'content-type': 'application/json' } })],
      [
        '/api/v1.0/predictions',
        (body) => ({ body, headers: { 'content-type': 'application/json', 'model-id': 'fraud' } }),
      ],
      ['/predict', (body) => ({ body, headers: { 'content-type': 'application/json', 'model-id': 'fraud' } })],
      ['/api/v1/projects', (body) => ({ body, headers: { 'content-type': 'application/json' } })],
    ];
    let checked = 0;
    for (const [path, init] of targets) {
      for (const body of BODIES) {
        const res = await fetch(`${t.url}${path}`, { method: 'POST', ...init(body) });
        const text = await res.text();
        assert.equal(res.status, 400, `${path} ${body}: ${text}`);
        assert.match(text, /not valid JSON|invalid_json|MICROSERVICE_BAD_DATA/, `${path} ${body}: ${text}`);
        assert.ok(!text.includes(CANARY) && !text.includes('7f3a'), `${path} echoed the body: ${text}`);
        checked++;
      }
    }
    assert.equal(checked, targets.length * BODIES.length);
    assert.ok(!t.logText().includes(CANARY), 'the log holds the body');
  });
});
