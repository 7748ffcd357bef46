/** `modelport models signature ...`: friendly signatures (named features, output labels) of model versions. */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { ModelportClient } from '../../client/index.ts';
import { type ModelSignature, parseModelRef } from '../../core/index.ts';
import { readMlflowFlavors } from '../../imports/index.ts';
import type { ModelVersion } from '../../registry/index.ts';
import {
  checkDeclaredSignature,
  type FriendlySignature,
  friendlyFromMlflow,
  parseFriendlySignature,
} from '../../signatures/index.ts';
import { type Command, defineCommand, UsageError } from '../command.ts';
import { columns, type Io, json } from '../output.ts';

/** Reads a friendly signature from a YAML or JSON file (or a scoring signature file with featureNames/labels). */
export async function readFriendlySignatureFile(path: string, flag = '--signature'): Promise<FriendlySignature> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new UsageError(`${flag}: cannot read '${path}'`);
  }
  return parseFriendlySignature(text, flag.replace(/^-+/, ''));
}

/**
 * A `--signature` file for a container model type: the declared tensor signature (`inputs`, `outputs`, each a list
 * of { name, datatype, shape }) and, optionally, the friendly signature under `friendly:` (features, outputs).
 * A file without `inputs` is a friendly signature only.
 */
export async function readSignatureFile(
  path: string,
): Promise<{ declared?: ModelSignature; friendly?: FriendlySignature }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new UsageError(`--signature: cannot read '${path}'`);
  }
  let doc: unknown;
  try {
    doc = parse(text, { schema: 'core', maxAliasCount: 100, uniqueKeys: true });
  } catch (error) {
    throw new UsageError(
      `--signature: '${path}' is not YAML or JSON: ${String((error as Error).message).split('\n')[0]}`,
    );
  }
  const record = (typeof doc === 'object' && doc !== null ? doc : {}) as Record<string, unknown>;
  if (!('inputs' in record)) return { friendly: parseFriendlySignature(text, 'signature') };
  const declared = checkDeclaredSignature({ inputs: record['inputs'], outputs: record['outputs'] }, 'signature');
  const friendly =
    record['friendly'] === undefined
      ? undefined
      : parseFriendlySignature(JSON.stringify(record['friendly']), 'signature.friendly');
  return { declared, ...(friendly ? { friendly } : {}) };
}

/** The `--signature FILE` option, read and checked, or undefined when absent. */
export async function signatureOption(value: unknown): Promise<FriendlySignature | undefined> {
  return typeof value === 'string' ? readFriendlySignatureFile(value) : undefined;
}

/** A hosted model's descriptor is a YAML or JSON file; every other path is a model (see src/imports). */
export function isHostedDescriptor(path: string): boolean {
  return /\.(ya?ml|json)$/i.test(path);
}

/**
 * After an import: sets `friendly` when the version does not have it yet; else, for an MLflow folder, maps the
 * MLmodel signature's columns to features and sets them when they fit the model (a note on stderr when not).
 */
export async function attachFriendly(
  client: ModelportClient,
  version: ModelVersion,
  friendly: FriendlySignature | undefined,
  from: string,
  io: Io,
): Promise<ModelVersion> {
  if (friendly)
    return version.friendlySignature ? version : client.setSignature(version.model, version.version, friendly);
  const isMlflow = await stat(join(from, 'MLmodel')).then(
    (s) => s.isFile(),
    () => false,
  );
  if (!isMlflow) return version;
  const mapped = friendlyFromMlflow((await readMlflowFlavors(from)).signature);
  if (!mapped) return version;
  try {
    return await client.setSignature(version.model, version.version, mapped);
  } catch (error) {
    io.err(`note: the MLflow signature was not kept as a friendly signature: ${(error as Error).message}\n`);
    return version;
  }
}

/** The friendly signature as text lines for `models show`: features, then the output mapping. */
export function describeFriendly(v: ModelVersion): string {
  const friendly = v.friendlySignature;
  if (!friendly) return '';
  let out = '';
  if (friendly.features) {
    const range = (f: NonNullable<FriendlySignature['features']>[number]) =>
      f.values
        ? `one of ${f.values.join(', ')}`
        : f.min !== undefined || f.max !== undefined
          ? `${f.min ?? ''}..${f.max ?? ''}`
          : '';
    out += `\n${columns(friendly.features, [
      ['feature', (f) => f.name],
      ['type', (f) => f.type],
      ['range', (f) => range(f)],
    ])}`;
  }
  const o = friendly.outputs;
  if (o) {
    const parts = [
      o.labels ? `labels ${o.labels.join(', ')}` : '',
      o.probabilities ? `probabilities from '${o.probabilities}'` : '',
      o.label ? `label from '${o.label}'` : '',
      o.threshold !== undefined ? `threshold ${o.threshold}` : '',
    ].filter(Boolean);
    out += `\noutputs: ${parts.join('; ')}\n`;
  }
  return out;
}

export const signatureCommands: Command[] = [
  defineCommand({
    words: ['models', 'signature'],
    usage: 'models signature <name@version|name@alias> (-f signature.yaml | --clear)',
    summary: "Set a version's friendly signature (named features, output labels) from a YAML/JSON file, or remove it",
    args: [1, 1],
    options: {
      file: { type: 'string', short: 'f', description: 'The friendly signature, as YAML or JSON' },
      clear: { type: 'boolean', description: 'Remove the friendly signature' },
    },
    async run({ args, options, io, format, client }) {
      const ref = parseModelRef(args[0]!);
      const at = ref.version ?? ref.alias;
      if (at === undefined) throw new UsageError('name the version: <name>@<version> or <name>@<alias>');
      const file = options['file'];
      const clear = options['clear'] === true;
      if ((file === undefined) === !clear) throw new UsageError('give either -f <file> or --clear');
      const signature = file === undefined ? null : await readFriendlySignatureFile(file, '--file');
      const v = await client().setSignature(ref.name, at, signature);
      if (format === 'json') io.out(json(v));
      else if (!v.friendlySignature) io.out(`removed the friendly signature of ${v.model}@${v.version}\n`);
      else io.out(`set the friendly signature of ${v.model}@${v.version}\n${describeFriendly(v)}`);
      return 0;
    },
  }),
];
