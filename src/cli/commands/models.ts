/** `modelport models ...`: the model registry from the command line. */
import { open, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelportApiError, type ModelportClient, type RegisterOptions } from '../../client/index.ts';
import { formatBytes, ModelportError, parseModelRef } from '../../core/index.ts';
import { declaredFromMlflow, localContainerImport, localImport, readMlflowFlavors } from '../../imports/index.ts';
import type { ModelVersion } from '../../registry/index.ts';
import { type Command, defineCommand, UsageError } from '../command.ts';
import { answer, details, type Io, json, listing, table } from '../output.ts';
import { progressBar } from '../progress.ts';
import { attachFriendly, describeFriendly, isHostedDescriptor, readSignatureFile } from './signatures.ts';

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
  `registered ${v.model}@${v.version} (${v.image ? `image ${v.image}` : v.modelType !== v.format ? `${v.modelType}, ${formatBytes(v.size)}` : `${v.format}, ${formatBytes(v.size)}`}, sha256 ${v.sha256.slice(0, 12)})${v.aliases.length ? ` aliases: ${v.aliases.join(', ')}` : ''}\n`;

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

/** An MLflow folder without an onnx flavor: its flavor maps to a container model type. */
async function isContainerMlflow(path: string): Promise<boolean> {
  const isMlflow = await stat(join(path, 'MLmodel')).then(
    (s) => s.isFile(),
    () => false,
  );
  return isMlflow && !(await readMlflowFlavors(path)).flavors.includes('onnx');
}

/**
 * Registers an MLflow model of a sklearn, xgboost, pytorch or pyfunc flavor under the model type whose `flavors:`
 * names it, with the MLmodel signature as its declared signature. The folder is packed, never loaded.
 */
async function importMlflowContainer(
  io: Io,
  client: ModelportClient,
  name: string,
  folder: string,
  options: { aliases?: string[]; description?: string; tags: Record<string, string>; signatureFile?: string },
): Promise<ModelVersion> {
  const mlflow = await readMlflowFlavors(folder);
  const types = await client.listModelTypes();
  const flavor = mlflow.flavors.find((f) => types.some((t) => t.flavors?.includes(f)));
  const type = types.find((t) => flavor !== undefined && t.flavors?.includes(flavor));
  if (!flavor || !type) {
    throw new ModelportError(
      'invalid_request',
      `flavors: the MLflow model has the flavors ${mlflow.flavors.join(', ') || 'none'}, and no model type maps them; add 'flavors: [<flavor>]' to a model type (modelport modeltypes update) or log the model with mlflow.onnx`,
      { field: 'flavors' },
    );
  }
  const given = options.signatureFile !== undefined ? await readSignatureFile(options.signatureFile) : {};
  const declared = given.declared ?? (mlflow.signature ? declaredFromMlflow(mlflow.signature) : undefined);
  if (!declared) {
    throw new ModelportError(
      'invalid_request',
      `signature: the MLmodel has no signature with V2 datatypes, and a '${type.name}' model is never opened; log it with a signature (mlflow.models.infer_signature) or pass --signature signature.yaml with inputs and outputs`,
      { field: 'signature' },
    );
  }
  const packed = await localContainerImport(folder, tmpdir());
  try {
    return await upload(
      io,
      client,
      name,
      { file: packed.file, format: undefined },
      {
        type: type.name,
        declaredSignature: declared,
        ...(given.friendly ? { signature: given.friendly } : {}),
        ...(options.aliases ? { aliases: options.aliases } : {}),
        description: options.description ?? `MLflow ${flavor} model`,
        tags: { 'imported.from': 'mlflow', 'mlflow.flavor': flavor, ...options.tags },
        source: folder,
      },
    );
  } finally {
    await packed.cleanup();
  }
}

/** The runtime of a model type, with the server's own wording when the type is unknown. */
async function modelTypeRuntime(client: ModelportClient, type: string): Promise<string> {
  try {
    return (await client.getModelType(type)).runtime;
  } catch (error) {
    if (error instanceof ModelportApiError && error.code === 'not_found') {
      throw new ModelportError(
        'invalid_request',
        `type: unknown model type '${type}'; see the types with 'modelport modeltypes list' or add one with 'modelport modeltypes add -f type.yaml'`,
        { field: 'type' },
      );
    }
    throw error;
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
      const signatureFile = options['signature'];
      const friendly = (typeof signatureFile === 'string' ? await readSignatureFile(signatureFile) : {}).friendly;
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
      } else if (await isContainerMlflow(from)) {
        version = await importMlflowContainer(io, client(), name, from, {
          ...(aliases ? { aliases } : {}),
          ...(description !== undefined ? { description } : {}),
          tags,
          ...(options['signature'] !== undefined ? { signatureFile: options['signature'] } : {}),
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
      io.out(answer(format, version, registered(version)));
      await noteDuplicates(io, client(), version);
      return 0;
    },
  }),
  defineCommand({
    words: ['models', 'register'],
    usage:
      'models register <name> [<file.onnx|model.tgz|file|folder>] [--type T] [--image REF] [--signature FILE] [--alias A]... [--description D] [--tag k=v]... [--metric k=v]... [--source S] [--data-commit C] [--pipeline-run R]',
    summary:
      'Upload a model as the next version: ONNX, a js model (.tgz or folder, packed here), a file or folder of a container model type (--type sklearn-1.5, never opened), or a model image (--image)',
    args: [1, 2],
    options: {
      type: {
        type: 'string',
        description: 'Model type of the catalogue (modelport modeltypes list); default: by content',
      },
      image: {
        type: 'string',
        description: 'The version is this OCI image (registry/repo:tag[@sha256:...]); no file. Container types only',
      },
      digest: { type: 'string', description: 'With --image: the image digest (sha256:...), pinned in the version' },
      alias: { type: 'string', multiple: true, description: 'Point this alias at the new version (repeatable)' },
      description: { type: 'string', description: 'A description of this version' },
      tag: { type: 'string', multiple: true, description: 'key=value tag (repeatable)' },
      metric: { type: 'string', multiple: true, description: 'key=number metric (repeatable)' },
      source: { type: 'string', description: 'Lineage: where the model came from (a code reference or URL)' },
      'data-commit': { type: 'string', description: 'Lineage: the data commit it was trained on' },
      signature: {
        type: 'string',
        description:
          'Signature file (YAML/JSON): features and outputs; for a container type also inputs and outputs tensors (required)',
      },
      'pipeline-run': { type: 'string', description: 'Lineage: the pipeline run that produced it' },
    },
    async run({ args, options, io, format, client }) {
      const [name, path] = args as [string, string | undefined];
      const metrics = parseMetrics(options['metric']);
      const type = options['type'];
      const image = options['image'];
      const signatureFile = options['signature'];
      const signature = typeof signatureFile === 'string' ? await readSignatureFile(signatureFile) : {};
      const common = {
        description: options['description'],
        aliases: options['alias'],
        tags: keyValues(options['tag'], '--tag'),
        metrics,
        source: options['source'],
        dataCommit: options['data-commit'],
        pipelineRun: options['pipeline-run'],
        ...(signature.friendly ? { signature: signature.friendly } : {}),
        ...(signature.declared ? { declaredSignature: signature.declared } : {}),
        ...(type !== undefined ? { type } : {}),
      };
      if (image !== undefined) {
        if (path !== undefined) throw new UsageError('--image: a model image is the version itself; give no file');
        if (type === undefined) throw new UsageError('--image needs --type, a container model type (e.g. sas-scr)');
        const digest = options['digest'];
        const reference = digest === undefined ? image : `${image.replace(/@.*$/, '')}@${digest}`;
        const version = await client().registerVersion(name, new Uint8Array(0), { ...common, image: reference });
        io.out(answer(format, version, registered(version)));
        return 0;
      }
      if (path === undefined) throw new UsageError('give the model file or folder, or --image for a model image');
      if (!(await stat(path).catch(() => undefined))) throw new UsageError(`cannot read the file '${path}'`);
      // A container type's file or folder goes as it is (a folder packed): it is data, never opened here.
      const container = type !== undefined && (await modelTypeRuntime(client(), type)) === 'container';
      const source = container
        ? { ...(await localContainerImport(path, tmpdir())), format: undefined, description: undefined, tags: {} }
        : isHostedDescriptor(path)
          ? // A .yaml/.yml/.json file is a hosted model's descriptor (src/runtimes/hosted), uploaded as it is.
            { file: path, format: 'hosted' as const, description: undefined, tags: {}, cleanup: async () => {} }
          : await localImport(path, tmpdir());
      try {
        const version = await upload(io, client(), name, source, {
          ...common,
          description: common.description ?? source.description,
          tags: { ...source.tags, ...common.tags },
        });
        io.out(answer(format, version, registered(version)));
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
      io.out(
        listing(
          format,
          models,
          [
            ['name', (m) => m.name],
            ['latest', (m) => m.latestVersion],
            ['versions', (m) => m.versionCount],
            ['aliases', (m) => m.aliases],
            ['updated', (m) => m.updatedAt],
          ],
          { empty: 'no models yet; register one with: modelport models register <name> <file.onnx>\n' },
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
      io.out(
        listing(format, versions, [
          ['version', (v) => v.version],
          ['aliases', (v) => v.aliases],
          ['size', (v) => formatBytes(v.size)],
          ['sha256', (v) => v.sha256.slice(0, 12)],
          ['metrics', (v) => v.metrics],
          ['created', (v) => v.createdAt],
        ]),
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
      io.out(answer(format, model, `${name}@${alias} -> version ${version}\n`));
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
      io.out(answer(format, { deleted: what }, `deleted ${what}\n`));
      return 0;
    },
  }),
];
