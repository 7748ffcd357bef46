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

/** One column of a listing: its header and how an item gives its cell. */
export type Column<T> = readonly [header: string, cell: (item: T) => unknown];

/** Items as a table, a column per `[header, cell]` pair. */
export function columns<T>(items: readonly T[], cols: readonly Column<T>[]): string {
  return table(
    cols.map(([header]) => header),
    items.map((item) => cols.map(([, cell]) => cell(item))),
  );
}

/**
 * A listing as the user asked for it: with `-o json` the items (or `options.json`, when the API's answer holds more
 * than the rows); otherwise a table, or `options.empty` (what to do next) when there is nothing to list.
 */
export function listing<T>(
  format: OutputFormat,
  items: readonly T[],
  cols: readonly Column<T>[],
  options: { empty?: string; json?: unknown } = {},
): string {
  if (format === 'json') return json(options.json ?? items);
  if (items.length === 0 && options.empty !== undefined) return options.empty;
  return columns(items, cols);
}

/** A command's answer: `value` as JSON with `-o json`, else the sentence for a person. */
export function answer(format: OutputFormat, value: unknown, text: string): string {
  return format === 'json' ? json(value) : text;
}
