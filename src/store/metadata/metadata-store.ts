/**
 * The metadata store: one Kysely instance over SQLite (embedded, the default) or PostgreSQL, migrated on open.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type Dialect, Kysely, type Transaction } from 'kysely';
import { resolveMetadataTarget } from './metadata-url.ts';
import { migrate } from './migrations.ts';
import { NodeSqliteDialect } from './node-sqlite-dialect.ts';
import { createPostgresDialect, ensurePostgresSchema } from './postgres-dialect.ts';
import type { Database } from './schema.ts';

export type MetadataDialect = 'sqlite' | 'postgres';

export interface MetadataStore {
  /** Queries outside a transaction. On SQLite every query and transaction queues for the one connection. */
  readonly db: Kysely<Database>;
  readonly dialect: MetadataDialect;
  /** The SQLite file, or the PostgreSQL URL without its password: safe for logs. */
  readonly location: string;
  /**
   * Runs `fn` in a write transaction: committed when it resolves, rolled back when it throws (the error is
   * rethrown). On SQLite it holds the write lock from the start (BEGIN IMMEDIATE). Do not start a transaction from
   * inside `fn`; use `trx`.
   */
  transaction<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<T>;
  /** Closes the connections; idempotent. */
  close(): Promise<void>;
}

export interface OpenMetadataStoreOptions {
  /** See `resolveMetadataTarget`: empty means SQLite at `<home>/modelport.db`. */
  url?: string | undefined;
  /** The Modelport home folder (created if missing when the SQLite file lives there). */
  home: string;
}

/**
 * Opens the store and applies missing migrations before returning.
 *
 * ```ts
 * const store = await openMetadataStore({ url: 'postgres://modelport@db:5432/modelport', home: '/var/lib/modelport' });
 * try { await store.db.selectFrom('projects').selectAll().execute(); } finally { await store.close(); }
 * ```
 */
export async function openMetadataStore(options: OpenMetadataStoreOptions): Promise<MetadataStore> {
  const target = resolveMetadataTarget(options);
  let dialect: Dialect;
  if (target.dialect === 'sqlite') {
    if (target.path !== ':memory:') await mkdir(dirname(target.path), { recursive: true });
    dialect = new NodeSqliteDialect({ path: target.path });
  } else {
    dialect = await createPostgresDialect({ connectionString: target.connectionString, schema: target.schema });
  }
  const db = new Kysely<Database>({ dialect });
  try {
    if (target.dialect === 'postgres' && target.schema !== undefined) {
      await ensurePostgresSchema(db as Kysely<unknown>, target.schema);
    }
    await migrate(db, target.dialect);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return Object.freeze({
    db,
    dialect: target.dialect,
    location: target.location,
    transaction: <T>(fn: (trx: Transaction<Database>) => Promise<T>) => db.transaction().execute(fn),
    close: () => {
      closing ??= db.destroy();
      return closing;
    },
  });
}

const SQLITE_CONSTRAINT_UNIQUE = 2067;
const SQLITE_CONSTRAINT_PRIMARYKEY = 1555;
const PG_UNIQUE_VIOLATION = '23505';

/**
 * True when `error` is a unique or primary-key violation from node:sqlite or pg, so a service can turn a lost
 * race into `already_exists`:
 *
 * ```ts
 * try { await db.insertInto('projects').values(row).execute(); }
 * catch (error) { if (isUniqueViolation(error)) throw new ModelportError('already_exists', ...); throw error; }
 * ```
 */
export function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, errcode } = error as { code?: unknown; errcode?: unknown };
  if (code === PG_UNIQUE_VIOLATION) return true;
  return (
    code === 'ERR_SQLITE_ERROR' && (errcode === SQLITE_CONSTRAINT_UNIQUE || errcode === SQLITE_CONSTRAINT_PRIMARYKEY)
  );
}
