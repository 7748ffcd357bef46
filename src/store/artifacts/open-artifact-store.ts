/**
 * Choosing the artifact store from the `artifacts` setting: a folder path, or `s3://bucket/prefix`.
 */
import { mkdir } from 'node:fs/promises';
import type { S3Settings } from '../../core/index.ts';
import { ModelportError } from '../../core/index.ts';
import type { ArtifactStore } from './artifact-store.ts';
import { FolderArtifactStore } from './folder-artifact-store.ts';
import { S3ArtifactStore, type S3Credentials } from './s3-artifact-store.ts';

export interface OpenArtifactStoreOptions {
  /** Local folder the S3 store stages puts in and caches verified downloads in. Unused for a folder spec. */
  cacheDir: string;
  /** Connection settings for an s3:// spec (the `s3` part of ServerConfig). Unset fields use the SDK defaults. */
  s3?: Partial<S3Settings>;
}

/**
 * Opens the store a spec names, creating the local folders it needs so a permission problem fails at start-up:
 * - `/var/lib/modelport/artifacts` or `./artifacts`: a `FolderArtifactStore` (relative to the working directory);
 * - `s3://bucket/optional/prefix`: an `S3ArtifactStore`, path-style when an endpoint is given.
 *
 * Anything else (an http:// URL, `s3://` without a valid bucket, an empty spec) throws `invalid_config` with
 * field `artifacts`.
 *
 * @example
 *   const store = await openArtifactStore(config.artifacts, { cacheDir: join(home, 'cache', 'artifacts'), s3: config.s3 });
 */
export async function openArtifactStore(spec: string, options: OpenArtifactStoreOptions): Promise<ArtifactStore> {
  if (/^s3:/i.test(spec)) {
    const s3 = options.s3 ?? {};
    const store = new S3ArtifactStore(spec, {
      cacheDir: options.cacheDir,
      endpoint: s3.endpoint,
      region: s3.region,
      credentials: credentials(s3),
    });
    await mkdir(options.cacheDir, { recursive: true });
    return store;
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(spec)?.[1];
  if (scheme !== undefined || spec.trim() === '') {
    const what = scheme === undefined ? 'an empty location' : `'${scheme.toLowerCase()}://'`;
    throw new ModelportError(
      'invalid_config',
      `artifacts: ${what} is not supported; use a folder path or s3://bucket/optional/prefix`,
      { field: 'artifacts' },
    );
  }
  const store = new FolderArtifactStore(spec);
  await mkdir(store.location, { recursive: true });
  return store;
}

function credentials(s3: Partial<S3Settings>): S3Credentials | undefined {
  const { accessKeyId, secretAccessKey, sessionToken } = s3;
  if (accessKeyId === undefined && secretAccessKey === undefined) return undefined;
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    throw new ModelportError('invalid_config', 'S3 credentials need both an access key id and a secret access key', {
      field: 's3.credentials',
    });
  }
  return sessionToken === undefined ? { accessKeyId, secretAccessKey } : { accessKeyId, secretAccessKey, sessionToken };
}
