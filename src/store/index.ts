/** The public surface of store/: other folders import from here, never a file inside. */
export type { ArtifactStore } from './artifacts/artifact-store.ts';
export {
  assertSha256,
  corruptArtifact,
  FolderArtifactStore,
  hashFile,
  openArtifactStore,
  type S3ConnectionOptions,
  type SpooledFile,
  spoolToFile,
} from './artifacts/index.ts';
export { type MetadataStore, openMetadataStore } from './metadata/index.ts';
export type { Database, JobsTable, ModelVersionsTable } from './metadata/schema.ts';
