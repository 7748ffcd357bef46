/**
 * The built-in payload sink: records are appended to an in-memory DuckDB table and written out, every `rotateMs`
 * (or `rotateRows`), as one Parquet file per deployment and hour into the artifact store, each named by a
 * `payload_files` row (project, deployment, hour, sha256, rows, first and last time). Queries read the files of
 * one deployment (pruned by time) and the rows not written out yet, with DuckDB; filters come from
 * `compileWhere`, so a query never names a file or a column the store did not choose.
 *
 * DuckDB is loaded on first use, installs and loads no extension, may read only the artifact folder (or its
 * cache) and its own work folder, and its configuration is locked. Every DuckDB call goes through one queue, so
 * appends, rotations and queries never interleave (a query never sees a record twice, in a file and pending).
 * What is pending when the process dies is lost (at most `rotateMs` of records); `flush` and `close` write it out.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { ModelportError } from '../core/index.ts';
import type { Logger } from '../logging/index.ts';
import type { ArtifactStore, Database } from '../store/index.ts';
import { type CompiledWhere, compileWhere } from './payload-where.ts';
import type { LoggedTensor, PayloadRecord, PayloadSink, SinkWriteResult } from './sink.ts';

export interface StoreSinkOptions {
  db: Kysely<Database>;
  artifacts: ArtifactStore;
  /** Temporary Parquet files and DuckDB's spill files. */
  workDir: string;
  /** Folders holding the artifact store's local files (its root, or its cache for S3): DuckDB may read them. */
  readable: readonly string[];
  /** Claims blobs before they become visible, so a garbage collection sweep never takes them (BlobGuard.protect). */
  claim?: (sha256s: readonly string[]) => Promise<void>;
  /** Write pending records out at least this often (default 10 s). */
  rotateMs?: number;
  /** ... or as soon as this many are pending (default 200,000). */
  rotateRows?: number;
  log?: Logger;
  now?: () => number;
}

export interface PayloadQuery {
  project: string;
  deployment: string;
  /** Only records at or after this time (ms since the epoch). */
  since?: number;
  until?: number;
  /** A filter in the `payloads list --where` language (see payload-where.ts). */
  where?: string;
  limit?: number;
  offset?: number;
}

export interface RetentionPolicy {
  maxAgeMs?: number;
  maxBytes?: number;
}

/** What feedback needs of a logged request. */
export interface LoggedPrediction {
  requestId: string;
  prediction: string | null;
  arm: string;
  revision: number;
  timeMs: number;
}

interface Connection {
  run(sql: string, values?: unknown[]): Promise<unknown>;
  runAndReadAll(sql: string, values?: unknown[]): Promise<{ getRowObjectsJson(): Record<string, unknown>[] }>;
  createAppender(table: string): Promise<Appender>;
  closeSync(): void;
}

interface Appender {
  appendVarchar(value: string): void;
  endRow(): void;
  closeSync(): void;
}

const COLUMNS = `request_id VARCHAR, time TIMESTAMP, project VARCHAR, deployment VARCHAR, revision INTEGER, arm VARCHAR,
  model VARCHAR, model_version INTEGER, protocol VARCHAR, status VARCHAR, error VARCHAR, caller VARCHAR,
  queue_ms DOUBLE, compute_ms DOUBLE, total_ms DOUBLE, prediction VARCHAR, inputs VARCHAR, outputs VARCHAR`;
/** The column list, in order: `importParquet` files and written files have exactly these. */
export const PAYLOAD_COLUMNS = COLUMNS.split(',').map((c) => c.trim().split(/\s+/)[0]!);

/**
 * A batch reaches DuckDB as a file of tab-separated lines, one per record, in COLUMNS' order, read with `read_csv`
 * and no quoting: DuckDB takes it in at about half the CPU of the same records as a JSON array (`bench/payloads.ts`).
 * Text fields are JSON strings (so a tab, a newline or a backslash in an error message stays inside its field) and
 * are decoded with `json_extract_string`; the tensors are their JSON text, which never holds a raw tab or newline;
 * `\N` is null; times are ISO 8601 and numbers are JavaScript's, neither with a tab.
 */
const TEXT_COLUMNS = new Set([
  'request_id',
  'project',
  'deployment',
  'arm',
  'model',
  'protocol',
  'status',
  'error',
  'caller',
  'prediction',
]);
const COLUMN_TYPES = COLUMNS.split(',').map((c) => c.trim().split(/\s+/) as [string, string]);
const FROM_TSV = COLUMN_TYPES.map(([name]) =>
  TEXT_COLUMNS.has(name) ? `json_extract_string(${name}, '$') AS ${name}` : name,
).join(', ');
// A record's line is as long as its tensors' text: past DuckDB's default of 2 MB per line, up to what a JSON object
// could be before (128 MB). The buffer must hold a line; left alone it would be 16 lines, 2 GB, past the memory limit.
const TSV_OPTIONS = `delim='\t', quote='', escape='', header=false, nullstr='\\N', auto_detect=false, parallel=false,
  max_line_size=134217728, buffer_size=134217728, columns={${COLUMN_TYPES.map(([name, type]) => `'${name}': '${type}'`).join(', ')}}`;
const NULL_FIELD = '\\N';
/** Records turned into lines per turn of the event loop (about 2-3 ms of work each). */
const LINES_PER_TURN = 256;

// DuckDB refuses JSON with a lone surrogate escape (`"\ud800"`, which JSON.stringify writes for one) and would fail
// the whole batch: strings from clients (an input's name, an error quoting it) are made well-formed first (U+FFFD).
const text = (value: string | null) => (value === null ? NULL_FIELD : JSON.stringify(value.toWellFormed()));
const num = (value: number) => (Number.isFinite(value) ? String(value) : NULL_FIELD);
const wellFormed = (_key: string, value: unknown) => (typeof value === 'string' ? value.toWellFormed() : value);
function tensors(value: readonly LoggedTensor[] | null): string {
  if (value === null) return NULL_FIELD;
  const json = JSON.stringify(value);
  // Only a lone surrogate is written as a `\ud8..`-`\udf..` escape; the rare text that has one is made again (a
  // literal backslash before "ud8" in a string matches too, and is made again to the same text).
  return /\\ud[89a-f]/i.test(json) ? JSON.stringify(value, wellFormed) : json;
}

/** One record as its line of a batch file (see FROM_TSV). */
function recordLine(r: PayloadRecord): string {
  return `${text(r.requestId)}\t${r.time}\t${text(r.project)}\t${text(r.deployment)}\t${num(r.revision)}\t${text(r.arm)}\t${text(r.model)}\t${num(r.modelVersion)}\t${text(r.protocol)}\t${text(r.status)}\t${text(r.error)}\t${text(r.caller)}\t${num(r.queueMs)}\t${num(r.computeMs)}\t${num(r.totalMs)}\t${text(r.prediction)}\t${tensors(r.inputs)}\t${tensors(r.outputs)}\n`;
}

/** The columns a query reads, as `recordFromRow` takes them. */
export const RECORD_SELECT = `request_id, epoch_ms(time) AS time_ms, project, deployment, revision, arm, model, model_version,
  protocol, status, error, caller, queue_ms, compute_ms, total_ms, prediction, inputs, outputs`;
const HOUR = `strftime(time, '%Y-%m-%dT%H')`;
const MAX_LIMIT = 1000;

interface DuckDb {
  instance: { closeSync(): void };
  connection: Connection;
}

const quote = (value: string) => `'${value.replaceAll("'", "''")}'`;

export class StoreSink implements PayloadSink {
  readonly kind = 'store';
  readonly #o: StoreSinkOptions;
  #db: Promise<DuckDb> | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #pending = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: StoreSinkOptions) {
    this.#o = options;
  }

  /** Rows appended and not written to a file yet. */
  get pending(): number {
    return this.#pending;
  }

  async write(records: readonly PayloadRecord[]): Promise<SinkWriteResult> {
    if (this.#closed) throw new ModelportError('not_ready', 'the payload store is closed');
    if (records.length === 0) return { written: 0 };
    // The lines and an asynchronous file write are all the event loop does; DuckDB parses and inserts the file on its
    // own threads.
    await mkdir(this.#o.workDir, { recursive: true });
    const file = join(this.#o.workDir, `batch-${randomUUID()}.tsv`);
    // In slices, with a turn of the event loop between them: a batch of 5,000 records is tens of milliseconds of
    // text that would otherwise hold up every answer due meanwhile.
    const slices: string[] = [];
    for (let start = 0; start < records.length; start += LINES_PER_TURN) {
      if (start > 0) await new Promise((resolve) => setImmediate(resolve));
      let lines = '';
      for (const record of records.slice(start, start + LINES_PER_TURN)) lines += recordLine(record);
      slices.push(lines);
    }
    await writeFile(file, slices.join(''));
    try {
      await this.#serial(async ({ connection }) => {
        await connection.run(`INSERT INTO pending SELECT ${FROM_TSV} FROM read_csv(${quote(file)}, ${TSV_OPTIONS})`);
        this.#pending += records.length;
      });
    } finally {
      await rm(file, { force: true });
    }
    if (this.#pending >= (this.#o.rotateRows ?? 200_000)) void this.flush().catch(() => {});
    else this.#arm();
    return { written: records.length };
  }

  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#db === undefined) return;
    await this.#serial((db) => this.#rotate(db.connection));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.flush();
    } finally {
      this.#closed = true;
      clearTimeout(this.#timer);
      const db = this.#db;
      this.#db = undefined;
      if (db) {
        await this.#queue.catch(() => {});
        const { connection, instance } = await db;
        connection.closeSync();
        instance.closeSync();
      }
    }
  }

  /** A page of one deployment's records, newest first. */
  async query(q: PayloadQuery): Promise<PayloadRecord[]> {
    const filter = q.where?.trim() ? compileWhere(q.where, 3) : undefined;
    const limit = Math.min(Math.max(1, q.limit ?? 100), MAX_LIMIT);
    const offset = Math.max(0, Math.floor(q.offset ?? 0));
    const need = offset + limit;
    // Newest files first: a page usually comes from the last few, so older files are read only when needed.
    const files = (await this.#fileRows(q.project, q.deployment, q.since, q.until)).sort((a, b) =>
      a.last_time < b.last_time ? 1 : a.last_time > b.last_time ? -1 : 0,
    );
    const conditions = ['project = $1', 'deployment = $2'];
    const params: unknown[] = [q.project, q.deployment];
    if (filter) {
      conditions.push(filter.sql);
      params.push(...filter.params);
    }
    const add = (sql: string, value: unknown) => {
      params.push(value);
      conditions.push(sql.replace('?', `$${params.length}`));
    };
    if (q.since !== undefined) add('time >= make_timestamp(?::BIGINT * 1000)', Math.floor(q.since));
    if (q.until !== undefined) add('time < make_timestamp(?::BIGINT * 1000)', Math.floor(q.until));
    const where = conditions.join(' AND ');
    return this.#serial(async ({ connection }) => {
      // Phase 1, narrow: the page's keys (only the filter's columns are read), over more files until it is certain
      // that no file left out holds a newer match.
      let keys: Record<string, unknown>[] = [];
      let chosen = files;
      for (let k = Math.min(4, files.length); ; k = Math.min(files.length, k * 4)) {
        chosen = files.slice(0, k);
        const source = await this.#source(chosen.map((f) => f.sha256));
        keys = await runQuery(
          connection,
          `SELECT request_id, arm, epoch_ms(time) AS time_ms FROM ${source} WHERE ${where}
           ORDER BY time DESC, request_id, arm LIMIT ${need}`,
          params,
        );
        const next = files[k];
        if (next === undefined) break;
        const last = keys[need - 1];
        if (last !== undefined && Date.parse(next.last_time) < Number(last['time_ms'])) break;
      }
      const page = keys.slice(offset);
      if (page.length === 0) return [];
      // Phase 2: the page's whole records, found by key within its time range (row groups are pruned by time).
      const times = page.map((k) => Number(k['time_ms']));
      const source = await this.#source(chosen.map((f) => f.sha256));
      const wanted = page.map((k) => `${String(k['request_id'])}\u0000${String(k['arm'])}`);
      await connection.run('CREATE OR REPLACE TEMP TABLE page_keys (request_id VARCHAR, arm VARCHAR)');
      const a = await connection.createAppender('page_keys');
      try {
        for (const k of page) {
          a.appendVarchar(String(k['request_id']));
          a.appendVarchar(String(k['arm']));
          a.endRow();
        }
      } finally {
        a.closeSync();
      }
      const rows = await runQuery(
        connection,
        `SELECT ${RECORD_SELECT} FROM ${source}
         WHERE project = $1 AND deployment = $2
           AND time >= make_timestamp($3::BIGINT * 1000) AND time < make_timestamp(($4::BIGINT + 1) * 1000)
           AND (request_id, arm) IN (SELECT (request_id, arm) FROM page_keys)`,
        [q.project, q.deployment, Math.min(...times), Math.max(...times)],
      );
      await connection.run('DROP TABLE page_keys');
      const byKey = new Map(rows.map((r) => [`${String(r['request_id'])}\u0000${String(r['arm'])}`, r]));
      return wanted.flatMap((key) => {
        const row = byKey.get(key);
        return row ? [recordFromRow(row)] : [];
      });
    });
  }

  /** Every record of a request id in a project (the primary answer, and a shadow's when mirrored). */
  async get(project: string, requestId: string, deployment?: string): Promise<PayloadRecord[]> {
    let query = this.#o.db.selectFrom('payload_files').select('sha256').where('project', '=', project);
    if (deployment !== undefined) query = query.where('deployment', '=', deployment);
    const files = (await query.execute()).map((f) => f.sha256);
    return this.#serial(async ({ connection }) => {
      const source = await this.#source(files);
      const params: unknown[] = [project, requestId];
      let sql = `SELECT ${RECORD_SELECT} FROM ${source} WHERE project = $1 AND request_id = $2`;
      if (deployment !== undefined) {
        params.push(deployment);
        sql += ' AND deployment = $3';
      }
      return (await runQuery(connection, `${sql} ORDER BY time`, params)).map(recordFromRow);
    });
  }

  /** Per revision and traffic arm, how many calls a deployment answered, and the first and last (lineage). */
  async armCounts(
    project: string,
    deployment: string,
  ): Promise<{ revision: number; arm: string; count: number; first: string | null; last: string | null }[]> {
    const files = await this.#files(project, deployment);
    return this.#serial(async ({ connection }) => {
      const source = await this.#source(files);
      const rows = await runQuery(
        connection,
        `SELECT revision, arm, count(*) AS n, epoch_ms(min(time)) AS first_ms, epoch_ms(max(time)) AS last_ms
         FROM ${source} WHERE project = $1 AND deployment = $2 GROUP BY revision, arm ORDER BY revision, arm`,
        [project, deployment],
      );
      const iso = (ms: unknown) => (ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString());
      return rows.map((row) => ({
        revision: Number(row['revision']),
        arm: String(row['arm']),
        count: Number(row['n']),
        first: iso(row['first_ms']),
        last: iso(row['last_ms']),
      }));
    });
  }

  /** For feedback: what the log says about each request id (the primary arm's record; shadows never count). */
  async lookup(
    project: string,
    deployment: string,
    requestIds: readonly string[],
  ): Promise<Map<string, LoggedPrediction>> {
    const found = new Map<string, LoggedPrediction>();
    if (requestIds.length === 0) return found;
    const files = await this.#files(project, deployment);
    return this.#serial(async ({ connection }) => {
      const source = await this.#source(files);
      await connection.run('CREATE OR REPLACE TEMP TABLE wanted (id VARCHAR)');
      const a = await connection.createAppender('wanted');
      try {
        for (const id of requestIds) {
          a.appendVarchar(id);
          a.endRow();
        }
      } finally {
        a.closeSync();
      }
      const rows = await runQuery(
        connection,
        `SELECT request_id, prediction, arm, revision, epoch_ms(time) AS time_ms FROM ${source}
         WHERE project = $1 AND deployment = $2 AND arm != 'shadow' AND request_id IN (SELECT id FROM wanted)`,
        [project, deployment],
      );
      await connection.run('DROP TABLE wanted');
      for (const row of rows) {
        found.set(String(row['request_id']), {
          requestId: String(row['request_id']),
          prediction: row['prediction'] === null ? null : String(row['prediction']),
          arm: String(row['arm']),
          revision: Number(row['revision']),
          timeMs: Number(row['time_ms']),
        });
      }
      return found;
    });
  }

  /** Deletes every record of a deployment: its files, their rows, and what is pending. Returns the records removed. */
  async purge(project: string, deployment: string): Promise<number> {
    const files = await this.#o.db
      .selectFrom('payload_files')
      .select(['id', 'sha256', 'rows'])
      .where('project', '=', project)
      .where('deployment', '=', deployment)
      .execute();
    let removed = 0;
    if (this.#db !== undefined) {
      removed += await this.#serial(async ({ connection }) => {
        const rows = await runQuery(
          connection,
          'SELECT count(*)::INTEGER AS n FROM pending WHERE project = $1 AND deployment = $2',
          [project, deployment],
        );
        await connection.run('DELETE FROM pending WHERE project = $1 AND deployment = $2', [project, deployment]);
        const n = Number(rows[0]?.['n'] ?? 0);
        this.#pending -= n;
        return n;
      });
    }
    await this.#deleteFiles(files);
    return removed + files.reduce((sum, f) => sum + f.rows, 0);
  }

  /** Deletes a deployment's oldest files: those older than `maxAgeMs`, then the oldest while it holds more than `maxBytes`. */
  async applyRetention(project: string, deployment: string, policy: RetentionPolicy): Promise<number> {
    const files = await this.#o.db
      .selectFrom('payload_files')
      .select(['id', 'sha256', 'rows', 'bytes', 'last_time'])
      .where('project', '=', project)
      .where('deployment', '=', deployment)
      .orderBy('last_time', 'desc')
      .execute();
    const now = (this.#o.now ?? Date.now)();
    const doomed: typeof files = [];
    let kept = 0;
    for (const f of files) {
      const tooOld = policy.maxAgeMs !== undefined && Date.parse(f.last_time) < now - policy.maxAgeMs;
      const tooBig = policy.maxBytes !== undefined && kept + f.bytes > policy.maxBytes;
      if (tooOld || tooBig) doomed.push(f);
      else kept += f.bytes;
    }
    await this.#deleteFiles(doomed);
    return doomed.length;
  }

  /** Size of a deployment's log: files, rows and bytes written out, and rows pending. */
  async usage(project: string, deployment: string): Promise<{ files: number; rows: number; bytes: number }> {
    const files = await this.#o.db
      .selectFrom('payload_files')
      .select(['rows', 'bytes'])
      .where('project', '=', project)
      .where('deployment', '=', deployment)
      .execute();
    return {
      files: files.length,
      rows: files.reduce((s, f) => s + f.rows, 0),
      bytes: files.reduce((s, f) => s + f.bytes, 0),
    };
  }

  /** Local paths of a deployment's Parquet files (to open them with DuckDB yourself). */
  async filePaths(project: string, deployment: string): Promise<string[]> {
    return Promise.all((await this.#files(project, deployment)).map((sha) => this.#o.artifacts.localPath(sha)));
  }

  /**
   * Takes the records of a Parquet file in this store's columns (`PAYLOAD_COLUMNS`, in `workDir`) and writes them
   * out like logged ones (bulk loads: benchmarks, restores of an exported log).
   */
  async importParquet(file: string): Promise<number> {
    return this.#serial(async ({ connection }) => {
      const rows = await runQuery(connection, `SELECT count(*)::BIGINT AS n FROM read_parquet(${quote(file)})`, []);
      await connection.run(
        `INSERT INTO pending SELECT ${PAYLOAD_COLUMNS.join(', ')} FROM read_parquet(${quote(file)})`,
      );
      const n = Number(rows[0]?.['n'] ?? 0);
      this.#pending += n;
      await this.#rotate(connection);
      return n;
    });
  }

  async #deleteFiles(files: readonly { id: string; sha256: string }[]): Promise<void> {
    if (files.length === 0) return;
    const ids = files.map((f) => f.id);
    for (let i = 0; i < ids.length; i += 500) {
      await this.#o.db
        .deleteFrom('payload_files')
        .where('id', 'in', ids.slice(i, i + 500))
        .execute();
    }
    for (const f of files) {
      const still = await this.#o.db
        .selectFrom('payload_files')
        .select('id')
        .where('sha256', '=', f.sha256)
        .executeTakeFirst();
      if (!still) await this.#o.artifacts.delete(f.sha256).catch(() => {});
    }
  }

  async #files(project: string, deployment: string, since?: number, until?: number): Promise<string[]> {
    return (await this.#fileRows(project, deployment, since, until)).map((f) => f.sha256);
  }

  async #fileRows(project: string, deployment: string, since?: number, until?: number) {
    let query = this.#o.db
      .selectFrom('payload_files')
      .select(['sha256', 'last_time'])
      .where('project', '=', project)
      .where('deployment', '=', deployment);
    if (since !== undefined) query = query.where('last_time', '>=', new Date(since).toISOString());
    if (until !== undefined) query = query.where('first_time', '<', new Date(until).toISOString());
    return query.orderBy('hour').execute();
  }

  /** The FROM clause: the files (local, verified paths) and the pending table. */
  async #source(sha256s: readonly string[]): Promise<string> {
    if (sha256s.length === 0) return 'pending';
    const paths = await Promise.all(sha256s.map((sha) => this.#o.artifacts.localPath(sha)));
    const list = paths.map(quote).join(', ');
    return `(SELECT ${PAYLOAD_COLUMNS.join(', ')} FROM read_parquet([${list}]) UNION ALL SELECT * FROM pending)`;
  }

  #arm(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flush().catch((err: unknown) => this.#o.log?.warn('payload files could not be written', { err }));
    }, this.#o.rotateMs ?? 10_000);
    this.#timer.unref();
  }

  /** Writes every pending row out, one file per (project, deployment, hour); rows of a failed file stay pending. */
  async #rotate(connection: Connection): Promise<void> {
    if (this.#pending === 0) return;
    const groups = await runQuery(
      connection,
      `SELECT project, deployment, ${HOUR} AS hour, count(*)::BIGINT AS n,
         strftime(min(time), '%Y-%m-%dT%H:%M:%S.%gZ') AS first, strftime(max(time), '%Y-%m-%dT%H:%M:%S.%gZ') AS last
       FROM pending GROUP BY ALL`,
      [],
    );
    await mkdir(this.#o.workDir, { recursive: true });
    let failure: unknown;
    for (const g of groups) {
      const [project, deployment, hour] = [String(g['project']), String(g['deployment']), String(g['hour'])];
      const file = join(this.#o.workDir, `payloads-${randomUUID()}.parquet`);
      try {
        const where = `project = $1 AND deployment = $2 AND ${HOUR} = $3`;
        const params = [project, deployment, hour];
        await connection.run(
          `COPY (SELECT * FROM pending WHERE ${where} ORDER BY time) TO ${quote(file)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 100000)`,
          params,
        );
        const ref = await this.#o.artifacts.putFile(file, {
          onHashed: async (r) => {
            await this.#o.claim?.([r.sha256]);
          },
        });
        const now = new Date((this.#o.now ?? Date.now)()).toISOString();
        await this.#o.db
          .insertInto('payload_files')
          .values({
            id: randomUUID(),
            project,
            deployment,
            hour,
            sha256: ref.sha256,
            rows: Number(g['n']),
            bytes: ref.size,
            first_time: String(g['first']),
            last_time: String(g['last']),
            created_at: now,
          })
          .execute();
        await connection.run(`DELETE FROM pending WHERE ${where}`, params);
        this.#pending -= Number(g['n']);
      } catch (error) {
        failure ??= error;
      } finally {
        await rm(file, { force: true });
      }
    }
    if (failure) throw failure;
  }

  #serial<T>(fn: (db: DuckDb) => Promise<T>): Promise<T> {
    const run = this.#queue.then(async () => fn(await this.#open()));
    this.#queue = run.catch(() => {});
    return run;
  }

  #open(): Promise<DuckDb> {
    this.#db ??= (async () => {
      const { DuckDBInstance } = await import('@duckdb/node-api');
      await mkdir(this.#o.workDir, { recursive: true });
      const instance = await DuckDBInstance.create(':memory:', {
        autoinstall_known_extensions: 'false',
        autoload_known_extensions: 'false',
        // One thread: the store shares the machine with the gateway it logs for.
        threads: '1',
        memory_limit: '1GB',
        temp_directory: join(this.#o.workDir, 'spill'),
      });
      const connection = (await instance.connect()) as unknown as Connection;
      const dirs = [...this.#o.readable, this.#o.workDir].map((d) => quote(`${d.replace(/\/+$/, '')}/`));
      await connection.run(`SET allowed_directories=[${dirs.join(', ')}]`);
      await connection.run('SET enable_external_access=false');
      await connection.run('SET lock_configuration=true');
      await connection.run(`CREATE TABLE pending (${COLUMNS})`);
      return { instance, connection };
    })();
    return this.#db;
  }
}

async function runQuery(connection: Connection, sql: string, params: unknown[]): Promise<Record<string, unknown>[]> {
  try {
    return (await connection.runAndReadAll(sql, params)).getRowObjectsJson();
  } catch (error) {
    // A filter comparing text with a number (a bad cast) is the caller's mistake, not the server's.
    if (/Conversion Error|Binder Error|Could not convert/i.test(String((error as Error).message))) {
      throw new ModelportError('invalid_request', `where: ${(error as Error).message.split('\n')[0]}`, {
        field: 'where',
        cause: error,
      });
    }
    throw error;
  }
}

/** A row of `SELECT ${RECORD_SELECT}` as a record. */
export function recordFromRow(row: Record<string, unknown>): PayloadRecord {
  const str = (key: string) => (row[key] === null || row[key] === undefined ? null : String(row[key]));
  const tensors = (key: string) => {
    const value = str(key);
    return value === null ? null : (JSON.parse(value) as LoggedTensor[]);
  };
  return {
    requestId: String(row['request_id']),
    time: new Date(Number(row['time_ms'])).toISOString(),
    project: String(row['project']),
    deployment: String(row['deployment']),
    revision: Number(row['revision']),
    arm: String(row['arm']),
    model: String(row['model']),
    modelVersion: Number(row['model_version']),
    protocol: String(row['protocol']),
    status: String(row['status']),
    error: str('error'),
    caller: str('caller'),
    queueMs: Number(row['queue_ms']),
    computeMs: Number(row['compute_ms']),
    totalMs: Number(row['total_ms']),
    prediction: str('prediction'),
    inputs: tensors('inputs'),
    outputs: tensors('outputs'),
  };
}

export type { CompiledWhere };
