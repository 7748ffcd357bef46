/** CLI output: aligned tables for people, JSON for scripts (`-o json`), and one-line errors on stderr. */

export type OutputFormat = 'table' | 'json';

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** True when stderr is a terminal (progress bars are drawn only then). */
  interactive: boolean;
}

export const processIo = (): Io => ({
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  interactive: Boolean(process.stderr.isTTY),
});

/**
 * Renders rows as a left-aligned table with a header; cells are stringified and never cut (a URL or an image name
 * cut short is useless; a narrow terminal wraps the line instead, as kubectl's tables do).
 */
export function table(headers: string[], rows: unknown[][]): string {
  const cells = rows.map((row) => row.map(cell));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(headers.map((h) => h.toUpperCase())), ...cells.map(line)].join('\n')}\n`;
}

/** `key: value` lines for one object. */
export function details(pairs: [string, unknown][]): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return `${pairs.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${cell(v)}`).join('\n')}\n`;
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.length === 0 ? '-' : value.map(cell).join(', ');
  if (typeof value === 'object') {
    const entries = Object.entries(value);
    return entries.length === 0 ? '-' : entries.map(([k, v]) => `${k}=${cell(v)}`).join(', ');
  }
  return String(value);
}

export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
