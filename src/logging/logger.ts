/**
 * The one logger: pino underneath, JSON lines by default (pretty on a terminal, chosen by the entry point), one
 * interface for every component. A component gets `log.child({ component: 'deployments' })`; a request's errors
 * are logged by `log.child({ requestId })`.
 *
 * - Levels: debug < info < warn < error; `silent` logs nothing. The server's level is `--log-level` /
 *   `MODELPORT_LOG_LEVEL` (default info).
 * - Errors go in the `err` field (`log.error('inference failed', { err })`): pino writes its type, message and
 *   stack, so an `internal` error's stack is in the log at error level.
 * - Fields whose names look secret (password, token, secret, authorization, credential, ...key) are replaced by
 *   `[redacted]` at any depth, so a log never carries a credential by accident.
 */
import { pino, stdSerializers } from 'pino';
import type { LogLevel } from '../core/index.ts';

export type LogFields = Record<string, unknown>;

export type { LogLevel };

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  /** Put the error itself in `fields.err` so its stack is logged. */
  error(message: string, fields?: LogFields): void;
  /** A logger whose lines all carry `bindings` (a component name, a request id). */
  child(bindings: LogFields): Logger;
}

export interface LoggerOptions {
  /** Default 'info'. */
  level?: LogLevel;
  /** Where lines go; default stderr (synchronously, so nothing is lost on exit). */
  stream?: NodeJS.WritableStream;
}

const SECRET_KEY = /secret|password|passwd|token|credential|authorization|cookie|key$/i;
const REDACTED = '[redacted]';
const MAX_DEPTH = 6;

/** A copy of `value` with secret-bearing keys replaced, at any depth (errors are serialised first). */
export function redact(value: unknown, depth = 0): unknown {
  if (value instanceof Error) return redact(stdSerializers.err(value), depth);
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (ArrayBuffer.isView(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) out[key] = SECRET_KEY.test(key) ? REDACTED : redact(v, depth + 1);
  return out;
}

function wrap(p: pino.Logger): Logger {
  return {
    debug: (message, fields) => p.debug(fields ?? {}, message),
    info: (message, fields) => p.info(fields ?? {}, message),
    warn: (message, fields) => p.warn(fields ?? {}, message),
    error: (message, fields) => p.error(fields ?? {}, message),
    child: (bindings) => wrap(p.child(redact(bindings) as LogFields)),
  };
}

/** Example: `const log = createLogger({ level: config.logLevel }); log.child({ component: 'jobs' }).info('job queued', { job })`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const stream = options.stream ?? pino.destination({ fd: 2, sync: true });
  return wrap(
    pino(
      {
        level: options.level ?? 'info',
        base: undefined,
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: {
          level: (label) => ({ level: label }),
          log: (object) => redact(object) as LogFields,
        },
      },
      stream,
    ),
  );
}

/** A logger that drops everything (benchmarks, tools that print their own output). */
export function silentLogger(): Logger {
  return createLogger({ level: 'silent' });
}

export interface LogRecord {
  level: LogLevel;
  msg: string;
  [field: string]: unknown;
}

/** A logger that keeps its lines in memory, parsed (tests assert on them). `text` is the raw output. */
export function memoryLogger(level: LogLevel = 'debug'): Logger & { records: LogRecord[]; text(): string } {
  const raw: string[] = [];
  const records: LogRecord[] = [];
  const log = createLogger({
    level,
    stream: {
      write: (line: string) => {
        raw.push(line);
        records.push(JSON.parse(line) as LogRecord);
        return true;
      },
    } as unknown as NodeJS.WritableStream,
  });
  return Object.assign(log, { records, text: () => raw.join('') });
}
