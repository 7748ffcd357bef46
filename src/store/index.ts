/** The public surface of store/: other folders import from here, never a file inside. */
export type { ArtifactStore } from './artifacts/artifact-store.ts';
export {
  FolderArtifactStore,
  hashFile,
  type S3ConnectionOptions,
  type SpooledFile,
  spoolToFile,
} from './artifacts/index.ts';
export { type S3rverFixture, startS3rver } from './artifacts/s3rver-fixture.ts';
export { openMetadataStore } from './metadata/index.ts';
export type { Database, ModelVersionsTable } from './metadata/schema.ts';
