/**
 * The SQL of runs: creating a run under the pipeline's concurrency policy, claiming pending runs for a server,
 * recording steps, and recovering runs a stopped server left. Every multi-row change is one transaction; on
 * PostgreSQL the pipeline row is locked (FOR UPDATE) while its slots are counted, and pending runs are claimed with
 * FOR UPDATE SKIP LOCKED, so several servers share one queue without taking a run twice.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Database, MetadataDialect, PipelineRunsTable, PipelineStepsTable } from '../store/index.ts';
import type { CompiledPipeline } from './spec.ts';
import type { RunState, RunTrigger } from './types.ts';

export type RunRow = Selectable<PipelineRunsTable>;
export type StepRow = Selectable<PipelineStepsTable>;
type Db = Kysely<Database> | Transaction<Database>;

export interface NewRun {
  pipelineId: string;
  projectId: string;
  revision: number;
  compiled: CompiledPipeline;
  trigger: RunTrigger;
  /** Unique per pipeline: a second run with the same key is not created. */
  key: string;
  params?: Record<string, string>;
  now: string;
}

export const ACTIVE: RunState[] = ['Pending', 'Running'];

/**
 * Creates a run and its steps inside `trx`, applying the pipeline's concurrency policy: beyond the limit, `queue`
 * leaves it Pending, `skip` records it Skipped, `cancel-older` cancels the older runs. Returns undefined when a run
 * with the same trigger key exists.
 */
export async function insertRun(
  trx: Transaction<Database>,
  dialect: MetadataDialect,
  run: NewRun,
): Promise<{ id: string; number: number; state: RunState } | undefined> {
  let lock = trx.selectFrom('pipelines').select(['run_count']).where('id', '=', run.pipelineId);
  if (dialect === 'postgres') lock = lock.forUpdate();
  const pipeline = await lock.executeTakeFirst();
  if (!pipeline) return undefined;
  const existing = await trx
    .selectFrom('pipeline_runs')
    .select('id')
    .where('pipeline_id', '=', run.pipelineId)
    .where('trigger_key', '=', run.key)
    .executeTakeFirst();
  if (existing) return undefined;
  const { limit, policy } = run.compiled.spec.concurrency;
  const active = await trx
    .selectFrom('pipeline_runs')
    .select(['id', 'state'])
    .where('pipeline_id', '=', run.pipelineId)
    .where('state', 'in', ACTIVE)
    .where('cancel_requested', '=', 0)
    .orderBy('created_at')
    .execute();
  let state: RunState = 'Pending';
  let reason: string | null = null;
  if (active.length >= limit) {
    if (policy === 'skip') {
      state = 'Skipped';
      reason = `skipped: ${active.length} run(s) of this pipeline were active (concurrency limit ${limit}, policy skip)`;
    } else if (policy === 'cancel-older') {
      const older = active.map((r) => r.id);
      await trx
        .updateTable('pipeline_runs')
        .set({ cancel_requested: 1, updated_at: run.now })
        .where('id', 'in', older)
        .execute();
      await trx
        .updateTable('pipeline_runs')
        .set({ state: 'Cancelled', reason: 'cancelled by a newer run (policy cancel-older)', finished_at: run.now })
        .where('id', 'in', older)
        .where('state', '=', 'Pending')
        .execute();
      await trx
        .updateTable('pipeline_steps')
        .set({ state: 'Cancelled', reason: 'cancelled by a newer run' })
        .where('run_id', 'in', older)
        .where('state', '=', 'Pending')
        .execute();
    }
  }
  const number = pipeline.run_count + 1;
  await trx.updateTable('pipelines').set({ run_count: number }).where('id', '=', run.pipelineId).execute();
  const id = randomUUID();
  await trx
    .insertInto('pipeline_runs')
    .values({
      id,
      project_id: run.projectId,
      pipeline_id: run.pipelineId,
      number,
      revision: run.revision,
      state,
      reason,
      trigger: JSON.stringify(run.trigger),
      trigger_key: run.key,
      params: JSON.stringify(run.params ?? {}),
      attempt: 1,
      cancel_requested: 0,
      owner: null,
      heartbeat_at: null,
      summary: null,
      created_at: run.now,
      started_at: null,
      finished_at: state === 'Skipped' ? run.now : null,
      updated_at: run.now,
    })
    .execute();
  await trx
    .insertInto('pipeline_steps')
    .values(
      run.compiled.steps.map((step) => ({
        run_id: id,
        name: step.spec.name,
        position: step.position,
        kind: step.kind,
        state: state === 'Skipped' ? 'Skipped' : 'Pending',
        reason: null,
        attempt: 0,
        restarts: 0,
        exit_code: null,
        outputs_sha256: null,
        outputs_size: null,
        outputs: '[]',
        metrics: '{}',
        result: null,
        log_sha256: null,
        log_size: null,
        log_cut: 0,
        started_at: null,
        finished_at: null,
      })),
    )
    .execute();
  return { id, number, state };
}

/**
 * Claims up to `max` pending runs for `owner`, oldest first, each only while its pipeline has a free slot (runs
 * Running and not being cancelled count). Returns the claimed rows.
 */
export async function claimRuns(
  db: { transaction<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> },
  dialect: MetadataDialect,
  owner: string,
  limits: (pipelineId: string) => Promise<number | undefined>,
  max: number,
  /** Read at each claim, after the slots were counted, so a run's start never predates the end that freed it. */
  now: () => string,
): Promise<RunRow[]> {
  return db.transaction(async (trx) => {
    let query = trx
      .selectFrom('pipeline_runs')
      .selectAll()
      .where('state', '=', 'Pending')
      .orderBy('created_at')
      .orderBy('number')
      .limit(Math.max(max * 4, 16));
    if (dialect === 'postgres') query = query.forUpdate().skipLocked();
    const pending = await query.execute();
    const claimed: RunRow[] = [];
    const running = new Map<string, number>();
    for (const run of pending) {
      if (claimed.length >= max) break;
      const limit = await limits(run.pipeline_id);
      if (limit === undefined) continue;
      if (!running.has(run.pipeline_id)) {
        let lock = trx.selectFrom('pipelines').select('id').where('id', '=', run.pipeline_id);
        if (dialect === 'postgres') lock = lock.forUpdate();
        await lock.executeTakeFirst();
        const row = await trx
          .selectFrom('pipeline_runs')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('pipeline_id', '=', run.pipeline_id)
          // A run being cancelled keeps its slot until its steps are dead: the limit guards what steps use.
          .where('state', '=', 'Running')
          .executeTakeFirst();
        running.set(run.pipeline_id, Number(row?.n ?? 0));
      }
      const busy = running.get(run.pipeline_id)!;
      if (busy >= limit) continue;
      const at = now();
      const updated = await trx
        .updateTable('pipeline_runs')
        .set({ state: 'Running', owner, heartbeat_at: at, started_at: run.started_at ?? at, updated_at: at })
        .where('id', '=', run.id)
        .where('state', '=', 'Pending')
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) !== 1) continue;
      running.set(run.pipeline_id, busy + 1);
      claimed.push({ ...run, state: 'Running', owner, heartbeat_at: at, started_at: run.started_at ?? at });
    }
    return claimed;
  });
}

/**
 * Runs left Running by a server that stopped (every Running run on SQLite at start; on PostgreSQL those whose
 * heartbeat is older than `staleBefore`): steps that were running are failed with the reason, or set to run again
 * once when they are idempotent; the run goes back to Pending so that a server picks it up and finishes it.
 */
export async function recoverRuns(
  db: { transaction<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> },
  options: {
    staleBefore: string | undefined;
    idempotent: (runId: string, step: string, revision: number, pipelineId: string) => Promise<boolean>;
    now: string;
  },
): Promise<number> {
  return db.transaction(async (trx) => {
    let query = trx.selectFrom('pipeline_runs').selectAll().where('state', '=', 'Running');
    if (options.staleBefore !== undefined) query = query.where('heartbeat_at', '<', options.staleBefore);
    const runs = await query.execute();
    for (const run of runs) {
      const steps = await trx
        .selectFrom('pipeline_steps')
        .selectAll()
        .where('run_id', '=', run.id)
        .where('state', '=', 'Running')
        .execute();
      for (const step of steps) {
        const again =
          step.restarts === 0 && (await options.idempotent(run.id, step.name, run.revision, run.pipeline_id));
        await trx
          .updateTable('pipeline_steps')
          .set(
            again
              ? {
                  state: 'Pending',
                  restarts: step.restarts + 1,
                  reason: 'run again after a server restart (idempotent)',
                }
              : { state: 'Failed', reason: 'the server stopped while this step ran', finished_at: options.now },
          )
          .where('run_id', '=', run.id)
          .where('name', '=', step.name)
          .execute();
      }
      await trx
        .updateTable('pipeline_runs')
        .set({ state: 'Pending', owner: null, heartbeat_at: null, updated_at: options.now })
        .where('id', '=', run.id)
        .execute();
    }
    return runs.length;
  });
}

export async function stepRows(db: Db, runId: string): Promise<StepRow[]> {
  return db.selectFrom('pipeline_steps').selectAll().where('run_id', '=', runId).orderBy('position').execute();
}
