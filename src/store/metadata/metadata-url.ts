/**
 * Where the metadata lives, decided from the database URL setting alone (no I/O).
 */
import { join, resolve } from 'node:path';
import { ModelportError } from '../../core/index.ts';

export type MetadataTarget =
  | { readonly dialect: 'sqlite'; readonly path: string; readonly location: string }
  | {
      readonly dialect: 'postgres';
      /** The URL given, minus the `schema` parameter. */
      readonly connectionString: string;
      /** From `?schema=`: becomes the search_path and is created if missing. */
      readonly schema: string | undefined;
      /** The URL without its password, for logs and status pages. */
      readonly location: string;
    };

/**
 * Maps the database URL to a target:
 * - none or empty: SQLite at `<home>/modelport.db`;
 * - `sqlite:<path>`, `sqlite:///abs/path`, `sqlite::memory:` or a bare path: that SQLite file (a relative path is
 *   resolved against the working directory);
 * - `postgres://` or `postgresql://`: PostgreSQL; `?schema=name` (lower-case letters, digits, `_`) isolates it in a
 *   schema, e.g. `postgres://modelport@db:5432/modelport?schema=staging`.
 * Anything else throws `invalid_config` naming the `databaseUrl` field.
 */
export function resolveMetadataTarget(options: { url?: string | undefined; home: string }): MetadataTarget {
  const url = options.url?.trim();
  if (!url) return sqlite(join(options.home, 'modelport.db'));
  if (/^postgres(ql)?:\/\//i.test(url)) return postgres(url);
  if (url.startsWith('sqlite:')) {
    let path = url.slice('sqlite:'.length);
    if (path.startsWith('//')) path = path.slice(2);
    if (!path) fail('a sqlite: URL needs a file path, e.g. sqlite:/var/lib/modelport/modelport.db');
    return sqlite(path === ':memory:' ? path : resolve(path));
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1];
  if (scheme !== undefined) {
    fail(`${scheme}:// is not supported; use postgres://user@host:port/db, or a path to a SQLite file`);
  }
  return sqlite(resolve(url));
}

function sqlite(path: string): MetadataTarget {
  return { dialect: 'sqlite', path, location: path };
}

function postgres(url: string): MetadataTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    fail('not a valid URL; use postgres://user:password@host:port/database');
  }
  const schema = parsed.searchParams.get('schema') ?? undefined;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    fail('the schema parameter must be a lower-case identifier (letters, digits, _; at most 63 characters)');
  }
  parsed.searchParams.delete('schema');
  const connectionString = parsed.toString();
  const shown = new URL(url);
  shown.password = '';
  return { dialect: 'postgres', connectionString, schema, location: shown.toString() };
}

function fail(message: string): never {
  throw new ModelportError('invalid_config', `database URL: ${message}`, { field: 'databaseUrl' });
}
