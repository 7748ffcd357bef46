/**
 * The compose bundle's `model-download` service: reads `base/models.json` (`{ models: [{ model, version, sha256 }] }`,
 * as the compose renderer writes it) and puts each artifact at `<to>/<model>/<version>`, read from the artifact
 * location (`s3://bucket/prefix` or a folder laid out as the server's folder store) and verified against its
 * sha256 before it is renamed into place. A file already there with the right digest is kept, so a restart only
 * fetches what is missing.
 *
 * ```ts
 * await fetchModels({ manifest: '/etc/modelport/models.json', to: '/models', artifacts: 's3://models/prod',
 *   s3: { endpoint: 'http://minio:9000' } }); // [{ model: 'fraud', version: 1, path: '/models/fraud/1', fetched: true }]
 * ```
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { S3Settings } from '../../core/index.ts';
import { checkName, ModelportError } from '../../core/index.ts';
import { assertSha256, hashFile, openArtifactStore } from '../../store/index.ts';

export interface FetchModelsOptions {
  /** Path of models.json. */
  manifest: string;
  /** The shared models folder. */
  to: string;
  /** `s3://bucket/prefix` or a folder (MODELPORT_ARTIFACTS in the bundle). */
  artifacts: string;
  s3?: Partial<S3Settings> | undefined;
}

export interface FetchedModel {
  model: string;
  version: number;
  path: string;
  /** False when a verified copy was already there. */
  fetched: boolean;
}

interface ManifestEntry {
  model: string;
  version: number;
  sha256: string;
}

export async function fetchModels(options: FetchModelsOptions): Promise<FetchedModel[]> {
  const entries = parseManifest(await readFile(options.manifest, 'utf8'));
  const cacheDir = await mkdtemp(join(tmpdir(), 'modelport-fetch-'));
  const store = await openArtifactStore(options.artifacts, { cacheDir, s3: options.s3 });
  try {
    const done: FetchedModel[] = [];
    for (const entry of entries) {
      const path = join(options.to, entry.model, String(entry.version));
      if ((await hashFile(path).catch(() => undefined)) === entry.sha256) {
        done.push({ model: entry.model, version: entry.version, path, fetched: false });
        continue;
      }
      await mkdir(dirname(path), { recursive: true });
      const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
      try {
        // The store's stream fails at its end when the bytes do not match, before the rename.
        await pipeline(await store.open(entry.sha256), createWriteStream(temp));
        await rename(temp, path);
      } finally {
        await rm(temp, { force: true });
      }
      done.push({ model: entry.model, version: entry.version, path, fetched: true });
    }
    return done;
  } finally {
    await store.close();
    await rm(cacheDir, { recursive: true, force: true });
  }
}

function parseManifest(text: string): ManifestEntry[] {
  const bad = (message: string) =>
    new ModelportError('invalid_request', `--manifest: ${message}; use the models.json of a generated bundle`, {
      field: 'manifest',
    });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw bad('not JSON');
  }
  const models = (parsed as { models?: unknown }).models;
  if (!Array.isArray(models)) throw bad('no models list');
  return models.map((m: Partial<ManifestEntry>, i) => {
    if (typeof m.model !== 'string' || !Number.isInteger(m.version) || typeof m.sha256 !== 'string') {
      throw bad(`models[${i}] needs model, version and sha256`);
    }
    checkName(m.model, `models[${i}].model`); // a name, never a path
    assertSha256(m.sha256);
    return { model: m.model, version: m.version as number, sha256: m.sha256 };
  });
}
