import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ModelportError } from '../core/index.ts';
import { forEachMetadataStore } from '../store/metadata/metadata-store.conformance.ts';
import { initialStatus } from './conditions.ts';
import { DeploymentStore } from './deployment-store.ts';
import { parseSpec } from './spec.ts';
import type { RevisionTargets } from './types.ts';

const isError = (code: string, field: string) => (e: unknown) =>
  e instanceof ModelportError && e.code === code && e.field === field;

const spec = (model: string) => parseSpec({ traffic: [{ model, weight: 100 }] });
const targets = (version: number): RevisionTargets => ({
  traffic: [{ ref: 'fraud@champion', model: 'fraud', version, weight: 100 }],
});

forEachMetadataStore('deployment store', (open) => {
  async function setup() {
    const metadata = await open();
    const store = new DeploymentStore(metadata);
    const projectId = await store.projectId('default');
    const add = (name: string, model: string, version: number, mustNotExist = false) =>
      store.addRevision({
        projectId,
        name,
        spec: spec(model),
        targets: targets(version),
        initialStatus: initialStatus('2026-01-01T00:00:00.000Z'),
        now: new Date().toISOString(),
        mustNotExist,
      });
    return { metadata, store, projectId, add };
  }

  test('a revision per change; the same spec and targets again write nothing', async () => {
    const { store, add } = await setup();
    assert.equal(await add('fraud-api', 'fraud@champion', 1), true);
    assert.equal(await add('fraud-api', 'fraud@champion', 1), false);
    // Same spec, the alias now names another version: a new revision.
    assert.equal(await add('fraud-api', 'fraud@champion', 2), true);
    const row = await store.row('default', 'fraud-api');
    assert.deepEqual([row.generation, row.current_revision, row.latest_revision], [2, 2, 2]);
    const revisions = await store.revisions(row.id);
    assert.deepEqual(
      revisions.map((r) => [r.revision, r.targets.traffic[0]?.version, r.spec.traffic[0]?.model]),
      [
        [1, 1, 'fraud@champion'],
        [2, 2, 'fraud@champion'],
      ],
    );
    assert.equal((await store.revisionSpec(row.id, 1))?.traffic[0]?.model, 'fraud@champion');
    assert.equal(await store.revisionSpec(row.id, 9), undefined);
    assert.equal(JSON.parse(row.status).observedGeneration, 0);
  });

  test('mustNotExist refuses an existing deployment, naming the field, and writes nothing', async () => {
    const { store, add } = await setup();
    await add('once', 'fraud@1', 1, true);
    await assert.rejects(add('once', 'fraud@2', 2, true), isError('already_exists', 'name'));
    const row = await store.row('default', 'once');
    assert.equal(row.latest_revision, 1);
    assert.equal((await store.revisions(row.id)).length, 1);
  });

  test('rollback moves the current revision and the generation; status is stored as written', async () => {
    const { store, add } = await setup();
    await add('rolled', 'fraud@1', 1);
    await add('rolled', 'fraud@2', 2);
    await store.setCurrentRevision(await store.row('default', 'rolled'), 1, new Date().toISOString());
    const row = await store.row('default', 'rolled');
    assert.deepEqual([row.generation, row.current_revision, row.latest_revision], [3, 1, 2]);
    const status = { ...initialStatus('2026-01-01T00:00:00.000Z'), observedGeneration: 3, servingRevision: 1 };
    await store.setStatus(row.id, status, '2026-01-02T00:00:00.000Z');
    const after = await store.row('default', 'rolled');
    assert.deepEqual(JSON.parse(after.status), status);
    assert.equal(after.updated_at, '2026-01-02T00:00:00.000Z');
  });

  test('lists by project and name, across projects for restore; delete takes the revisions along', async () => {
    const { metadata, store, add } = await setup();
    await metadata.db
      .insertInto('projects')
      .values({ id: 'p2', name: 'other', created_at: new Date().toISOString() })
      .execute();
    await add('b-api', 'fraud@1', 1);
    await add('a-api', 'fraud@1', 1);
    await store.addRevision({
      projectId: 'p2',
      name: 'elsewhere',
      spec: spec('fraud@1'),
      targets: targets(1),
      initialStatus: initialStatus('2026-01-01T00:00:00.000Z'),
      now: new Date().toISOString(),
      mustNotExist: false,
    });
    assert.deepEqual(
      (await store.list(await store.projectId('default'))).map((r) => r.name),
      ['a-api', 'b-api'],
    );
    assert.deepEqual((await store.listAll()).map((d) => `${d.project}/${d.name}`).sort(), [
      'default/a-api',
      'default/b-api',
      'other/elsewhere',
    ]);
    const row = await store.row('default', 'a-api');
    await store.delete(row.id);
    assert.deepEqual(await store.revisions(row.id), []);
    await assert.rejects(store.row('default', 'a-api'), isError('not_found', 'deployment'));
    await assert.rejects(store.projectId('nope'), isError('not_found', 'project'));
    await assert.rejects(store.row('default', 'Bad Name'), (e: unknown) => e instanceof ModelportError);
  });
});
