/**
 * Reading a scan's dataset with DuckDB (@duckdb/node-api, loaded on first use): the header, the groups of a
 * protected attribute, the values of the label, and one streaming pass that hands over the columns a scan needs in
 * chunks of rows, so memory stays flat whatever the file's size. DuckDB reads one local file, may reach only that
 * file's folder and its spill folder, installs and loads no extension, and its settings are locked.
 */

import { createReadStream } from 'node:fs';
import { endianness } from 'node:os';
import { dirname } from 'node:path';
import { ModelportError } from '../core/index.ts';

export interface DuckOptions {
  /** Folder DuckDB may spill to (the scan's own folder). */
  tempDir: string;
  threads: number;
  memoryBytes: number;
}

interface Vector {
  getItem(i: number): unknown;
  /** A FLOAT vector's values and validity (DuckDBFloatVector keeps them; read directly, one copy per chunk). */
  items?: unknown;
  validity?: { itemValid(i: number): boolean };
}
interface Chunk {
  rowCount: number;
  getColumnVector(i: number): Vector;
}
interface Result {
  fetchChunk(): Promise<Chunk | null>;
}
interface Connection {
  run(sql: string): Promise<unknown>;
  runAndReadAll(sql: string): Promise<{ getRowObjectsJson(): Record<string, unknown>[] }>;
  stream(sql: string): Promise<Result>;
  closeSync(): void;
}

export const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;
export const quoteString = (value: string) => `'${value.replaceAll("'", "''")}'`;

/** The CSV's header fields (RFC 4180 quoting), read from the file's first line. */
export async function readHeader(file: string): Promise<string[]> {
  let text = '';
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 64 * 1024 })) {
    text += chunk;
    if (text.includes('\n') || text.length > 1024 * 1024) break;
  }
  const line = text.split(/\r?\n/)[0] ?? '';
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      fields.push(field.trim());
      field = '';
    } else field += c;
  }
  fields.push(field.trim());
  return fields.filter((f, i) => f !== '' || i < fields.length - 1);
}

/** A DuckDB connection limited to `file`'s folder; `use` runs with it and it is closed after. */
export async function withDuck<T>(file: string, options: DuckOptions, use: (db: Duck) => Promise<T>): Promise<T> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:', {
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
    threads: String(options.threads),
    memory_limit: `${Math.max(64, Math.floor(options.memoryBytes / (1024 * 1024)))}MiB`,
    temp_directory: options.tempDir,
  });
  const connection = (await instance.connect()) as unknown as Connection;
  try {
    await connection.run(
      `SET allowed_directories=[${quoteString(`${dirname(file)}/`)}, ${quoteString(`${options.tempDir}/`)}]`,
    );
    await connection.run('SET enable_external_access=false');
    await connection.run('SET lock_configuration=true');
    return await use(new Duck(connection, file));
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

const csvError = (error: unknown): ModelportError => {
  const message = (error as Error).message ?? String(error);
  const line = /CSV Error on Line: (\d+)/.exec(message)?.[1];
  return new ModelportError(
    'invalid_request',
    `dataset: the CSV cannot be read${line ? ` (line ${line})` : ''}: ${message.split('\n')[0]!.slice(0, 300)}`,
    { field: 'dataset' },
  );
};

/** One numeric cut of a protected attribute: the bucket a value falls in, as DuckDB computes it. */
export function bucketExpression(column: string, buckets: readonly number[]): string {
  const c = `TRY_CAST(${quoteIdent(column)} AS DOUBLE)`;
  const arms = buckets.map((cut, i) => `WHEN ${c} < ${cut} THEN ${quoteString(bucketName(buckets, i))}`);
  return `CASE WHEN ${c} IS NULL THEN NULL ${arms.join(' ')} ELSE ${quoteString(bucketName(buckets, buckets.length))} END`;
}

/** `<25`, `25-45`, `>=65`: the name of bucket `i` of the cut points. */
export function bucketName(buckets: readonly number[], i: number): string {
  if (i === 0) return `<${buckets[0]}`;
  if (i === buckets.length) return `>=${buckets[buckets.length - 1]}`;
  return `${buckets[i - 1]}-${buckets[i]}`;
}

export interface Column {
  /** The header name. */
  name: string;
  /** `number`: FLOAT (null for an empty or non-numeric cell); `text`: VARCHAR (a label or a group). */
  as: 'number' | 'text';
  /** A SQL expression instead of the column itself (a bucketed attribute). */
  expression?: string;
}

export class Duck {
  readonly #c: Connection;
  readonly #from: string;

  constructor(connection: Connection, file: string) {
    this.#c = connection;
    this.#from = `read_csv(${quoteString(file)}, header=true, delim=',', quote='"', escape='"', strict_mode=true)`;
  }

  /** Rows of the file, estimated from its size and the first 1,000 lines (for progress; no full pass). */
  async estimateRows(file: string): Promise<number> {
    const { open, stat } = await import('node:fs/promises');
    const size = (await stat(file)).size;
    const handle = await open(file);
    try {
      const buffer = Buffer.alloc(Math.min(size, 256 * 1024));
      await handle.read(buffer, 0, buffer.length, 0);
      const lines = buffer.toString('utf8').split('\n');
      const sample = lines.slice(1, Math.min(lines.length - 1, 1001));
      if (sample.length === 0) return 0;
      const bytes = sample.reduce((total, l) => total + Buffer.byteLength(l) + 1, 0) / sample.length;
      return Math.max(1, Math.round((size - Buffer.byteLength(lines[0]!) - 1) / bytes));
    } finally {
      await handle.close();
    }
  }

  async rows(): Promise<number> {
    try {
      const [row] = (await this.#c.runAndReadAll(`SELECT count(*) AS n FROM ${this.#from}`)).getRowObjectsJson();
      return Number(row?.['n'] ?? 0);
    } catch (error) {
      throw csvError(error);
    }
  }

  /** How many rows each value (or bucket) of an expression has, most frequent first. */
  async counts(expression: string, limit = 1000): Promise<{ value: string | null; count: number }[]> {
    try {
      const rows = (
        await this.#c.runAndReadAll(
          `SELECT CAST(${expression} AS VARCHAR) AS v, count(*) AS n FROM ${this.#from} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ${limit}`,
        )
      ).getRowObjectsJson();
      return rows.map((r) => ({ value: r['v'] === null ? null : String(r['v']), count: Number(r['n']) }));
    } catch (error) {
      throw csvError(error);
    }
  }

  /**
   * One pass over the file: calls `onChunk` with the columns of each chunk of rows (numbers as Float32Array with
   * NaN for nulls, text as string arrays), awaiting it before the next chunk is read.
   */
  async stream(
    columns: readonly Column[],
    onChunk: (rows: number, values: (Float32Array | (string | null)[])[]) => Promise<void>,
    options: { limit?: number; signal?: AbortSignal } = {},
  ): Promise<number> {
    const select = columns.map((c) => {
      const source = c.expression ?? quoteIdent(c.name);
      return c.as === 'number' ? `TRY_CAST(${source} AS FLOAT)` : `CAST(${source} AS VARCHAR)`;
    });
    const limit = options.limit === undefined ? '' : ` LIMIT ${options.limit}`;
    let result: Result;
    try {
      result = await this.#c.stream(`SELECT ${select.join(', ')} FROM ${this.#from}${limit}`);
    } catch (error) {
      throw csvError(error);
    }
    let total = 0;
    for (;;) {
      options.signal?.throwIfAborted();
      let chunk: Chunk | null;
      try {
        chunk = await result.fetchChunk();
      } catch (error) {
        throw csvError(error);
      }
      if (!chunk || chunk.rowCount === 0) break;
      const n = chunk.rowCount;
      const values = columns.map((c, j) => {
        const vector = chunk!.getColumnVector(j);
        if (c.as === 'number') {
          const out = new Float32Array(n);
          if (vector.items instanceof Float32Array && vector.validity) {
            out.set(vector.items.subarray(0, n));
            markNulls(out, n, vector.validity);
            return out;
          }
          for (let i = 0; i < n; i++) {
            const v = vector.getItem(i);
            out[i] = v === null ? Number.NaN : (v as number);
          }
          return out;
        }
        const out: (string | null)[] = new Array(n);
        for (let i = 0; i < n; i++) {
          const v = vector.getItem(i);
          out[i] = v === null ? null : String(v);
        }
        return out;
      });
      total += n;
      await onChunk(n, values);
    }
    return total;
  }
}

/**
 * Sets NaN where DuckDB's validity mask says null. The mask's words are read 32 bits at a time: its `itemValid`
 * does BigInt arithmetic per item, which cost a scan of 1M rows x 30 features about 0.4 s. A mask that is absent
 * means every item is valid; a mask of another shape falls back to `itemValid`.
 */
function markNulls(out: Float32Array, n: number, validity: { itemValid(i: number): boolean }): void {
  const mask = validity as unknown as { data?: unknown; offset?: unknown };
  if (mask.data === null) return;
  if (!(mask.data instanceof BigUint64Array) || typeof mask.offset !== 'number' || endianness() !== 'LE') {
    for (let i = 0; i < n; i++) if (!validity.itemValid(i)) out[i] = Number.NaN;
    return;
  }
  // Little-endian: bit b of the mask is bit (b & 31) of 32-bit word b >>> 5.
  const words = new Uint32Array(mask.data.buffer, mask.data.byteOffset, mask.data.length * 2);
  const offset = mask.offset;
  for (let i = 0; i < n; i++) {
    const bit = offset + i;
    if ((words[bit >>> 5]! & (1 << (bit & 31))) === 0) out[i] = Number.NaN;
  }
}
