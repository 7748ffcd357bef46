/**
 * Writes a build context folder (build-context.ts): the artifact streamed in and checked against its sha256 before
 * it is kept, every file with a fixed mtime (the version's creation time) so that the same version gives the same
 * folder, byte for byte, and the same image layers.
 *
 * ```ts
 * await writeBuildContext('ctx', { version, type, template, artifact: download.body });
 * ```
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ModelportError } from '../../core/index.ts';
import type { ModelType } from '../../modeltypes/index.ts';
import type { ModelVersion } from '../../registry/index.ts';
import { chooseImage } from '../render-input.ts';
import { artifactPath, type BuildContextInput, buildContextFiles, type ContextFile } from './build-context.ts';
import { createSbom, type Lockfile } from './sbom.ts';

const here = dirname(new URL(import.meta.url).pathname);

/** Modelport's package-lock.json: the Node packages its own image installs (`npm ci --omit=dev`). */
export async function readServingLockfile(path = resolve(here, '../../../package-lock.json')): Promise<Lockfile> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Lockfile;
  } catch (error) {
    throw new ModelportError(
      'internal',
      `cannot read Modelport's lockfile ${path} for the image's SBOM; run modelport build from a Modelport checkout or install that has it`,
      { cause: error },
    );
  }
}

/** The SPDX license ids of the CycloneDX schema (its enum), so that SBOM licenses are ids where they can be. */
export async function spdxIds(): Promise<Set<string>> {
  const schema = JSON.parse(await readFile(resolve(here, '../schemas/cyclonedx/spdx.schema.json'), 'utf8')) as {
    enum: string[];
  };
  return new Set(schema.enum);
}

export interface ContextInput extends Omit<BuildContextInput, 'sbom'> {
  /** Default: Modelport's own lockfile for its own runtimes (read from this install). */
  lockfile?: Lockfile | undefined;
}

/** The context's files, the SBOM included, and the image it builds on. */
export async function contextFiles(input: ContextInput): Promise<ContextFile[]> {
  return (await renderContext(input)).files;
}

/** A rendered context: its files (all but the artifact), its base image, and where the artifact goes. */
export interface RenderedContext {
  image: string;
  files: ContextFile[];
  artifact: { path: string; sha256: string; size: number };
}

export async function renderContext(input: ContextInput): Promise<RenderedContext> {
  const own = input.type.runtime !== 'container';
  const image = input.version.image
    ? input.version.image
    : chooseImage(input.version, input.type, {
        baseImage: input.baseImage,
        baseImageField: 'baseImage',
        modelportImage: input.modelportImage ?? input.type.default_base_image.value,
      });
  const sbom = createSbom({
    version: input.version,
    baseImage: image,
    lockfile: own ? (input.lockfile ?? (await readServingLockfile())) : undefined,
    spdxIds: await spdxIds(),
  });
  const { version } = input;
  return {
    image,
    files: buildContextFiles({ ...input, sbom }),
    artifact: { path: artifactPath(version), sha256: version.sha256, size: version.size },
  };
}

/** The model-type catalogue as renderContextOf reads it (the server's ModelTypeCatalogue). */
export interface TypeSource {
  get(name: string): Promise<ModelType>;
  template(name: string, backend: 'compose'): Promise<string | undefined>;
}

/** Renders the context of a version with its type from the catalogue (the build-context route). */
export async function renderContextOf(
  version: ModelVersion,
  catalogue: TypeSource,
  options: { baseImage?: string | undefined; modelportImage?: string | undefined } = {},
): Promise<RenderedContext> {
  const type = await catalogue.get(version.modelType);
  return renderContext({ version, type, template: await catalogue.template(type.name, 'compose'), ...options });
}

export interface WriteContextInput {
  /** The context's files (renderContext, or the build-context route's answer). */
  files: readonly ContextFile[];
  version: Pick<ModelVersion, 'model' | 'version' | 'sha256' | 'createdAt'>;
  /** The artifact's bytes (a download); checked against `version.sha256`. */
  artifact: AsyncIterable<Uint8Array>;
}

/**
 * Writes the context into `dir` (created; an existing folder must be empty or an earlier build context, which is
 * replaced). Returns the relative paths written, sorted.
 */
export async function writeBuildContext(dir: string, input: WriteContextInput): Promise<string[]> {
  const { files } = input;
  for (const file of files) {
    if (file.path.startsWith('/') || file.path.split('/').includes('..')) {
      throw new ModelportError('invalid_request', `a build context file may not leave the folder: ${file.path}`);
    }
  }
  await prepareFolder(dir);
  const mtime = new Date(input.version.createdAt);
  const written: string[] = [];
  for (const file of files) {
    const target = join(dir, file.path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, file.content);
    await chmod(target, file.mode & 0o777);
    await utimes(target, mtime, mtime);
    written.push(file.path);
  }
  const artifact = join(dir, artifactPath(input.version));
  await mkdir(dirname(artifact), { recursive: true });
  const temp = `${artifact}.partial`;
  const hash = createHash('sha256');
  await pipeline(
    Readable.from(input.artifact),
    new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    }),
    createWriteStream(temp, { mode: 0o644 }),
  );
  const actual = hash.digest('hex');
  if (actual !== input.version.sha256) {
    await rm(temp, { force: true });
    throw new ModelportError(
      'artifact_corrupt',
      `the downloaded artifact of ${input.version.model}@${input.version.version} has sha256 ${actual}, not the registered ${input.version.sha256}; nothing was written for it`,
    );
  }
  await rename(temp, artifact);
  await chmod(artifact, 0o644);
  await utimes(artifact, mtime, mtime);
  for (const folder of ['model', 'modelport', '.']) await utimes(join(dir, folder), mtime, mtime);
  written.push(artifactPath(input.version));
  return written.sort();
}

/** Lists a context folder's files (relative, sorted), for a tar of it. */
export async function listContext(dir: string): Promise<string[]> {
  const entries = await readdir(resolve(dir), { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(resolve(dir).length + 1))
    .sort();
}

async function prepareFolder(dir: string): Promise<void> {
  const entries = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  if (entries.length > 0) {
    const dockerfile = await readFile(join(dir, 'Dockerfile'), 'utf8').catch(() => '');
    if (!dockerfile.startsWith('# Generated by modelport build')) {
      throw new ModelportError(
        'invalid_request',
        `output: ${dir} is not empty and holds no earlier build context; name an empty or new folder (everything in it goes into the image)`,
        { field: 'output' },
      );
    }
    await rm(dir, { recursive: true, force: true });
  }
  await mkdir(dir, { recursive: true });
}
