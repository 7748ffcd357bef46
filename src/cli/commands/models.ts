/** `modelport models ...`: the model registry from the command line. */
import { open, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { ModelportClient, RegisterOptions } from '../../client/index.ts';
import { formatBytes, parseModelRef } from '../../core/index.ts';
import { localImport } from '../../imports/index.ts';
import type { ModelVersion } from '../../registry/index.ts';
import { type Command, defineCommand, UsageError } from '../command.ts';
import { details, type Io, json, table } from '../output.ts';
import { progressBar } from '../progress.ts';
import { attachFriendly, describeFriendly, isHostedDescriptor, signatureOption } from './signatures.ts';

function keyValues(values: unknown, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of (values as string[] | undefined) ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`${flag} takes key=value, got '${item}'`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

function parseMetrics(values: unknown): Record<string, number> {
  const metrics: Record<string, number> = {};
  for (const [k, v] of Object.entries(keyValues(values, '--metric'))) {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--metric ${k}: '${v}' is not a number`);
    metrics[k] = n;
  }
  return metrics;
}

const registered = (v: ModelVersion) =>
  `registered ${v.model}@${v.version} (${v.format}, ${formatBytes(v.size)}, sha256 ${v.sha256.slice(0, 12)})${v.aliases.length ? ` aliases: ${v.aliases.join(', ')}` : ''}\n`;

/**
 * Registering the same bytes again is allowed (a new number, new tags or lineage) but rarely meant: say which
 * earlier versions of the model hold exactly these bytes.
 */
async function noteDuplicates(io: Io, client: ModelportClient, v: ModelVersion): Promise<void> {
  const same = (await client.listVersions(v.model)).filter((o) => o.sha256 === v.sha256 && o.version !== v.version);
  if (same.length === 0) return;
  io.err(
    `note: ${v.model}@${v.version} duplicates ${same.map((o) => `${v.model}@${o.version}`).join(', ')} (the same bytes, sha256 ${v.sha256.slice(0, 12)}); it was registered as a new version anyway\n`,
  );
}

function showVersion(io: Io, v: ModelVersion): void {
  io.out(
    details([
      ['model', `${v.model}@${v.version}`],
      ['aliases', v.aliases],
      ['format', v.format],
      ['size', formatBytes(v.size)],
      ['sha256', v.sha256],
      ['description', v.description || '-'],
      ['tags', v.tags],
      ['metrics', v.metrics],
      ['source', v.lineage.source],
      ['data commit', v.lineage.dataCommit],
      ['pipeline run', v.lineage.pipelineRun],
      ['created', v.createdAt],
    ]),
  );
  const spec = (t: { name: string; datatype: string; shape: number[] }) => [
    t.name,
    t.datatype,
    `[${t.shape.join(', ')}]`,
  ];
  io.out(`\n${table(['input', 'datatype', 'shape'], v.signature.inputs.map(spec))}`);
  io.out(`\n${table(['output', 'datatype', 'shape'], v.signature.outputs.map(spec))}`);
  io.out(describeFriendly(v));
}

/** Streams a prepared local model to the server with a progress bar. */
async function upload(
  io: Io,
  client: ModelportClient,
  name: string,
  source: { file: string; format: RegisterOptions['format'] },
  options: Omit<RegisterOptions, 'format' | 'onProgress'>,
): Promise<ModelVersion> {
  const { size } = await stat(source.file);
  const handle = await open(source.file);
  const bar = progressBar(io, 'uploading', size);
  try {
    const version = await client.registerVersion(
      name,
      { stream: handle.readableWebStream() as unknown as AsyncIterable<Uint8Array>, size },
      { ...options, format: source.format, onProgress: (sent) => bar.update(sent) },
    );
    bar.finish();
    return version;
  } finally {
    await handle.close();
  }
}

export const modelCommands: Command[] = [
  defineCommand({
    words: ['models', 'import'],
    usage: 'models import <name> <path-or-url> [--alias A]... [--description D] [--tag k=v]...',
    summary:
      'Import a version from an ONNX file, an MLflow model folder (onnx flavor), a js model folder, or an https:// or s3:// URL (fetched by the server)',
    args: [2, 2],
    options: {
      alias: { type: 'string', multiple: true, description: 'Point this alias at the new version (repeatable)' },
      description: { type: 'string', description: 'A description of this version' },
      tag: { type: 'string', multiple: true, description: 'key=value tag (repeatable)' },
      signature: { type: 'string', description: 'Friendly signature file (YAML/JSON: features, outputs)' },
    },
    async run({ args, options, io, format, client }) {
      const [name, from] = args as [string, string];
      const friendly = await signatureOption(options['signature']);
      const aliases = options['alias'];
      const description = options['description'];
      const tags = keyValues(options['tag'], '--tag');
      let version: ModelVersion;
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(from)) {
        if (!/^(https?|s3):\/\//i.test(from)) throw new UsageError(`'${from}': import from https://, s3:// or a path`);
        version = await client().importModel(name, {
          url: from,
          ...(aliases ? { aliases } : {}),
          ...(description !== undefined ? { description } : {}),
          ...(Object.keys(tags).length ? { tags } : {}),
        });
      } else {
        if (!(await stat(from).catch(() => undefined))) throw new UsageError(`cannot read '${from}'`);
        const source = await localImport(from, tmpdir());
        try {
          version = await upload(io, client(), name, source, {
            description: description ?? source.description,
            tags: { ...source.tags, ...tags },
            source: from,
            ...(aliases ? { aliases } : {}),
            ...(friendly ? { signature: friendly } : {}),
          });
        } finally {
          await source.cleanup();
        }
      }
      // An MLflow signature's columns become features when they fit the model; the import stands either way.
      version = await attachFriendly(client(), version, friendly, from, io);
      io.out(format === 'json' ? json(version) : registered(version));
      await noteDuplicates(io, client(), version);
      return 0;
    },
  }),
  defineCommand({
    words: ['models', 'register'],
    usage:
      'models register <name> <file.onnx|model.tgz|folder> [--alias A]... [--description D] [--tag k=v]... [--metric k=v]... [--source S] [--data-commit C] [--pipeline-run R]',
    summary: 'Upload an ONNX file or a js model (.tgz or folder, packed here) as the next version of a model',
    args: [2, 2],
    options: {
      alias: { type: 'string', multiple: true, description: 'Point this alias at the new version (repeatable)' },
      description: { type: 'string', description: 'A description of this version' },
      tag: { type: 'string', multiple: true, description: 'key=value tag (repeatable)' },
      metric: { type: 'string', multiple: true, description: 'key=number metric (repeatable)' },
      source: { type: 'string', description: 'Lineage: where the model came from (a code reference or URL)' },
      'data-commit': { type: 'string', description: 'Lineage: the data commit it was trained on' },
      'pipeline-run': { type: 'string', description: 'Lineage: the pipeline run that produced it' },
      signature: { type: 'string', description: 'Friendly signature file (YAML/JSON: features, outputs)' },
    },
    async run({ args, options, io, format, client }) {
      const [name, path] = args as [string, string];
      const metrics = parseMetrics(options['metric']);
      if (!(await stat(path).catch(() => undefined))) throw new UsageError(`cannot read the file '${path}'`);
      const friendly = await signatureOption(options['signature']);
      // A .yaml/.yml/.json file is a hosted model's descriptor (src/runtimes/hosted), uploaded as it is.
      const source = isHostedDescriptor(path)
        ? { file: path, format: 'hosted' as const, description: undefined, tags: {}, cleanup: async () => {} }
        : await localImport(path, tmpdir());
      try {
        const version = await upload(io, client(), name, source, {
          description: options['description'] ?? source.description,
          aliases: options['alias'],
          tags: { ...source.tags, ...keyValues(options['tag'], '--tag') },
          metrics,
          source: options['source'],
          dataCommit: options['data-commit'],
          pipelineRun: options['pipeline-run'],
          ...(friendly ? { signature: friendly } : {}),
        });
        io.out(format === 'json' ? json(version) : registered(version));
        await noteDuplicates(io, client(), version);
      } finally {
        await source.cleanup();
      }
      return 0;
    },
  }),
  defineCommand({
    words: ['models', 'list'],
    usage: 'models list [--search TEXT]',
    summary: 'List models',
    args: [0, 0],
    options: { search: { type: 'string', description: 'Only models whose name contains TEXT' } },
    async run({ options, io, format, client }) {
      const models = await client().listModels(options['search']);
      if (format === 'json') io.out(json(models));
      else if (models.length === 0)
        io.out('no models yet; register one with: modelport models register <name> <file.onnx>\n');
      else
        io.out(
          table(
            ['name', 'latest', 'versions', 'aliases', 'updated'],
            models.map((m) => [m.name, m.latestVersion, m.versionCount, m.aliases, m.updatedAt]),
          ),
        );
      return 0;
    },
  }),
  defineCommand({
    words: ['models', 'show'],
    usage: 'models show <name>[@version|@alias]',
    summary: 'Show a model and its latest version (or the version named) with its signature',
    args: [1, 1],
    async run({ args, io, format, client }) {
      const ref = parseModelRef(args[0]!);
      if (ref.version === undefined && ref.alias === undefined && ref.commit === undefined) {
        const model = await client().getModel(ref.name);
        const latest =
          model.latestVersion === null ? undefined : await client().getVersion(ref.name, model.latestVersion);
        if (format === 'json') {
          io.out(json({ ...model, latest: latest ?? null }));
          return 0;
        }
        io.out(
          details([
            ['name', model.name],
            ['project', model.project],
            ['latest version', model.latestVersion],
            ['versions', model.versionCount],
            ['aliases', model.aliases],
            ['created', model.createdAt],
            ['updated', model.updatedAt],
          ]),
        );
        if (latest) {
          io.out(
            `\nlatest version (${ref.name}@${latest.version}; another one: models show ${ref.name}@<version|alias>)\n`,
          );
          showVersion(io, latest);
        }
        return 0;
      }
      const v = await client().getVersion(ref.name, ref.version ?? ref.alias ?? `commit:${ref.commit}`);
      if (format === 'json') io.out(json(v));
      else showVersion(io, v);
      return 0;
    },
  }),
  defineCommand({
    words: ['models', 'versions'],
    usage: 'models versions <name>',
    summary: 'List the versions of a model',
    args: [1, 1],
    async run({ args, io, format, client }) {
      const versions = await client().listVersions(args[0]!);
      if (format === 'json') io.out(json(versions));
      else
        io.out(
          table(
            ['version', 'aliases', 'size', 'sha256', 'metrics', 'created'],
            versions.map((v) => [
              v.version,
              v.aliases,
              formatBytes(v.size),
              v.sha256.slice(0, 12),
              v.metrics,
              v.createdAt,
            ]),
          ),
        );
      return 0;
    },
  }),
  defineCommand({
    words: ['models', 'alias'],
    usage: 'models alias <name> <alias> <version>',
    summary: 'Point an alias at a version',
    args: [3, 3],
    async run({ args, io, format, client }) {
      const [name, alias, version] = args as [string, string, string];
      if (!/^[1-9]\d*$/.test(version)) throw new UsageError(`<version> must be a version number, got '${version}'`);
      const model = await client().setAlias(name, alias, Number(version));
      io.out(format === 'json' ? json(model) : `${name}@${alias} -> version ${version}\n`);
      return 0;
    },
  }),
  defineCommand({
    words: ['models', 'delete'],
    usage: 'models delete <name>[@version]',
    summary: 'Delete a model, or one version of it',
    args: [1, 1],
    async run({ args, io, format, client }) {
      const ref = parseModelRef(args[0]!);
      if (ref.alias !== undefined) throw new UsageError('delete takes a version number, not an alias');
      if (ref.version === undefined) await client().deleteModel(ref.name);
      else await client().deleteVersion(ref.name, ref.version);
      const what = ref.version === undefined ? `model ${ref.name}` : `${ref.name}@${ref.version}`;
      io.out(format === 'json' ? json({ deleted: what }) : `deleted ${what}\n`);
      return 0;
    },
  }),
];
