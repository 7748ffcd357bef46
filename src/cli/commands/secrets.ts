/** `modelport secrets ...`: write-only secrets of a project. A value is never taken from the command line. */
import { readFile } from 'node:fs/promises';
import { type Command, defineCommand, UsageError } from '../command.ts';
import { answer, json, listing } from '../output.ts';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** One trailing newline (from `echo` or an editor) is dropped; the rest of the value is kept as is. */
const chomp = (text: string) => text.replace(/\r?\n$/, '');

export const secretCommands: Command[] = [
  defineCommand({
    words: ['secrets', 'set'],
    usage: 'secrets set <NAME> (--from-file F | --from-stdin)',
    summary: 'Create or replace a secret; the value comes from a file or stdin, never the command line',
    args: [1, 1],
    options: {
      'from-file': { type: 'string', description: 'Read the value from this file (one trailing newline dropped)' },
      'from-stdin': {
        type: 'boolean',
        description: 'Read the value from standard input (one trailing newline dropped)',
      },
    },
    async run({ args, options, io, format, client }) {
      const name = args[0]!;
      const file = options['from-file'];
      const stdin = options['from-stdin'] === true;
      if ((file === undefined) === !stdin) throw new UsageError('give exactly one of --from-file F or --from-stdin');
      let value: string;
      if (file !== undefined) {
        try {
          value = await readFile(file, 'utf8');
        } catch {
          throw new UsageError(`cannot read the file '${file}'`);
        }
      } else value = await readStdin();
      const info = await client().setSecret(name, chomp(value));
      io.out(answer(format, info, `${info.created ? 'created' : 'updated'} secret ${info.name}\n`));
      return 0;
    },
  }),
  defineCommand({
    words: ['secrets', 'list'],
    usage: 'secrets list',
    summary: 'List the secrets of the project (names only)',
    args: [0, 0],
    async run({ io, format, client }) {
      const secrets = await client().listSecrets();
      io.out(
        listing(
          format,
          secrets,
          [
            ['name', (s) => s.name],
            ['created', (s) => s.createdAt],
            ['updated', (s) => s.updatedAt],
          ],
          { empty: 'no secrets yet; add one with: modelport secrets set <NAME> --from-file F\n' },
        ),
      );
      return 0;
    },
  }),
  defineCommand({
    words: ['secrets', 'delete'],
    usage: 'secrets delete <NAME>',
    summary: 'Delete a secret',
    args: [1, 1],
    async run({ args, io, format, client }) {
      await client().deleteSecret(args[0]!);
      io.out(answer(format, { deleted: args[0] }, `deleted secret ${args[0]}\n`));
      return 0;
    },
  }),
  defineCommand({
    words: ['secrets', 'rotate-key'],
    usage: 'secrets rotate-key [--new-key-file F]',
    summary: 'Re-encrypt every secret under a new key (admin)',
    args: [0, 0],
    options: {
      'new-key-file': {
        type: 'string',
        description: 'The new key (32 bytes, base64 or hex); needed when the server uses MODELPORT_SECRET_KEY',
      },
    },
    async run({ options, io, format, client }) {
      const file = options['new-key-file'];
      let newKey: string | undefined;
      if (file !== undefined) {
        try {
          newKey = (await readFile(file, 'utf8')).trim();
        } catch {
          throw new UsageError(`cannot read the file '${file}'`);
        }
      }
      const result = await client().rotateSecretKey(newKey);
      if (format === 'json') io.out(json(result));
      else {
        io.out(`re-encrypted ${result.rotated} secret(s) under key ${result.keyId}\n`);
        if (result.origin === 'env') io.out('now set MODELPORT_SECRET_KEY to the new key before the server restarts\n');
      }
      return 0;
    },
  }),
];
