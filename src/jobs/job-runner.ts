/**
 * Runs one claimed job to its end: fetches the input (an artifact, or an `s3://` object into the job's folder),
 * scores it in a child process (`runJobProcess`) while saving progress at most every PROGRESS_SAVE_MS, stores the
 * output and rejects in the artifact store (checksummed), and writes the outcome. The job's folder is removed
 * whatever happens. An abort (cancel, shutdown) writes nothing: cancel wrote the state, and a shutdown leaves the
 * row running for the next start's restore.
 */
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelportError } from '../core/index.ts';
import type { Logger } from '../logging/index.ts';
import type { ModelRegistry } from '../registry/index.ts';
import { scoringParts } from '../signatures/index.ts';
import type { ArtifactStore } from '../store/index.ts';
import type { JobCounts } from './job-messages.ts';
import { runJobProcess } from './job-process.ts';
import type { JobRow, JobStore } from './job-store.ts';
import type { JobSpec } from './job-types.ts';
import type { JobInputSource } from './s3-input.ts';

const PROGRESS_SAVE_MS = 500;

export interface JobRunnerOptions {
  store: JobStore;
  artifacts: ArtifactStore;
  registry: Pick<ModelRegistry, 'getVersion'>;
  /** Scratch folder; one sub-folder per running job. */
  workDir: string;
  inputs?: JobInputSource | undefined;
  log: Logger;
}

export class JobRunner {
  readonly #o: JobRunnerOptions;

  constructor(options: JobRunnerOptions) {
    this.#o = options;
  }

  async run(row: JobRow, signal: AbortSignal): Promise<void> {
    const { store, artifacts, registry, log } = this.#o;
    const spec = JSON.parse(row.spec) as JobSpec;
    const dir = join(this.#o.workDir, row.id);
    const project = await store.projectName(row.project_id);
    try {
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      const version = await registry.getVersion(project, { name: row.model, version: row.version });
      const modelPath = await artifacts.localPath(version.sha256);
      const input = await this.#input(spec, dir, signal);
      await store.save(row.id, { bytes_total: input.size });
      // The request's names win; else the version's friendly signature (features and output labels) gives them.
      const friendly = scoringParts(version.friendlySignature);
      const featureNames = spec.featureNames ?? friendly.featureNames;
      const labels = spec.labels ?? friendly.labels;
      const outputPath = join(dir, `output.${spec.outputFormat}`);
      const rejectsPath = spec.onError === 'skip' ? join(dir, 'rejects.csv') : undefined;
      let saved = 0;
      const counts = await runJobProcess(
        {
          modelPath,
          inputPath: input.path,
          inputFormat: spec.format,
          outputPath,
          outputFormat: spec.outputFormat,
          rejectsPath,
          batchSize: spec.batchSize,
          keep: spec.keep,
          onError: spec.onError,
          ...(featureNames ? { featureNames } : {}),
          ...(labels ? { labels } : {}),
        },
        {
          signal,
          onProgress: (c) => {
            const now = Date.now();
            if (now - saved < PROGRESS_SAVE_MS) return;
            saved = now;
            void store.save(row.id, progressOf(c)).catch(() => {});
          },
          onDetail: (detail) => log.warn('job scoring failed', { job: row.id, detail }),
        },
      );
      const output = await artifacts.putFile(outputPath, { signal });
      const rejects = rejectsPath ? await artifacts.putFile(rejectsPath, { signal }) : undefined;
      await store.finish(row.id, 'succeeded', {
        ...progressOf(counts),
        output_sha256: output.sha256,
        output_size: output.size,
        rejects_sha256: rejects?.sha256 ?? null,
        rejects_size: rejects?.size ?? null,
      });
      log.info('job succeeded', { job: row.id, rows: counts.rows, rejects: counts.rejects });
    } catch (error) {
      // Cancelled: cancel() wrote the state. Closing: the row stays running, for restore() on the next start.
      if (signal.aborted) return;
      const message =
        error instanceof ModelportError && error.code !== 'internal'
          ? error.message
          : 'the job failed unexpectedly; the server log has the details';
      if (!(error instanceof ModelportError) || error.code === 'internal') {
        log.warn('job failed', { job: row.id, err: error });
      }
      await store.finish(row.id, 'failed', { reason: message });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async #input(spec: JobSpec, dir: string, signal: AbortSignal): Promise<{ path: string; size: number | null }> {
    if ('artifact' in spec.input) {
      const path = await this.#o.artifacts.localPath(spec.input.artifact);
      return { path, size: (await stat(path)).size };
    }
    if (!this.#o.inputs) {
      throw new ModelportError('invalid_request', 'input.url: this server cannot read s3:// inputs', {
        field: 'input.url',
      });
    }
    const path = join(dir, `input.${spec.format}`);
    return { path, size: await this.#o.inputs.download(spec.input.url, path, signal) };
  }
}

function progressOf(counts: JobCounts): Partial<JobRow> {
  return { rows_done: counts.rows, bytes_read: counts.bytes, rejects: counts.rejects };
}
