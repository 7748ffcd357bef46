/**
 * Server log lines on stderr: `time level message key=value ...`. Fields whose names look secret are redacted, and
 * errors print their stack only at debug level, so a log never carries a credential by accident.
 */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, error?: unknown): void;
}

const SECRET_KEY = /secret|password|token|credential|authorization|key$/i;

export function createLogger(write: (line: string) => void = (l) => process.stderr.write(l), debug = false): Logger {
  const line = (level: string, message: string, fields: Record<string, unknown> = {}) => {
    const parts = Object.entries(fields).map(([k, v]) => `${k}=${SECRET_KEY.test(k) ? '[redacted]' : format(v)}`);
    write(`${new Date().toISOString()} ${level} ${message}${parts.length ? ` ${parts.join(' ')}` : ''}\n`);
  };
  return {
    info: (message, fields) => line('info', message, fields),
    warn: (message, fields) => line('warn', message, fields),
    error: (message, error) => {
      const e = error as { message?: string; stack?: string; code?: string } | undefined;
      line('error', message, e ? { error: debug ? (e.stack ?? e.message) : (e.message ?? String(error)) } : {});
    },
  };
}

function format(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return /[\s"]/.test(text ?? '') ? JSON.stringify(text) : (text ?? 'undefined');
}

/** A logger that keeps lines in memory (tests assert on it). */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return Object.assign(
    createLogger((l) => lines.push(l)),
    { lines },
  );
}
