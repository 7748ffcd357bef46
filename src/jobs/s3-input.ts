/**
 * `S3InputSource`: copies a job's `s3://bucket/key` input to a local file, with the server's S3 connection (the same
 * endpoint, region and credentials as an S3 artifact store). The AWS SDK is imported on first use.
 *
 * Example: `const size = await new S3InputSource({ endpoint }).download('s3://data/in.csv', '/tmp/in.csv', signal);`
 */
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3Settings } from '../core/index.ts';
import { ModelportError } from '../core/index.ts';
import type { S3ConnectionOptions } from '../store/index.ts';

/** The subset of the AWS SDK v3 client this calls. */
export interface S3GetObjectApi {
  getObject(
    input: { Bucket: string; Key: string },
    options?: { abortSignal?: AbortSignal },
  ): Promise<{ Body?: unknown; ContentLength?: number }>;
}

/** Copies job inputs from S3 to local files. */
export interface JobInputSource {
  /** Writes the object at `url` to `path`; resolves with its size. `not_found` (field `body.input.url`) if absent. */
  download(url: string, path: string, signal?: AbortSignal): Promise<number>;
}

export class S3InputSource implements JobInputSource {
  readonly #options: S3ConnectionOptions;
  #client: Promise<S3GetObjectApi> | undefined;

  constructor(options: S3ConnectionOptions, client?: S3GetObjectApi) {
    this.#options = options;
    if (client) this.#client = Promise.resolve(client);
  }

  async download(url: string, path: string, signal?: AbortSignal): Promise<number> {
    const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
    if (!match) throw new ModelportError('invalid_request', 'input.url: use s3://bucket/key', { field: 'input.url' });
    this.#client ??= this.#create();
    const client = await this.#client;
    let object: { Body?: unknown };
    try {
      object = await client.getObject({ Bucket: match[1] as string, Key: match[2] as string }, { abortSignal: signal });
    } catch (error) {
      const e = error as { name?: unknown; $metadata?: { httpStatusCode?: unknown } };
      if (e.$metadata?.httpStatusCode === 404 || e.name === 'NoSuchKey' || e.name === 'NoSuchBucket') {
        throw new ModelportError('not_found', `input.url: there is no object at ${url}; upload it or fix the URL`, {
          field: 'input.url',
        });
      }
      // Missing credentials, region or endpoint: say what to configure. Otherwise (access denied, S3 down) the
      // store's answer, not a bug here (503, the cause logged).
      throw (
        unconfigured(url, error, this.#options) ??
        new ModelportError(
          'not_ready',
          `input.url: reading ${url} from S3 failed; check the server's S3 settings and the object's permissions`,
          { field: 'input.url', cause: error },
        )
      );
    }
    const body = object.Body;
    if (!(body instanceof Readable)) throw new ModelportError('internal', `input.url: S3 sent no body for ${url}`);
    let size = 0;
    body.on('data', (chunk: Buffer) => {
      size += chunk.length;
    });
    await pipeline(body, createWriteStream(path, { flags: 'w', mode: 0o600 }), { signal });
    return size;
  }

  async #create(): Promise<S3GetObjectApi> {
    const { S3 } = await import('@aws-sdk/client-s3');
    const options = this.#options;
    return new S3({
      endpoint: options.endpoint,
      region: options.region ?? 'us-east-1',
      forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
      credentials: options.credentials,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
  }
}

/**
 * A failure that says the server's S3 settings are missing or wrong (no credentials, no region, an endpoint that
 * does not answer) as what to configure, instead of an internal error.
 */
function unconfigured(url: string, error: unknown, options: S3ConnectionOptions): ModelportError | undefined {
  const e = error as { name?: unknown; code?: unknown; message?: unknown };
  const message = String(e.message ?? '');
  const fix = (what: string) =>
    new ModelportError('not_configured', `reading ${url} needs the server's S3 settings: ${what}, then restart it`, {
      cause: error,
    });
  if (e.name === 'CredentialsProviderError' || /credential/i.test(message)) {
    return fix(
      'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_REGION; --s3-endpoint / MODELPORT_S3_ENDPOINT for an S3-compatible server) where the server runs',
    );
  }
  if (/region is missing/i.test(message)) return fix('set AWS_REGION where the server runs');
  if (['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET'].includes(String(e.code))) {
    return fix(
      `the S3 endpoint ${options.endpoint ?? '(AWS)'} cannot be reached (${String(e.code)}); check --s3-endpoint / MODELPORT_S3_ENDPOINT`,
    );
  }
  return undefined;
}

/** The connection of the server's S3 settings (`ServerConfig.s3`), for `new S3InputSource(...)`. */
export function s3Connection(s3: Partial<S3Settings>): S3ConnectionOptions {
  const { endpoint, region, accessKeyId, secretAccessKey, sessionToken } = s3;
  return {
    ...(endpoint ? { endpoint } : {}),
    ...(region ? { region } : {}),
    ...(accessKeyId && secretAccessKey
      ? { credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } }
      : {}),
  };
}
