/**
 * Runs a test suite once per metadata dialect, each store fresh and isolated. Test-only.
 *
 * - SQLite: a new temporary folder per store.
 * - PostgreSQL: a new schema per store, at MODELPORT_TEST_POSTGRES_URL (default
 *   `postgres://postgres@127.0.0.1:5432/test`). If the server cannot be reached the PostgreSQL block fails, saying
 *   so; set MODELPORT_TEST_POSTGRES_URL=skip to skip it instead.
 *
 * Everything opened is closed, and every folder and schema removed, after the block.
 *
 * ```ts
 * forEachMetadataStore('model registry', (open) => {
 *   test('numbers versions from 1', async () => {
 *     const store = await open();
 *     const registry = new ModelRegistry({ store, ... });
 *     ...
 *   });
 * });
 * ```
 */
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import {
  type MetadataDialect,
  type MetadataStore,
  type OpenMetadataStoreOptions,
  openMetadataStore,
} from './metadata-store.ts';

export interface MetadataStoreHarness {
  readonly dialect: MetadataDialect;
  /**
   * Options naming a fresh, empty database that nothing has opened yet (not migrated), for tests that open it
   * themselves, for instance from several processes. Cleaned up after the block like `open()`'s stores.
   */
  fresh(): OpenMetadataStoreOptions;
}

export type MetadataStoreSuite = (open: () => Promise<MetadataStore>, harness: MetadataStoreHarness) => void;

const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** Registers `describe('<name> [sqlite]')` and `describe('<name> [postgres]')`, each running `suite`. */
export function forEachMetadataStore(name: string, suite: MetadataStoreSuite): void {
  describeDialect(`${name} [sqlite]`, suite, sqliteHarness());
  const postgresUrl = process.env['MODELPORT_TEST_POSTGRES_URL'] || DEFAULT_POSTGRES_URL;
  if (postgresUrl === 'skip') {
    describe(`${name} [postgres]`, {
      skip: 'PostgreSQL tests skipped: MODELPORT_TEST_POSTGRES_URL is set to skip',
    }, () => {});
  } else {
    describeDialect(`${name} [postgres]`, suite, postgresHarness(postgresUrl));
  }
}

interface Backend extends MetadataStoreHarness {
  /** Throws a message that says what to do when the database cannot be used. */
  check(): Promise<void>;
  cleanup(): Promise<void>;
}

function describeDialect(title: string, suite: MetadataStoreSuite, backend: Backend): void {
  describe(title, () => {
    const stores: MetadataStore[] = [];
    before(() => backend.check());
    after(async () => {
      await Promise.allSettled(stores.map((store) => store.close()));
      await backend.cleanup();
    });
    const open = async () => {
      const store = await openMetadataStore(backend.fresh());
      stores.push(store);
      return store;
    };
    suite(open, { dialect: backend.dialect, fresh: () => backend.fresh() });
  });
}

function sqliteHarness(): Backend {
  const folders: string[] = [];
  return {
    dialect: 'sqlite',
    fresh() {
      const home = mkdtempSync(join(tmpdir(), 'modelport-metadata-'));
      folders.push(home);
      return { home };
    },
    async check() {},
    async cleanup() {
      await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
    },
  };
}

function postgresHarness(baseUrl: string): Backend {
  const schemas: string[] = [];
  const home = tmpdir(); // unused by PostgreSQL stores, required by the options
  const shown = safeLocation(baseUrl);
  const withClient = async <T>(fn: (client: import('pg').Client) => Promise<T>): Promise<T> => {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: baseUrl, connectionTimeoutMillis: 10_000 });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };
  return {
    dialect: 'postgres',
    fresh() {
      const schema = `mp_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
      schemas.push(schema);
      const url = new URL(baseUrl);
      url.searchParams.set('schema', schema);
      return { url: url.toString(), home };
    },
    async check() {
      try {
        await withClient((client) => client.query('select 1'));
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(
          `PostgreSQL is not reachable at ${shown} (${reason}). Start it, point MODELPORT_TEST_POSTGRES_URL at a ` +
            'server where the user may create schemas, or set MODELPORT_TEST_POSTGRES_URL=skip to skip these tests.',
        );
      }
    },
    async cleanup() {
      if (schemas.length === 0) return;
      await withClient(async (client) => {
        for (const schema of schemas) await client.query(`drop schema if exists "${schema}" cascade`);
      });
    },
  };
}

function safeLocation(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return parsed.toString();
  } catch {
    return 'MODELPORT_TEST_POSTGRES_URL (not a valid URL)';
  }
}
