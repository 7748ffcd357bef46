/**
 * The audit log end to end on a real server: changes made through the client and the CLI are listed with who, what
 * and the outcome; a deployment's spec before and after; a secret's name but never its value; `audit verify` passes,
 * then fails naming the row once the database is edited behind the server's back.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { trainFraudModel } from '../examples/fraud/train.ts';
import type { AuditRecord } from '../src/audit/index.ts';
import { ModelportClient } from '../src/client/client.ts';
import { cli, cliJson } from './support/cli.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const CANARY = 'audit-canary-5d1e0b-never-logged';

describe('audit log', () => {
  let t: TestServer;
  let mp: ModelportClient;

  before(async () => {
    t = await startTestServer('embedded');
    mp = new ModelportClient({ url: t.url });
    await mp.registerVersion('fraud', trainFraudModel({ seed: 1, rows: 4000 }).onnx);
  });
  after(() => t.close());

  test('changes are listed with who, what and the outcome; spec before/after; a secret by name only', async () => {
    await mp.setSecret('PARTNER_TOKEN', CANARY);
    await mp.createDeployment('fraud-api', { traffic: [{ model: 'fraud', weight: 100 }], env: { LOG_LEVEL: 'info' } });
    await mp.applyDeployment('fraud-api', { traffic: [{ model: 'fraud', weight: 100 }], env: { LOG_LEVEL: 'debug' } });
    await assert.rejects(mp.applyDeployment('fraud-api', { traffic: [{ model: 'fraud', weight: 50 }] }));
    await mp.deleteSecret('PARTNER_TOKEN');
    await mp.listDeployments(); // a read: not recorded

    const rows = await cliJson<AuditRecord[]>(t.url, 'audit', 'list', '-o', 'json');
    const mine = rows.filter((r) => r.route !== '/projects/:project/models/:model/versions').reverse();
    assert.deepEqual(
      mine.map((r) => `${r.subject} ${r.method} ${r.route} ${r.project} ${r.object} ${r.status} ${r.errorCode ?? ''}`),
      [
        'local PUT /projects/:project/secrets/:name default PARTNER_TOKEN 200 ',
        'local POST /projects/:project/deployments default fraud-api 201 ',
        'local PUT /projects/:project/deployments/:name default fraud-api 200 ',
        'local PUT /projects/:project/deployments/:name default fraud-api 400 invalid_request',
        'local DELETE /projects/:project/secrets/:name default PARTNER_TOKEN 204 ',
      ],
    );
    const change = mine[2]!.detail as { before: { env: object }; after: { env: object } };
    assert.deepEqual([change.before.env, change.after.env], [{ LOG_LEVEL: 'info' }, { LOG_LEVEL: 'debug' }]);
    assert.deepEqual((mine[1]!.detail as { before: unknown }).before, null);
    assert.deepEqual(mine[0]!.detail, { secret: 'PARTNER_TOKEN', value: 'not recorded' });
    assert.ok(!JSON.stringify(rows).includes(CANARY), 'a secret value is in the audit log');

    const table = await cli(t.url, 'audit', 'list', '--project', 'default', '--since', '1h');
    assert.equal(table.code, 0, table.stderr);
    assert.match(
      table.stdout,
      /PUT\s+\/projects\/:project\/deployments\/:name\s+default\s+fraud-api\s+400 invalid_request/,
    );
    assert.equal((await cliJson<AuditRecord[]>(t.url, 'audit', 'list', '--project', 'other', '-o', 'json')).length, 0);
    const bad = await cli(t.url, 'audit', 'list', '--since', 'yesterday-ish');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /query\.since/);

    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /modelport_audit_records_total \d+/);
    assert.match(metrics, /modelport_audit_write_failures_total 0/);
  });

  test('verify passes, then names the first row edited or deleted behind the server', async () => {
    const ok = await cli(t.url, 'audit', 'verify');
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /audit log intact: \d+ rows; head \d+ [0-9a-f]{64}/);

    const db = new DatabaseSync(join(t.home, 'modelport.db'));
    try {
      const dump = JSON.stringify(db.prepare('select * from audit_log').all());
      assert.ok(!dump.includes(CANARY), 'a secret value is in the audit table');
      db.prepare("update audit_log set subject = 'someone-else' where seq = 3").run();
      const edited = await cli(t.url, 'audit', 'verify');
      assert.equal(edited.code, 1);
      assert.match(edited.stderr, /audit log broken at row 3: its content does not match its hash/);
      db.prepare("update audit_log set subject = 'local' where seq = 3").run();
      assert.equal((await cli(t.url, 'audit', 'verify')).code, 0);
      db.prepare('delete from audit_log where seq = 2').run();
      const deleted = await cli(t.url, 'audit', 'verify');
      assert.equal(deleted.code, 1);
      assert.match(deleted.stderr, /audit log broken at row 3: row 2 is missing \(deleted\)/);
    } finally {
      db.close();
    }
  });
});
