/**
 * Drift between two files larger than memory (CSV, TSV, JSON lines or Parquet), computed by DuckDB in SQL: per
 * numeric column the reference's decile edges (quantile_cont, numpy's linear interpolation), exact bin counts of
 * both files, and the exact KS statistic (a window over the pooled distinct values); per text column the counts of
 * every category. PSI, the p-values and the verdicts are then the same functions as in memory. DuckDB is loaded on
 * first use, reads only the two files' folders, installs and loads no extension, and spills to `tempDir`.
 */
import { dirname } from 'node:path';
import {
  type CategoricalDrift,
  categoricalDrift,
  type DatasetDrift,
  DRIFT_DEFAULTS,
  type DriftThresholds,
  datasetDrift,
  isDrifted,
  type NumericDrift,
  psi,
} from './drift.ts';
import { ksPValue } from './ks.ts';

export interface FileDriftOptions extends DriftThresholds {
  /** Columns to compare (default: every column of the reference). */
  columns?: string[];
  /** Folder DuckDB may spill to. */
  tempDir: string;
  bins?: number;
  epsilon?: number;
  /** Dataset verdict threshold (share of drifted columns). */
  share?: number;
  threads?: number;
  /** Default '1GB'. */
  memoryLimit?: string;
}

export interface FileDrift {
  columns: { name: string; drift: NumericDrift | CategoricalDrift }[];
  dataset: DatasetDrift;
  elapsedMs: number;
}

type Row = Record<string, unknown>;
interface Connection {
  run(sql: string): Promise<unknown>;
  runAndReadAll(sql: string): Promise<{ getRowObjectsJson(): Row[] }>;
  closeSync(): void;
}

const NUMERIC =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|REAL|DECIMAL.*)$/;
const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;
const quoteString = (value: string) => `'${value.replaceAll("'", "''")}'`;

function reader(file: string): string {
  const path = quoteString(file);
  if (/\.parquet$/i.test(file)) return `read_parquet(${path})`;
  if (/\.(jsonl|ndjson)$/i.test(file)) return `read_json(${path}, format='newline_delimited')`;
  if (/\.tsv$/i.test(file)) return `read_csv(${path}, header=true, delim='\\t')`;
  return `read_csv(${path}, header=true)`;
}

export async function fileDrift(
  referenceFile: string,
  currentFile: string,
  options: FileDriftOptions,
): Promise<FileDrift> {
  const started = performance.now();
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:', {
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
    threads: String(options.threads ?? 2),
    memory_limit: options.memoryLimit ?? '1GB',
    temp_directory: options.tempDir,
  });
  const db = (await instance.connect()) as unknown as Connection;
  const all = async (sql: string) => (await db.runAndReadAll(sql)).getRowObjectsJson();
  try {
    const folders = [...new Set([dirname(referenceFile), dirname(currentFile), options.tempDir])];
    await db.run(`SET allowed_directories=[${folders.map((f) => quoteString(`${f}/`)).join(', ')}]`);
    await db.run('SET enable_external_access=false');
    await db.run('SET lock_configuration=true');
    await db.run(`CREATE VIEW ref AS SELECT * FROM ${reader(referenceFile)}`);
    await db.run(`CREATE VIEW cur AS SELECT * FROM ${reader(currentFile)}`);
    const refTypes = new Map(
      (await all('DESCRIBE ref')).map((r) => [String(r['column_name']), String(r['column_type'])]),
    );
    const curTypes = new Map(
      (await all('DESCRIBE cur')).map((r) => [String(r['column_name']), String(r['column_type'])]),
    );
    const names = options.columns ?? [...refTypes.keys()];
    for (const name of names) {
      if (!refTypes.has(name)) throw new RangeError(`columns: the reference file has no column '${name}'`);
      if (!curTypes.has(name)) throw new RangeError(`columns: the current file has no column '${name}'`);
    }
    const bins = options.bins ?? DRIFT_DEFAULTS.bins;
    const columns: FileDrift['columns'] = [];
    for (const name of names) {
      const c = quoteIdent(name);
      const numeric = NUMERIC.test(refTypes.get(name)!) && NUMERIC.test(curTypes.get(name)!);
      if (numeric) columns.push({ name, drift: await numericFileDrift(all, c, bins, options) });
      else {
        const count = async (view: string) => {
          const rows = await all(`SELECT ${c}::VARCHAR AS v, count(*) AS n FROM ${view} GROUP BY v`);
          const counts: Record<string, number> = Object.create(null);
          let nulls = 0;
          for (const r of rows) {
            if (r['v'] === null) nulls = Number(r['n']);
            else counts[String(r['v'])] = Number(r['n']);
          }
          return { counts, nulls };
        };
        const ref = await count('ref');
        const cur = await count('cur');
        const n = Object.values(ref.counts).reduce((a, b) => a + b, 0);
        columns.push({
          name,
          drift: categoricalDrift(
            { kind: 'categorical', n, nulls: ref.nulls, counts: ref.counts, other: 0 },
            cur,
            options,
          ),
        });
      }
    }
    return {
      columns,
      dataset: datasetDrift(
        columns.map((c) => ({ name: c.name, drifted: c.drift.drifted })),
        { share: options.share },
      ),
      elapsedMs: Math.round(performance.now() - started),
    };
  } finally {
    db.closeSync();
    instance.closeSync();
  }
}

async function numericFileDrift(
  all: (sql: string) => Promise<Row[]>,
  c: string,
  bins: number,
  options: FileDriftOptions,
): Promise<NumericDrift> {
  const probabilities = Array.from({ length: bins - 1 }, (_, k) => (k + 1) / bins);
  const [q] = await all(
    `SELECT quantile_cont(${c}::DOUBLE, [${probabilities.join(', ')}]) AS q, count(${c}) AS n, count(*) AS total FROM ref`,
  );
  const edges: number[] = [];
  for (const e of ((q?.['q'] as unknown[] | null) ?? []).map(Number)) {
    if (edges.length === 0 || e > edges[edges.length - 1]!) edges.push(e);
  }
  const counts = async (view: string) => {
    const filters = edges.map((e, k) => `, count(*) FILTER (WHERE ${c}::DOUBLE <= ${e}) AS c${k}`).join('');
    const [r] = await all(`SELECT count(${c}) AS n, count(*) AS total${filters} FROM ${view}`);
    const n = Number(r?.['n'] ?? 0);
    const cumulative = edges.map((_, k) => Number(r?.[`c${k}`] ?? 0));
    return {
      n,
      total: Number(r?.['total'] ?? 0),
      counts: [...cumulative, n].map((v, k) => v - (k === 0 ? 0 : cumulative[k - 1]!)),
    };
  };
  const ref = await counts('ref');
  const cur = await counts('cur');
  if (ref.n === 0 || cur.n === 0) throw new RangeError(`column ${c} has no values in one of the files`);
  // The exact KS statistic: cumulative counts of both files over the pooled distinct values.
  const [ks] = await all(`
    WITH u AS (SELECT ${c}::DOUBLE AS v, 1 AS a FROM ref WHERE ${c} IS NOT NULL
               UNION ALL SELECT ${c}::DOUBLE AS v, 0 AS a FROM cur WHERE ${c} IS NOT NULL),
         g AS (SELECT v, sum(a) AS a, count(*) - sum(a) AS b FROM u GROUP BY v),
         w AS (SELECT sum(a) OVER (ORDER BY v) AS ca, sum(b) OVER (ORDER BY v) AS cb FROM g)
    SELECT max(abs(ca::DOUBLE / ${ref.n} - cb::DOUBLE / ${cur.n})) AS d FROM w`);
  const test = ksPValue(Number(ks?.['d'] ?? 0), ref.n, cur.n);
  const value = psi(ref.counts, cur.counts, options.epsilon);
  return {
    kind: 'numeric',
    psi: value,
    ks: test,
    bins: ref.counts.map((count, k) => ({
      lo: k === 0 ? -Infinity : edges[k - 1]!,
      hi: k === edges.length ? Infinity : edges[k]!,
      reference: count,
      current: cur.counts[k]!,
    })),
    nullShare: {
      reference: ref.total ? (ref.total - ref.n) / ref.total : 0,
      current: cur.total ? (cur.total - cur.n) / cur.total : 0,
    },
    drifted: isDrifted(value, test.pValue, test.statistic, options),
  };
}
