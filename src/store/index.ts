/** The public surface of store/: other folders import from here, never a file inside. */
export type { ArtifactRef, ArtifactStore, StoredBlob } from './artifacts/artifact-store.ts';
export {
  assertSha256,
  corruptArtifact,
  FolderArtifactStore,
  hashFile,
  openArtifactStore,
  parseS3Url,
  type S3ConnectionOptions,
  type SpooledFile,
  spoolToFile,
} from './artifacts/index.ts';
export { type MetadataDialect, type MetadataStore, openMetadataStore, projectIdOf } from './metadata/index.ts';
export type {
  Database,
  DataCommitsTable,
  JobsTable,
  ModelVersionsTable,
  PipelineRevisionsTable,
  PipelineRunsTable,
  PipelineStepsTable,
  PipelinesTable,
  ScanResultsTable,
  ScansTable,
  ScanUseCaseRevisionsTable,
  ScanUseCasesTable,
} from './metadata/schema.ts';
