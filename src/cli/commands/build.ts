/**
 * `modelport build <model@version> -o <dir> [--base-image NAME] [--tar FILE]`: writes a Docker build context that
 * `docker build` or kaniko turns into a self-contained serving image of one model version. The server renders it
 * (`GET .../build-context`, src/backends/build/); the artifact is downloaded and checked here, and again by the
 * image build itself.
 */
import { createWriteStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { writeTar } from '../../client/index.ts';
import { parseModelRef } from '../../core/index.ts';
import { defineCommand, UsageError } from '../command.ts';

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
  usage: 'build <model@version|model@alias> -o <dir> [--base-image NAME] [--tar FILE]',
  summary: 'Write a Docker build context (Dockerfile, model, SBOM) for a serving image of one model version',
  args: [1, 1],
  options: {
    output: { type: 'string', short: 'o', description: 'Folder to write the context into (new or empty)' },
    'base-image': {
      type: 'string',
      description: "One of the model type's images by name (modelport modeltypes show <type>); default its default",
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
    // The server renders the context (its catalogue, its Modelport image and lockfile); the model comes by download.
    const context = await api.getBuildContext(ref.name, latest, {
      ...(options['base-image'] ? { baseImage: options['base-image'] } : {}),
    });
    const download = await api.downloadArtifact(context.model, context.version);
    // Loaded here: the rest of the CLI never loads the backends' dependencies.
    const { listContext, writeBuildContext } = await import('../../backends/index.ts');
    const version = { ...context, sha256: context.artifact.sha256 };
    const written = await writeBuildContext(dir, { files: context.files, version, artifact: download.body });
    const tar = options['tar'];
    if (tar) await tarContext(dir, await listContext(dir), tar);
    const image = `${context.model}:${context.version}`;
    io.out(
      `wrote the build context of ${context.model}@${context.version} (${context.modelType}, on ${context.image}) to ${dir}:\n${written.map((p) => `  ${p}\n`).join('')}` +
        (tar ? `and its tar to ${tar}\n` : '') +
        `build it with:  docker build -t <registry>/${image} ${dir}\n`,
    );
    return 0;
  },
});
