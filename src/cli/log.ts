/** The logger of a long-running command (`server`, `serve-model`, `gateway`): JSON lines on stderr, pretty on a terminal. */
import { LOG_LEVELS, type LogLevel } from '../core/index.ts';
import type { Logger } from '../logging/index.ts';
import { UsageError } from './command.ts';
import type { Io } from './output.ts';

/** `level` defaults to MODELPORT_LOG_LEVEL, then info. Loaded lazily: short commands never load pino. */
export async function commandLogger(
  io: Io,
  env: Readonly<Record<string, string | undefined>>,
  level?: LogLevel,
): Promise<Logger> {
  const chosen = (level ?? env['MODELPORT_LOG_LEVEL'] ?? 'info').toLowerCase() as LogLevel;
  if (!LOG_LEVELS.includes(chosen)) {
    throw new UsageError(`MODELPORT_LOG_LEVEL takes one of ${LOG_LEVELS.join(', ')}, not '${chosen}'`);
  }
  const { createLogger } = await import('../logging/index.ts');
  const stream = io.interactive
    ? (await import('pino-pretty')).default({ colorize: true, sync: true, destination: 2 })
    : { write: (line: string) => io.err(line) };
  return createLogger({ level: chosen, stream: stream as NodeJS.WritableStream });
}
