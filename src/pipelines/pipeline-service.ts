/**
 * Pipelines and their runs: apply (a new revision when the spec or code changed, checked against the stores),
 * list, show, delete; trigger, list and show runs, cancel, resume; and the logs of a run's steps, live or stored.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { Selectable } from 'kysely';
import { checkName, ModelportError, notFound } from '../core/index.ts';
import { type ArtifactStore, type MetadataStore, type PipelineRunsTable, projectIdOf } from '../store/index.ts';
import { outputFiles, type RunEngine } from './run-engine.ts';
import { ACTIVE, stepRows } from './run-store.ts';
import { compilePipelineSpec, secretReferences } from './spec.ts';
import type { StepLog } from './step-log.ts';
import {
  FINISHED,
  type Pipeline,
  type PipelineRevision,
  type Run,
  type RunState,
  type RunStep,
  type RunTrigger,
} from './types.ts';
import { verifyDelivery } from './webhook.ts';

export interface PipelineServiceDeps {
  store: Pick<MetadataStore, 'db' | 'dialect' | 'transaction'>;
  artifacts: ArtifactStore;
  engine: RunEngine;
  /** Does the data repository exist in the project? */
  repoExists(project: string, repo: string): Promise<boolean>;
  /** The names of the project's secrets. */
  secretNames(project: string): Promise<string[]>;
  /** A secret's value (the webhook trigger's signing secret), undefined when it is gone. */
  secretValue?(project: string, name: string): Promise<string | undefined>;
  /** The executors this server has (`local`, and `kubernetes` when configured). */
  executors?: readonly string[];
  /** Largest packed code folder (default 64 MiB). */
  maxCodeBytes?: number;
  now?: () => Date;
}

export interface ApplyInput {
  spec: unknown;
  /** The packed folder (uploaded first with `uploadPipelineCode`). */
  code?: { sha256: string } | undefined;
  codeRef?: string | undefined;
}

type RunRow = Selectable<PipelineRunsTable>;

export class PipelineService {
  readonly #d: PipelineServiceDeps;

  constructor(deps: PipelineServiceDeps) {
    this.#d = deps;
  }

  get maxCodeBytes(): number {
    return this.#d.maxCodeBytes ?? 64 * 1024 * 1024;
  }

  #now(): string {
    return (this.#d.now?.() ?? new Date()).toISOString();
  }

  async #projectId(project: string): Promise<string> {
    return projectIdOf(this.#d.store.db, project);
  }

  async #pipelineRow(project: string, name: string) {
    checkName(name, 'pipeline');
    const projectId = await this.#projectId(project);
    const row = await this.#d.store.db
      .selectFrom('pipelines')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) throw notFound(`pipeline '${name}' in project '${project}' (list them with pipelines list)`, 'pipeline');
    return row;
  }

  /**
   * Checks the spec (the DAG, cron, CEL, secrets and repositories that must exist, the code blob) and stores it as
   * a new revision when it differs from the latest; nothing is stored when a check fails.
   */
  async apply(project: string, input: ApplyInput): Promise<Pipeline & { changed: boolean }> {
    const compiled = compilePipelineSpec(input.spec);
    const { spec } = compiled;
    const projectId = await this.#projectId(project);
    const executors = this.#d.executors ?? ['local'];
    if (!executors.includes(spec.executor)) {
      throw new ModelportError(
        'invalid_request',
        `executor: '${spec.executor}' is not configured on this server (it has ${executors.join(', ')}); configure Kubernetes (see the README) or use local`,
        { field: 'executor' },
      );
    }
    if (spec.trigger.data && !(await this.#d.repoExists(project, spec.trigger.data.repo))) {
      throw new ModelportError(
        'invalid_request',
        `trigger.data.repo: the data repository '${spec.trigger.data.repo}' does not exist in project '${project}'; create it with modelport data repos create ${spec.trigger.data.repo}`,
        { field: 'trigger.data.repo' },
      );
    }
    const secrets = new Set(await this.#d.secretNames(project));
    for (const ref of secretReferences(spec)) {
      if (!secrets.has(ref.secret)) {
        throw new ModelportError(
          'invalid_request',
          `${ref.field}: the secret '${ref.secret}' does not exist in project '${project}'; set it with modelport secrets set ${ref.secret}`,
          { field: ref.field },
        );
      }
    }
    let code: { sha256: string; size: number } | null = null;
    if (input.code) {
      const sha = input.code.sha256;
      if (!/^[0-9a-f]{64}$/.test(sha) || !(await this.#d.artifacts.has(sha))) {
        throw new ModelportError(
          'invalid_request',
          `code.sha256: no uploaded code has the digest '${sha.slice(0, 70)}'`,
          {
            field: 'code.sha256',
          },
        );
      }
      const size = await sizeOf(await this.#d.artifacts.open(sha));
      code = { sha256: sha, size };
    }
    const codeRef = input.codeRef && /^git:[0-9a-f]{7,64}$/.test(input.codeRef) ? input.codeRef : null;
    const now = this.#now();
    const specJson = JSON.stringify(spec);
    const changed = await this.#d.store.transaction(async (trx) => {
      let row = await trx
        .selectFrom('pipelines')
        .selectAll()
        .where('project_id', '=', projectId)
        .where('name', '=', spec.name)
        .executeTakeFirst();
      if (!row) {
        row = {
          id: randomUUID(),
          project_id: projectId,
          name: spec.name,
          latest_revision: 0,
          run_count: 0,
          created_at: now,
          updated_at: now,
        };
        await trx.insertInto('pipelines').values(row).execute();
      } else {
        const latest = await trx
          .selectFrom('pipeline_revisions')
          .selectAll()
          .where('pipeline_id', '=', row.id)
          .where('revision', '=', row.latest_revision)
          .executeTakeFirst();
        if (latest && latest.spec === specJson && latest.code_sha256 === (code?.sha256 ?? null)) return false;
      }
      const revision = row.latest_revision + 1;
      await trx
        .insertInto('pipeline_revisions')
        .values({
          pipeline_id: row.id,
          revision,
          spec: specJson,
          code_sha256: code?.sha256 ?? null,
          code_size: code?.size ?? null,
          code_ref: codeRef,
          created_at: now,
        })
        .execute();
      await trx
        .updateTable('pipelines')
        .set({ latest_revision: revision, updated_at: now })
        .where('id', '=', row.id)
        .execute();
      return true;
    });
    if (changed) await this.#d.engine.refreshSchedules();
    return { ...(await this.get(project, spec.name)), changed };
  }

  async list(project: string): Promise<Pipeline[]> {
    const projectId = await this.#projectId(project);
    const rows = await this.#d.store.db
      .selectFrom('pipelines')
      .select('name')
      .where('project_id', '=', projectId)
      .orderBy('name')
      .execute();
    return Promise.all(rows.map((r) => this.get(project, r.name)));
  }

  async get(project: string, name: string): Promise<Pipeline> {
    const row = await this.#pipelineRow(project, name);
    const rev = await this.#d.store.db
      .selectFrom('pipeline_revisions')
      .selectAll()
      .where('pipeline_id', '=', row.id)
      .where('revision', '=', row.latest_revision)
      .executeTakeFirstOrThrow();
    const last = await this.#d.store.db
      .selectFrom('pipeline_runs')
      .select(['id', 'number', 'state', 'created_at'])
      .where('pipeline_id', '=', row.id)
      .orderBy('number', 'desc')
      .limit(1)
      .executeTakeFirst();
    return {
      project,
      name: row.name,
      revision: row.latest_revision,
      spec: JSON.parse(rev.spec),
      code: rev.code_sha256 ? { sha256: rev.code_sha256, size: Number(rev.code_size) } : null,
      codeRef: rev.code_ref,
      runs: row.run_count,
      lastRun: last
        ? { id: last.id, number: last.number, state: last.state as RunState, createdAt: last.created_at }
        : null,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  async revisions(project: string, name: string): Promise<PipelineRevision[]> {
    const row = await this.#pipelineRow(project, name);
    const revs = await this.#d.store.db
      .selectFrom('pipeline_revisions')
      .selectAll()
      .where('pipeline_id', '=', row.id)
      .orderBy('revision')
      .execute();
    return revs.map((r) => ({
      revision: r.revision,
      spec: JSON.parse(r.spec),
      code: r.code_sha256 ? { sha256: r.code_sha256, size: Number(r.code_size) } : null,
      codeRef: r.code_ref,
      createdAt: r.created_at,
    }));
  }

  /** Cancels its active runs, then deletes the pipeline, its revisions and its runs. */
  async delete(project: string, name: string): Promise<void> {
    const row = await this.#pipelineRow(project, name);
    const active = await this.#d.store.db
      .selectFrom('pipeline_runs')
      .select('id')
      .where('pipeline_id', '=', row.id)
      .where('state', 'in', ACTIVE)
      .execute();
    for (const run of active) await this.#cancelRow(run.id);
    await this.#d.store.db.deleteFrom('pipelines').where('id', '=', row.id).execute();
    await this.#d.engine.refreshSchedules();
  }

  // Runs

  async trigger(project: string, name: string, by: string, params: Record<string, string> = {}): Promise<Run> {
    const row = await this.#pipelineRow(project, name);
    const pipeline = await this.get(project, name);
    if (!pipeline.spec.trigger.manual) {
      throw new ModelportError('conflict', `pipeline '${name}' does not take manual runs (trigger.manual is false)`, {
        field: 'trigger.manual',
      });
    }
    const created = await this.#d.engine.createRun(
      { id: row.id, projectId: row.project_id, project, revision: row.latest_revision },
      { kind: 'manual', by },
      `manual:${randomUUID()}`,
      params,
    );
    return this.getRun(project, created!.id);
  }

  /**
   * A signed webhook delivery: verified against the secret the pipeline's `trigger.webhook` names, then one run per
   * delivery id (a replay is refused as a conflict, naming the run it started).
   */
  async webhook(project: string, name: string, headers: IncomingHttpHeaders, body: Buffer): Promise<Run> {
    const row = await this.#pipelineRow(project, name);
    const pipeline = await this.get(project, name);
    const hook = pipeline.spec.trigger.webhook;
    // Pipelines without a webhook trigger answer as if they did not exist: nothing to probe.
    if (!hook) throw notFound('pipeline', name);
    const secret = await this.#d.secretValue?.(project, hook.secret);
    if (secret === undefined) {
      throw new ModelportError(
        'not_configured',
        `the webhook secret '${hook.secret}' of pipeline '${name}' is gone; set it with modelport secrets set ${hook.secret}`,
      );
    }
    const { delivery, event } = verifyDelivery(headers, body, secret, Date.parse(this.#now()));
    const key = `webhook:${delivery}`;
    const created = await this.#d.engine.createRun(
      { id: row.id, projectId: row.project_id, project, revision: row.latest_revision },
      { kind: 'webhook', delivery, ...(event ? { event } : {}) },
      key,
    );
    if (!created) {
      const earlier = await this.#d.store.db
        .selectFrom('pipeline_runs')
        .select('number')
        .where('pipeline_id', '=', row.id)
        .where('trigger_key', '=', key)
        .executeTakeFirst();
      throw new ModelportError(
        'conflict',
        `delivery '${delivery}' was received before${earlier ? ` (run ${name}#${earlier.number})` : ''}; a delivery starts one run`,
      );
    }
    return this.getRun(project, created.id);
  }

  async listRuns(
    project: string,
    options: { pipeline?: string | undefined; limit?: number | undefined } = {},
  ): Promise<Run[]> {
    const projectId = await this.#projectId(project);
    let query = this.#d.store.db
      .selectFrom('pipeline_runs')
      .selectAll()
      .where('project_id', '=', projectId)
      .orderBy('created_at', 'desc')
      .orderBy('number', 'desc')
      .limit(Math.min(options.limit ?? 50, 500));
    if (options.pipeline !== undefined) {
      const pipeline = await this.#pipelineRow(project, options.pipeline);
      query = query.where('pipeline_id', '=', pipeline.id);
    }
    return this.#toRuns(project, await query.execute());
  }

  /** The runs a data commit (its full id) triggered or that ran on it, oldest first (the lineage query). */
  async runsOfCommit(project: string, repo: string, commit: string): Promise<Run[]> {
    if (!/^[0-9a-f]{64}$/.test(commit)) return [];
    const projectId = await this.#projectId(project);
    // The trigger is stored as JSON; a full commit id is unique, so matching its text is exact.
    const rows = await this.#d.store.db
      .selectFrom('pipeline_runs')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('trigger', 'like', `%"commit":"${commit}"%`)
      .orderBy('created_at')
      .orderBy('number')
      .execute();
    const runs = await this.#toRuns(project, rows);
    return runs.filter((r) => 'repo' in r.trigger && r.trigger.repo === repo);
  }

  /** A run by id, or by `<pipeline>#<number>`. */
  async getRun(project: string, ref: string): Promise<Run> {
    const [run] = await this.#toRuns(project, [await this.#runRow(project, ref)]);
    return run!;
  }

  /** Runs with their steps, in a fixed number of queries whatever their count. */
  async #toRuns(project: string, rows: RunRow[]): Promise<Run[]> {
    if (rows.length === 0) return [];
    const db = this.#d.store.db;
    const pipelineIds = [...new Set(rows.map((r) => r.pipeline_id))];
    const [pipelines, revisions, steps] = await Promise.all([
      db.selectFrom('pipelines').select(['id', 'name']).where('id', 'in', pipelineIds).execute(),
      db
        .selectFrom('pipeline_revisions')
        .select(['pipeline_id', 'revision', 'spec'])
        .where('pipeline_id', 'in', pipelineIds)
        .execute(),
      db
        .selectFrom('pipeline_steps')
        .selectAll()
        .where(
          'run_id',
          'in',
          rows.map((r) => r.id),
        )
        .orderBy('position')
        .execute(),
    ]);
    const names = new Map(pipelines.map((p) => [p.id, p.name]));
    const needsOf = new Map<string, Map<string, string[]>>();
    for (const rev of revisions) {
      const spec = JSON.parse(rev.spec) as { steps: { name: string; needs?: string[] }[] };
      needsOf.set(`${rev.pipeline_id}:${rev.revision}`, new Map(spec.steps.map((s) => [s.name, s.needs ?? []])));
    }
    const stepsOf = new Map<string, typeof steps>();
    for (const step of steps) {
      const list = stepsOf.get(step.run_id) ?? [];
      list.push(step);
      stepsOf.set(step.run_id, list);
    }
    return rows.map((row) => {
      const needs = needsOf.get(`${row.pipeline_id}:${row.revision}`) ?? new Map<string, string[]>();
      return {
        id: row.id,
        project,
        pipeline: names.get(row.pipeline_id) ?? '?',
        number: row.number,
        revision: row.revision,
        state: row.state as RunState,
        reason: row.reason,
        trigger: JSON.parse(row.trigger) as RunTrigger,
        params: JSON.parse(row.params),
        attempt: row.attempt,
        steps: (stepsOf.get(row.id) ?? []).map(
          (s): RunStep => ({
            name: s.name,
            kind: s.kind,
            needs: needs.get(s.name) ?? [],
            state: s.state as RunState,
            reason: s.reason,
            attempt: s.attempt,
            restarts: s.restarts,
            exitCode: s.exit_code,
            outputs: outputFiles(s.outputs).map((f) => f.path),
            metrics: JSON.parse(s.metrics),
            result: s.result ? JSON.parse(s.result) : null,
            log: s.log_sha256 ? { size: Number(s.log_size), cut: s.log_cut === 1 } : null,
            startedAt: s.started_at,
            finishedAt: s.finished_at,
          }),
        ),
        createdAt: row.created_at,
        startedAt: row.started_at,
        finishedAt: row.finished_at,
      };
    });
  }

  async #runRow(project: string, ref: string): Promise<RunRow> {
    const projectId = await this.#projectId(project);
    const hash = ref.lastIndexOf('#');
    let query = this.#d.store.db.selectFrom('pipeline_runs').selectAll().where('project_id', '=', projectId);
    if (hash > 0 && /^\d+$/.test(ref.slice(hash + 1))) {
      const pipeline = await this.#pipelineRow(project, ref.slice(0, hash));
      query = query.where('pipeline_id', '=', pipeline.id).where('number', '=', Number(ref.slice(hash + 1)));
    } else {
      if (!/^[0-9a-f-]{8,36}$/.test(ref)) {
        throw new ModelportError(
          'invalid_request',
          `run: '${ref.slice(0, 80)}' is not a run id or <pipeline>#<number>`,
          {
            field: 'run',
          },
        );
      }
      query = ref.length === 36 ? query.where('id', '=', ref) : query.where('id', 'like', `${ref}%`);
    }
    const rows = await query.limit(2).execute();
    if (rows.length === 0) throw notFound(`run '${ref}' in project '${project}'`, 'run');
    if (rows.length > 1)
      throw new ModelportError('invalid_request', `run: '${ref}' names several runs; give more of the id`, {
        field: 'run',
      });
    return rows[0]!;
  }

  async #cancelRow(id: string): Promise<void> {
    const now = this.#now();
    await this.#d.store.transaction(async (trx) => {
      await trx
        .updateTable('pipeline_runs')
        .set({ cancel_requested: 1, updated_at: now })
        .where('id', '=', id)
        .execute();
      const pending = await trx
        .updateTable('pipeline_runs')
        .set({ state: 'Cancelled', reason: 'cancelled before it started', finished_at: now })
        .where('id', '=', id)
        .where('state', '=', 'Pending')
        .executeTakeFirst();
      if (Number(pending.numUpdatedRows) === 1) {
        await trx
          .updateTable('pipeline_steps')
          .set({ state: 'Cancelled', reason: 'the run was cancelled' })
          .where('run_id', '=', id)
          .where('state', '=', 'Pending')
          .execute();
      }
    });
    this.#d.engine.cancelLocal(id);
  }

  /** Cancels a pending or running run; its running steps are killed within 2 s. */
  async cancel(project: string, ref: string): Promise<Run> {
    const row = await this.#runRow(project, ref);
    if (FINISHED.has(row.state)) {
      throw new ModelportError('conflict', `run #${row.number} already ended ${row.state}; nothing to cancel`, {
        field: 'run',
      });
    }
    await this.#cancelRow(row.id);
    return this.getRun(project, row.id);
  }

  /** Runs a failed or cancelled run again from its failed, cancelled and skipped steps, keeping the succeeded ones. */
  async resume(project: string, ref: string): Promise<Run> {
    const row = await this.#runRow(project, ref);
    if (row.state !== 'Failed' && row.state !== 'Cancelled') {
      throw new ModelportError(
        'conflict',
        `run #${row.number} is ${row.state}; only a Failed or Cancelled run can be resumed (trigger a new run instead)`,
        { field: 'run' },
      );
    }
    const now = this.#now();
    await this.#d.store.transaction(async (trx) => {
      await trx
        .updateTable('pipeline_steps')
        .set({ state: 'Pending', reason: null, finished_at: null, exit_code: null })
        .where('run_id', '=', row.id)
        .where('state', 'in', ['Failed', 'Cancelled', 'Skipped'])
        .execute();
      await trx
        .updateTable('pipeline_runs')
        .set({
          state: 'Pending',
          reason: null,
          attempt: row.attempt + 1,
          cancel_requested: 0,
          finished_at: null,
          owner: null,
          summary: null,
          updated_at: now,
        })
        .where('id', '=', row.id)
        .execute();
    });
    this.#d.engine.kick();
    return this.getRun(project, row.id);
  }

  /**
   * A step's log: live (`follow` called with every chunk until the step ends) when it runs on this server, else
   * the stored log once it has ended. Resolves when the step's log is complete.
   */
  async followLog(
    project: string,
    ref: string,
    step: string,
    onChunk: (chunk: Buffer) => void,
    options: { follow: boolean; signal: AbortSignal },
  ): Promise<'done' | 'not-started'> {
    const row = await this.#runRow(project, ref);
    for (;;) {
      options.signal.throwIfAborted();
      const live: StepLog | undefined = this.#d.engine.liveLog(row.id, step);
      if (live) {
        await new Promise<void>((resolve) => {
          const stop = live.follow(onChunk, resolve);
          options.signal.addEventListener('abort', () => {
            stop();
            resolve();
          });
        });
        // The stored copy lands right after the live log ends; nothing more to send.
        return 'done';
      }
      const s = (await stepRows(this.#d.store.db, row.id)).find((x) => x.name === step);
      if (!s) throw notFound(`step '${step}' of run #${row.number}`, 'step');
      if (FINISHED.has(s.state)) {
        if (s.log_sha256) {
          const stream: Readable = await this.#d.artifacts.open(s.log_sha256);
          for await (const chunk of stream) onChunk(chunk as Buffer);
        }
        return 'done';
      }
      if (!options.follow) return 'not-started';
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function sizeOf(stream: AsyncIterable<Uint8Array>): Promise<number> {
  let size = 0;
  for await (const chunk of stream) size += chunk.length;
  return size;
}
