/**
 * sha256 digests: the one validation gate before a digest becomes a file path or an object key, and the stream
 * check that stops bytes which do not match their digest from being handed over as good.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline, type Readable, Transform } from 'node:stream';
import { invalid, ModelportError, notFound } from '../../core/index.ts';

const SHA256 = /^[0-9a-f]{64}$/;

/**
 * Throws `invalid_request` (field `sha256`) unless `value` is 64 lowercase hex characters. The message never
 * echoes the value, which may be a hostile path such as `../../etc/passwd`.
 */
export function assertSha256(value: string): void {
  if (typeof value !== 'string' || !SHA256.test(value)) {
    throw invalid('sha256', 'must be a sha256 digest: 64 lowercase hexadecimal characters');
  }
}

/** The error every store raises when stored bytes do not hash to their address. */
export function corruptArtifact(sha256: string): ModelportError {
  return new ModelportError(
    'artifact_corrupt',
    `artifact ${sha256} does not match its sha256; it was not served. Re-register the model to store it again`,
  );
}

/** The error every store raises for a digest it does not hold. */
export function artifactNotFound(sha256: string): ModelportError {
  return notFound(`artifact ${sha256}`, 'sha256');
}

/** The lowercase hex sha256 of a local file. */
export async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Passes `source` through unchanged and, at its end, errors with `artifact_corrupt` instead of ending cleanly
 * if the bytes do not hash to `sha256`. Destroying the returned stream destroys `source`.
 */
export function verifyStream(source: Readable, sha256: string): Readable {
  const hash = createHash('sha256');
  const check = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
    flush(callback) {
      callback(hash.digest('hex') === sha256 ? null : corruptArtifact(sha256));
    },
  });
  // Errors reach the consumer through `check` itself; the callback only keeps pipeline from throwing unhandled.
  return pipeline(source, check, () => {});
}
