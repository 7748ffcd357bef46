/** The metadata store: SQLite or PostgreSQL behind one Kysely schema, with its migrations. */
export {
  isUniqueViolation,
  type MetadataDialect,
  type MetadataStore,
  type OpenMetadataStoreOptions,
  openMetadataStore,
} from './metadata-store.ts';
export { type MetadataTarget, resolveMetadataTarget } from './metadata-url.ts';
export { MIGRATIONS, type Migration, migrate } from './migrations.ts';
export { NodeSqliteDialect, type NodeSqliteDialectConfig } from './node-sqlite-dialect.ts';
export { createPostgresDialect, ensurePostgresSchema, type PostgresDialectOptions } from './postgres-dialect.ts';
export { projectIdOf } from './project-id.ts';
export type {
  BlobTouchesTable,
  DataBranchesTable,
  Database,
  DataCommitsTable,
  DataProfilesTable,
  DataReposTable,
  DataTagsTable,
  EventCursorsTable,
  EventsTable,
  ModelAliasesTable,
  ModelsTable,
  ModelVersionsTable,
  PipelineRevisionsTable,
  PipelineRunsTable,
  PipelineStepsTable,
  PipelinesTable,
  ProjectsTable,
  SchemaMigrationsTable,
  SecretsTable,
} from './schema.ts';
