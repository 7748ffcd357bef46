/** The one structured logger (pino): every component logs through `Logger`, never to stderr directly. */
export {
  createLogger,
  type LogFields,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  type LogRecord,
  memoryLogger,
  redact,
  silentLogger,
} from './logger.ts';
export { requestId } from './request-id.ts';
