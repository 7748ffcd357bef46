/**
 * The run engine: turns triggers into runs and runs into finished steps.
 *
 * - Events (data commits, model versions and aliases) are read after the `pipelines` consumer's cursor; the runs
 *   they start and the cursor's move are one transaction (the cursor row locked FOR UPDATE SKIP LOCKED on
 *   PostgreSQL, so one server consumes at a time), and a run's trigger key is unique per pipeline: an event starts
 *   exactly one run per matching pipeline, whatever crashes in between.
 * - Pending runs are claimed within each pipeline's concurrency limit and executed here: steps start as soon as
 *   the steps they need have ended, a `Running` run's heartbeat is renewed, and cancels are noticed.
 * - At start, runs a stopped server left Running are recovered (see recoverRuns).
 */
import { randomUUID } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import { chmod, cp, mkdir, readdir, readFile, rm, stat, symlink } from 'node:fs/promises';
import { dirname, join, matchesGlob, relative, sep } from 'node:path';
import { pipeline as pump } from 'node:stream/promises';
import { Cron } from 'croner';
import type { Selectable } from 'kysely';
import { ModelportError } from '../core/index.ts';
import { type DataCommit, type DataService, readTar } from '../data/index.ts';
import type { ArtifactStore, MetadataStore, PipelinesTable } from '../store/index.ts';
import type { BuiltinSteps, StepContext, StepOutcome } from './builtin-steps.ts';
import { ancestors } from './dag.ts';
import type { StepExecution, StepExecutor } from './executor.ts';
import { claimRuns, insertRun, type RunRow, recoverRuns, type StepRow, stepRows } from './run-store.ts';
import { type CompiledPipeline, type CompiledStep, compilePipelineSpec } from './spec.ts';
import { StepLog } from './step-log.ts';
import {
  FINISHED,
  type RunLifecycleEvent,
  type RunState,
  type RunSummary,
  type RunTrigger,
  type StepResult,
} from './types.ts';

export const CONSUMER = 'pipelines';
const EVENT_TYPES = new Set(['data.commit', 'model.version', 'model.alias']);

export interface RunEngineOptions {
  store: Pick<MetadataStore, 'db' | 'dialect' | 'transaction'>;
  artifacts: ArtifactStore;
  data: Pick<DataService, 'resolveCommit' | 'diff' | 'tree' | 'openFile'>;
  executors: { local: StepExecutor; kubernetes?: StepExecutor | undefined };
  builtins: BuiltinSteps;
  secrets: { resolve(project: string, names: string[]): Promise<Record<string, string>> };
  /** Runs' working folders live below it. */
  workDir: string;
  /** Environment every step command starts from (PATH...); the server passes it, nothing reads process.env here. */
  baseEnv: Record<string, string>;
  /** How often the queue and the events are looked at without a kick (default 250 ms). */
  pollMs?: number;
  /** A Running run whose heartbeat is older is another server's orphan (PostgreSQL; default 30 s). */
  leaseMs?: number;
  /**
   * The Modelport package the server runs: linked as node_modules/modelport above every step's working folder, so
   * a TypeScript step can import the library (`modelport/onnx`) without installing it. Optional.
   */
  library?: string | undefined;
  /** Per step (default 8 MiB). */
  logCapBytes?: number;
  /** Runs executing at once on this server (default 16). */
  maxRuns?: number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
  /** Told when a run or one of its steps starts and ends (OpenLineage emission); must return at once, never throw. */
  onLifecycle?: (event: RunLifecycleEvent) => void;
  now?: () => Date;
}

interface Active {
  row: RunRow;
  /** The project's name, once the run started executing. */
  project?: string;
  abort: AbortController;
  executions: Map<string, StepExecution>;
  logs: Map<string, StepLog>;
  done: Promise<void>;
}

type PipelineRow = Selectable<PipelinesTable>;

export class RunEngine {
  readonly #o: RunEngineOptions;
  readonly #instance = randomUUID();
  readonly #active = new Map<string, Active>();
  readonly #compiled = new Map<string, CompiledPipeline>();
  readonly #crons = new Map<string, { key: string; cron: Cron }>();
  /** Size and mtime of every checked-out input file, by input folder. */
  readonly #stamps = new Map<string, Map<string, string>>();
  readonly #preparing = new Map<string, Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(options: RunEngineOptions) {
    this.#o = options;
  }

  get instanceId(): string {
    return this.#instance;
  }

  #now(): string {
    return (this.#o.now?.() ?? new Date()).toISOString();
  }

  #log(message: string, fields?: Record<string, unknown>) {
    this.#o.log?.(message, fields);
  }

  /** Recovers orphaned runs, arms the schedules, and starts polling. */
  async start(): Promise<void> {
    const { store } = this.#o;
    const lease = this.#o.leaseMs ?? 30_000;
    // Compile the specs of running runs first: the recovery's transaction must not query outside itself.
    const running = await store.db
      .selectFrom('pipeline_runs')
      .select(['pipeline_id', 'revision'])
      .where('state', '=', 'Running')
      .execute();
    for (const r of running) await this.#compiledRevision(r.pipeline_id, r.revision);
    const recovered = await recoverRuns(store, {
      staleBefore: store.dialect === 'sqlite' ? undefined : new Date(Date.parse(this.#now()) - lease).toISOString(),
      idempotent: async (_run, step, revision, pipelineId) => {
        const compiled = await this.#compiledRevision(pipelineId, revision);
        return compiled?.steps.find((s) => s.spec.name === step)?.spec.idempotent === true;
      },
      now: this.#now(),
    });
    if (recovered > 0) this.#log('recovered pipeline runs a stopped server left running', { runs: recovered });
    await this.refreshSchedules();
    this.#timer = setInterval(() => this.kick(), this.#o.pollMs ?? 250);
    this.#timer.unref();
    this.kick();
  }

  /** Looks at the events and the queue now (after a commit, a trigger, a step's end). */
  kick(): void {
    if (this.#closed) return;
    if (this.#ticking) {
      this.#again = true;
      return;
    }
    this.#ticking = this.#tick()
      .catch((error: unknown) => this.#log('pipeline engine tick failed', { error: String(error) }))
      .finally(() => {
        this.#ticking = undefined;
        if (this.#again) {
          this.#again = false;
          this.kick();
        }
      });
  }

  /** Resolves when no run is executing here and nothing is left to claim (tests, benchmarks). */
  async idle(): Promise<void> {
    for (;;) {
      await this.#ticking;
      await Promise.all([...this.#active.values()].map((a) => a.done));
      await this.#tick();
      if (this.#active.size === 0) return;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    for (const { cron } of this.#crons.values()) cron.stop();
    await this.#ticking;
    // Steps still running are killed; their runs are recovered by the next start.
    for (const active of this.#active.values()) {
      for (const execution of active.executions.values()) execution.cancel();
      active.abort.abort(new ModelportError('not_ready', 'the server is stopping'));
    }
    await Promise.all([...this.#active.values()].map((a) => a.done.catch(() => {})));
    await Promise.all(Object.values(this.#o.executors).map((e) => e?.close?.()));
  }

  async #tick(): Promise<void> {
    if (this.#closed) return;
    await this.consumeEvents();
    await this.#claim();
    await this.#heartbeat();
  }

  // Triggers

  async #compiledRevision(pipelineId: string, revision: number): Promise<CompiledPipeline | undefined> {
    const key = `${pipelineId}:${revision}`;
    const cached = this.#compiled.get(key);
    if (cached) return cached;
    const row = await this.#o.store.db
      .selectFrom('pipeline_revisions')
      .select('spec')
      .where('pipeline_id', '=', pipelineId)
      .where('revision', '=', revision)
      .executeTakeFirst();
    if (!row) return undefined;
    const compiled = compilePipelineSpec(JSON.parse(row.spec));
    this.#compiled.set(key, compiled);
    return compiled;
  }

  async #pipelines(): Promise<{ row: PipelineRow; project: string; compiled: CompiledPipeline }[]> {
    const rows = await this.#o.store.db
      .selectFrom('pipelines')
      .innerJoin('projects', 'projects.id', 'pipelines.project_id')
      .selectAll('pipelines')
      .select('projects.name as project')
      .execute();
    const out = [];
    for (const row of rows) {
      const compiled = await this.#compiledRevision(row.id, row.latest_revision);
      if (compiled) out.push({ row, project: row.project, compiled });
    }
    return out;
  }

  /**
   * Reads events after the cursor and starts the runs they trigger, in one transaction with the cursor's move.
   * Returns the number of events handled.
   */
  async consumeEvents(batch = 200): Promise<number> {
    const { store } = this.#o;
    const readCursor = () =>
      store.db.selectFrom('event_cursors').select('last_id').where('consumer', '=', CONSUMER).executeTakeFirst();
    // Read first: this runs on every tick, and a write (even one that does nothing) costs a commit.
    let cursorNow = await readCursor();
    if (!cursorNow) {
      await store.db
        .insertInto('event_cursors')
        .values({ consumer: CONSUMER, last_id: 0, updated_at: this.#now() })
        .onConflict((oc) => oc.column('consumer').doNothing())
        .execute();
      cursorNow = await readCursor();
    }
    const head = await store.db
      .selectFrom('events')
      .select((eb) => eb.fn.max('id').as('last'))
      .executeTakeFirst();
    if (Number(head?.last ?? 0) <= Number(cursorNow?.last_id ?? 0)) return 0;
    // Match outside the transaction (matching reads trees and diffs; SQLite has one connection), then start the
    // runs and move the cursor in one transaction, only if the cursor is still where these events were read from.
    const from = Number(cursorNow?.last_id ?? 0);
    const events = await store.db
      .selectFrom('events')
      .selectAll()
      .where('id', '>', from)
      .orderBy('id')
      .limit(batch)
      .execute();
    const pipelines = await this.#pipelines();
    const planned: { event: number; pipeline: (typeof pipelines)[number]; trigger: RunTrigger }[] = [];
    for (const event of events) {
      if (!EVENT_TYPES.has(event.type)) continue;
      const payload = JSON.parse(event.payload) as Record<string, unknown>;
      for (const p of pipelines) {
        if (p.project !== payload['project'] || p.row.created_at > event.created_at) continue;
        const trigger = await this.#match(p.compiled, event.type, Number(event.id), payload);
        if (trigger) planned.push({ event: Number(event.id), pipeline: p, trigger });
      }
    }
    const last = events.at(-1);
    if (!last) return 0;
    const started: string[] = [];
    const handled = await store.transaction(async (trx) => {
      let query = trx.selectFrom('event_cursors').select('last_id').where('consumer', '=', CONSUMER);
      if (store.dialect === 'postgres') query = query.forUpdate().skipLocked();
      const cursor = await query.executeTakeFirst();
      // Another server holds the cursor, or moved it since: its transaction started these runs.
      if (!cursor || Number(cursor.last_id) !== from) return 0;
      for (const { event, pipeline: p, trigger } of planned) {
        const run = await insertRun(trx, store.dialect, {
          pipelineId: p.row.id,
          projectId: p.row.project_id,
          revision: p.row.latest_revision,
          compiled: p.compiled,
          trigger,
          key: `event:${event}`,
          now: this.#now(),
        });
        if (run) started.push(`${p.row.name}#${run.number}`);
      }
      await trx
        .updateTable('event_cursors')
        .set({ last_id: last.id, updated_at: this.#now() })
        .where('consumer', '=', CONSUMER)
        .execute();
      return events.length;
    });
    if (started.length > 0) this.#log('pipeline runs triggered', { runs: started });
    return handled;
  }

  async #match(
    compiled: CompiledPipeline,
    type: string,
    eventId: number,
    payload: Record<string, unknown>,
  ): Promise<RunTrigger | undefined> {
    const { trigger } = compiled.spec;
    if (type === 'data.commit' && trigger.data) {
      const { repo, branch, glob } = trigger.data;
      if (payload['repo'] !== repo || payload['branch'] !== branch) return undefined;
      const commit = String(payload['commit']);
      if (glob !== '**') {
        const parent = (payload['parents'] as string[] | undefined)?.[0];
        const paths = parent
          ? await this.#changedPaths(String(payload['project']), repo, parent, commit)
          : (await this.#o.data.tree(String(payload['project']), repo, commit, '', true)).entries
              .filter((e) => e.type === 'file')
              .map((e) => e.path);
        if (!paths.some((path) => matchesGlob(path, glob) || matchesGlob(path.split('/').at(-1)!, glob))) {
          return undefined;
        }
      }
      return { kind: 'data', event: eventId, repo, branch, commit };
    }
    if ((type === 'model.version' || type === 'model.alias') && trigger.model) {
      if (payload['model'] !== trigger.model.name) return undefined;
      const alias = trigger.model.alias;
      if (alias === undefined ? type !== 'model.version' : type !== 'model.alias' || payload['alias'] !== alias) {
        return undefined;
      }
      return { kind: 'model', event: eventId, model: trigger.model.name, version: Number(payload['version']), alias };
    }
    return undefined;
  }

  async #changedPaths(project: string, repo: string, from: string, to: string): Promise<string[]> {
    const diff = await this.#o.data.diff(project, repo, from, to);
    return [...diff.added, ...diff.changed, ...diff.removed].map((e) => e.path);
  }

  /**
   * Starts a run by hand or on a schedule tick; with a data trigger in the spec, the run reads the branch's head.
   * `key` de-duplicates (a schedule tick seen by several servers starts one run).
   */
  async createRun(
    pipeline: { id: string; projectId: string; project: string; revision: number },
    trigger: RunTrigger,
    key: string,
    params: Record<string, string> = {},
  ): Promise<{ id: string; number: number; state: RunState } | undefined> {
    const compiled = await this.#compiledRevision(pipeline.id, pipeline.revision);
    if (!compiled) throw new ModelportError('not_found', 'the pipeline revision is gone');
    const data = compiled.spec.trigger.data;
    let withCommit = trigger;
    if (
      data &&
      (trigger.kind === 'manual' || trigger.kind === 'schedule' || trigger.kind === 'webhook') &&
      trigger.commit === undefined
    ) {
      try {
        const head = await this.#o.data.resolveCommit(pipeline.project, data.repo, data.branch);
        withCommit = { ...trigger, repo: data.repo, commit: head.id };
      } catch (error) {
        if (!(error instanceof ModelportError && error.code === 'not_found')) throw error;
      }
    }
    const run = await this.#o.store.transaction((trx) =>
      insertRun(trx, this.#o.store.dialect, {
        pipelineId: pipeline.id,
        projectId: pipeline.projectId,
        revision: pipeline.revision,
        compiled,
        trigger: withCommit,
        key,
        params,
        now: this.#now(),
      }),
    );
    this.kick();
    return run;
  }

  /** Arms a croner job per pipeline with a schedule (call after apply and delete). */
  async refreshSchedules(): Promise<void> {
    if (this.#closed) return;
    const pipelines = await this.#pipelines();
    const wanted = new Set<string>();
    for (const p of pipelines) {
      const schedule = p.compiled.spec.trigger.schedule;
      if (!schedule) continue;
      const key = `${p.row.latest_revision}:${schedule.cron}:${schedule.timezone}`;
      wanted.add(p.row.id);
      const armed = this.#crons.get(p.row.id);
      if (armed?.key === key) continue;
      armed?.cron.stop();
      const target = { id: p.row.id, projectId: p.row.project_id, project: p.project, revision: p.row.latest_revision };
      const cron = new Cron(schedule.cron, { timezone: schedule.timezone, protect: true }, async (self: Cron) => {
        const tick = (self.currentRun() ?? new Date()).toISOString();
        await this.createRun(target, { kind: 'schedule', tick }, `schedule:${tick}`).catch((error: unknown) =>
          this.#log('scheduled run failed to start', { pipeline: p.row.name, error: String(error) }),
        );
      });
      this.#crons.set(p.row.id, { key, cron });
    }
    for (const [id, armed] of this.#crons) {
      if (!wanted.has(id)) {
        armed.cron.stop();
        this.#crons.delete(id);
      }
    }
  }

  // Queue

  async #claim(): Promise<void> {
    const room = (this.#o.maxRuns ?? 16) - this.#active.size;
    if (room <= 0) return;
    const { store } = this.#o;
    const pending = await store.db
      .selectFrom('pipeline_runs')
      .select('id')
      .where('state', '=', 'Pending')
      .limit(1)
      .executeTakeFirst();
    if (!pending) return;
    // Limits are read before the claim's transaction: on SQLite nothing may query outside it meanwhile.
    const limits = new Map<string, number | undefined>();
    for (const p of await this.#pipelines()) limits.set(p.row.id, p.compiled.spec.concurrency.limit);
    const claimed = await claimRuns(
      store,
      store.dialect,
      this.#instance,
      async (pipelineId) => limits.get(pipelineId),
      room,
      () => this.#now(),
    );
    for (const row of claimed) this.#execute(row);
  }

  async #heartbeat(): Promise<void> {
    if (this.#active.size === 0) return;
    const ids = [...this.#active.keys()];
    await this.#o.store.db
      .updateTable('pipeline_runs')
      .set({ heartbeat_at: this.#now() })
      .where('id', 'in', ids)
      .execute();
    const cancelled = await this.#o.store.db
      .selectFrom('pipeline_runs')
      .select('id')
      .where('id', 'in', ids)
      .where('cancel_requested', '=', 1)
      .execute();
    for (const { id } of cancelled) this.cancelLocal(id);
  }

  /** Kills a run's steps if it executes here; returns whether it did. */
  cancelLocal(runId: string): boolean {
    const active = this.#active.get(runId);
    if (!active) return false;
    if (!active.abort.signal.aborted) {
      active.abort.abort(new ModelportError('conflict', 'the run was cancelled'));
      for (const execution of active.executions.values()) execution.cancel();
    }
    return true;
  }

  /** The live log of a step executing here, if any. */
  liveLog(runId: string, step: string): StepLog | undefined {
    return this.#active.get(runId)?.logs.get(step);
  }

  // Execution

  #execute(row: RunRow): void {
    const active: Active = {
      row,
      abort: new AbortController(),
      executions: new Map(),
      logs: new Map(),
      done: Promise.resolve(),
    };
    this.#active.set(row.id, active);
    active.done = this.#runToEnd(active)
      .catch(async (error: unknown) => {
        if (this.#closed) return;
        this.#log('pipeline run failed in the engine', { run: row.id, error: String(error) });
        await this.#finishRun(active, 'Failed', `internal error: ${(error as Error).message}`).catch(() => {});
      })
      .finally(async () => {
        this.#active.delete(row.id);
        if (this.#closed) return;
        this.#stamps.delete(join(this.#o.workDir, row.id, 'input'));
        await this.#cleanFolder(join(this.#o.workDir, row.id)).catch(() => {});
        this.kick();
      });
  }

  async #runToEnd(active: Active): Promise<void> {
    const { row } = active;
    const { store } = this.#o;
    const compiled = await this.#compiledRevision(row.pipeline_id, row.revision);
    if (!compiled) throw new Error(`revision ${row.revision} of the pipeline is gone`);
    const info = await store.db
      .selectFrom('pipelines')
      .innerJoin('projects', 'projects.id', 'pipelines.project_id')
      .innerJoin('pipeline_revisions', (j) =>
        j
          .onRef('pipeline_revisions.pipeline_id', '=', 'pipelines.id')
          .on('pipeline_revisions.revision', '=', row.revision),
      )
      .select([
        'pipelines.name',
        'projects.name as project',
        'pipeline_revisions.code_sha256',
        'pipeline_revisions.code_ref',
      ])
      .where('pipelines.id', '=', row.pipeline_id)
      .executeTakeFirstOrThrow();
    const trigger = JSON.parse(row.trigger) as RunTrigger;
    active.project = info.project;
    this.#lifecycle({ project: info.project, run: row.id, phase: 'start' });
    const commit = await this.#commitOf(info.project, trigger);
    const dir = join(this.#o.workDir, row.id);
    await mkdir(dir, { recursive: true });
    if (row.cancel_requested === 1) active.abort.abort();

    const running = new Map<string, Promise<void>>();
    for (;;) {
      if (this.#closed) {
        // Stopping: leave the run Running; the next start recovers it (see recoverRuns).
        await Promise.allSettled(running.values());
        return;
      }
      const steps = await stepRows(store.db, row.id);
      const byName = new Map(steps.map((s) => [s.name, s]));
      if (active.abort.signal.aborted) {
        await store.db
          .updateTable('pipeline_steps')
          .set({ state: 'Cancelled', reason: 'the run was cancelled', finished_at: this.#now() })
          .where('run_id', '=', row.id)
          .where('state', '=', 'Pending')
          .execute();
      }
      let launched = false;
      for (const step of compiled.steps) {
        const current = byName.get(step.spec.name)!;
        if (current.state !== 'Pending' || running.has(step.spec.name)) continue;
        const needs = step.spec.needs.map((n) => byName.get(n)!);
        if (!needs.every((n) => FINISHED.has(n.state))) continue;
        const unmet = needs.find((n) => n.state !== 'Succeeded');
        if (unmet && step.spec.when !== 'always') {
          await this.#setStep(row.id, step.spec.name, {
            state: 'Skipped',
            reason: `not run: the step '${unmet.name}' it needs ended ${unmet.state}`,
            finished_at: this.#now(),
          });
          launched = true;
          continue;
        }
        launched = true;
        const task = this.#runStep(active, compiled, step, {
          project: info.project,
          pipeline: info.name,
          codeSha256: info.code_sha256,
          codeRef: info.code_ref,
          trigger,
          commit,
          dir,
        }).finally(() => running.delete(step.spec.name));
        running.set(step.spec.name, task);
      }
      if (running.size === 0 && !launched) break;
      if (running.size > 0 && !launched) await Promise.race(running.values());
    }
    if (this.#closed) return;
    const steps = await stepRows(store.db, row.id);
    const state: RunState = steps.some((s) => s.state === 'Cancelled')
      ? 'Cancelled'
      : steps.some((s) => s.state === 'Blocked')
        ? 'Blocked'
        : steps.some((s) => s.state === 'Failed')
          ? 'Failed'
          : 'Succeeded';
    const first = steps.find((s) => s.state === state && s.reason);
    await this.#finishRun(
      active,
      state,
      state === 'Succeeded' ? null : first ? `${first.name}: ${first.reason}` : null,
    );
  }

  async #finishRun(active: Active, state: RunState, reason: string | null): Promise<void> {
    const now = this.#now();
    const summary = await this.summarize(active.row.id, state, reason, now);
    await this.#o.store.db
      .updateTable('pipeline_runs')
      .set({ state, reason, finished_at: now, updated_at: now, owner: null, summary: JSON.stringify(summary) })
      .where('id', '=', active.row.id)
      .execute();
    this.#log('pipeline run ended', { run: active.row.id, state, reason });
    if (active.project) this.#lifecycle({ project: active.project, run: active.row.id, phase: 'end' });
  }

  #lifecycle(event: RunLifecycleEvent): void {
    try {
      this.#o.onLifecycle?.(event);
    } catch {
      // A listener's failure never touches the run.
    }
  }

  /** The run's summary from its steps: metrics, the gate, what was registered and deployed. */
  async summarize(runId: string, state: RunState, reason: string | null, at: string): Promise<RunSummary> {
    const run = await this.#o.store.db
      .selectFrom('pipeline_runs')
      .select(['started_at', 'created_at'])
      .where('id', '=', runId)
      .executeTakeFirstOrThrow();
    const steps = await stepRows(this.#o.store.db, runId);
    const metrics: Record<string, number> = {};
    let gate: RunSummary['gate'] = null;
    let registered: string | null = null;
    let deployed: string | null = null;
    for (const step of steps) {
      Object.assign(metrics, JSON.parse(step.metrics));
      const result = step.result ? (JSON.parse(step.result) as StepResult) : undefined;
      if (step.kind === 'gate' && result?.policy) gate = result.policy;
      if (result?.registered)
        registered = `${result.registered.model}@${result.registered.version} (${result.registered.ref})`;
      if (result?.deployed) deployed = `${result.deployed.deployment} at ${result.deployed.url}`;
    }
    const started = run.started_at ?? run.created_at;
    return { state, metrics, gate, registered, deployed, reason, durationMs: Date.parse(at) - Date.parse(started) };
  }

  async #commitOf(project: string, trigger: RunTrigger): Promise<DataCommit | undefined> {
    const repo = 'repo' in trigger ? trigger.repo : undefined;
    const commit = 'commit' in trigger ? trigger.commit : undefined;
    if (!repo || !commit) return undefined;
    return this.#o.data.resolveCommit(project, repo, commit);
  }

  async #setStep(runId: string, name: string, values: Partial<StepRow>): Promise<void> {
    await this.#o.store.db
      .updateTable('pipeline_steps')
      .set(values)
      .where('run_id', '=', runId)
      .where('name', '=', name)
      .execute();
  }

  async #runStep(
    active: Active,
    compiled: CompiledPipeline,
    step: CompiledStep,
    run: {
      project: string;
      pipeline: string;
      codeSha256: string | null;
      codeRef: string | null;
      trigger: RunTrigger;
      commit: DataCommit | undefined;
      dir: string;
    },
  ): Promise<void> {
    const { row } = active;
    const name = step.spec.name;
    const current = (await stepRows(this.#o.store.db, row.id)).find((s) => s.name === name);
    // The run's rows are gone (its pipeline was deleted, or the server is closing): nothing left to run.
    if (!current) return;
    const log = new StepLog(this.#o.logCapBytes ?? 8 * 1024 * 1024);
    active.logs.set(name, log);
    let outcome: StepOutcome & {
      exitCode?: number | null;
      outputs?: OutputFile[];
    };
    const startedAt = this.#now();
    let attempt = current.attempt;
    for (;;) {
      attempt++;
      await this.#setStep(row.id, name, { state: 'Running', attempt, started_at: startedAt, reason: null });
      if (attempt === current.attempt + 1)
        this.#lifecycle({ project: run.project, run: row.id, step: name, phase: 'start' });
      try {
        outcome = await this.#attempt(active, compiled, step, run, log, attempt);
      } catch (error) {
        outcome = {
          state: 'Failed',
          reason: active.abort.signal.aborted ? 'cancelled' : (error as Error).message,
        };
      }
      if (active.abort.signal.aborted) {
        outcome = { ...outcome, state: 'Failed', reason: 'cancelled' };
        break;
      }
      const left = step.retries - (attempt - current.attempt - 1);
      if (outcome.state !== 'Failed' || left <= 0) break;
      const wait = step.backoffMs * 2 ** (attempt - current.attempt - 1);
      log.append(
        `\n[modelport: attempt ${attempt} failed (${outcome.reason}); retrying in ${Math.round(wait / 1000)} s]\n`,
      );
      try {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, wait);
          active.abort.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(new Error('cancelled'));
          });
        });
      } catch {
        outcome = { state: 'Failed', reason: 'cancelled' };
        break;
      }
    }
    if (this.#closed) {
      // Stopping: the step stays Running in the store; the next start fails it or runs it again.
      log.end();
      active.logs.delete(name);
      return;
    }
    const cancelled = active.abort.signal.aborted;
    const bytes = log.end();
    const [logRef] = bytes.length > 0 ? await this.#o.artifacts.putMany([bytes]) : [undefined];
    await this.#setStep(row.id, name, {
      state: cancelled ? 'Cancelled' : outcome.state,
      reason: cancelled ? 'the run was cancelled' : (outcome.reason ?? null),
      exit_code: outcome.exitCode ?? null,
      metrics: JSON.stringify(outcome.metrics ?? {}),
      result: outcome.result ? JSON.stringify(outcome.result) : null,
      outputs_sha256: null,
      outputs_size: outcome.outputs ? outcome.outputs.reduce((n, f) => n + f.size, 0) : null,
      outputs: JSON.stringify(outcome.outputs ?? []),
      log_sha256: logRef?.sha256 ?? null,
      log_size: logRef?.size ?? 0,
      log_cut: log.cut ? 1 : 0,
      finished_at: this.#now(),
    });
    active.logs.delete(name);
    this.#lifecycle({ project: run.project, run: row.id, step: name, phase: 'end' });
  }

  async #attempt(
    active: Active,
    compiled: CompiledPipeline,
    step: CompiledStep,
    run: {
      project: string;
      pipeline: string;
      codeSha256: string | null;
      codeRef: string | null;
      trigger: RunTrigger;
      commit: DataCommit | undefined;
      dir: string;
    },
    log: StepLog,
    attempt: number,
  ): Promise<StepOutcome & { exitCode?: number | null; outputs?: OutputFile[] }> {
    const { row } = active;
    const nodes = compiled.steps.map((s) => ({ name: s.spec.name, needs: s.spec.needs }));
    const before = ancestors(nodes, step.spec.name);
    const order = compiled.steps.map((s) => s.spec.name).filter((n) => before.has(n));
    const rows = new Map((await stepRows(this.#o.store.db, row.id)).map((s) => [s.name, s]));
    const metrics: Record<string, number> = {};
    let registered: { model: string; version: number } | undefined;
    for (const n of order) {
      const r = rows.get(n)!;
      if (r.state !== 'Succeeded') continue;
      Object.assign(metrics, JSON.parse(r.metrics));
      const result = r.result ? (JSON.parse(r.result) as StepResult) : undefined;
      if (result?.registered) registered = { model: result.registered.model, version: result.registered.version };
    }
    const secretNames = [...compiled.spec.secrets, ...step.spec.secrets];
    const secretValues = await this.#o.secrets.resolve(run.project, [
      ...secretNames.map((s) => s.secret),
      ...(step.spec.notify?.webhook.urlSecret ? [step.spec.notify.webhook.urlSecret] : []),
    ]);
    // Whatever the step prints, its secrets never reach the stored or streamed log.
    log.redact(Object.values(secretValues));
    const input = join(run.dir, 'input');
    if (run.commit) await this.#checkout(run.project, run.commit, input);
    else await mkdir(input, { recursive: true });

    if (step.kind === 'run' || step.kind === 'train') {
      const stepDir = join(run.dir, 'steps', step.spec.name);
      const work = join(stepDir, `work-${attempt}`);
      const output = join(stepDir, 'output');
      await rm(output, { recursive: true, force: true });
      await mkdir(output, { recursive: true });
      await this.#codeCopy(run.dir, run.codeSha256, work);
      const env: Record<string, string> = {
        ...this.#o.baseEnv,
        ...compiled.spec.env,
        ...step.spec.env,
        MODELPORT_INPUT: input,
        MODELPORT_OUTPUT: output,
        MODELPORT_WORKDIR: work,
        MODELPORT_PIPELINE: run.pipeline,
        MODELPORT_RUN: row.id,
        MODELPORT_RUN_NUMBER: String(row.number),
        MODELPORT_STEP: step.spec.name,
        ...(run.commit ? { MODELPORT_COMMIT: run.commit.id, MODELPORT_REPO: run.commit.repo } : {}),
      };
      for (const n of order) {
        const dirOf = await this.#outputsOf(run.dir, rows.get(n)!);
        if (dirOf) env[`MODELPORT_OUTPUT_${n.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = dirOf;
      }
      // A run's parameters (`pipelines trigger --param k=v`) as MODELPORT_PARAM_<K>.
      for (const [key, value] of Object.entries(JSON.parse(row.params) as Record<string, string>)) {
        env[`MODELPORT_PARAM_${key.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = value;
      }
      for (const s of secretNames) {
        const value = secretValues[s.secret];
        if (value !== undefined) env[s.env] = value;
      }
      const command =
        step.kind === 'train'
          ? typeof step.spec.train === 'string'
            ? step.spec.train
            : step.spec.train!.run
          : step.spec.run!;
      const executor = compiled.spec.executor === 'kubernetes' ? this.#o.executors.kubernetes : this.#o.executors.local;
      if (!executor) {
        return { state: 'Failed', reason: 'executor: kubernetes is not configured on this server' };
      }
      const execution = executor.start({
        id: `${row.id.slice(0, 8)}-${step.spec.name}-${attempt}`,
        pipeline: run.pipeline,
        run: row.id,
        step: step.spec.name,
        command,
        env,
        image: step.spec.image ?? compiled.spec.image,
        timeoutMs: step.timeoutMs,
        memoryBytes: step.memoryBytes,
        cpu: step.spec.resources.cpu === undefined ? undefined : String(step.spec.resources.cpu),
        folders: { input, work, output },
        onLog: (chunk) => log.append(chunk),
      });
      active.executions.set(step.spec.name, execution);
      if (active.abort.signal.aborted) execution.cancel();
      const exit = await execution.done;
      log.flush();
      active.executions.delete(step.spec.name);
      await rm(work, { recursive: true, force: true });
      // Read-only by mode; a process running as root ignores modes, so the files are also checked afterwards.
      const changed = run.commit ? await this.#inputChanged(input) : undefined;
      if (changed !== undefined) {
        await rm(`${input}.ready`, { force: true });
        return {
          state: 'Failed',
          reason: `the step changed its input '${changed}'; the commit's files are read-only (write to $MODELPORT_OUTPUT)`,
          exitCode: exit.exitCode,
        };
      }
      if (exit.reason !== null) {
        const last = log.lastLine();
        return { state: 'Failed', reason: last ? `${exit.reason}: ${last}` : exit.reason, exitCode: exit.exitCode };
      }
      const files = await listFiles(output);
      const stepMetrics = await readMetrics(output);
      if (typeof stepMetrics === 'string') return { state: 'Failed', reason: stepMetrics, exitCode: exit.exitCode };
      if (step.kind === 'train') {
        const model = typeof step.spec.train === 'string' ? 'model.onnx' : step.spec.train!.model;
        if (!files.includes(model)) {
          return {
            state: 'Failed',
            reason: `train: the outputs have no ${model} (write it to $MODELPORT_OUTPUT/${model})`,
            exitCode: exit.exitCode,
          };
        }
        if (Object.keys(stepMetrics).length === 0) {
          return {
            state: 'Failed',
            reason: 'train: the outputs have no metrics (write $MODELPORT_OUTPUT/metrics.json, e.g. {"auc": 0.97})',
            exitCode: exit.exitCode,
          };
        }
      }
      if (files.length === 0) return { state: 'Succeeded', exitCode: exit.exitCode, metrics: stepMetrics };
      const outputs = await this.#store(output, files);
      return { state: 'Succeeded', exitCode: exit.exitCode, metrics: stepMetrics, outputs };
    }

    const ctx: StepContext = {
      project: run.project,
      pipeline: run.pipeline,
      spec: compiled.spec,
      run: { id: row.id, number: row.number, revision: row.revision, codeRef: run.codeRef, codeSha256: run.codeSha256 },
      step,
      trigger: run.trigger,
      commit: run.commit,
      metrics,
      registered,
      secrets: secretValues,
      signal: active.abort.signal,
      log: (line) => log.append(`${line}\n`),
      findOutput: async (file) => {
        if (file.startsWith('input:')) {
          const path = join(input, file.slice('input:'.length));
          return relative(input, path).startsWith('..') ? undefined : (await exists(path)) ? path : undefined;
        }
        for (const n of [...order].reverse()) {
          const dirOf = await this.#outputsOf(run.dir, rows.get(n)!);
          if (!dirOf) continue;
          const path = join(dirOf, file);
          if (!relative(dirOf, path).startsWith('..') && (await exists(path))) return path;
        }
        return undefined;
      },
      summary: async () => {
        const steps = await stepRows(this.#o.store.db, row.id);
        const state: RunState = steps.some((s) => s.state === 'Blocked')
          ? 'Blocked'
          : steps.some((s) => s.state === 'Failed')
            ? 'Failed'
            : 'Succeeded';
        const first = steps.find((s) => s.state === state && s.reason);
        const summary = await this.summarize(
          row.id,
          state,
          first ? `${first.name}: ${first.reason}` : null,
          this.#now(),
        );
        return { ...summary, pipeline: run.pipeline, run: row.number, trigger: run.trigger };
      },
    };
    return this.#o.builtins.run(ctx);
  }

  /** Runs `prepare` once per folder while concurrent steps of a run wait for the same preparation. */
  #once(folder: string, prepare: () => Promise<void>): Promise<void> {
    let pending = this.#preparing.get(folder);
    if (!pending) {
      pending = prepare().finally(() => this.#preparing.delete(folder));
      this.#preparing.set(folder, pending);
    }
    return pending;
  }

  /** The commit's files in `folder`, verified against their sha256 as they stream, then made read-only. */
  #checkout(project: string, commit: DataCommit, folder: string): Promise<void> {
    return this.#once(folder, () => this.#checkoutNow(project, commit, folder));
  }

  async #checkoutNow(project: string, commit: DataCommit, folder: string): Promise<void> {
    const marker = `${folder}.ready`;
    if (await exists(marker)) return;
    await this.#cleanFolder(folder);
    await mkdir(folder, { recursive: true });
    const { entries } = await this.#o.data.tree(project, commit.repo, commit.id, '', true);
    for (const entry of entries) {
      if (entry.type !== 'file') continue;
      const target = join(folder, ...entry.path.split('/'));
      await mkdir(dirname(target), { recursive: true });
      const { stream } = await this.#o.data.openFile(project, commit.repo, commit.id, entry.path);
      await pump(stream, createWriteStream(target, { mode: 0o444 }));
    }
    const manifest = await fileStamps(folder);
    this.#stamps.set(folder, manifest);
    await readOnly(folder);
    await pump(async function* () {}, createWriteStream(marker));
  }

  /** The first input file whose size or modification time differs from the checkout's, if any. */
  async #inputChanged(folder: string): Promise<string | undefined> {
    const before = this.#stamps.get(folder);
    if (!before) return undefined;
    const now = await fileStamps(folder);
    for (const [path, stamp] of now) if (before.get(path) !== stamp) return path;
    for (const path of before.keys()) if (!now.has(path)) return path;
    return undefined;
  }

  async #codeCopy(runDir: string, codeSha256: string | null, work: string): Promise<void> {
    const code = join(runDir, 'code');
    await this.#once(code, async () => {
      if (await exists(`${code}.ready`)) return;
      await rm(code, { recursive: true, force: true });
      await mkdir(code, { recursive: true });
      if (codeSha256) await extractTar(await this.#o.artifacts.open(codeSha256), code);
      if (this.#o.library) {
        await mkdir(join(runDir, 'node_modules'), { recursive: true });
        await symlink(this.#o.library, join(runDir, 'node_modules', 'modelport'), 'dir').catch((error: unknown) => {
          if ((error as { code?: string }).code !== 'EEXIST') throw error;
        });
      }
      await pump(async function* () {}, createWriteStream(`${code}.ready`));
    });
    // A pipeline applied without code (the console, the API) has nothing to copy.
    if ((await readdir(code)).length === 0) await mkdir(work, { recursive: true });
    else await cp(code, work, { recursive: true, mode: constants.COPYFILE_FICLONE });
  }

  /** A finished step's output folder, written again from the artifact store if this server does not have it. */
  async #outputsOf(runDir: string, step: StepRow): Promise<string | undefined> {
    const files = outputFiles(step.outputs);
    if (step.state !== 'Succeeded' || files.length === 0) return undefined;
    const dir = join(runDir, 'steps', step.name, 'output');
    return this.#once(dir, async () => {
      const marker = join(runDir, 'steps', step.name, '.outputs-ready');
      if (await exists(marker)) return;
      for (const file of files) {
        const target = join(dir, ...file.path.split('/'));
        if (relative(dir, target).startsWith('..')) continue;
        await mkdir(dirname(target), { recursive: true });
        // Verified against its sha256 as it streams.
        await pump(await this.#o.artifacts.open(file.sha256), createWriteStream(target));
      }
      await pump(async function* () {}, createWriteStream(marker));
    }).then(() => dir);
  }

  /** Each output file into the artifact store (content-addressed: equal files are stored once). */
  async #store(folder: string, files: string[]): Promise<OutputFile[]> {
    const out: OutputFile[] = [];
    for (const path of files) {
      const ref = await this.#o.artifacts.putFile(join(folder, ...path.split('/')));
      out.push({ path, sha256: ref.sha256, size: ref.size });
    }
    // This server keeps the folder: later steps read it as it is.
    await pump(async function* () {}, createWriteStream(join(dirname(folder), '.outputs-ready')));
    return out;
  }

  async #cleanFolder(folder: string): Promise<void> {
    if (!(await exists(folder))) return;
    await writable(folder);
    await rm(folder, { recursive: true, force: true });
  }
}

/** One file of a step's outputs, as the `outputs` column stores it. */
export interface OutputFile {
  path: string;
  sha256: string;
  size: number;
}

/** The `outputs` column: output files with their digests. */
export function outputFiles(column: string): OutputFile[] {
  const parsed = JSON.parse(column) as unknown;
  return Array.isArray(parsed) ? parsed.filter((f): f is OutputFile => typeof f === 'object' && f !== null) : [];
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Files below `folder`, as `/`-separated relative paths, sorted. */
export async function listFiles(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(folder, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
}

/** metrics.json's numbers (nested objects flattened with `_`), or a reason when it is not a JSON object. */
async function readMetrics(folder: string): Promise<Record<string, number> | string> {
  let text: string;
  try {
    text = await readFile(join(folder, 'metrics.json'), 'utf8');
  } catch {
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return `metrics.json is not JSON (${(error as Error).message})`;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return 'metrics.json must be an object of numbers, e.g. {"auc": 0.97}';
  }
  const out: Record<string, number> = {};
  const walk = (value: unknown, prefix: string) => {
    if (typeof value === 'number' && Number.isFinite(value)) out[prefix] = value;
    else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) walk(v, prefix ? `${prefix}_${k}` : k);
    }
  };
  walk(parsed, '');
  return out;
}

async function extractTar(source: AsyncIterable<Uint8Array>, folder: string): Promise<void> {
  for await (const entry of readTar(source)) {
    const target = join(folder, ...entry.path.split('/'));
    if (relative(folder, target).startsWith('..')) throw new Error(`a packed path leaves its folder: ${entry.path}`);
    await mkdir(dirname(target), { recursive: true });
    await pump(entry.body, createWriteStream(target));
  }
}

async function fileStamps(folder: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const path of await listFiles(folder)) {
    const s = await stat(join(folder, ...path.split('/')));
    out.set(path, `${s.size}:${s.mtimeMs}`);
  }
  return out;
}

async function readOnly(folder: string): Promise<void> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  for (const e of entries) await chmod(join(e.parentPath, e.name), e.isDirectory() ? 0o555 : 0o444);
  await chmod(folder, 0o555);
}

async function writable(folder: string): Promise<void> {
  await chmod(folder, 0o755).catch(() => {});
  const entries = await readdir(folder, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const e of entries) if (e.isDirectory()) await chmod(join(e.parentPath, e.name), 0o755).catch(() => {});
}
