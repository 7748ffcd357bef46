import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { forEachMetadataStore } from './metadata-store.conformance.ts';
import { createModel, registerVersion } from './metadata-store.fixture.ts';
import { isUniqueViolation, type MetadataStore, openMetadataStore } from './metadata-store.ts';
import { MIGRATIONS, migrate } from './migrations.ts';

const NODE = fileURLToPath(new URL('../../../node_modules/.bin/node', import.meta.url));
const CHILD = fileURLToPath(new URL('./metadata-store.child.ts', import.meta.url));
/** Only a guard against a hung child process; these tests take well under a second. */
const CHILDREN = { timeout: 120_000 };
const TABLES = [
  'api_tokens',
  'audit_log',
  'blob_touches',
  'console_sessions',
  'data_branches',
  'data_commits',
  'data_profiles',
  'data_repos',
  'data_tags',
  'deployment_revisions',
  'deployments',
  'event_cursors',
  'events',
  'group_members',
  'groups',
  'jobs',
  'model_aliases',
  'model_versions',
  'models',
  'payload_feedback',
  'payload_files',
  'pipeline_revisions',
  'pipeline_runs',
  'pipeline_steps',
  'pipelines',
  'project_members',
  'projects',
  'schema_migrations',
  'secrets',
  'users',
];

const migrationIds = async (store: MetadataStore) =>
  (await store.db.selectFrom('schema_migrations').select('id').orderBy('id').execute()).map((row) => row.id);

const versionsOf = async (store: MetadataStore, modelId: string) =>
  (
    await store.db
      .selectFrom('model_versions')
      .select('version')
      .where('model_id', '=', modelId)
      .orderBy('version')
      .execute()
  ).map((row) => row.version);

const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

forEachMetadataStore('metadata store', (open, harness) => {
  test('migrations create every table and the default project', async () => {
    const store = await open();
    // PostgreSQL introspection lists every schema's tables; other suites' schemas may exist at the same time.
    const current =
      store.dialect === 'postgres'
        ? (await sql<{ name: string }>`select current_schema() as name`.execute(store.db)).rows[0]?.name
        : undefined;
    const tables = (await store.db.introspection.getTables())
      .filter((table) => current === undefined || table.schema === current)
      .map((table) => table.name)
      .sort();
    assert.deepEqual(tables, TABLES);
    assert.deepEqual(await migrationIds(store), MIGRATIONS.map((m) => m.id).sort());
    const projects = await store.db.selectFrom('projects').select(['id', 'name']).execute();
    assert.deepEqual(projects, [{ id: 'default', name: 'default' }]);
  });

  test('migrating again, in place or by reopening, is a no-op', async () => {
    const options = harness.fresh();
    const first = await openMetadataStore(options);
    try {
      assert.deepEqual(await migrate(first.db, first.dialect), []);
      const second = await openMetadataStore(options);
      await second.close();
      assert.deepEqual(await migrationIds(first), MIGRATIONS.map((m) => m.id).sort());
      assert.equal((await first.db.selectFrom('projects').selectAll().execute()).length, 1);
    } finally {
      await first.close();
    }
  });

  test(
    'two processes migrating a fresh database at once both succeed, applying each migration once',
    CHILDREN,
    async () => {
      const options = harness.fresh();
      await runTogether([[JSON.stringify(options)], [JSON.stringify(options)]]);
      const store = await openMetadataStore(options);
      try {
        assert.deepEqual(await migrationIds(store), MIGRATIONS.map((m) => m.id).sort());
        assert.equal((await store.db.selectFrom('projects').selectAll().execute()).length, 1);
      } finally {
        await store.close();
      }
    },
  );

  test(
    'two processes registering versions of one model at once get 1..20 with no gaps or duplicates',
    CHILDREN,
    async () => {
      const options = harness.fresh();
      const store = await openMetadataStore(options);
      try {
        const modelId = await createModel(store, 'shared');
        await runTogether([
          [JSON.stringify(options), modelId, '10'],
          [JSON.stringify(options), modelId, '10'],
        ]);
        assert.deepEqual(await versionsOf(store, modelId), oneTo(20));
      } finally {
        await store.close();
      }
    },
  );

  test('20 concurrent transactions bumping latest_version produce versions 1..20', async () => {
    const store = await open();
    const modelId = await createModel(store, 'fraud');
    const given = await Promise.all(oneTo(20).map(() => registerVersion(store, modelId)));
    assert.deepEqual(
      [...given].sort((a, b) => a - b),
      oneTo(20),
    );
    assert.deepEqual(await versionsOf(store, modelId), oneTo(20));
    const model = await store.db.selectFrom('models').select('latest_version').executeTakeFirstOrThrow();
    assert.equal(model.latest_version, 20);
  });

  test('unique and primary-key violations are recognised; other errors are not', async () => {
    const store = await open();
    const now = new Date().toISOString();
    const insertProject = (id: string, name: string) =>
      store.db.insertInto('projects').values({ id, name, created_at: now }).execute();
    await assert.rejects(insertProject('other', 'default'), (error) => isUniqueViolation(error));
    await assert.rejects(insertProject('default', 'other'), (error) => isUniqueViolation(error));
    await createModel(store, 'churn');
    await assert.rejects(createModel(store, 'churn'), (error) => isUniqueViolation(error));
    await assert.rejects(
      store.db
        .insertInto('models')
        .values({
          id: 'm',
          project_id: 'missing',
          name: 'x',
          description: '',
          latest_version: 0,
          created_at: now,
          updated_at: now,
        })
        .execute(),
      (error) => !isUniqueViolation(error),
    );
    await assert.rejects(sql`select * from no_such_table`.execute(store.db), (error) => !isUniqueViolation(error));
    assert.equal(isUniqueViolation(new Error('UNIQUE constraint failed')), false);
    assert.equal(isUniqueViolation(undefined), false);
  });

  test('a transaction that throws rolls back and rethrows', async () => {
    const store = await open();
    const boom = new Error('boom');
    await assert.rejects(
      store.transaction(async (trx) => {
        await trx.insertInto('projects').values({ id: 'p1', name: 'p1', created_at: 'now' }).execute();
        throw boom;
      }),
      (error) => error === boom,
    );
    const rows = await store.db.selectFrom('projects').select('id').where('id', '=', 'p1').execute();
    assert.deepEqual(rows, []);
    // The connection is usable afterwards, inside and outside transactions.
    assert.equal(
      await store.transaction(async (trx) => (await trx.selectFrom('projects').selectAll().execute()).length),
      1,
    );
  });

  test('deleting a model cascades to its versions and aliases; foreign keys are enforced', async () => {
    const store = await open();
    const modelId = await createModel(store, 'iris');
    await registerVersion(store, modelId);
    await store.db
      .insertInto('model_aliases')
      .values({ model_id: modelId, alias: 'champion', version: 1, updated_at: 'now' })
      .execute();
    await store.db.deleteFrom('models').where('id', '=', modelId).execute();
    assert.deepEqual(await versionsOf(store, modelId), []);
    assert.deepEqual(await store.db.selectFrom('model_aliases').selectAll().execute(), []);
    await createModel(store, 'kept');
    await assert.rejects(store.db.deleteFrom('projects').where('id', '=', 'default').execute());
    assert.equal((await store.db.selectFrom('projects').selectAll().execute()).length, 1);
  });

  test('bigint columns and counts read back as numbers', async () => {
    const store = await open();
    const modelId = await createModel(store, 'sizes');
    await registerVersion(store, modelId);
    const row = await store.db.selectFrom('model_versions').select('artifact_size').executeTakeFirstOrThrow();
    assert.equal(row.artifact_size, 2 ** 40);
    const count = await store.db
      .selectFrom('model_versions')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    assert.equal(count.n, 1);
  });

  test('location names the database without a password', async () => {
    const store = await open();
    assert.equal(store.dialect, harness.dialect);
    assert.ok(!store.location.includes(':@') && !/:[^/@:]+@/.test(store.location), store.location);
    if (harness.dialect === 'sqlite') {
      assert.match(store.location, /modelport\.db$/);
      const mode = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(store.db);
      assert.equal(mode.rows[0]?.journal_mode, 'wal');
    }
  });
});

test('closing a store twice is harmless', async () => {
  const store = await openMetadataStore({ url: 'sqlite::memory:', home: '/nonexistent' });
  await store.close();
  await store.close();
});

/** Starts one child per argument list, releases them together once all are loaded, and requires each to succeed. */
async function runTogether(argLists: string[][]): Promise<void> {
  const children = argLists.map((args) => spawn(NODE, [CHILD, ...args], { stdio: 'pipe' }));
  try {
    const runs = children.map(watch);
    await Promise.all(runs.map((run) => run.ready));
    for (const child of children) child.stdin.end('go\n');
    for (const { code, stderr } of await Promise.all(runs.map((run) => run.exit))) {
      assert.equal(code, 0, `child process failed:\n${stderr}`);
    }
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill();
  }
}

function watch(child: ChildProcessWithoutNullStreams) {
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exit = new Promise<{ code: number | null; stderr: string }>((resolve) => {
    child.on('close', (code) => resolve({ code, stderr }));
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', () => {
      if (stdout.includes('ready\n')) resolve();
    });
    void exit.then(({ code }) => reject(new Error(`child exited (${code}) before it was ready:\n${stderr}`)));
  });
  return { ready, exit };
}
