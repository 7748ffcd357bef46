/** `modelport modeltypes ...`: the model-type catalogue (runtimes, deployment templates, base images). */
import { readFile } from 'node:fs/promises';
import type { ModelType } from '../../modeltypes/index.ts';
import { type Command, defineCommand, UsageError } from '../command.ts';
import { answer, columns, details, json, listing } from '../output.ts';

/** A template as the user wrote it: its YAML indented under a heading, or the type whose template it reuses. */
function templateText(backend: string, source: ModelType['templates'][keyof ModelType['templates']]): string {
  if (source === undefined) return `\n${backend} template: none\n`;
  if (typeof source !== 'string') return `\n${backend} template: the one of ${source.ref} (ref)\n`;
  const body = source.replace(/\n+$/, '').split('\n');
  return `\n${backend} template:\n${body.map((line) => `  ${line}`).join('\n')}\n`;
}

export const modelTypeCommands: Command[] = [
  defineCommand({
    words: ['modeltypes', 'list'],
    usage: 'modeltypes list',
    summary: 'List the model types',
    args: [0, 0],
    async run({ io, format, client }) {
      const types = await client().listModelTypes();
      io.out(
        listing(format, types, [
          ['name', (t) => t.name],
          ['runtime', (t) => t.runtime],
          ['default image', (t) => t.default_base_image.value],
          ['images', (t) => t.available_base_images.length],
        ]),
      );
      return 0;
    },
  }),
  defineCommand({
    words: ['modeltypes', 'show'],
    usage: 'modeltypes show <type>',
    summary: 'Show a model type: runtime, templates and base images',
    args: [1, 1],
    async run({ args, io, format, client }) {
      const t = await client().getModelType(args[0]!);
      if (format === 'json') {
        io.out(json(t));
        return 0;
      }
      io.out(
        details([
          ['name', t.name],
          ['runtime', t.runtime],
          ['description', t.description ?? '-'],
          ['default image', `${t.default_base_image.name} (${t.default_base_image.value})`],
        ]),
      );
      io.out(
        `\n${columns(t.available_base_images, [
          ['image', (i) => i.name],
          ['value', (i) => i.value],
        ])}`,
      );
      io.out(templateText('kubernetes', t.templates.kubernetes));
      io.out(templateText('compose', t.templates.compose));
      return 0;
    },
  }),
  defineCommand({
    words: ['modeltypes', 'add'],
    usage: 'modeltypes add -f <file.yaml>',
    summary: 'Add a model type from a YAML or JSON file holding one entry of modeltypes.yaml',
    args: [0, 0],
    options: { file: { type: 'string', short: 'f', description: 'The model type, as YAML or JSON' } },
    async run({ options, io, format, client }) {
      const file = options['file'];
      if (file === undefined) throw new UsageError('give the model type file with -f <file.yaml>');
      let type: ModelType;
      // Loaded here, not at the top: the rest of the CLI never pays for the YAML parser.
      const { parse } = await import('yaml');
      try {
        type = parse(await readFile(file, 'utf8')) as ModelType;
      } catch (error) {
        throw new UsageError(`cannot read '${file}' as YAML: ${String((error as Error).message).split('\n')[0]}`);
      }
      const added = await client().addModelType(type);
      io.out(answer(format, added, `added model type ${added.name} (${added.runtime})\n`));
      return 0;
    },
  }),
  defineCommand({
    words: ['modeltypes', 'set-default-image'],
    usage: 'modeltypes set-default-image <type> <image-name>',
    summary: 'Make one of the available base images the default',
    args: [2, 2],
    async run({ args, io, format, client }) {
      const [name, image] = args as [string, string];
      const t = await client().setModelTypeDefaultImage(name, image);
      io.out(
        format === 'json'
          ? json(t)
          : `${t.name}: default image ${t.default_base_image.name} (${t.default_base_image.value})\n`,
      );
      return 0;
    },
  }),
  defineCommand({
    words: ['modeltypes', 'add-image'],
    usage: 'modeltypes add-image <type> <image-name> <image>',
    summary: 'Add a base image to the available ones',
    args: [3, 3],
    async run({ args, io, format, client }) {
      const [name, imageName, value] = args as [string, string, string];
      const t = await client().addModelTypeImage(name, { name: imageName, value });
      io.out(answer(format, t, `${t.name}: added image ${imageName} (${value})\n`));
      return 0;
    },
  }),
];
