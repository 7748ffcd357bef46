/**
 * The jobs' SQL, on SQLite or PostgreSQL through the metadata store. State changes are conditional on the state
 * they leave (a cancelled job is never claimed, a finished one never cancelled), so two writers never both win.
 */
import type { Selectable } from 'kysely';
import { ModelportError } from '../core/index.ts';
import type { JobsTable, MetadataStore } from '../store/index.ts';
import type { Job, JobArtifact, JobSpec, JobState } from './job-types.ts';

export type JobRow = Selectable<JobsTable>;

const stamp = () => new Date().toISOString();

export class JobStore {
  readonly #store: Pick<MetadataStore, 'db'>;

  constructor(store: Pick<MetadataStore, 'db'>) {
    this.#store = store;
  }

  get #db() {
    return this.#store.db;
  }

  async projectId(project: string): Promise<string> {
    const row = await this.#db.selectFrom('projects').select('id').where('name', '=', project).executeTakeFirst();
    if (!row) throw new ModelportError('not_found', `project '${project}' not found`, { field: 'project' });
    return row.id;
  }

  async projectName(projectId: string): Promise<string> {
    const row = await this.#db.selectFrom('projects').select('name').where('id', '=', projectId).executeTakeFirst();
    return row?.name ?? projectId;
  }

  async insert(row: JobRow): Promise<void> {
    await this.#db.insertInto('jobs').values(row).execute();
  }

  /** The project's jobs, newest first. */
  list(projectId: string, limit: number): Promise<JobRow[]> {
    return this.#db
      .selectFrom('jobs')
      .selectAll()
      .where('project_id', '=', projectId)
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(limit)
      .execute();
  }

  /** The job; `not_found` naming `id` when absent, in another project, or not a job id at all. */
  async row(project: string, id: string): Promise<JobRow> {
    const projectId = await this.projectId(project);
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

  /** Cancels a queued or running job; false when it was neither any more. */
  async cancel(id: string): Promise<boolean> {
    const now = stamp();
    const result = await this.#db
      .updateTable('jobs')
      .set({ state: 'cancelled', reason: 'cancelled by request', finished_at: now, updated_at: now })
      .where('id', '=', id)
      .where('state', 'in', ['queued', 'running'])
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Jobs a stopped server left running. */
  running(): Promise<JobRow[]> {
    return this.#db.selectFrom('jobs').selectAll().where('state', '=', 'running').execute();
  }

  /** A running job starts over: queued again as the next attempt, with its progress reset and the reason. */
  async requeue(row: JobRow, reason: string): Promise<void> {
    await this.#db
      .updateTable('jobs')
      .set({
        state: 'queued',
        reason,
        attempt: row.attempt + 1,
        rows_done: 0,
        rejects: 0,
        bytes_read: 0,
        started_at: null,
        updated_at: stamp(),
      })
      .where('id', '=', row.id)
      .where('state', '=', 'running')
      .execute();
  }

  /** The oldest queued job, if any. */
  nextQueued(): Promise<JobRow | undefined> {
    return this.#db
      .selectFrom('jobs')
      .selectAll()
      .where('state', '=', 'queued')
      .orderBy('created_at')
      .orderBy('id')
      .limit(1)
      .executeTakeFirst();
  }

  /** Marks a queued job running; undefined when another writer changed it first. */
  async claim(row: JobRow): Promise<JobRow | undefined> {
    const now = stamp();
    const claimed = await this.#db
      .updateTable('jobs')
      .set({ state: 'running', started_at: now, updated_at: now })
      .where('id', '=', row.id)
      .where('state', '=', 'queued')
      .executeTakeFirst();
    return Number(claimed.numUpdatedRows) === 0 ? undefined : { ...row, state: 'running', started_at: now };
  }

  /** Updates a running job (progress, totals); a job no longer running is left alone. */
  async save(id: string, values: Partial<JobRow>): Promise<void> {
    await this.#db
      .updateTable('jobs')
      .set({ ...values, updated_at: stamp() })
      .where('id', '=', id)
      .where('state', '=', 'running')
      .execute();
  }

  /** Ends a running job in `state`. */
  finish(id: string, state: JobState, values: Partial<JobRow>): Promise<void> {
    return this.save(id, { ...values, state, finished_at: stamp() });
  }
}

/** A row as the API shows it, with the rate computed at `now`. */
export function toJob(project: string, row: JobRow, now = Date.now()): Job {
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
