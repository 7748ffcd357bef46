/**
 * `JobService`: batch scoring jobs. A job is a row in the metadata store; it runs in a child process
 * (`runJobProcess`) with at most `concurrency` jobs at once, and its output (and rejects) are stored in the artifact
 * store, checksummed, when it succeeds.
 *
 * Durability: `restore()` (called at start-up) finds jobs left `running` by a server that stopped or crashed and
 * queues them again from the beginning, with the restart written in `reason` and `attempt` bumped; a job
 * interrupted `maxAttempts` times is failed with that reason instead. Nothing is silently lost.
 *
 * The parts: job-store.ts (the SQL), job-scheduler.ts (slots and claiming), job-runner.ts (one job: input, child
 * process, outputs); input uploads are the API route's (src/api/routes/jobs.ts).
 *
 * Example:
 *   const jobs = new JobService({ store, artifacts, registry, workDir, inputs: new S3InputSource({}) });
 *   await jobs.restore();
 *   const job = await jobs.create('default', { model: 'fraud@champion', input: { artifact: sha256 } });
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { ModelportError, parseModelRef } from '../core/index.ts';
import { type Logger, silentLogger } from '../logging/index.ts';
import type { ModelRegistry } from '../registry/index.ts';
import type { ArtifactStore, MetadataStore } from '../store/index.ts';
import { JobRunner } from './job-runner.ts';
import { JobScheduler } from './job-scheduler.ts';
import { compileJobSpec, type JobCreateRequest } from './job-spec.ts';
import { type JobRow, JobStore, toJob } from './job-store.ts';
import type { Job, JobArtifact, JobState } from './job-types.ts';
import type { JobInputSource } from './s3-input.ts';

export interface JobServiceOptions {
  store: MetadataStore;
  artifacts: ArtifactStore;
  registry: ModelRegistry;
  /** Scratch folder for inputs fetched from S3 and outputs being written; one sub-folder per running job. */
  workDir: string;
  /** Fetches `s3://` inputs. Without it, such jobs fail with a reason. */
  inputs?: JobInputSource;
  /** Jobs running at once; default 1. */
  concurrency?: number;
  /** Times a job may be interrupted by a restart before it is failed; default 3. */
  maxAttempts?: number;
  log?: Logger;
}

const newId = () => randomBytes(6).toString('hex');
const TERMINAL: ReadonlySet<JobState> = new Set(['succeeded', 'failed', 'cancelled']);

export class JobService {
  readonly #store: JobStore;
  readonly #artifacts: ArtifactStore;
  readonly #registry: ModelRegistry;
  readonly #scheduler: JobScheduler;
  readonly #maxAttempts: number;
  readonly #log: Logger;

  constructor(options: JobServiceOptions) {
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new ModelportError('invalid_config', 'job concurrency: use a whole number of 1 or more', {
        field: 'jobConcurrency',
      });
    }
    this.#store = new JobStore(options.store);
    this.#artifacts = options.artifacts;
    this.#registry = options.registry;
    this.#maxAttempts = options.maxAttempts ?? 3;
    this.#log = options.log ?? silentLogger();
    const runner = new JobRunner({
      store: this.#store,
      artifacts: options.artifacts,
      registry: options.registry,
      workDir: options.workDir,
      inputs: options.inputs,
      log: this.#log,
    });
    this.#scheduler = new JobScheduler({
      store: this.#store,
      concurrency,
      run: (row, signal) => runner.run(row, signal),
      log: this.#log,
    });
  }

  /**
   * Validates the request (the model reference and the input artifact must exist), stores the job as queued and
   * starts it when a slot is free.
   */
  async create(project: string, request: JobCreateRequest): Promise<Job> {
    const projectId = await this.#store.projectId(project);
    const ref = parseModelRef(request.model, 'body.model');
    const version = await this.#registry.getVersion(project, ref).catch((error: unknown) => {
      if (error instanceof ModelportError && error.code === 'not_found') {
        throw new ModelportError('not_found', `body.model: ${error.message}; register it or fix the reference`, {
          field: 'body.model',
        });
      }
      throw error;
    });
    const spec = compileJobSpec(request);
    if ('artifact' in spec.input && !(await this.#artifacts.has(spec.input.artifact))) {
      throw new ModelportError(
        'not_found',
        `body.input.artifact: no input with sha256 ${spec.input.artifact}; upload it with POST .../jobs/inputs first`,
        { field: 'body.input.artifact' },
      );
    }
    const now = new Date().toISOString();
    const row: JobRow = {
      id: newId(),
      project_id: projectId,
      model: version.model,
      version: version.version,
      spec: JSON.stringify(spec),
      state: 'queued',
      reason: null,
      attempt: 1,
      rows_done: 0,
      rejects: 0,
      bytes_read: 0,
      bytes_total: null,
      output_sha256: null,
      output_size: null,
      rejects_sha256: null,
      rejects_size: null,
      created_at: now,
      started_at: null,
      finished_at: null,
      updated_at: now,
    };
    await this.#store.insert(row);
    this.#log.info('job queued', { job: row.id, project, model: `${version.model}@${version.version}` });
    this.#scheduler.wake();
    return toJob(project, row);
  }

  /** The project's jobs, newest first (at most `limit`, default 100). */
  async list(project: string, limit = 100): Promise<Job[]> {
    const rows = await this.#store.list(await this.#store.projectId(project), limit);
    return rows.map((row) => toJob(project, row));
  }

  async get(project: string, id: string): Promise<Job> {
    return toJob(project, await this.#store.row(project, id));
  }

  /**
   * Cancels a queued or running job (a running one's process is killed, its partial output removed). Cancelling a
   * cancelled job returns it unchanged; a succeeded or failed one is a `conflict`.
   */
  async cancel(project: string, id: string): Promise<Job> {
    const row = await this.#store.row(project, id);
    if (row.state === 'cancelled') return toJob(project, row);
    if (TERMINAL.has(row.state as JobState)) {
      throw new ModelportError(
        'conflict',
        `job ${id} already ${row.state}; only queued or running jobs can be cancelled`,
        {
          field: 'id',
        },
      );
    }
    if (!(await this.#store.cancel(id))) return this.cancel(project, id); // it finished meanwhile: report that
    await this.#scheduler.stop(id, new ModelportError('conflict', 'cancelled'));
    this.#log.info('job cancelled', { job: id, project });
    return this.get(project, id);
  }

  /** Opens a succeeded job's output (or rejects) for download; `conflict` until the job succeeded. */
  async open(
    project: string,
    id: string,
    which: 'output' | 'rejects',
  ): Promise<{ job: Job; artifact: JobArtifact; body: Readable }> {
    const job = await this.get(project, id);
    if (job.state !== 'succeeded') {
      throw new ModelportError(
        'conflict',
        `job ${id} is ${job.state}; its ${which} can be downloaded once it succeeded`,
        { field: 'id' },
      );
    }
    const artifact = which === 'output' ? job.output : job.rejects;
    if (!artifact) {
      throw new ModelportError('not_found', `job ${id} has no rejects; submit it with onError skip to keep them`, {
        field: 'id',
      });
    }
    return { job, artifact, body: await this.#artifacts.open(artifact.sha256) };
  }

  /**
   * At start-up: jobs a previous server left running start over (or fail after `maxAttempts` interruptions), and
   * queued jobs start.
   */
  async restore(): Promise<void> {
    for (const row of await this.#store.running()) {
      const exhausted = row.attempt >= this.#maxAttempts;
      if (exhausted) {
        await this.#store.finish(row.id, 'failed', {
          reason: `the server stopped while the job ran, ${row.attempt} times; submit it again`,
        });
      } else {
        await this.#store.requeue(
          row,
          `the server restarted while the job ran (attempt ${row.attempt}); it starts over from the beginning as attempt ${row.attempt + 1}`,
        );
      }
      this.#log.warn(exhausted ? 'job failed after restarts' : 'job restarts after a server restart', { job: row.id });
    }
    this.#scheduler.wake();
  }

  /** Stops running jobs (they stay `running` in the store, so the next start resumes them) and waits for them. */
  async close(): Promise<void> {
    await this.#scheduler.close(new ModelportError('not_ready', 'closing'));
  }
}
