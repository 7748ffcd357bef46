/**
 * `JobService`: batch scoring jobs. A job is a row in the metadata store; it runs in a child process
 * (`runJobProcess`) with at most `concurrency` jobs at once, and its output (and rejects) are stored in the artifact
 * store, checksummed, when it succeeds.
 *
 * Durability: `restore()` (called at start-up) finds jobs left `running` by a server that stopped or crashed and
 * queues them again from the beginning, with the restart written in `reason` and `attempt` bumped; a job
 * interrupted `maxAttempts` times is failed with that reason instead. Nothing is silently lost.
 *
 * Example:
 *   const jobs = new JobService({ store, artifacts, registry, workDir, inputs: new S3InputSource({}) });
 *   await jobs.restore();
 *   const job = await jobs.create('default', { model: 'fraud@champion', input: { artifact: sha256 } });
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Selectable } from 'kysely';
import { ModelportError } from '../core/errors.ts';
import { parseModelRef } from '../core/names.ts';
import type { ModelRegistry } from '../registry/model-registry.ts';
import { scoringParts } from '../signatures/index.ts';
import type { ArtifactStore } from '../store/artifacts/index.ts';
import type { MetadataStore } from '../store/metadata/index.ts';
import type { JobsTable } from '../store/metadata/schema.ts';
import type { JobCounts } from './job-messages.ts';
import { runJobProcess } from './job-process.ts';
import { compileJobSpec, type JobCreateRequest } from './job-spec.ts';
import type { Job, JobArtifact, JobSpec, JobState } from './job-types.ts';
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
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

type JobRow = Selectable<JobsTable>;

const newId = () => randomBytes(6).toString('hex');
const TERMINAL: ReadonlySet<JobState> = new Set(['succeeded', 'failed', 'cancelled']);
const PROGRESS_SAVE_MS = 500;

export class JobService {
  readonly #store: MetadataStore;
  readonly #artifacts: ArtifactStore;
  readonly #registry: ModelRegistry;
  readonly #workDir: string;
  readonly #inputs: JobInputSource | undefined;
  readonly #concurrency: number;
  readonly #maxAttempts: number;
  readonly #log: (message: string, fields?: Record<string, unknown>) => void;
  /** Running jobs by id: abort to cancel (or to stop at shutdown). */
  readonly #running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  #pumping: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: JobServiceOptions) {
    this.#store = options.store;
    this.#artifacts = options.artifacts;
    this.#registry = options.registry;
    this.#workDir = options.workDir;
    this.#inputs = options.inputs;
    this.#concurrency = options.concurrency ?? 1;
    this.#maxAttempts = options.maxAttempts ?? 3;
    this.#log = options.log ?? (() => {});
    if (!Number.isInteger(this.#concurrency) || this.#concurrency < 1) {
      throw new ModelportError('invalid_config', 'job concurrency: use a whole number of 1 or more', {
        field: 'jobConcurrency',
      });
    }
  }

  get #db() {
    return this.#store.db;
  }

  /**
   * Validates the request (the model reference and the input artifact must exist), stores the job as queued and
   * starts it when a slot is free.
   */
  async create(project: string, request: JobCreateRequest): Promise<Job> {
    const projectId = await this.#projectId(project);
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
    await this.#db.insertInto('jobs').values(row).execute();
    this.#log('job queued', { job: row.id, project, model: `${version.model}@${version.version}` });
    this.#pump();
    return toJob(project, row);
  }

  /** The project's jobs, newest first (at most `limit`, default 100). */
  async list(project: string, limit = 100): Promise<Job[]> {
    const projectId = await this.#projectId(project);
    const rows = await this.#db
      .selectFrom('jobs')
      .selectAll()
      .where('project_id', '=', projectId)
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((row) => toJob(project, row));
  }

  async get(project: string, id: string): Promise<Job> {
    return toJob(project, await this.#row(project, id));
  }

  /**
   * Cancels a queued or running job (a running one's process is killed, its partial output removed). Cancelling a
   * cancelled job returns it unchanged; a succeeded or failed one is a `conflict`.
   */
  async cancel(project: string, id: string): Promise<Job> {
    const row = await this.#row(project, id);
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
    const now = new Date().toISOString();
    const result = await this.#db
      .updateTable('jobs')
      .set({ state: 'cancelled', reason: 'cancelled by request', finished_at: now, updated_at: now })
      .where('id', '=', id)
      .where('state', 'in', ['queued', 'running'])
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) return this.cancel(project, id); // it finished meanwhile: report that
    const running = this.#running.get(id);
    running?.controller.abort(new ModelportError('conflict', 'cancelled'));
    await running?.done;
    this.#log('job cancelled', { job: id, project });
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
    const rows = await this.#db.selectFrom('jobs').selectAll().where('state', '=', 'running').execute();
    const now = new Date().toISOString();
    for (const row of rows) {
      const exhausted = row.attempt >= this.#maxAttempts;
      const reason = exhausted
        ? `the server stopped while the job ran, ${row.attempt} times; submit it again`
        : `the server restarted while the job ran (attempt ${row.attempt}); it starts over from the beginning as attempt ${row.attempt + 1}`;
      await this.#db
        .updateTable('jobs')
        .set(
          exhausted
            ? { state: 'failed', reason, finished_at: now, updated_at: now }
            : {
                state: 'queued',
                reason,
                attempt: row.attempt + 1,
                rows_done: 0,
                rejects: 0,
                bytes_read: 0,
                started_at: null,
                updated_at: now,
              },
        )
        .where('id', '=', row.id)
        .where('state', '=', 'running')
        .execute();
      this.#log(exhausted ? 'job failed after restarts' : 'job restarts after a server restart', { job: row.id });
    }
    this.#pump();
  }

  /** Stops running jobs (they stay `running` in the store, so the next start resumes them) and waits for them. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#pumping;
    for (const { controller } of this.#running.values()) controller.abort(new ModelportError('not_ready', 'closing'));
    await Promise.allSettled([...this.#running.values()].map((r) => r.done));
  }

  /** Starts queued jobs, oldest first, while slots are free. Serialised so two calls never claim the same job. */
  #pump(): void {
    this.#pumping = this.#pumping
      .then(async () => {
        while (!this.#closed && this.#running.size < this.#concurrency) {
          const next = await this.#db
            .selectFrom('jobs')
            .selectAll()
            .where('state', '=', 'queued')
            .orderBy('created_at')
            .orderBy('id')
            .limit(1)
            .executeTakeFirst();
          if (!next) return;
          const now = new Date().toISOString();
          const claimed = await this.#db
            .updateTable('jobs')
            .set({ state: 'running', started_at: now, updated_at: now })
            .where('id', '=', next.id)
            .where('state', '=', 'queued')
            .executeTakeFirst();
          if (Number(claimed.numUpdatedRows) === 0) continue;
          const controller = new AbortController();
          const done = this.#run({ ...next, state: 'running', started_at: now }, controller.signal).finally(() => {
            this.#running.delete(next.id);
            this.#pump();
          });
          this.#running.set(next.id, { controller, done });
        }
      })
      .catch((error: unknown) => this.#log('job queue failed', { error: String(error) }));
  }

  async #run(row: JobRow, signal: AbortSignal): Promise<void> {
    const spec = JSON.parse(row.spec) as JobSpec;
    const dir = join(this.#workDir, row.id);
    const project = await this.#projectName(row.project_id);
    try {
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      const version = await this.#registry.getVersion(project, { name: row.model, version: row.version });
      const modelPath = await this.#artifacts.localPath(version.sha256);
      const input = await this.#input(spec, dir, signal);
      await this.#save(row.id, { bytes_total: input.size });
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
            void this.#save(row.id, progressOf(c)).catch(() => {});
          },
          onDetail: (detail) => this.#log('job scoring failed', { job: row.id, detail }),
        },
      );
      const output = await this.#artifacts.putFile(outputPath, { signal });
      const rejects = rejectsPath ? await this.#artifacts.putFile(rejectsPath, { signal }) : undefined;
      await this.#finish(row.id, 'succeeded', {
        ...progressOf(counts),
        output_sha256: output.sha256,
        output_size: output.size,
        rejects_sha256: rejects?.sha256 ?? null,
        rejects_size: rejects?.size ?? null,
      });
      this.#log('job succeeded', { job: row.id, rows: counts.rows, rejects: counts.rejects });
    } catch (error) {
      // Cancelled: cancel() wrote the state. Closing: the row stays running, for restore() on the next start.
      if (signal.aborted) return;
      const message =
        error instanceof ModelportError && error.code !== 'internal'
          ? error.message
          : 'the job failed unexpectedly; the server log has the details';
      if (!(error instanceof ModelportError) || error.code === 'internal') {
        this.#log('job failed', { job: row.id, error: String((error as Error)?.stack ?? error) });
      }
      await this.#finish(row.id, 'failed', { reason: message });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async #input(spec: JobSpec, dir: string, signal: AbortSignal): Promise<{ path: string; size: number | null }> {
    if ('artifact' in spec.input) {
      const path = await this.#artifacts.localPath(spec.input.artifact);
      return { path, size: (await stat(path)).size };
    }
    if (!this.#inputs) {
      throw new ModelportError('invalid_request', 'input.url: this server cannot read s3:// inputs', {
        field: 'input.url',
      });
    }
    const path = join(dir, `input.${spec.format}`);
    return { path, size: await this.#inputs.download(spec.input.url, path, signal) };
  }

  #save(id: string, values: Partial<JobRow>): Promise<unknown> {
    return this.#db
      .updateTable('jobs')
      .set({ ...values, updated_at: new Date().toISOString() })
      .where('id', '=', id)
      .where('state', '=', 'running')
      .execute();
  }

  #finish(id: string, state: JobState, values: Partial<JobRow>): Promise<unknown> {
    const now = new Date().toISOString();
    return this.#save(id, { ...values, state, finished_at: now });
  }

  async #row(project: string, id: string): Promise<JobRow> {
    const projectId = await this.#projectId(project);
    const row = /^[0-9a-f]{12}$/.test(id)
      ? await this.#db
          .selectFrom('jobs')
          .selectAll()
          .where('id', '=', id)
          .where('project_id', '=', projectId)
          .executeTakeFirst()
      : undefined;
    if (!row) throw new ModelportError('not_found', `job '${id}' not found in project '${project}'`, { field: 'id' });
    return row;
  }

  async #projectId(project: string): Promise<string> {
    const row = await this.#db.selectFrom('projects').select('id').where('name', '=', project).executeTakeFirst();
    if (!row) throw new ModelportError('not_found', `project '${project}' not found`, { field: 'project' });
    return row.id;
  }

  async #projectName(projectId: string): Promise<string> {
    const row = await this.#db.selectFrom('projects').select('name').where('id', '=', projectId).executeTakeFirst();
    return row?.name ?? projectId;
  }
}

function progressOf(counts: JobCounts): Partial<JobRow> {
  return { rows_done: counts.rows, bytes_read: counts.bytes, rejects: counts.rejects };
}

function toJob(project: string, row: JobRow, now = Date.now()): Job {
  const rows = Number(row.rows_done);
  const started = row.started_at ? Date.parse(row.started_at) : undefined;
  const ended = row.finished_at ? Date.parse(row.finished_at) : now;
  const seconds = started === undefined ? 0 : Math.max((ended - started) / 1000, 0.001);
  const artifact = (sha256: string | null, size: number | null): JobArtifact | null =>
    sha256 === null ? null : { sha256, size: Number(size) };
  return {
    id: row.id,
    project,
    model: row.model,
    version: row.version,
    state: row.state as JobState,
    reason: row.reason,
    attempt: row.attempt,
    spec: JSON.parse(row.spec) as JobSpec,
    progress: {
      rows,
      rowsPerSecond: seconds > 0 ? Math.round(rows / seconds) : 0,
      bytesRead: Number(row.bytes_read),
      bytesTotal: row.bytes_total === null ? null : Number(row.bytes_total),
      rejects: Number(row.rejects),
    },
    output: artifact(row.output_sha256, row.output_size),
    rejects: artifact(row.rejects_sha256, row.rejects_size),
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}
