/**
 * Moving a Kubernetes step's folders through S3: the server packs the commit's files and the code copy as tar
 * objects and hands the Job presigned URLs (GET for those two, PUT for the outputs), so the pod needs no
 * credentials and the server needs no route into the cluster. Objects live under `<prefix>/<launch id>/` and are
 * deleted once the step has ended. The AWS SDK is imported on first use.
 */
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { pipeline as pump } from 'node:stream/promises';
import { readTar } from '../../data/index.ts';
import type { S3ConnectionOptions } from '../../store/index.ts';

/** What the Kubernetes executor needs to move a step's folders; `S3StepStaging` is the one implementation. */
export interface StepStaging {
  /** Packs `folder` as a tar at `key` and returns a URL that GETs it (valid for `expiresSeconds`). */
  putFolder(key: string, folder: string, expiresSeconds: number): Promise<string>;
  /** A URL that PUTs a tar to `key` (valid for `expiresSeconds`). */
  putUrl(key: string, expiresSeconds: number): Promise<string>;
  /** Unpacks the tar at `key` into `folder` (regular files only, no path leaves it); false when there is none. */
  getFolder(key: string, folder: string): Promise<boolean>;
  remove(keys: string[]): Promise<void>;
  close?(): Promise<void>;
}

export interface S3StepStagingOptions extends S3ConnectionOptions {
  bucket: string;
  /** Key prefix, e.g. `modelport/pipeline-staging`. */
  prefix: string;
}

interface SdkParts {
  // biome-ignore lint/suspicious/noExplicitAny: the SDK's command types are wide; only these calls are used.
  client: any;
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  sdk: any;
  presign: (client: unknown, command: unknown, options: { expiresIn: number }) => Promise<string>;
}

export class S3StepStaging implements StepStaging {
  readonly #o: S3StepStagingOptions;
  #parts: Promise<SdkParts> | undefined;

  constructor(options: S3StepStagingOptions) {
    this.#o = options;
  }

  #key(key: string): string {
    const prefix = this.#o.prefix.replace(/^\/+|\/+$/g, '');
    return prefix === '' ? key : `${prefix}/${key}`;
  }

  #sdk(): Promise<SdkParts> {
    this.#parts ??= (async () => {
      const sdk = await import('@aws-sdk/client-s3');
      const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner');
      const client = new sdk.S3Client({
        region: this.#o.region ?? 'us-east-1',
        ...(this.#o.endpoint ? { endpoint: this.#o.endpoint } : {}),
        forcePathStyle: this.#o.forcePathStyle ?? this.#o.endpoint !== undefined,
        ...(this.#o.credentials ? { credentials: this.#o.credentials } : {}),
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
      return { sdk, client, presign: getSignedUrl as SdkParts['presign'] };
    })();
    return this.#parts;
  }

  async putFolder(key: string, folder: string, expiresSeconds: number): Promise<string> {
    const { sdk, client, presign } = await this.#sdk();
    const spool = await mkdtemp(join(tmpdir(), 'modelport-stage-'));
    try {
      const file = join(spool, 'folder.tar');
      await packFolder(folder, file);
      const { size } = await stat(file);
      const Key = this.#key(key);
      await client.send(
        new sdk.PutObjectCommand({ Bucket: this.#o.bucket, Key, Body: createReadStream(file), ContentLength: size }),
      );
      return presign(client, new sdk.GetObjectCommand({ Bucket: this.#o.bucket, Key }), { expiresIn: expiresSeconds });
    } finally {
      await rm(spool, { recursive: true, force: true });
    }
  }

  async putUrl(key: string, expiresSeconds: number): Promise<string> {
    const { sdk, client, presign } = await this.#sdk();
    return presign(client, new sdk.PutObjectCommand({ Bucket: this.#o.bucket, Key: this.#key(key) }), {
      expiresIn: expiresSeconds,
    });
  }

  async getFolder(key: string, folder: string): Promise<boolean> {
    const { sdk, client } = await this.#sdk();
    let body: AsyncIterable<Uint8Array>;
    try {
      const object = await client.send(new sdk.GetObjectCommand({ Bucket: this.#o.bucket, Key: this.#key(key) }));
      body = object.Body as AsyncIterable<Uint8Array>;
    } catch (error) {
      const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404) return false;
      throw error;
    }
    await mkdir(folder, { recursive: true });
    for await (const entry of readTar(body)) {
      const target = join(folder, ...entry.path.split('/'));
      if (relative(folder, target).startsWith('..')) throw new Error(`an output path leaves its folder: ${entry.path}`);
      await mkdir(dirname(target), { recursive: true });
      await pump(entry.body, createWriteStream(target));
    }
    return true;
  }

  async remove(keys: string[]): Promise<void> {
    const { sdk, client } = await this.#sdk();
    await Promise.all(
      keys.map((key) =>
        client.send(new sdk.DeleteObjectCommand({ Bucket: this.#o.bucket, Key: this.#key(key) })).catch(() => {}),
      ),
    );
  }

  async close(): Promise<void> {
    if (this.#parts) (await this.#parts).client.destroy();
    this.#parts = undefined;
  }
}

/** `tar -cf file -C folder .` (the system tar: POSIX ustar that the pod's tar and `readTar` both read). */
function packFolder(folder: string, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('tar', ['--format=pax', '-cf', file, '-C', folder, '.'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`tar failed: ${err.trim()}`))));
  });
}
