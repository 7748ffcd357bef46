/**
 * Profiles of tabular files with DuckDB: row count, schema, and per column nulls, min, max, mean, standard
 * deviation, quantiles, an approximate distinct count and a histogram (equal-width bins for numbers, the most
 * frequent values for text), and the drift reference src/stats needs (docs/metrics.md, "Drift references").
 * DuckDB reads one local file; it is loaded on first use (native code stays off the CLI's start-up path), never
 * installs or loads an extension, and may read only the file's own folder.
 */
import { createReadStream } from 'node:fs';
import { dirname } from 'node:path';
import type { ColumnProfile, DataProfile, DriftSummary, HistogramBin, TabularFormat } from './types.ts';

export interface ProfileOptions {
  /** Folder DuckDB may spill to when a file does not fit in `memoryLimit`. */
  tempDir: string;
  /** Default '1GB'. */
  memoryLimit?: string;
  /** Default 2. */
  threads?: number;
  /** Equal-width bins per numeric column (default 20). */
  bins?: number;
}

/** A profile that could not be made, with the reason a user can act on (a malformed CSV names its line). */
export class ProfileError extends Error {
  override name = 'ProfileError';
}

const QUANTILES = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99];
/** The drift reference's quantile sketch: 101 points at k / 100 (src/stats compares a current sample's ECDF to it). */
const SKETCH = Array.from({ length: 101 }, (_, k) => k / 100);
/** Categories a categorical drift reference keeps; the rest are counted together. */
const REFERENCE_CATEGORIES = 100;
const NUMERIC =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|REAL|DECIMAL.*)$/;

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;
const quoteString = (value: string) => `'${value.replaceAll("'", "''")}'`;

type Row = Record<string, unknown>;

interface Connection {
  run(sql: string): Promise<unknown>;
  runAndReadAll(sql: string): Promise<{ getRowObjectsJson(): Row[] }>;
  closeSync(): void;
}

/** Profiles `file` (a CSV, JSON-lines or Parquet file on local disk). Throws `ProfileError` for bad data. */
export async function profileFile(file: string, format: TabularFormat, options: ProfileOptions): Promise<DataProfile> {
  const started = performance.now();
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:', {
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
    threads: String(options.threads ?? 2),
    memory_limit: options.memoryLimit ?? '1GB',
    temp_directory: options.tempDir,
  });
  const connection = (await instance.connect()) as unknown as Connection;
  try {
    // Only this file's folder and the spill folder are reachable, and the settings cannot be changed back.
    await connection.run(
      `SET allowed_directories=[${quoteString(`${dirname(file)}/`)}, ${quoteString(`${options.tempDir}/`)}]`,
    );
    await connection.run('SET enable_external_access=false');
    await connection.run('SET lock_configuration=true');
    await load(connection, file, format);
    const rows = Number(
      (await connection.runAndReadAll('SELECT count(*) AS n FROM t')).getRowObjectsJson()[0]?.['n'] ?? 0,
    );
    const columns = await describeColumns(connection, options.bins ?? 20, rows);
    return { format, rows, columns, elapsedMs: Math.round(performance.now() - started) };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

async function load(connection: Connection, file: string, format: TabularFormat): Promise<void> {
  const path = quoteString(file);
  if (format === 'parquet') {
    await wrap(connection.run(`CREATE TABLE t AS SELECT * FROM read_parquet(${path})`), 'Parquet');
    return;
  }
  if (format === 'jsonl') {
    await wrap(
      connection.run(`CREATE TABLE t AS SELECT * FROM read_json(${path}, format='newline_delimited')`),
      'JSON lines',
    );
    return;
  }
  // RFC 4180 dialect, delimiter from the extension; DuckDB infers the column types. Strict, so a row with the
  // wrong number of fields is an error (with its line) rather than silently padded or dropped.
  const delim = format === 'tsv' ? '\\t' : ',';
  const header = await firstLineFields(file, format === 'tsv' ? '\t' : ',');
  const options = `header=true, delim='${delim}', quote='"', escape='"', strict_mode=true`;
  try {
    const described = (
      await connection.runAndReadAll(`DESCRIBE SELECT * FROM read_csv(${path}, ${options})`)
    ).getRowObjectsJson();
    const names = described.map((r) => String(r['column_name']));
    if (names.length !== header.length) throw new ProfileError('the columns DuckDB detected do not match the header');
    const columns = described.map(
      (r) => `${quoteString(String(r['column_name']))}: ${quoteString(String(r['column_type']))}`,
    );
    await connection.run(
      `CREATE TABLE t AS SELECT * FROM read_csv(${path}, ${options}, auto_detect=false, columns={${columns.join(', ')}})`,
    );
  } catch (error) {
    const message = (error as Error).message;
    const line = /CSV Error on Line: (\d+)/.exec(message)?.[1];
    if (line !== undefined) throw new ProfileError(`malformed CSV at line ${line}: ${csvReason(message)}`);
    // The sniffer gave up or guessed wrong: find the first row whose field count differs from the header's.
    const bad = await firstRaggedLine(file, format === 'tsv' ? '\t' : ',', header.length);
    if (bad !== undefined) {
      throw new ProfileError(
        `malformed CSV at line ${bad.line}: expected ${header.length} fields as in the header, found ${bad.fields}`,
      );
    }
    throw new ProfileError(`the CSV cannot be read: ${message.split('\n')[0]}`);
  }
}

function csvReason(message: string): string {
  const lines = message.split('\n').map((l) => l.trim());
  const reason = lines.find((l) =>
    /^(Expected Number|Error when converting|Could not convert|Value with unterminated|Maximum line size)/.test(l),
  );
  return (
    reason ?? lines.find((l) => l !== '' && !l.startsWith('CSV Error') && !l.startsWith('Original Line')) ?? lines[0]!
  );
}

async function wrap<T>(promise: Promise<T>, what: string): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    throw new ProfileError(`the ${what} file cannot be read: ${(error as Error).message.split('\n')[0]}`);
  }
}

async function describeColumns(connection: Connection, bins: number, rows: number): Promise<ColumnProfile[]> {
  const schema = (await connection.runAndReadAll('DESCRIBE t')).getRowObjectsJson();
  const columns = schema.map((r) => ({ name: String(r['column_name']), type: String(r['column_type']) }));
  if (columns.length === 0) return [];
  // One scan for every column's statistics.
  const parts: string[] = [];
  columns.forEach((column, i) => {
    const c = quoteIdent(column.name);
    const numeric = NUMERIC.test(column.type);
    parts.push(`count(*) - count(${c}) AS n${i}`, `approx_count_distinct(${c}) AS d${i}`);
    if (numeric) {
      parts.push(
        `min(${c})::DOUBLE AS lo${i}`,
        `max(${c})::DOUBLE AS hi${i}`,
        `avg(${c})::DOUBLE AS mean${i}`,
        `stddev_samp(${c})::DOUBLE AS sd${i}`,
        // From a reservoir sample of 8192 values: a tenth of the cost of a t-digest over every row, and quantiles
        // of a profile are approximate anyway. The same sample gives the drift reference's 101-point sketch.
        `reservoir_quantile(${c}::DOUBLE, [${[...QUANTILES, ...SKETCH].join(', ')}], 8192) AS q${i}`,
      );
    } else {
      parts.push(`min(${c})::VARCHAR AS lo${i}`, `max(${c})::VARCHAR AS hi${i}`);
    }
  });
  const stats = (await connection.runAndReadAll(`SELECT ${parts.join(', ')} FROM t`)).getRowObjectsJson()[0] ?? {};
  const profiles: (ColumnProfile & { sketch?: unknown[] | null })[] = columns.map((column, i) => {
    const numeric = NUMERIC.test(column.type);
    const q = stats[`q${i}`] as unknown[] | null | undefined;
    return {
      name: column.name,
      type: column.type,
      nulls: Number(stats[`n${i}`] ?? 0),
      distinct: Number(stats[`d${i}`] ?? 0),
      min: numeric ? num(stats[`lo${i}`]) : str(stats[`lo${i}`]),
      max: numeric ? num(stats[`hi${i}`]) : str(stats[`hi${i}`]),
      mean: numeric ? num(stats[`mean${i}`]) : null,
      stddev: numeric ? num(stats[`sd${i}`]) : null,
      quantiles:
        numeric && Array.isArray(q)
          ? Object.fromEntries(
              QUANTILES.map((p, k) => [`p${String(Math.round(p * 100)).padStart(2, '0')}`, Number(q[k])]),
            )
          : null,
      histogram: null,
      top: null,
      drift: null,
      sketch: numeric && Array.isArray(q) ? q.slice(QUANTILES.length) : undefined,
    };
  });
  // Bins per numeric column: a GROUP BY per column is about twice as fast as one histogram() over all of them.
  for (const p of profiles) {
    if (typeof p.min !== 'number' || typeof p.max !== 'number') continue;
    const width = p.max > p.min ? (p.max - p.min) / bins : 1;
    const c = quoteIdent(p.name);
    const rows = (
      await connection.runAndReadAll(
        `SELECT least(floor((${c}::DOUBLE - ${p.min}) / ${width}), ${bins - 1})::INTEGER AS b, count(*) AS n FROM t WHERE ${c} IS NOT NULL GROUP BY b`,
      )
    ).getRowObjectsJson();
    p.histogram = toBins(
      rows.map((r) => ({ key: r['b'], value: r['n'] })),
      p.min,
      p.max,
      bins,
    );
  }
  await numericReferences(connection, profiles);
  for (const p of profiles) {
    if (NUMERIC.test(p.type)) continue;
    const top = (
      await connection.runAndReadAll(
        `SELECT ${quoteIdent(p.name)}::VARCHAR AS v, count(*) AS n FROM t WHERE ${quoteIdent(p.name)} IS NOT NULL GROUP BY v ORDER BY n DESC, v LIMIT ${REFERENCE_CATEGORIES}`,
      )
    ).getRowObjectsJson();
    const all = top.map((r) => ({ value: String(r['v']), count: Number(r['n']) }));
    p.top = all.slice(0, 10);
    const listed = all.reduce((sum, c) => sum + c.count, 0);
    p.drift = {
      kind: 'categorical',
      n: rows - p.nulls,
      nulls: p.nulls,
      counts: Object.fromEntries(all.map((c) => [c.value, c.count])),
      other: rows - p.nulls - listed,
    };
  }
  return profiles.map(({ sketch: _, ...p }) => p);
}

/**
 * Numeric columns' drift references: the sketch with its ends set to the exact minimum and maximum (made monotone),
 * PSI edges at its deciles (distinct), and exact counts per bin from DuckDB's binned histogram(x, boundaries), whose
 * bins are right-closed like the reference's, for every column in one scan.
 */
async function numericReferences(
  connection: Connection,
  profiles: (ColumnProfile & { sketch?: unknown[] | null })[],
): Promise<void> {
  const plans: { p: ColumnProfile; i: number; edges: number[]; quantiles: number[] }[] = [];
  profiles.forEach((p, i) => {
    if (!Array.isArray(p.sketch) || typeof p.min !== 'number' || typeof p.max !== 'number') return;
    const quantiles = p.sketch.map(Number);
    quantiles[0] = p.min;
    quantiles[quantiles.length - 1] = p.max;
    for (let k = 1; k < quantiles.length; k++) quantiles[k] = Math.max(quantiles[k]!, quantiles[k - 1]!);
    const edges: number[] = [];
    for (let k = 1; k < 10; k++) {
      const e = quantiles[k * 10]!;
      if (edges.length === 0 || e > edges[edges.length - 1]!) edges.push(e);
    }
    plans.push({ p, i, edges, quantiles });
  });
  if (plans.length === 0) return;
  const parts = plans.map(({ p, i, edges }) => {
    const c = `${quoteIdent(p.name)}::DOUBLE`;
    return edges.length === 0
      ? `count(${c}) AS r${i}`
      : `histogram(${c}, [${edges.map((e) => `${e}::DOUBLE`).join(', ')}]) AS r${i}`;
  });
  const row = (await connection.runAndReadAll(`SELECT ${parts.join(', ')} FROM t`)).getRowObjectsJson()[0] ?? {};
  for (const { p, i, edges, quantiles } of plans) {
    const counts = new Array<number>(edges.length + 1).fill(0);
    const value = row[`r${i}`];
    if (edges.length === 0) counts[0] = Number(value ?? 0);
    else {
      const entries = Array.isArray(value)
        ? (value as { key: unknown; value: unknown }[]).map((e) => [e.key, e.value] as const)
        : Object.entries((value ?? {}) as Record<string, unknown>);
      for (const [key, count] of entries) {
        const k = edges.indexOf(Number(key));
        counts[k < 0 ? edges.length : k]! += Number(count);
      }
    }
    p.drift = {
      kind: 'numeric',
      n: counts.reduce((a, b) => a + b, 0),
      nulls: p.nulls,
      edges,
      counts,
      quantiles,
    } satisfies DriftSummary;
  }
}

/** DuckDB's MAP comes back as an array of {key, value} (or an object); bins with no rows are filled with 0. */
function toBins(counts: unknown, min: number, max: number, bins: number): HistogramBin[] {
  const byBin = new Map<number, number>();
  const entries = Array.isArray(counts)
    ? (counts as { key: unknown; value: unknown }[]).map((e) => [e.key, e.value] as const)
    : Object.entries(counts as Record<string, unknown>);
  for (const [key, value] of entries) byBin.set(Number(key), Number(value));
  const n = max > min ? bins : 1;
  const width = max > min ? (max - min) / bins : 0;
  return Array.from({ length: n }, (_, k) => ({
    lo: min + k * width,
    hi: k === n - 1 ? max : min + (k + 1) * width,
    count: byBin.get(k) ?? 0,
  }));
}

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
const str = (v: unknown) => (v === null || v === undefined ? null : String(v));

/** The header's fields (the CSV's first record). */
async function firstLineFields(file: string, delim: string): Promise<string[]> {
  for await (const record of csvRecords(file, delim)) return record.fields;
  throw new ProfileError('the CSV is empty: it has no header line');
}

async function firstRaggedLine(
  file: string,
  delim: string,
  expected: number,
): Promise<{ line: number; fields: number } | undefined> {
  for await (const record of csvRecords(file, delim)) {
    if (record.fields.length !== expected && !(record.fields.length === 1 && record.fields[0] === '')) {
      return { line: record.line, fields: record.fields.length };
    }
  }
  return undefined;
}

/** RFC 4180 records with the line each starts on; used only on the error path, so it favours clarity. */
async function* csvRecords(file: string, delim: string): AsyncGenerator<{ line: number; fields: string[] }> {
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let afterQuote = false;
  let line = 1;
  let start = 1;
  for await (const chunk of createReadStream(file, { encoding: 'utf8' })) {
    for (const c of chunk as string) {
      if (quoted) {
        if (c === '"') {
          quoted = false;
          afterQuote = true;
        } else {
          if (c === '\n') line++;
          field += c;
        }
        continue;
      }
      if (c === '"') {
        if (afterQuote) field += '"';
        quoted = true;
        afterQuote = false;
      } else if (c === delim) {
        fields.push(field);
        field = '';
        afterQuote = false;
      } else if (c === '\n') {
        fields.push(field.endsWith('\r') ? field.slice(0, -1) : field);
        yield { line: start, fields };
        fields = [];
        field = '';
        afterQuote = false;
        line++;
        start = line;
      } else {
        field += c;
        afterQuote = false;
      }
    }
  }
  if (quoted) throw new ProfileError(`malformed CSV at line ${start}: a quoted field is never closed`);
  if (field !== '' || fields.length > 0) {
    fields.push(field);
    yield { line: start, fields };
  }
}
