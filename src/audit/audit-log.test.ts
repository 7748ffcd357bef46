import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryLogger, silentLogger } from '../logging/index.ts';
import { MetricsRegistry } from '../metrics/index.ts';
import { forEachMetadataStore } from '../store/metadata/metadata-store.conformance.ts';
import { type AuditEvent, AuditLog, GENESIS_HASH } from './audit-log.ts';

const event = (i: number, extra: Partial<AuditEvent> = {}): AuditEvent => ({
  principal: { subject: 'user:ada', user: 'ada', token: { name: 'ci' } },
  method: 'PUT',
  route: '/projects/:project/deployments/:name',
  project: i % 2 === 0 ? 'default' : 'fraud-team',
  object: `d${i}`,
  status: 200,
  detail: { before: null, after: { traffic: [{ model: 'fraud', weight: 100 }] } },
  ...extra,
});

forEachMetadataStore('audit log', (open) => {
  test('rows are appended in order, listed newest first, filtered, and the chain verifies', async () => {
    const store = await open();
    const metrics = new MetricsRegistry();
    const audit = new AuditLog({ store, metrics, log: silentLogger() });
    assert.deepEqual(await audit.verify(), { ok: true, count: 0, head: null });
    await Promise.all(Array.from({ length: 25 }, (_, i) => audit.record(event(i))));
    await audit.record({
      principal: undefined,
      method: 'GET',
      route: '/models',
      status: 401,
      errorCode: 'unauthenticated',
    });
    const all = await audit.list({ limit: 1000 });
    assert.deepEqual(
      all.map((r) => r.seq),
      Array.from({ length: 26 }, (_, i) => 26 - i),
    );
    assert.deepEqual(all[0], { ...all[0], subject: 'anonymous', user: null, token: null, status: 401 });
    assert.deepEqual(all.at(-1)?.detail, { before: null, after: { traffic: [{ model: 'fraud', weight: 100 }] } });
    assert.equal(all.at(-1)?.token, 'ci');
    assert.equal((await audit.list({ project: 'fraud-team', limit: 1000 })).length, 12);
    assert.equal((await audit.list({ since: '2999-01-01T00:00:00.000Z' })).length, 0);
    const verified = await audit.verify();
    assert.deepEqual(verified, { ok: true, count: 26, head: { seq: 26, hash: all[0]!.hash } });
    assert.match(metrics.render(), /modelport_audit_records_total 26/);
  });

  test('an edited row, a re-hashed edited row, and a deleted row are each found, naming the first bad row', async () => {
    const store = await open();
    const audit = new AuditLog({ store, log: silentLogger() });
    for (let i = 0; i < 6; i++) await audit.record(event(i));

    await store.db.updateTable('audit_log').set({ status: 204 }).where('seq', '=', 3).execute();
    assert.deepEqual((await audit.verify()).firstBad, {
      seq: 3,
      reason: 'its content does not match its hash (the row was edited)',
    });
    // Editing the hash along with the row only moves the break to the next row.
    const rows = await store.db.selectFrom('audit_log').selectAll().orderBy('seq').execute();
    const three = rows[2]!;
    const { chainHash } = await import('./audit-log.ts');
    const rehash = chainHash(three.prev_hash, {
      seq: 3,
      at: three.at,
      subject: three.subject,
      user: three.user_name,
      token: three.token_name,
      method: three.method,
      route: three.route,
      project: three.project,
      object: three.object,
      status: 204,
      errorCode: three.error_code,
      detail: three.detail,
    });
    await store.db.updateTable('audit_log').set({ hash: rehash }).where('seq', '=', 3).execute();
    assert.equal((await audit.verify()).firstBad?.seq, 4);

    await store.db.deleteFrom('audit_log').where('seq', '=', 2).execute();
    assert.deepEqual((await audit.verify()).firstBad, { seq: 3, reason: 'row 2 is missing (deleted)' });
    assert.equal(rows[0]!.prev_hash, GENESIS_HASH);
  });

  test('a store that fails does not fail the caller: the row is logged and counted', async () => {
    const store = await open();
    const metrics = new MetricsRegistry();
    const log = memoryLogger();
    const audit = new AuditLog({ store, metrics, log });
    await store.close();
    await audit.record(event(1));
    assert.deepEqual(
      log.records.map((r) => r.msg),
      ['audit: a row could not be written'],
    );
    assert.match(metrics.render(), /modelport_audit_write_failures_total 1/);
  });
});
