/**
 * The control API called in-process (`buildApp` without a listener, src/http/inject.ts): the same routes, limits
 * and error answers as over a port, on each store kind.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { STORE_KINDS, startTestApp, type TestApp } from './support/server.ts';

const CANARY = 'canary-api-7f03b1-never-print';

for (const kind of STORE_KINDS) {
  describe(`control API in-process [${kind}]`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind);
    });
    after(() => t.close());

    test('the API never answers with the value, even in errors', async () => {
      const answers: string[] = [];
      const call = async (method: string, path: string, body?: string) => {
        const res = await t.request(`/api/v1${path}`, {
          method,
          headers: { 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body }),
        });
        answers.push(`${res.status} ${await res.text()}`);
        return res.status;
      };
      assert.equal(await call('PUT', '/projects/default/secrets/CANARY', JSON.stringify({ value: CANARY })), 200);
      assert.equal(await call('PUT', '/projects/default/secrets/CANARY', `{"value": "${CANARY}`), 400);
      assert.equal(
        await call('PUT', '/projects/default/secrets/CANARY', `{"value": "${CANARY}", "extra": "${CANARY}"}`),
        400,
      );
      assert.equal(await call('PUT', '/projects/default/secrets/lower', JSON.stringify({ value: CANARY })), 400);
      assert.equal(await call('PUT', '/projects/nope/secrets/CANARY', JSON.stringify({ value: CANARY })), 404);
      assert.equal(
        await call('PUT', '/projects/default/secrets/BIG', JSON.stringify({ value: CANARY.repeat(3000) })),
        400,
      );
      assert.equal(await call('GET', '/projects/default/secrets'), 200);
      assert.equal(await call('POST', '/secrets/rotate', `{"newKey": "${CANARY}"}`), 400);
      assert.equal(await call('GET', '/openapi.json'), 200);
      for (const answer of answers) assert.ok(!answer.includes(CANARY), answer);
      assert.ok(!t.logText().includes(CANARY), t.logText());
      assert.match(answers[1]!, /invalid_json/);
      assert.match(answers[2]!, /body\.extra/);
    });

    test('an unknown path is a JSON not_found, and nothing listens', async () => {
      const res = await t.request('/api/v1/nothing-here');
      assert.equal(res.status, 404);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'not_found');
      assert.equal(t.app.server.listening, false);
    });
  });
}
