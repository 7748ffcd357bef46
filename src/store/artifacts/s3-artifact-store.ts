/**
 * The artifact store over any S3-compatible server (AWS S3, MinIO, Ceph, s3rver). The AWS SDK is imported on the
 * first call, not when this module loads, so it stays off the CLI's start-up path.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ModelportError } from '../../core/index.ts';
import type { ArtifactRef, ArtifactStore, PutOptions, StoredBlob } from './artifact-store.ts';
import { artifactNotFound, assertSha256, verifyStream } from './digest.ts';
import { FolderArtifactStore, forEachLimited } from './folder-artifact-store.ts';
import { type SpooledFile, spoolToFile } from './spool.ts';

interface ObjectAddress {
  Bucket: string;
  Key: string;
}

interface RequestOptions {
  abortSignal?: AbortSignal;
}

/**
 * The subset of the AWS SDK v3 aggregated client (`new S3(...)` from `@aws-sdk/client-s3`) this store calls.
 * A missing object must reject with an error whose `$metadata.httpStatusCode` is 404 (or named `NotFound` or
 * `NoSuchKey`), as the SDK does.
 */
export interface S3Api {
  headObject(
    input: ObjectAddress,
    options?: RequestOptions,
  ): Promise<{ ContentLength?: number; Metadata?: Record<string, string> }>;
  getObject(input: ObjectAddress, options?: RequestOptions): Promise<{ Body?: unknown }>;
  putObject(
    input: ObjectAddress & { Body: Readable; ContentLength: number; Metadata: Record<string, string> },
    options?: RequestOptions,
  ): Promise<unknown>;
  deleteObject(input: ObjectAddress, options?: RequestOptions): Promise<unknown>;
  listObjectsV2(input: { Bucket: string; Prefix?: string; ContinuationToken?: string }): Promise<{
    Contents?: { Key?: string; Size?: number; LastModified?: Date }[];
    IsTruncated?: boolean;
    NextContinuationToken?: string;
  }>;
  destroy(): void;
}

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** How to reach the server. Mapped from flags and AWS_* variables by the composition root, never read here. */
export interface S3ConnectionOptions {
  /** An S3-compatible server, e.g. `http://127.0.0.1:9000`. Default: AWS S3. */
  endpoint?: string;
  /** Default: `us-east-1` (what most S3-compatible servers expect). */
  region?: string;
  /** Address buckets as `<endpoint>/<bucket>` rather than `<bucket>.<host>`. Default: true when `endpoint` is set. */
  forcePathStyle?: boolean;
  /** Default: the SDK's own provider chain (environment, profile, instance role). */
  credentials?: S3Credentials;
}

export interface S3ArtifactStoreOptions extends S3ConnectionOptions {
  /** Local folder for staging puts (`<cacheDir>/tmp`) and the verified copies `localPath` returns. Required. */
  cacheDir: string;
  /** A client to use instead of building one from the connection options; the store never destroys it. */
  client?: S3Api;
}

/**
 * Objects live at `<prefix>/sha256/<hex>` with the digest in their metadata (`x-amz-meta-sha256`). A put spools
 * the body to a local temp file while hashing it (the key needs the digest), skips the upload when an object
 * with that digest and size already exists, and removes the temp file. Every read verifies the bytes.
 * `localPath` downloads into `cacheDir` (verified, atomic rename) and reuses that copy afterwards; the cache is
 * never consulted by `has`, and has no eviction.
 *
 * @example
 *   const store = new S3ArtifactStore('s3://models/prod', { endpoint: 'http://127.0.0.1:9000', cacheDir });
 */
export class S3ArtifactStore implements ArtifactStore {
  readonly location: string;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #options: S3ArtifactStoreOptions;
  readonly #tmp: string;
  readonly #cache: FolderArtifactStore;
  readonly #downloads = new Map<string, Promise<string>>();
  #client: Promise<S3Api> | undefined;

  /** Throws `invalid_config` for a malformed URL (field `artifacts`) or endpoint (field `s3Endpoint`). */
  constructor(url: string, options: S3ArtifactStoreOptions) {
    const { bucket, prefix } = parseS3Url(url);
    this.#bucket = bucket;
    this.#prefix = prefix;
    this.#options = options;
    this.#tmp = join(options.cacheDir, 'tmp');
    this.#cache = new FolderArtifactStore(options.cacheDir);
    const where = `s3://${bucket}${prefix === '' ? '' : `/${prefix}`}`;
    this.location = options.endpoint === undefined ? where : `${where} at ${publicEndpoint(options.endpoint)}`;
  }

  async put(body: Readable | AsyncIterable<Uint8Array>, options: PutOptions = {}): Promise<ArtifactRef> {
    const spooled = await spoolToFile(body, { dir: this.#tmp, ...options });
    try {
      await options.onHashed?.({ sha256: spooled.sha256, size: spooled.size });
      await this.#upload(spooled, options.signal);
    } finally {
      await rm(spooled.path, { force: true });
    }
    return { sha256: spooled.sha256, size: spooled.size };
  }

  putFile(path: string, options: PutOptions = {}): Promise<ArtifactRef> {
    return this.put(createReadStream(path), options);
  }

  async putMany(
    bodies: readonly Uint8Array[],
    options: { onHashed?: (refs: ArtifactRef[]) => Promise<void> } = {},
  ): Promise<ArtifactRef[]> {
    const refs = bodies.map((bytes) => ({
      sha256: createHash('sha256').update(bytes).digest('hex'),
      size: bytes.length,
    }));
    await options.onHashed?.(refs);
    const unique = new Map(refs.map((ref, i) => [ref.sha256, { ref, bytes: bodies[i]! }]));
    const client = await this.#api();
    // Objects are durable when putObject answers: no barrier to batch, only round trips to overlap.
    await forEachLimited([...unique.values()], 16, async ({ ref, bytes }) => {
      const key = this.#key(ref.sha256);
      const existing = await this.#head(key);
      if (existing?.size === ref.size && existing.sha256 === ref.sha256) return;
      await client.putObject({
        Bucket: this.#bucket,
        Key: key,
        Body: Readable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]),
        ContentLength: ref.size,
        Metadata: { sha256: ref.sha256 },
      });
    });
    return refs;
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.#head(this.#key(sha256))) !== undefined;
  }

  async open(sha256: string): Promise<Readable> {
    const address = { Bucket: this.#bucket, Key: this.#key(sha256) };
    const client = await this.#api();
    const object = await client.getObject(address).catch((error: unknown) => {
      throw isNotFound(error) ? artifactNotFound(sha256) : error;
    });
    if (!(object.Body instanceof Readable)) {
      throw new ModelportError('internal', 'the S3 client returned an object without a Node.js stream body');
    }
    return verifyStream(object.Body, sha256);
  }

  async localPath(sha256: string): Promise<string> {
    assertSha256(sha256);
    // Callers loading the same model at once share one download.
    let pending = this.#downloads.get(sha256);
    if (pending === undefined) {
      pending = this.#fetch(sha256).finally(() => this.#downloads.delete(sha256));
      this.#downloads.set(sha256, pending);
    }
    return pending;
  }

  async delete(sha256: string): Promise<void> {
    const address = { Bucket: this.#bucket, Key: this.#key(sha256) };
    await (await this.#api()).deleteObject(address);
    await this.#cache.delete(sha256);
  }

  async *list(): AsyncIterable<StoredBlob> {
    const client = await this.#api();
    const prefix = this.#prefix === '' ? 'sha256/' : `${this.#prefix}/sha256/`;
    let token: string | undefined;
    do {
      const page = await client.listObjectsV2({ Bucket: this.#bucket, Prefix: prefix, ContinuationToken: token });
      for (const object of page.Contents ?? []) {
        const sha256 = (object.Key ?? '').slice(prefix.length);
        if (!/^[0-9a-f]{64}$/.test(sha256)) continue;
        yield { sha256, size: object.Size ?? 0, modified: object.LastModified ?? new Date(0) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  /** The staging folder is shared with the local cache (`<cacheDir>/tmp`): one sweep clears both. */
  sweepTemporary(): Promise<number> {
    return this.#cache.sweepTemporary();
  }

  async close(): Promise<void> {
    await this.#cache.close();
    if (this.#client !== undefined && this.#options.client === undefined) (await this.#client).destroy();
    this.#client = undefined;
  }

  #key(sha256: string): string {
    assertSha256(sha256);
    return this.#prefix === '' ? `sha256/${sha256}` : `${this.#prefix}/sha256/${sha256}`;
  }

  #api(): Promise<S3Api> {
    this.#client ??= this.#options.client ? Promise.resolve(this.#options.client) : createSdkClient(this.#options);
    return this.#client;
  }

  async #head(key: string, signal?: AbortSignal): Promise<{ size: number; sha256: string | undefined } | undefined> {
    const client = await this.#api();
    try {
      const head = await client.headObject({ Bucket: this.#bucket, Key: key }, { abortSignal: signal });
      return { size: head.ContentLength ?? -1, sha256: head.Metadata?.['sha256'] };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async #upload({ path, sha256, size }: SpooledFile, signal: AbortSignal | undefined): Promise<void> {
    const key = this.#key(sha256);
    const existing = await this.#head(key, signal);
    if (existing?.size === size && existing.sha256 === sha256) return;
    const client = await this.#api();
    // The SDK never retries a streaming upload; the body is a local file, so a fresh stream makes it safe here.
    for (let attempt = 1; ; attempt++) {
      const body = createReadStream(path);
      try {
        const input = { Bucket: this.#bucket, Key: key, Body: body, ContentLength: size, Metadata: { sha256 } };
        await client.putObject(input, { abortSignal: signal });
        return;
      } catch (error) {
        if (attempt >= UPLOAD_ATTEMPTS || signal?.aborted || !isTransient(error)) throw error;
      } finally {
        body.destroy();
      }
    }
  }

  async #fetch(sha256: string): Promise<string> {
    if (await this.#cache.has(sha256)) {
      try {
        return await this.#cache.localPath(sha256);
      } catch (error) {
        // A damaged local copy is not the artifact's fault: fetch it again from the bucket.
        if (!(error instanceof ModelportError && error.code === 'artifact_corrupt')) throw error;
      }
    }
    // `open` verifies the digest, so a corrupt object fails the put and leaves nothing in the cache.
    await this.#cache.put(await this.open(sha256));
    return this.#cache.localPath(sha256);
  }
}

/**
 * `s3://bucket/optional/prefix` -> its bucket and prefix (no leading or trailing slash). Throws `invalid_config`
 * (field `artifacts`) without echoing the URL, which could carry credentials.
 */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/?#]*)(\/[^?#]*)?$/.exec(url);
  const bucket = match?.[1] ?? '';
  if (match === null || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    const hint = url.includes('@') ? '; pass credentials through AWS_* variables, never in the URL' : '';
    throw new ModelportError(
      'invalid_config',
      `an S3 location is s3://bucket/optional/prefix with a valid bucket name (3-63 lowercase letters, digits, dots, hyphens)${hint}`,
      { field: 'artifacts' },
    );
  }
  return { bucket, prefix: (match[2] ?? '').replace(/^\/+|\/+$/g, '') };
}

/** The endpoint without user info, query or fragment, for `location`. */
function publicEndpoint(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    url = new URL('invalid:');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ModelportError('invalid_config', 'the S3 endpoint must be an http:// or https:// URL', {
      field: 's3Endpoint',
    });
  }
  return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
}

async function createSdkClient(options: S3ConnectionOptions): Promise<S3Api> {
  const { S3 } = await import('@aws-sdk/client-s3');
  return new S3({
    endpoint: options.endpoint,
    region: options.region ?? 'us-east-1',
    forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
    credentials: options.credentials,
    // Newer SDKs add CRC trailers with aws-chunked encoding by default; many S3-compatible servers (s3rver among
    // them) store that framing as the object's bytes. Checksums only where the API requires them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // Failures reach the caller as errors; without a logger the SDK would also print warnings to the console.
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });
}

const UPLOAD_ATTEMPTS = 3;

/** A server-side (5xx), throttling or connection failure, worth another attempt. */
function isTransient(error: unknown): boolean {
  const e = error as { code?: unknown; $retryable?: unknown; $metadata?: { httpStatusCode?: unknown } } | null;
  const status = e?.$metadata?.httpStatusCode;
  if (typeof status === 'number') return status >= 500 || status === 429 || e?.$retryable !== undefined;
  return ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT'].includes(String(e?.code));
}

/** A missing object; a missing bucket is a configuration fault and must surface as itself. */
function isNotFound(error: unknown): boolean {
  const e = error as { name?: unknown; $metadata?: { httpStatusCode?: unknown } } | null;
  if (e?.name === 'NoSuchBucket') return false;
  return e?.$metadata?.httpStatusCode === 404 || e?.name === 'NotFound' || e?.name === 'NoSuchKey';
}
