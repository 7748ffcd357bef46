/**
 * Computes pending profiles in the background, one at a time, after their commits have answered. Pending rows
 * are written in the commit's transaction, so a profile interrupted by a restart is picked up by `kick()` at the
 * next start. Several servers may profile the same file at once; the result is the same and the last write wins.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Kysely } from 'kysely';
import type { Logger } from '../logging/index.ts';
import { type ArtifactStore, type Database, FolderArtifactStore } from '../store/index.ts';
import type { ProfileScheduler } from './data-service.ts';
import { ProfileError, type ProfileOptions, profileFile } from './profiler.ts';
import type { TabularFormat } from './types.ts';

export interface ProfileWorkerDeps {
  db: Kysely<Database>;
  artifacts: ArtifactStore;
  /** Temporary copies of remote blobs and DuckDB's spill files. */
  workDir: string;
  log: Pick<Logger, 'warn' | 'error'>;
  options?: Omit<ProfileOptions, 'tempDir'>;
  now?: () => Date;
}

export class ProfileWorker implements ProfileScheduler {
  readonly #deps: ProfileWorkerDeps;
  #running: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(deps: ProfileWorkerDeps) {
    this.#deps = deps;
  }

  kick(): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#drain()
      .catch((err: unknown) => this.#deps.log.error('profiling stopped', { err }))
      .finally(() => {
        this.#running = undefined;
        if (this.#again && !this.#closed) {
          this.#again = false;
          this.kick();
        }
      });
  }

  /** Resolves when no profile is pending (tests and the benchmark wait on it). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#running;
  }

  async #drain(): Promise<void> {
    const { db } = this.#deps;
    while (!this.#closed) {
      const next = await db
        .selectFrom('data_profiles')
        .select(['sha256', 'format'])
        .where('state', '=', 'pending')
        .orderBy('created_at')
        .limit(1)
        .executeTakeFirst();
      if (!next) return;
      await this.#profile(next.sha256, next.format as TabularFormat);
    }
  }

  async #profile(sha256: string, format: TabularFormat): Promise<void> {
    const { db, log } = this.#deps;
    const now = () => (this.#deps.now?.() ?? new Date()).toISOString();
    let update: { state: string; profile: string | null; error: string | null };
    try {
      const profile = await this.#withLocalFile(sha256, format, (file, tempDir) =>
        profileFile(file, format, { ...this.#deps.options, tempDir }),
      );
      update = { state: 'ready', profile: JSON.stringify(profile), error: null };
    } catch (error) {
      const reason = error instanceof ProfileError ? error.message : `profiling failed: ${(error as Error).message}`;
      if (!(error instanceof ProfileError)) log.warn('profiling a file failed', { sha256, err: error });
      update = { state: 'failed', profile: null, error: reason };
    }
    await db
      .updateTable('data_profiles')
      .set({ ...update, updated_at: now() })
      .where('sha256', '=', sha256)
      .where('format', '=', format)
      .execute();
  }

  /** DuckDB reads local files: a folder store's blob directly, anything else streamed to a temporary copy first. */
  async #withLocalFile<T>(
    sha256: string,
    format: TabularFormat,
    fn: (file: string, tempDir: string) => Promise<T>,
  ): Promise<T> {
    const dir = join(this.#deps.workDir, randomUUID());
    await mkdir(dir, { recursive: true });
    try {
      const { artifacts } = this.#deps;
      if (artifacts instanceof FolderArtifactStore) return await fn(await artifacts.localPath(sha256), dir);
      const extension = format === 'jsonl' ? 'jsonl' : format;
      const copy = join(dir, `${sha256}.${extension}`);
      // `open` verifies the digest as it streams; a corrupt blob fails here instead of being profiled.
      await pipeline(await artifacts.open(sha256), createWriteStream(copy, { mode: 0o600 }));
      return await fn(copy, dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
