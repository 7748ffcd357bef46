/**
 * The `modelport` command. The only place besides the server command that reads process.env: it builds the client
 * from --url / MODELPORT_URL and dispatches to a command by its words.
 */
import { parseArgs } from 'node:util';
import { ModelportApiError, ModelportClient } from '../client/index.ts';
import { ModelportError } from '../core/index.ts';
import { type Command, UsageError } from './command.ts';
import { auditCommands } from './commands/audit.ts';
import { authCommands } from './commands/auth.ts';
import { buildCommand } from './commands/build.ts';
import { dataCommands } from './commands/data.ts';
import { deploymentCommands } from './commands/deployments.ts';
import { exportCommand } from './commands/export.ts';
import { fetchModelsCommand, gatewayCommand, serveModelCommand } from './commands/image.ts';
import { jobCommands } from './commands/jobs.ts';
import { lineageCommands } from './commands/lineage.ts';
import { modelCommands } from './commands/models.ts';
import { modelTypeCommands } from './commands/modeltypes.ts';
import { payloadCommands } from './commands/payloads.ts';
import { pipelineCommands } from './commands/pipelines.ts';
import { scanCommands } from './commands/scans.ts';
import { scoreCommand } from './commands/score.ts';
import { secretCommands } from './commands/secrets.ts';
import { serverCommand } from './commands/server.ts';
import { signatureCommands } from './commands/signatures.ts';
import { uninstallCommand } from './commands/uninstall.ts';
import { storedToken } from './credentials.ts';
import { type Io, type OutputFormat, processIo } from './output.ts';

const COMMANDS: Command[] = [
  serverCommand,
  ...modelCommands,
  ...signatureCommands,
  ...deploymentCommands,
  ...payloadCommands,
  scoreCommand,
  ...jobCommands,
  ...pipelineCommands,
  ...scanCommands,
  ...lineageCommands,
  ...dataCommands,
  ...secretCommands,
  ...auditCommands,
  ...modelTypeCommands,
  ...authCommands,
  exportCommand,
  buildCommand,
  uninstallCommand,
  serveModelCommand,
  fetchModelsCommand,
  gatewayCommand,
];

const GLOBAL_OPTIONS = {
  url: { type: 'string', description: 'Server URL (MODELPORT_URL, default http://127.0.0.1:8080)' },
  project: { type: 'string', description: 'Project (MODELPORT_PROJECT, default "default")' },
  token: { type: 'string', description: 'API token (MODELPORT_TOKEN, else the one `modelport login` stored)' },
  output: { type: 'string', short: 'o', description: 'table (default) or json' },
  help: { type: 'boolean', short: 'h', description: 'Show help' },
} as const;

// Every flag that takes a value, of any command, so `--url URL models list` finds the words `models list`.
const VALUE_FLAGS = new Set(
  [GLOBAL_OPTIONS, ...COMMANDS.map((c) => c.options ?? {})].flatMap((options) =>
    Object.entries(options as Record<string, { type: string; short?: string }>)
      .filter(([, o]) => o.type === 'string')
      .flatMap(([name, o]) => [`--${name}`, ...(o.short ? [`-${o.short}`] : [])]),
  ),
);

/** Where argv's positional words stand, skipping flags and the values they take ('-' alone is a word: stdin). */
function wordIndexes(argv: string[]): number[] {
  const indexes: number[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    if (arg !== '-' && arg.startsWith('-')) {
      if (VALUE_FLAGS.has(arg)) i++;
      continue;
    }
    indexes.push(i);
  }
  return indexes;
}

function help(io: Io, command?: Command): void {
  if (command) {
    io.out(`usage: modelport ${command.usage}\n\n${command.summary}\n`);
    // A command's own description of a global flag (score's -o and --url) wins; the order stays command-first.
    const opts = Object.entries({ ...command.options, ...GLOBAL_OPTIONS, ...command.options });
    if (opts.length) io.out(`\noptions:\n${opts.map(([n, o]) => `  --${n.padEnd(18)} ${o.description}`).join('\n')}\n`);
    return;
  }
  io.out(
    `usage: modelport <command> [options]\n\ncommands:\n${COMMANDS.map((c) => `  ${c.words.join(' ').padEnd(18)} ${c.summary}`).join('\n')}\n\nglobal options: --url URL, --project NAME, --token T, -o table|json, -h\n`,
  );
}

export async function main(
  argv: string[],
  env: Readonly<Record<string, string | undefined>>,
  io: Io = processIo(),
): Promise<number> {
  const indexes = wordIndexes(argv);
  const words = indexes.map((i) => argv[i]!);
  const command = COMMANDS.filter((c) => c.words.every((w, i) => words[i] === w)).sort(
    (a, b) => b.words.length - a.words.length,
  )[0];
  if (!command) {
    if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) {
      help(io);
      return argv.length === 0 ? 2 : 0;
    }
    io.err(`modelport: unknown command '${words.slice(0, 2).join(' ')}'; run 'modelport --help'\n`);
    return 2;
  }
  try {
    const commandAt = new Set(indexes.slice(0, command.words.length));
    const rest = argv.filter((_, i) => !commandAt.has(i));
    const parsed = parseArgs({
      args: rest,
      options: { ...command.options, ...GLOBAL_OPTIONS } as never,
      allowPositionals: true,
      strict: true,
    });
    const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
    if (values['help']) {
      help(io, command);
      return 0;
    }
    const [min, max] = command.args;
    if (parsed.positionals.length < min || parsed.positionals.length > max) {
      throw new UsageError(
        `expected ${min === max ? min : `${min} to ${max}`} argument(s), got ${parsed.positionals.length}`,
      );
    }
    // A command that declares its own `output` option (score: -o FILE) takes -o over from the global format.
    const format = (command.options?.['output'] ? 'table' : (values['output'] ?? 'table')) as OutputFormat;
    if (format !== 'table' && format !== 'json') throw new UsageError(`-o takes table or json, not '${format}'`);
    let client: ModelportClient | undefined;
    const code = await command.run({
      args: parsed.positionals,
      options: values,
      io,
      format,
      env,
      client: () => {
        const url = (values['url'] as string | undefined) ?? env['MODELPORT_URL'] ?? 'http://127.0.0.1:8080';
        client ??= new ModelportClient({
          url,
          project: (values['project'] as string | undefined) ?? env['MODELPORT_PROJECT'] ?? 'default',
          token: (values['token'] as string | undefined) || env['MODELPORT_TOKEN'] || storedToken(env, url),
        });
        return client;
      },
    });
    return code ?? 0;
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`modelport: ${(error as Error).message}\nusage: modelport ${command.usage}\n`);
      return 2;
    }
    if (error instanceof ModelportApiError || error instanceof ModelportError) {
      io.err(`modelport: ${error.message} (${error.code})\n`);
      return 1;
    }
    io.err(`modelport: ${(error as Error).message ?? String(error)}\n`);
    return 1;
  }
}
