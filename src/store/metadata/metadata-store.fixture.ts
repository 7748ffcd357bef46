/** Test fixtures shared by metadata-store.test.ts and its child process. */
import { randomUUID } from 'node:crypto';
import type { MetadataStore } from './metadata-store.ts';

/** Inserts a model in the default project and returns its id. */
export async function createModel(store: MetadataStore, name: string): Promise<string> {
  const id = randomUUID();
  const now = new Date().toISOString();
  await store.db
    .insertInto('models')
    .values({ id, project_id: 'default', name, description: '', latest_version: 0, created_at: now, updated_at: now })
    .execute();
  return id;
}

/**
 * The registry's pattern: bump `latest_version` and insert the version it returns, in one write transaction. It
 * reads before it writes, as services do (look the model up, then change it): on SQLite that is the case where a
 * deferred BEGIN fails with SQLITE_BUSY when another process commits in between, and BEGIN IMMEDIATE waits instead.
 */
export async function registerVersion(store: MetadataStore, modelId: string): Promise<number> {
  return store.transaction(async (trx) => {
    const now = new Date().toISOString();
    await trx.selectFrom('models').select('id').where('id', '=', modelId).executeTakeFirstOrThrow();
    const { latest_version: version } = await trx
      .updateTable('models')
      .set((eb) => ({ latest_version: eb('latest_version', '+', 1), updated_at: now }))
      .where('id', '=', modelId)
      .returning('latest_version')
      .executeTakeFirstOrThrow();
    await trx
      .insertInto('model_versions')
      .values({
        id: randomUUID(),
        model_id: modelId,
        version,
        format: 'onnx',
        model_type: 'onnx',
        artifact_sha256: 'a'.repeat(64),
        artifact_size: 2 ** 40,
        signature: '{}',
        description: '',
        tags: '{}',
        metrics: '{}',
        source: null,
        data_commit: null,
        pipeline_run: null,
        created_at: now,
      })
      .execute();
    return version;
  });
}
