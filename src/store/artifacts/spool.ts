/**
 * Spooling a body to a local file while hashing and counting it: how both stores stage a put, and how the
 * registry checks an upload before storing it.
 */
import { createHash, randomUUID } from 'node:crypto';
import { type FileHandle, mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { addAbortSignal, Readable } from 'node:stream';
import { ModelportError } from '../../core/index.ts';

export interface SpoolOptions {
  /** Folder for the temp file; created if missing. */
  dir: string;
  /** Refuse a body larger than this many bytes with `payload_too_large`. Default: no limit. */
  maxBytes?: number;
  /** Aborting stops reading, destroys the body and rejects with an `AbortError`. */
  signal?: AbortSignal;
}

export interface SpooledFile {
  /** The temp file (`<dir>/<uuid>.part`, mode 0600). The caller owns it: rename it or delete it. */
  path: string;
  /** Lowercase hex sha256 of the bytes. */
  sha256: string;
  size: number;
}

/**
 * Writes `body` to a new file in `dir`, hashing and counting as it goes, and fsyncs it. On any failure (too
 * large, aborted, a read or write error) the temp file is removed before the promise rejects, so nothing is
 * left behind.
 *
 * @example
 *   const spooled = await spoolToFile(req, { dir: uploadDir, maxBytes: 2 ** 31, signal });
 *   try { await check(spooled.path) } finally { await rm(spooled.path, { force: true }) }
 */
export async function spoolToFile(
  body: Readable | AsyncIterable<Uint8Array>,
  { dir, maxBytes = Number.POSITIVE_INFINITY, signal }: SpoolOptions,
): Promise<SpooledFile> {
  signal?.throwIfAborted();
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${randomUUID()}.part`);
  const handle = await open(path, 'wx', 0o600);
  const hash = createHash('sha256');
  let size = 0;
  try {
    // A Readable wrapper lets the signal interrupt a read that is waiting for a slow or stalled body.
    const source = body instanceof Readable ? body : Readable.from(body);
    if (signal) addAbortSignal(signal, source);
    for await (const chunk of source as AsyncIterable<Uint8Array | string>) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += bytes.length;
      if (size > maxBytes) {
        throw new ModelportError('payload_too_large', `the artifact is larger than the limit of ${maxBytes} bytes`);
      }
      hash.update(bytes);
      await writeAll(handle, bytes);
    }
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(path, { force: true });
    throw error;
  }
  await handle.close();
  return { path, sha256: hash.digest('hex'), size };
}

async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset);
    offset += bytesWritten;
  }
}
