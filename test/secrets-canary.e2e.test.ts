/**
 * The secrets and tokens canary suite (test/hostile/secrets-canary.ts) against a real --auth server logging at
 * debug level: the canary secret reaches the environment of the one deployment that uses it and nothing else; no
 * token is ever logged, answered, stored in clear or found in any process's environment.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type CanaryReport, runCanarySuite } from './hostile/secrets-canary.ts';
import { startTestServer, type TestServer } from './support/server.ts';

describe('secrets and tokens canary', () => {
  let t: TestServer;
  let report: CanaryReport;

  before(async () => {
    t = await startTestServer('embedded', { auth: 'true', example: 'true' });
    report = await runCanarySuite(t);
  });
  after(() => t?.close());

  test('the deployment that uses the secret has it in its workers’ environment', () => {
    assert.ok(report.secretWorkers.length >= 1, 'with-secret runs at least one worker');
    assert.ok(report.secretWorkers.every((w) => w.hasSecret));
  });

  test('no canary anywhere else: logs, responses, metrics, database, home files, other processes', () => {
    const places = report.checks.map((c) => c.place);
    for (const expected of [
      /log lines/,
      /responses/,
      /metrics/,
      /audit log/,
      /database file modelport\.db$/,
      /plain/,
    ]) {
      assert.ok(
        places.some((p) => expected.test(p)),
        `searched ${expected}`,
      );
    }
    const leaks = report.checks.filter((c) => c.leaks.length > 0).map((c) => `${c.place}: ${c.leaks.join(', ')}`);
    assert.deepEqual(leaks, []);
  });
});
