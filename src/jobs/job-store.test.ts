import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ModelportError } from '../core/index.ts';
import { forEachMetadataStore } from '../store/metadata/metadata-store.conformance.ts';
import { type JobRow, JobStore, toJob } from './job-store.ts';

const isNotFound = (field: string) => (e: unknown) =>
  e instanceof ModelportError && e.code === 'not_found' && e.field === field;

let counter = 0;
function jobRow(projectId: string, createdAt: string): JobRow {
  counter++;
  return {
    id: counter.toString(16).padStart(12, '0'),
    project_id: projectId,
    model: 'fraud',
    version: 1,
    spec: JSON.stringify({ input: { artifact: 'ab'.repeat(32) }, format: 'csv', outputFormat: 'csv' }),
    state: 'queued',
    reason: null,
    attempt: 1,
    rows_done: 0,
    rejects: 0,
    bytes_read: 0,
    bytes_total: null,
    output_sha256: null,
    output_size: null,
    rejects_sha256: null,
    rejects_size: null,
    created_at: createdAt,
    started_at: null,
    finished_at: null,
    updated_at: createdAt,
  };
}

forEachMetadataStore('job store', (open) => {
  async function setup() {
    const metadata = await open();
    const store = new JobStore(metadata);
    return { metadata, store, projectId: await store.projectId('default') };
  }

  test('lists newest first within the project; a job of another project or a bad id is not found', async () => {
    const { metadata, store, projectId } = await setup();
    await metadata.db
      .insertInto('projects')
      .values({ id: 'p2', name: 'other', created_at: new Date().toISOString() })
      .execute();
    const older = jobRow(projectId, '2026-01-01T00:00:00.000Z');
    const newer = jobRow(projectId, '2026-01-02T00:00:00.000Z');
    const theirs = jobRow('p2', '2026-01-03T00:00:00.000Z');
    for (const row of [older, newer, theirs]) await store.insert(row);
    assert.deepEqual(
      (await store.list(projectId, 10)).map((r) => r.id),
      [newer.id, older.id],
    );
    assert.deepEqual(
      (await store.list(projectId, 1)).map((r) => r.id),
      [newer.id],
    );
    assert.equal((await store.row('default', older.id)).id, older.id);
    await assert.rejects(store.row('default', theirs.id), isNotFound('id'));
    await assert.rejects(store.row('default', 'not-a-job'), isNotFound('id'));
    await assert.rejects(store.projectId('nope'), isNotFound('project'));
    assert.equal(await store.projectName('p2'), 'other');
  });

  test('claims the oldest queued job once; progress is saved only while running; finish ends it', async () => {
    const { store, projectId } = await setup();
    const first = jobRow(projectId, '2026-01-01T00:00:00.000Z');
    const second = jobRow(projectId, '2026-01-01T00:00:01.000Z');
    await store.insert(second);
    await store.insert(first);
    const next = await store.nextQueued();
    assert.equal(next?.id, first.id);
    const claimed = await store.claim(next!);
    assert.equal(claimed?.state, 'running');
    assert.equal(await store.claim(next!), undefined, 'a job is claimed once');
    assert.equal((await store.nextQueued())?.id, second.id);

    await store.save(first.id, { rows_done: 5000, bytes_read: 123456, bytes_total: 200000 });
    let job = toJob('default', await store.row('default', first.id));
    assert.deepEqual([job.progress.rows, job.progress.bytesRead, job.progress.bytesTotal], [5000, 123456, 200000]);
    await store.finish(first.id, 'succeeded', { output_sha256: 'cd'.repeat(32), output_size: 42 });
    job = toJob('default', await store.row('default', first.id));
    assert.equal(job.state, 'succeeded');
    assert.deepEqual(job.output, { sha256: 'cd'.repeat(32), size: 42 });
    assert.ok(job.finishedAt);
    // A finished job is neither saved over nor cancelled.
    await store.save(first.id, { rows_done: 1 });
    assert.equal(toJob('default', await store.row('default', first.id)).progress.rows, 5000);
    assert.equal(await store.cancel(first.id), false);
    assert.equal(await store.cancel(second.id), true);
    assert.equal((await store.row('default', second.id)).state, 'cancelled');
    assert.equal(await store.nextQueued(), undefined);
  });

  test('a running job left by a stopped server is requeued as the next attempt with its progress reset', async () => {
    const { store, projectId } = await setup();
    const row = jobRow(projectId, '2026-01-01T00:00:00.000Z');
    await store.insert(row);
    const claimed = (await store.claim(row))!;
    await store.save(row.id, { rows_done: 10, bytes_read: 10, rejects: 2 });
    assert.deepEqual(
      (await store.running()).map((r) => r.id),
      [row.id],
    );
    await store.requeue(claimed, 'the server restarted');
    const after = await store.row('default', row.id);
    assert.deepEqual(
      [after.state, after.attempt, Number(after.rows_done), Number(after.rejects), after.started_at, after.reason],
      ['queued', 2, 0, 0, null, 'the server restarted'],
    );
    assert.deepEqual(await store.running(), []);
  });
});
