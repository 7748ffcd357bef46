/** The shape of a CLI command: its words, usage, options (node:util parseArgs style) and a run function. */
import type { ModelportClient } from '../client/index.ts';
import type { Io, OutputFormat } from './output.ts';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  description: string;
}

/** The value parseArgs gives for one declared option: `--x v` a string, a flag a boolean, `multiple` a list. */
export type OptionValue<S extends OptionSpec> = OptionSpec extends S
  ? string | boolean | string[]
  : S['type'] extends 'boolean'
    ? S['multiple'] extends true
      ? boolean[]
      : boolean
    : S['multiple'] extends true
      ? string[]
      : string;

/** The options of a command, typed from its declaration (absent when not given). */
export type OptionValues<O extends Record<string, OptionSpec>> = { [K in keyof O]?: OptionValue<O[K]> };

export interface CommandContext<O extends Record<string, OptionSpec> = Record<string, OptionSpec>> {
  args: string[];
  options: OptionValues<O>;
  io: Io;
  format: OutputFormat;
  /** Built lazily so that `server` and `--help` never need a reachable server. */
  client: () => ModelportClient;
  env: Readonly<Record<string, string | undefined>>;
}

export interface Command<O extends Record<string, OptionSpec> = Record<string, OptionSpec>> {
  /** Words that select it: ['models', 'register']. */
  words: string[];
  usage: string;
  summary: string;
  options?: O;
  /** Minimum and maximum positional arguments after the words. */
  args: [number, number];
  run(ctx: CommandContext<O>): Promise<number | undefined>;
}

/**
 * Declares a command so that `run` sees its options typed from `options` (no casts): `--alias` declared
 * `{ type: 'string', multiple: true }` arrives as `string[] | undefined`.
 */
export function defineCommand<const O extends Record<string, OptionSpec> = Record<never, OptionSpec>>(
  command: Command<O>,
): Command {
  return command as unknown as Command;
}

/** Thrown for wrong usage; main prints it with the command's usage and exits 2. */
export class UsageError extends Error {}
