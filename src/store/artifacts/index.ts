/** The artifact store: content-addressed blobs in a local folder or an S3 bucket. */
export type { ArtifactRef, ArtifactStore, PutOptions, StoredBlob } from './artifact-store.ts';
export { artifactNotFound, assertSha256, corruptArtifact, hashFile, verifyStream } from './digest.ts';
export { FolderArtifactStore } from './folder-artifact-store.ts';
export { type OpenArtifactStoreOptions, openArtifactStore } from './open-artifact-store.ts';
export {
  parseS3Url,
  type S3Api,
  S3ArtifactStore,
  type S3ArtifactStoreOptions,
  type S3ConnectionOptions,
  type S3Credentials,
} from './s3-artifact-store.ts';
export { type SpooledFile, type SpoolOptions, spoolToFile } from './spool.ts';
