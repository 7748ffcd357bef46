/**
 * A Kysely dialect over Node's built-in `node:sqlite` (DatabaseSync), so the embedded store needs no native addon.
 *
 * Kysely's SqliteDialect targets better-sqlite3; this reuses its adapter, introspector, query compiler and driver,
 * and bridges the two small API differences: node:sqlite's statements take spread parameters, and they have no
 * `reader` flag (a statement returns rows when it has result columns, which also covers `... returning`).
 */

import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { setTimeout as delay } from 'node:timers/promises';
import {
  CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  SqliteAdapter,
  type SqliteDatabase,
  SqliteDriver,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type SqliteStatement,
} from 'kysely';

export interface NodeSqliteDialectConfig {
  /** The database file (created if missing), or `':memory:'`. */
  path: string;
  /**
   * How long a statement waits for another connection's lock before failing with SQLITE_BUSY, in milliseconds.
   * Default 5000: a second process writing the same file waits its turn instead of erroring.
   */
  busyTimeoutMs?: number;
}

/**
 * SQLite through `node:sqlite`, opened lazily on the first query with WAL journaling (readers never block the
 * writer), foreign keys enforced and a busy timeout. Transactions start with `BEGIN IMMEDIATE`, which takes the
 * write lock up front, so two processes writing the same file serialise instead of one failing on a lock upgrade.
 *
 * ```ts
 * const db = new Kysely<Database>({ dialect: new NodeSqliteDialect({ path: '/var/lib/modelport/modelport.db' }) });
 * ```
 *
 * As with every SQLite dialect of Kysely there is one connection: queries and transactions queue for it, so a
 * transaction must not start another transaction (it would wait for itself).
 */
export class NodeSqliteDialect implements Dialect {
  readonly #config: Readonly<NodeSqliteDialectConfig>;

  constructor(config: NodeSqliteDialectConfig) {
    this.#config = Object.freeze({ ...config });
  }

  createDriver(): Driver {
    const { path, busyTimeoutMs = 5000 } = this.#config;
    return new ImmediateSqliteDriver({ database: async () => openNodeSqlite(path, busyTimeoutMs) });
  }

  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }

  createAdapter(): DialectAdapter {
    return new SqliteAdapter();
  }

  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

async function openNodeSqlite(path: string, busyTimeoutMs: number): Promise<SqliteDatabase> {
  const db = new DatabaseSync(path, { timeout: busyTimeoutMs, enableForeignKeyConstraints: true });
  try {
    await enableWal(db, busyTimeoutMs);
  } catch (error) {
    db.close();
    throw error;
  }
  return {
    close: () => db.close(),
    prepare: (sql) => adaptStatement(db.prepare(sql)),
  };
}

const SQLITE_BUSY = 5;

/**
 * Switching to WAL takes an exclusive lock without calling the busy handler, so when another process holds the
 * file (two starting together on a new database) it fails at once: retry within the same busy timeout.
 */
async function enableWal(db: DatabaseSync, busyTimeoutMs: number): Promise<void> {
  const deadline = Date.now() + busyTimeoutMs;
  for (;;) {
    try {
      db.exec('pragma journal_mode = wal');
      return;
    } catch (error) {
      const busy = (error as { errcode?: unknown }).errcode === SQLITE_BUSY;
      if (!busy || Date.now() >= deadline) throw error;
      await delay(10);
    }
  }
}

function adaptStatement(stmt: StatementSync): SqliteStatement {
  return {
    reader: stmt.columns().length > 0,
    // Rows come with a null prototype; copy them into plain objects so results compare equal to pg's.
    all: (parameters) => stmt.all(...toSqlite(parameters)).map((row) => ({ ...row })),
    run: (parameters) => stmt.run(...toSqlite(parameters)),
    *iterate(parameters) {
      for (const row of stmt.iterate(...toSqlite(parameters))) yield { ...row };
    },
  };
}

/** SQLite has no boolean type; everything else node:sqlite binds itself (and rejects what it cannot bind). */
function toSqlite(parameters: ReadonlyArray<unknown>): SQLInputValue[] {
  return parameters.map((value) => (typeof value === 'boolean' ? (value ? 1 : 0) : (value as SQLInputValue)));
}
