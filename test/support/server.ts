/**
 * Starts a real Modelport server for end-to-end tests: in this process, on loopback port 0, with either the embedded
 * stores (SQLite file + artifact folder) or the external ones (PostgreSQL on this machine + a real s3rver).
 * `startTestApp` builds the same app without listening, for control-API tests that call it in-process.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { compileServerConfig, type RawSettings, type ServerConfig } from '../../src/core/config.ts';
import { memoryLogger } from '../../src/logging/index.ts';
import { type App, buildApp, type RunningServer, startServer } from '../../src/server/server.ts';
import { startS3rver } from '../../src/store/artifacts/s3rver.fixture.ts';

export type StoreKind = 'embedded' | 'postgres+s3';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const POSTGRES_URL = process.env['MODELPORT_TEST_POSTGRES_URL'] || 'postgres://postgres@127.0.0.1:5432/test';
export const STORE_KINDS: StoreKind[] = POSTGRES_URL === 'skip' ? ['embedded'] : ['embedded', 'postgres+s3'];

export interface TestServer {
  server: RunningServer;
  url: string;
  home: string;
  /** Everything the server logged, as JSON lines. */
  logText(): string;
  close(): Promise<void>;
}

/** A fresh home and config for `kind`, and the clean-ups that remove what it made. */
async function testConfig(
  kind: StoreKind,
  settings: RawSettings,
): Promise<{ config: ServerConfig; home: string; cleanups: (() => Promise<void>)[] }> {
  const home = await mkdtemp(join(tmpdir(), 'modelport-e2e-'));
  const cleanups: (() => Promise<void>)[] = [() => rm(home, { recursive: true, force: true })];
  const env: Record<string, string> = {};
  const raw: RawSettings = { home, port: '0', grpcPort: '0', example: 'false', ...settings };
  if (kind === 'postgres+s3') {
    const schema = `mp_e2e_${randomBytes(6).toString('hex')}`;
    raw.databaseUrl = `${POSTGRES_URL}${POSTGRES_URL.includes('?') ? '&' : '?'}schema=${schema}`;
    cleanups.push(async () => {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`drop schema if exists ${schema} cascade`);
      await client.end();
    });
    const s3 = await startS3rver();
    cleanups.push(() => s3.stop());
    raw.artifacts = `s3://${s3.bucket}/models`;
    raw.s3Endpoint = s3.endpoint;
    env['AWS_ACCESS_KEY_ID'] = s3.credentials.accessKeyId;
    env['AWS_SECRET_ACCESS_KEY'] = s3.credentials.secretAccessKey;
    env['AWS_REGION'] = 'us-east-1';
  }
  return { config: compileServerConfig(raw, env), home, cleanups };
}

export async function startTestServer(
  kind: StoreKind = 'embedded',
  settings: RawSettings = {},
  options: { examplesDir?: string } = {},
): Promise<TestServer> {
  const { config, home, cleanups } = await testConfig(kind, settings);
  const log = memoryLogger();
  const server = await startServer(config, {
    log,
    version: 'test',
    grpc: true,
    examplesDir: options.examplesDir ?? join(REPO_ROOT, 'examples'),
  });
  return {
    server,
    url: server.url,
    home,
    logText: () => log.text(),
    async close() {
      await server.close();
      for (const cleanup of cleanups.reverse()) await cleanup();
    },
  };
}

export interface TestApp {
  app: App;
  /** Calls the app in-process: `request('/api/v1/projects')` (no port, no listener). */
  request: App['request'];
  home: string;
  /** Everything the server logged, as JSON lines. */
  logText(): string;
  close(): Promise<void>;
}

/** A Modelport app built but not listening, for control-API tests that call it in-process. */
export async function startTestApp(kind: StoreKind = 'embedded', settings: RawSettings = {}): Promise<TestApp> {
  const { config, home, cleanups } = await testConfig(kind, settings);
  const log = memoryLogger();
  const app = await buildApp(config, { log, version: 'test', examplesDir: join(REPO_ROOT, 'examples') });
  await app.restore();
  return {
    app,
    request: (path, init) => app.request(path, init),
    home,
    logText: () => log.text(),
    async close() {
      await app.close();
      for (const cleanup of cleanups.reverse()) await cleanup();
    },
  };
}
