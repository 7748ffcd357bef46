/**
 * Downloading a model from a URL on the server, so every outbound connection goes through the egress guard (its
 * SSRF rules, redirects re-checked, one deadline, a size cap) and s3:// goes through the server's S3 connection.
 *
 * - `https://...`: fetched through the guard; `http://` only for a host an administrator allowed;
 * - `s3://bucket/key`: read with the server's S3 settings;
 * - the body is spooled to `dir` (hashed, counted, cut at `maxBytes`); the caller owns the file.
 *
 * Example: `const file = await downloadModel('https://models.example.com/fraud.onnx', { guard, dir, maxBytes });`
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ModelportError } from '../core/index.ts';
import type { EgressGuard } from '../egress/index.ts';
import { hashFile, type SpooledFile, spoolToFile } from '../store/index.ts';

/** Copies `s3://bucket/key` to a local file; resolves with its size (the jobs' `S3InputSource` fits). */
export interface S3Download {
  download(url: string, path: string, signal?: AbortSignal): Promise<number>;
}

export interface DownloadDeps {
  /** An egress guard built for imports (its `maxResponseBytes` and `timeoutMs` bound the download). */
  guard: Pick<EgressGuard, 'check' | 'fetch'>;
  /** Absent: s3:// URLs are refused. */
  s3?: S3Download;
  /** Where the download is spooled. */
  dir: string;
  maxBytes: number;
  signal?: AbortSignal;
}

const invalidUrl = (message: string) => new ModelportError('invalid_request', `url: ${message}`, { field: 'url' });

/** The URL as lineage may keep it: no query, fragment or user info (a signed URL's token stays out of the API). */
export function sourceLabel(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return '';
  }
}

export async function downloadModel(url: string, deps: DownloadDeps): Promise<SpooledFile> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidUrl('is not a URL; use https://host/path/model.onnx or s3://bucket/key');
  }
  if (parsed.protocol === 's3:') return fromS3(url, deps);
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw invalidUrl(`${parsed.protocol}// is not supported; use https:// or s3://`);
  }
  if (parsed.protocol === 'http:' && !(await deps.guard.check(parsed)).allowed) {
    throw invalidUrl('plain http:// is only for hosts an administrator allowed; use https://');
  }
  const response = await deps.guard.fetch(parsed, deps.signal ? { signal: deps.signal } : {});
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new ModelportError(
      response.status === 404 ? 'not_found' : 'invalid_request',
      `url: ${parsed.host} answered HTTP ${response.status} for the model`,
      { field: 'url' },
    );
  }
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > deps.maxBytes) {
    await response.body.cancel();
    throw new ModelportError('payload_too_large', `the model is larger than the limit of ${deps.maxBytes} bytes`);
  }
  const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
  return spoolToFile(body, { dir: deps.dir, maxBytes: deps.maxBytes, ...(deps.signal ? { signal: deps.signal } : {}) });
}

async function fromS3(url: string, deps: DownloadDeps): Promise<SpooledFile> {
  if (!/^s3:\/\/[^/]+\/.+$/.test(url)) throw invalidUrl('use s3://bucket/key');
  if (!deps.s3) throw invalidUrl('s3:// imports need the server to have S3 settings');
  await mkdir(deps.dir, { recursive: true });
  const path = join(deps.dir, `${randomUUID()}.part`);
  try {
    await deps.s3.download(url, path, deps.signal).catch((error: unknown) => {
      // The S3 reader names the jobs' field; here the URL is the import's `url`.
      if (error instanceof ModelportError && error.field === 'input.url') {
        throw new ModelportError(error.code, error.message.replace(/^input\.url: /, 'url: '), {
          field: 'url',
          cause: error.cause,
        });
      }
      throw error;
    });
    const { size } = await stat(path);
    if (size > deps.maxBytes) {
      throw new ModelportError('payload_too_large', `the model is larger than the limit of ${deps.maxBytes} bytes`);
    }
    return { path, size, sha256: await hashFile(path) };
  } catch (error) {
    await rm(path, { force: true });
    throw error;
  }
}
