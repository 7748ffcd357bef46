/** The shape of a CLI command: its words, usage, options (node:util parseArgs style) and a run function. */
import type { ModelportClient } from '../client/client.ts';
import type { Io, OutputFormat } from './output.ts';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  description: string;
}

export interface CommandContext {
  args: string[];
  options: Record<string, string | boolean | string[] | undefined>;
  io: Io;
  format: OutputFormat;
  /** Built lazily so that `server` and `--help` never need a reachable server. */
  client: () => ModelportClient;
  env: Readonly<Record<string, string | undefined>>;
}

export interface Command {
  /** Words that select it: ['models', 'register']. */
  words: string[];
  usage: string;
  summary: string;
  options?: Record<string, OptionSpec>;
  /** Minimum and maximum positional arguments after the words. */
  args: [number, number];
  run(ctx: CommandContext): Promise<number | undefined>;
}

/** Thrown for wrong usage; main prints it with the command's usage and exits 2. */
export class UsageError extends Error {}
