/**
 * The payload log with auth on: a record names the token that called, and the log follows project permissions (a
 * viewer reads it but sends no labels, a token limited to inference on the deployment reads nothing, no token is
 * 401).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { trainFraudModel } from '../examples/fraud/train.ts';
import { type ModelportApiError, ModelportClient } from '../src/client/client.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const fraud = trainFraudModel({ seed: 7, rows: 4000 });

describe('payload logging with auth on', () => {
  let t: TestServer;
  let admin: ModelportClient;
  const tokens: Record<string, string> = {};

  before(async () => {
    t = await startTestServer('embedded', { auth: 'true' });
    admin = new ModelportClient({ url: t.url, token: t.server.auth.adminToken! });
    await admin.registerVersion('fraud', fraud.onnx);
    await admin.applyDeployment('logged', { traffic: [{ model: 'fraud@1', weight: 100 }], logging: { sample: 100 } });
    await admin.waitDeployment('logged', 120);
    for (const [user, role] of [
      ['svc', 'editor'],
      ['vera', 'viewer'],
    ] as const) {
      await admin.createUser(user);
      await admin.addMember('default', { kind: 'user', name: user }, role);
    }
    tokens['checkout'] = (await admin.createToken({ name: 'checkout-api', user: 'svc' })).token;
    tokens['scoped'] = (
      await admin.createToken({ name: 'scoped', user: 'svc', deployment: { project: 'default', name: 'logged' } })
    ).token;
    tokens['vera'] = (await admin.createToken({ name: 'laptop', user: 'vera' })).token;
  });
  after(() => t?.close());

  const infer = (token: string, id: string) =>
    fetch(`${t.url}/v2/models/logged/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        id,
        inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 30], data: [...(fraud.samples?.legit ?? [])] }],
      }),
    });

  test('a record names the token that called', async () => {
    assert.equal((await infer(tokens['checkout']!, 'by-checkout')).status, 200);
    assert.equal((await infer(tokens['scoped']!, 'by-scoped')).status, 200);
    await t.server.payloads.flush();
    const [checkout] = await admin.getPayload('by-checkout');
    assert.equal(checkout?.caller, 'checkout-api');
    const [scoped] = await admin.getPayload('by-scoped');
    assert.equal(scoped?.caller, 'scoped');
  });

  test('the log follows project permissions', async () => {
    const as = (token?: string) => new ModelportClient({ url: t.url, ...(token ? { token } : {}) });
    assert.equal((await as(tokens['vera']).listPayloads('logged')).records.length, 2);
    await assert.rejects(
      as(tokens['vera']).sendFeedback('logged', { requestId: 'by-checkout', label: '0' }),
      (e: ModelportApiError) => e.status === 403,
    );
    for (const call of [
      () => as(tokens['scoped']).listPayloads('logged'),
      () => as(tokens['scoped']).getPayload('by-checkout'),
      () => as(tokens['scoped']).deploymentAccuracy('logged'),
    ]) {
      await assert.rejects(call(), (e: ModelportApiError) => e.status === 403);
    }
    await assert.rejects(as().listPayloads('logged'), (e: ModelportApiError) => e.status === 401);
    const sent = await as(tokens['checkout']).sendFeedback('logged', { requestId: 'by-checkout', label: '0' });
    assert.equal(sent.accepted, 1);
  });
});
