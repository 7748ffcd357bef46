/**
 * A local cache of model files by sha256, for in-process scoring: `<dir>/<sha256>.onnx`, downloaded once through
 * the API, hashed while downloading and again on every use, so a corrupt or tampered file is never loaded.
 *
 * Example: `const path = await cachedArtifact(client, version, join(homedir(), '.cache', 'modelport'));`
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelportError } from '../core/index.ts';

/** What the cache needs from a version: which file, how big. */
export interface ArtifactRef {
  model: string;
  version: number;
  sha256: string;
  size: number;
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const corrupt = (ref: ArtifactRef, what: string) =>
  new ModelportError(
    'artifact_corrupt',
    `${ref.model}@${ref.version}: ${what}; run the command again to download it afresh`,
  );

/**
 * What the cache calls to fetch a model file: the subset of the HTTP client it uses, declared here so scoring does
 * not import the client (which imports jobs, which imports scoring).
 */
export interface ArtifactDownloader {
  downloadArtifact(
    model: string,
    version: number | string,
  ): Promise<{ sha256: string; size: number; body: AsyncIterable<Uint8Array> }>;
}

/** The path of the version's verified model file in `dir`, downloading it first when it is not cached. */
export async function cachedArtifact(client: ArtifactDownloader, ref: ArtifactRef, dir: string): Promise<string> {
  if (!/^[0-9a-f]{64}$/.test(ref.sha256)) throw corrupt(ref, `the registry gave an invalid sha256 '${ref.sha256}'`);
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${ref.sha256}.onnx`);
  const cached = await stat(path).catch(() => undefined);
  if (cached?.isFile()) {
    if (cached.size === ref.size && (await sha256Of(path)) === ref.sha256) return path;
    await rm(path, { force: true });
  }
  const download = await client.downloadArtifact(ref.model, ref.version);
  if (download.sha256 !== ref.sha256) throw corrupt(ref, 'the server sent a file with a different checksum header');
  const temp = join(dir, `.${ref.sha256}.${randomBytes(4).toString('hex')}.partial`);
  const handle = await open(temp, 'wx');
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of download.body) {
      hash.update(chunk);
      size += chunk.byteLength;
      await handle.write(chunk);
    }
    await handle.sync();
    await handle.close();
    if (size !== ref.size || hash.digest('hex') !== ref.sha256)
      throw corrupt(ref, 'the downloaded file does not match its sha256');
    await rename(temp, path);
    return path;
  } catch (error) {
    await handle.close().catch(() => {});
    await rm(temp, { force: true });
    throw error;
  }
}
