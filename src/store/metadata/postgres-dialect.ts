/**
 * PostgreSQL through Kysely's PostgresDialect and a pg Pool. `pg` is imported on first use, so the SQLite path
 * (and the CLI) never load it.
 */
import { type Kysely, PostgresDialect, sql } from 'kysely';

export interface PostgresDialectOptions {
  /** A postgres:// URL (without Modelport's `schema` parameter). */
  connectionString: string;
  /** Sets the search_path of every connection; see `ensurePostgresSchema`. Default: the server's search_path. */
  schema?: string | undefined;
  /** Pool size. Default 10. */
  maxConnections?: number;
}

const INT8_OID = 20;

/**
 * A PostgresDialect over a new pool. bigint (int8) columns, and `count(*)`, parse to `number` as on SQLite; this is
 * set on this pool only (the `types` option), never on pg's global parsers.
 *
 * ```ts
 * const db = new Kysely<Database>({ dialect: await createPostgresDialect({ connectionString, schema: 'ci_42' }) });
 * ```
 */
export async function createPostgresDialect(options: PostgresDialectOptions): Promise<PostgresDialect> {
  const { default: pg } = await import('pg');
  const defaults = pg.types;
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
    // An unreachable server fails start-up instead of hanging it.
    connectionTimeoutMillis: 10_000,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID && format !== 'binary'
          ? (value: string) => Number(value)
          : defaults.getTypeParser(oid, format)) as typeof defaults.getTypeParser,
    },
    // The schema name is validated as a plain lower-case identifier before it gets here.
    ...(options.schema === undefined ? {} : { options: `-c search_path=${options.schema}` }),
  });
  // An idle client losing its connection emits 'error' on the pool, which would crash the process unhandled; the
  // pool drops that client and the next query reports the failure to its caller.
  pool.on('error', () => {});
  return new PostgresDialect({ pool });
}

/**
 * Creates the schema if missing. Runs under an advisory lock because two sessions racing on
 * `create schema if not exists` can both pass the check and one then fails on pg_namespace's unique index.
 */
export async function ensurePostgresSchema(db: Kysely<unknown>, schema: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext(${`modelport:schema:${schema}`}::text))`.execute(trx);
    await sql`create schema if not exists ${sql.id(schema)}`.execute(trx);
  });
}
