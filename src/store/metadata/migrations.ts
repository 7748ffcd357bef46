/**
 * Schema migrations: an ordered, append-only list, applied by `migrate` in one transaction under a lock. Each
 * migration is written once with Kysely's schema builder and runs on both SQLite and PostgreSQL.
 */
import { type Kysely, sql } from 'kysely';
import type { MetadataDialect } from './metadata-store.ts';
import type { Database, ProjectsTable } from './schema.ts';

/**
 * One step of the schema. Never edit or reorder a released migration: append a new one. `up` receives the open
 * transaction, typed without tables because the schema it sees is the one of its own time.
 */
export interface Migration {
  /** Sortable and unique, e.g. `001_initial`; recorded in `schema_migrations`. */
  readonly id: string;
  up(db: Kysely<unknown>): Promise<void>;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    id: '001_initial',
    async up(db) {
      await db.schema
        .createTable('projects')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('projects_name_key', ['name'])
        .execute();

      // The unique (project_id, name) also serves listing a project's models.
      await db.schema
        .createTable('models')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('latest_version', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addForeignKeyConstraint('models_project_id_fkey', ['project_id'], 'projects', ['id'])
        .addUniqueConstraint('models_project_id_name_key', ['project_id', 'name'])
        .execute();

      // The unique (model_id, version) is also the index of versions by model.
      await db.schema
        .createTable('model_versions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('model_id', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('format', 'text', (c) => c.notNull())
        .addColumn('model_type', 'text', (c) => c.notNull())
        .addColumn('artifact_sha256', 'text', (c) => c.notNull())
        .addColumn('artifact_size', 'bigint', (c) => c.notNull())
        .addColumn('signature', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('tags', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('metrics', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('source', 'text')
        .addColumn('data_commit', 'text')
        .addColumn('pipeline_run', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addForeignKeyConstraint('model_versions_model_id_fkey', ['model_id'], 'models', ['id'], (fk) =>
          fk.onDelete('cascade'),
        )
        .addUniqueConstraint('model_versions_model_id_version_key', ['model_id', 'version'])
        .execute();
      // Artifact garbage collection asks whether any version still references a blob.
      await db.schema
        .createIndex('model_versions_artifact_sha256_idx')
        .on('model_versions')
        .column('artifact_sha256')
        .execute();

      await db.schema
        .createTable('model_aliases')
        .addColumn('model_id', 'text', (c) => c.notNull())
        .addColumn('alias', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('model_aliases_pkey', ['model_id', 'alias'])
        .addForeignKeyConstraint('model_aliases_model_id_fkey', ['model_id'], 'models', ['id'], (fk) =>
          fk.onDelete('cascade'),
        )
        .execute();

      await db
        .withTables<{ projects: ProjectsTable }>()
        .insertInto('projects')
        .values({ id: 'default', name: 'default', created_at: new Date().toISOString() })
        .execute();
    },
  },
  {
    id: '002_secrets',
    async up(db) {
      // Values are AES-256-GCM ciphertext (base64) under the key named by key_id; see src/secrets.
      await db.schema
        .createTable('secrets')
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('ciphertext', 'text', (c) => c.notNull())
        .addColumn('nonce', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('secrets_pkey', ['project_id', 'name'])
        .addForeignKeyConstraint('secrets_project_id_fkey', ['project_id'], 'projects', ['id'], (fk) =>
          fk.onDelete('cascade'),
        )
        .execute();
    },
  },
  {
    id: '003_deployments',
    async up(db) {
      // A deployment's spec lives in immutable numbered revisions; the row points at the one serving.
      await db.schema
        .createTable('deployments')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('generation', 'integer', (c) => c.notNull())
        .addColumn('current_revision', 'integer', (c) => c.notNull())
        .addColumn('latest_revision', 'integer', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('deployments_project_name_key', ['project_id', 'name'])
        .execute();
      await db.schema
        .createTable('deployment_revisions')
        .addColumn('deployment_id', 'text', (c) => c.notNull().references('deployments.id').onDelete('cascade'))
        .addColumn('revision', 'integer', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('targets', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('deployment_revisions_pkey', ['deployment_id', 'revision'])
        .execute();
    },
  },
  {
    id: '004_jobs',
    async up(db) {
      // Batch scoring jobs (src/jobs): the spec as JSON, the state and progress written by the job service.
      await db.schema
        .createTable('jobs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('rows_done', 'bigint', (c) => c.notNull())
        .addColumn('rejects', 'bigint', (c) => c.notNull())
        .addColumn('bytes_read', 'bigint', (c) => c.notNull())
        .addColumn('bytes_total', 'bigint')
        .addColumn('output_sha256', 'text')
        .addColumn('output_size', 'bigint')
        .addColumn('rejects_sha256', 'text')
        .addColumn('rejects_size', 'bigint')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text')
        .addColumn('finished_at', 'text')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('jobs_project_id_created_at_idx')
        .on('jobs')
        .columns(['project_id', 'created_at'])
        .execute();
      await db.schema.createIndex('jobs_state_idx').on('jobs').column('state').execute();
    },
  },
  {
    id: '005_friendly_signatures',
    async up(db) {
      // JSON of FriendlySignature (src/signatures); null when the version has none.
      await db.schema.alterTable('model_versions').addColumn('friendly_signature', 'text').execute();
    },
  },
  {
    id: '030_audit',
    async up(db) {
      // The audit log (src/audit): append-only, one row per call, chained by sha256 (each hash covers the previous).
      await db.schema
        .createTable('audit_log')
        .addColumn('seq', 'bigint', (c) => c.primaryKey())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('user_name', 'text')
        .addColumn('token_name', 'text')
        .addColumn('method', 'text', (c) => c.notNull())
        .addColumn('route', 'text', (c) => c.notNull())
        .addColumn('project', 'text')
        .addColumn('object', 'text')
        .addColumn('status', 'integer', (c) => c.notNull())
        .addColumn('error_code', 'text')
        .addColumn('detail', 'text')
        .addColumn('prev_hash', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_log_at_idx').on('audit_log').column('at').execute();
      await db.schema.createIndex('audit_log_project_seq_idx').on('audit_log').columns(['project', 'seq']).execute();
    },
  },
  {
    id: '010_data_repos',
    async up(db) {
      // Data repositories (src/data): commits are content hashes; a commit's tree of files is a blob in the
      // artifact store (tree_sha256); branches and tags name commits.
      await db.schema
        .createTable('data_repos')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('default_branch', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('data_repos_project_name_unique', ['project_id', 'name'])
        .execute();
      await db.schema
        .createTable('data_commits')
        .addColumn('repo_id', 'text', (c) => c.notNull().references('data_repos.id').onDelete('cascade'))
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('parents', 'text', (c) => c.notNull())
        .addColumn('tree_sha256', 'text', (c) => c.notNull())
        .addColumn('file_count', 'integer', (c) => c.notNull())
        .addColumn('total_size', 'bigint', (c) => c.notNull())
        .addColumn('branch', 'text', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('author', 'text', (c) => c.notNull())
        .addColumn('changes', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('data_commits_pk', ['repo_id', 'id'])
        .execute();
      await db.schema.createIndex('data_commits_tree_idx').on('data_commits').column('tree_sha256').execute();
      await db.schema
        .createTable('data_branches')
        .addColumn('repo_id', 'text', (c) => c.notNull().references('data_repos.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('head', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('data_branches_pk', ['repo_id', 'name'])
        .execute();
      await db.schema
        .createTable('data_tags')
        .addColumn('repo_id', 'text', (c) => c.notNull().references('data_repos.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('commit_id', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('data_tags_pk', ['repo_id', 'name'])
        .execute();
      // Profiles belong to content: the same bytes in the same format are profiled once, whatever commits name them.
      await db.schema
        .createTable('data_profiles')
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('format', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('profile', 'text')
        .addColumn('error', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('data_profiles_pk', ['sha256', 'format'])
        .execute();
      await db.schema.createIndex('data_profiles_state_idx').on('data_profiles').column('state').execute();
    },
  },
  {
    id: '011_events',
    async up(db) {
      // Domain events for consumers that keep their own cursor (the last id they handled). Ids are given in commit
      // order (see src/data/events.ts), so a cursor never skips an event committed late.
      await db.schema
        .createTable('events')
        .addColumn('id', 'bigint', (c) => c.primaryKey())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('events_type_id_idx').on('events').columns(['type', 'id']).execute();
    },
  },
  {
    id: '012_blob_touches',
    async up(db) {
      // When a writer last claimed a blob it is about to name (src/gc): a sweep spares blobs touched recently.
      await db.schema
        .createTable('blob_touches')
        .addColumn('sha256', 'text', (c) => c.primaryKey())
        .addColumn('touched_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  {
    id: '040_pipelines',
    async up(db) {
      // Pipelines (src/pipelines): a spec per immutable revision, with its packed code folder (a tar blob).
      await db.schema
        .createTable('pipelines')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('latest_revision', 'integer', (c) => c.notNull())
        .addColumn('run_count', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('pipelines_project_name_key', ['project_id', 'name'])
        .execute();
      await db.schema
        .createTable('pipeline_revisions')
        .addColumn('pipeline_id', 'text', (c) => c.notNull().references('pipelines.id').onDelete('cascade'))
        .addColumn('revision', 'integer', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('code_sha256', 'text')
        .addColumn('code_size', 'bigint')
        .addColumn('code_ref', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('pipeline_revisions_pkey', ['pipeline_id', 'revision'])
        .execute();
      // A run: `trigger_key` makes a trigger (an event id, a schedule tick) start at most one run per pipeline.
      await db.schema
        .createTable('pipeline_runs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('pipeline_id', 'text', (c) => c.notNull().references('pipelines.id').onDelete('cascade'))
        .addColumn('number', 'integer', (c) => c.notNull())
        .addColumn('revision', 'integer', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('trigger', 'text', (c) => c.notNull())
        .addColumn('trigger_key', 'text', (c) => c.notNull())
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('cancel_requested', 'integer', (c) => c.notNull())
        .addColumn('owner', 'text')
        .addColumn('heartbeat_at', 'text')
        .addColumn('summary', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text')
        .addColumn('finished_at', 'text')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('pipeline_runs_trigger_key', ['pipeline_id', 'trigger_key'])
        .addUniqueConstraint('pipeline_runs_number_key', ['pipeline_id', 'number'])
        .execute();
      await db.schema
        .createIndex('pipeline_runs_state_idx')
        .on('pipeline_runs')
        .columns(['state', 'created_at'])
        .execute();
      await db.schema
        .createIndex('pipeline_runs_project_idx')
        .on('pipeline_runs')
        .columns(['project_id', 'created_at'])
        .execute();
      await db.schema
        .createTable('pipeline_steps')
        .addColumn('run_id', 'text', (c) => c.notNull().references('pipeline_runs.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('position', 'integer', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('restarts', 'integer', (c) => c.notNull())
        .addColumn('exit_code', 'integer')
        .addColumn('outputs_sha256', 'text')
        .addColumn('outputs_size', 'bigint')
        .addColumn('outputs', 'text', (c) => c.notNull())
        .addColumn('metrics', 'text', (c) => c.notNull())
        .addColumn('result', 'text')
        .addColumn('log_sha256', 'text')
        .addColumn('log_size', 'bigint')
        .addColumn('log_cut', 'integer', (c) => c.notNull())
        .addColumn('started_at', 'text')
        .addColumn('finished_at', 'text')
        .addPrimaryKeyConstraint('pipeline_steps_pkey', ['run_id', 'name'])
        .execute();
      // Where each event consumer is in the events table (the last id it handled).
      await db.schema
        .createTable('event_cursors')
        .addColumn('consumer', 'text', (c) => c.primaryKey())
        .addColumn('last_id', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  {
    id: '006_auth',
    async up(db) {
      // Users, groups, API tokens and project memberships (src/auth). Tokens store only an HMAC of their secret.
      await db.schema
        .createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('server_admin', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('users_name_key', ['name'])
        .execute();
      await db.schema
        .createTable('groups')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('groups_name_key', ['name'])
        .execute();
      await db.schema
        .createTable('group_members')
        .addColumn('group_id', 'text', (c) => c.notNull().references('groups.id').onDelete('cascade'))
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addPrimaryKeyConstraint('group_members_pkey', ['group_id', 'user_id'])
        .execute();
      await db.schema.createIndex('group_members_user_id_idx').on('group_members').column('user_id').execute();
      // member_kind is 'user' or 'group'; member_id is users.id or groups.id (their deletes remove these rows).
      await db.schema
        .createTable('project_members')
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('member_kind', 'text', (c) => c.notNull())
        .addColumn('member_id', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('code', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('project_members_pkey', ['project_id', 'member_kind', 'member_id'])
        .execute();
      await db.schema
        .createIndex('project_members_member_idx')
        .on('project_members')
        .columns(['member_kind', 'member_id'])
        .execute();
      await db.schema
        .createTable('api_tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('scope_project', 'text')
        .addColumn('scope_deployment', 'text')
        .addColumn('rate_limit', 'real')
        .addColumn('expires_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_used_at', 'text')
        .addUniqueConstraint('api_tokens_user_id_name_key', ['user_id', 'name'])
        .execute();
    },
  },
  {
    id: '040_console_sessions',
    async up(db) {
      // Browser sessions of the web console (src/auth/session-store.ts): only an HMAC of the cookie's secret is kept.
      await db.schema
        .createTable('console_sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('via', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('console_sessions_user_id_idx').on('console_sessions').column('user_id').execute();
    },
  },
  {
    id: '050_model_images',
    async up(db) {
      // A version that IS an image (a SAS Container Runtime model): its OCI reference, digest included when given.
      await db.schema.alterTable('model_versions').addColumn('image', 'text').execute();
    },
  },
  {
    id: '070_payload_log',
    async up(db) {
      // The built-in payload sink's Parquet files (blobs in the artifact store), one row per file.
      await db.schema
        .createTable('payload_files')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project', 'text', (c) => c.notNull())
        .addColumn('deployment', 'text', (c) => c.notNull())
        .addColumn('hour', 'text', (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('rows', 'integer', (c) => c.notNull())
        .addColumn('bytes', 'bigint', (c) => c.notNull())
        .addColumn('first_time', 'text', (c) => c.notNull())
        .addColumn('last_time', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('payload_files_deployment_idx')
        .on('payload_files')
        .columns(['project', 'deployment', 'hour'])
        .execute();
      // Delayed labels joined to the log when they arrive: the prediction and arm are copied from the record.
      await db.schema
        .createTable('payload_feedback')
        .addColumn('project', 'text', (c) => c.notNull())
        .addColumn('deployment', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text', (c) => c.notNull())
        .addColumn('label', 'text', (c) => c.notNull())
        .addColumn('prediction', 'text')
        .addColumn('arm', 'text', (c) => c.notNull())
        .addColumn('revision', 'integer', (c) => c.notNull())
        .addColumn('predicted_at', 'bigint', (c) => c.notNull())
        .addColumn('received_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('payload_feedback_pkey', ['project', 'deployment', 'request_id'])
        .execute();
    },
  },
  {
    id: '060_scans',
    async up(db) {
      // Use cases (src/scans): a spec per immutable revision; an uploaded dataset's digest keeps its blob alive.
      await db.schema
        .createTable('scan_usecases')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('latest_revision', 'integer', (c) => c.notNull())
        .addColumn('scan_count', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('scan_usecases_project_name_key', ['project_id', 'name'])
        .execute();
      await db.schema
        .createTable('scan_usecase_revisions')
        .addColumn('usecase_id', 'text', (c) => c.notNull().references('scan_usecases.id').onDelete('cascade'))
        .addColumn('revision', 'integer', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('dataset_sha256', 'text')
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('scan_usecase_revisions_pkey', ['usecase_id', 'revision'])
        .execute();
      // A scan: one run of a use case revision over every model it names; `report` is the whole result as JSON.
      await db.schema
        .createTable('scans')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('usecase_id', 'text', (c) => c.notNull().references('scan_usecases.id').onDelete('cascade'))
        .addColumn('number', 'integer', (c) => c.notNull())
        .addColumn('revision', 'integer', (c) => c.notNull())
        .addColumn('kinds', 'text', (c) => c.notNull())
        // JSON list of model references replacing the use case's models (a pipeline gate's fresh scan of a candidate).
        .addColumn('targets', 'text')
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('progress', 'text', (c) => c.notNull())
        .addColumn('dataset', 'text')
        .addColumn('models', 'text')
        .addColumn('summary', 'text')
        .addColumn('report', 'text')
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text')
        .addColumn('finished_at', 'text')
        .addUniqueConstraint('scans_usecase_number_key', ['usecase_id', 'number'])
        .execute();
      await db.schema.createIndex('scans_state_idx').on('scans').column('state').execute();
      await db.schema.createIndex('scans_project_idx').on('scans').columns(['project_id', 'created_at']).execute();
      // One row per scan, model and metric, with the model version and the dataset commit it was measured on.
      await db.schema
        .createTable('scan_results')
        .addColumn('scan_id', 'text', (c) => c.notNull().references('scans.id').onDelete('cascade'))
        .addColumn('target', 'text', (c) => c.notNull())
        .addColumn('model', 'text')
        .addColumn('version', 'integer')
        .addColumn('data_commit', 'text')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('metric', 'text', (c) => c.notNull())
        .addColumn('value', 'double precision')
        .addColumn('lo', 'double precision')
        .addColumn('hi', 'double precision')
        .addPrimaryKeyConstraint('scan_results_pkey', ['scan_id', 'target', 'kind', 'metric'])
        .execute();
      await db.schema.createIndex('scan_results_model_idx').on('scan_results').columns(['model', 'version']).execute();
    },
  },
  {
    id: '090_deployment_drift',
    async up(db) {
      // Live drift per deployment (src/monitoring): one row per check, its features' scores as JSON.
      await db.schema
        .createTable('deployment_drift')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project', 'text', (c) => c.notNull())
        .addColumn('deployment', 'text', (c) => c.notNull())
        .addColumn('revision', 'integer', (c) => c.notNull())
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('model_version', 'integer', (c) => c.notNull())
        .addColumn('checked_at', 'text', (c) => c.notNull())
        .addColumn('window_start', 'text', (c) => c.notNull())
        .addColumn('rows', 'integer', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('share', 'double precision')
        .addColumn('reference', 'text')
        .addColumn('result', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('deployment_drift_deployment_idx')
        .on('deployment_drift')
        .columns(['project', 'deployment', 'checked_at'])
        .execute();
    },
  },
  {
    id: '080_lineage',
    async up(db) {
      // The lineage query walks down from a data commit or a pipeline run to the versions that name it.
      await db.schema
        .createIndex('model_versions_data_commit_idx')
        .on('model_versions')
        .column('data_commit')
        .execute();
      await db.schema
        .createIndex('model_versions_pipeline_run_idx')
        .on('model_versions')
        .column('pipeline_run')
        .execute();
    },
  },
];

/**
 * Applies the migrations missing from `schema_migrations`, in order, in one transaction, and returns their ids
 * (empty when the schema is current). Safe when several processes start at once: PostgreSQL takes a transaction
 * advisory lock (per schema) before anything else, including creating `schema_migrations`; SQLite's transactions
 * begin IMMEDIATE, which holds the file's write lock. Either way the others wait, then find nothing left to do.
 */
export async function migrate(
  db: Kysely<Database>,
  dialect: MetadataDialect,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<string[]> {
  return db.transaction().execute(async (trx) => {
    if (dialect === 'postgres') {
      await sql`select pg_advisory_xact_lock(hashtext('modelport:migrate:' || coalesce(current_schema(), '')))`.execute(
        trx,
      );
    }
    await trx.schema
      .createTable('schema_migrations')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('applied_at', 'text', (c) => c.notNull())
      .execute();
    const rows = await trx.selectFrom('schema_migrations').select('id').execute();
    const done = new Set(rows.map((row) => row.id));
    const applied: string[] = [];
    for (const migration of migrations) {
      if (done.has(migration.id)) continue;
      // A migration sees no table types: Database describes the latest schema, not the one of its time.
      await migration.up(trx as unknown as Kysely<unknown>);
      await trx
        .insertInto('schema_migrations')
        .values({ id: migration.id, applied_at: new Date().toISOString() })
        .execute();
      applied.push(migration.id);
    }
    return applied;
  });
}
