/**
 * `modelport build <model@version> -o <dir> [--base-image NAME] [--modelport-image IMAGE] [--tar FILE]`: writes a
 * Docker build context that `docker build` or kaniko turns into a self-contained serving image of one model version
 * (src/backends/build/). The artifact is downloaded and checked here, and again by the image build itself.
 */
import { createWriteStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type ModelportClient, writeTar } from '../../client/index.ts';
import { ModelportError, parseModelRef } from '../../core/index.ts';
import type { ModelType } from '../../modeltypes/index.ts';
import { defineCommand, UsageError } from '../command.ts';

/** The type's compose template text, following `{ ref: <type> }` (at most 8 deep, as the catalogue allows). */
async function composeTemplate(client: ModelportClient, type: ModelType): Promise<string | undefined> {
  let current = type;
  for (let depth = 0; depth < 8; depth++) {
    const source = current.templates.compose;
    if (source === undefined) return undefined;
    if (typeof source === 'string') return source;
    current = (await client.getModelType(source.ref)) as ModelType;
  }
  throw new ModelportError('invalid_config', `the compose template of '${type.name}' refers around in a circle`);
}

/** A tar of the context folder with fixed owners, mtimes and order: the same folder gives the same bytes. */
export async function tarContext(dir: string, paths: readonly string[], to: string): Promise<void> {
  const files = await Promise.all(
    paths.map(async (path) => {
      const { size, mode } = await stat(join(dir, path));
      return {
        path,
        size,
        mode: mode & 0o777,
        async *open() {
          const handle = await open(join(dir, path));
          try {
            yield* handle.createReadStream();
          } finally {
            await handle.close().catch(() => undefined);
          }
        },
      };
    }),
  );
  const temp = `${to}.partial`;
  try {
    await pipeline(Readable.from(writeTar(files)), createWriteStream(temp));
    await rename(temp, to);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

export const buildCommand = defineCommand({
  words: ['build'],
  usage: 'build <model@version|model@alias> -o <dir> [--base-image NAME] [--modelport-image IMAGE] [--tar FILE]',
  summary: 'Write a Docker build context (Dockerfile, model, SBOM) for a serving image of one model version',
  args: [1, 1],
  options: {
    output: { type: 'string', short: 'o', description: 'Folder to write the context into (new or empty)' },
    'base-image': {
      type: 'string',
      description: "One of the model type's images by name (modelport modeltypes show <type>); default its default",
    },
    'modelport-image': {
      type: 'string',
      description: "Modelport's image for onnx, js and hosted models (default: the type's default image)",
    },
    tar: { type: 'string', description: 'Also write the context as a tar (fixed mtimes and owners) to this file' },
  },
  async run({ args, options, io, client }) {
    const dir = options['output'];
    if (!dir) throw new UsageError('-o <dir> is required: the folder to write the build context into');
    const ref = parseModelRef(args[0]!);
    if (ref.commit !== undefined) throw new UsageError('name a version or an alias: <model>@3 or <model>@production');
    const api = client();
    const latest = ref.version ?? ref.alias ?? (await api.getModel(ref.name)).latestVersion;
    if (latest === null) throw new UsageError(`${ref.name} has no versions yet; register one first`);
    const version = await api.getVersion(ref.name, latest);
    const type = (await api.getModelType(version.modelType)) as ModelType;
    // Loaded here: the rest of the CLI never loads the backends' dependencies.
    const { contextFiles, listContext, writeBuildContext } = await import('../../backends/index.ts');
    const input = {
      version,
      type,
      template: await composeTemplate(api, type),
      baseImage: options['base-image'],
      modelportImage: options['modelport-image'],
    };
    await contextFiles(input); // refuses a model image or an unknown --base-image before anything is downloaded
    const download = await api.downloadArtifact(version.model, version.version);
    const written = await writeBuildContext(dir, { ...input, artifact: download.body });
    const tar = options['tar'];
    if (tar) await tarContext(dir, await listContext(dir), tar);
    const image = `${version.model}:${version.version}`;
    io.out(
      `wrote the build context of ${version.model}@${version.version} (${type.name}) to ${dir}:\n${written.map((p) => `  ${p}\n`).join('')}` +
        (tar ? `and its tar to ${tar}\n` : '') +
        `build it with:  docker build -t <registry>/${image} ${dir}\n`,
    );
    return 0;
  },
});
