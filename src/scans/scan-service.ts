/**
 * Use cases and their scans: apply (a new revision when the spec changed, checked against the dataset and the
 * models first), list, show, delete; run a scan (queued, at most `scanConfig.parallel` of a use case at once),
 * follow its progress, cancel it, read its results, report and summary.
 *
 * A scan is a row in `scans` that goes Queued -> Running -> Succeeded | Failed | Canceled. The queue lives in this
 * process: `restore()` puts scans a stopped server left Running back in the queue.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Selectable } from 'kysely';
import { checkName, ModelportError, notFound } from '../core/index.ts';
import type { Logger } from '../logging/index.ts';
import { type MetadataStore, projectIdOf, type ScansTable } from '../store/index.ts';
import type { DatasetSource } from './materialize.ts';
import type { GatewayPace, ModelSources } from './models.ts';
import type { ScanReport } from './report-types.ts';
import { runScan } from './run-scan.ts';
import {
  compileUseCase,
  resolveScanConfig,
  SCAN_KINDS,
  type ScanConfigInput,
  type ScanKind,
  splitRepo,
  type UseCaseSpec,
} from './spec.ts';
import {
  FINISHED_SCAN,
  type Scan,
  type ScanProgress,
  type ScanResult,
  type ScanState,
  type ScanSummary,
  type UseCase,
} from './types.ts';
import { checkUseCase } from './validate.ts';

/** May the caller read data of this project? (The route's principal decides; a server-side run passes true.) */
export type CanRead = (project: string) => boolean;

export interface ScanServiceDeps {
  store: Pick<MetadataStore, 'db' | 'dialect' | 'transaction'>;
  datasets: DatasetSource;
  models: ModelSources;
  /** The server's default scan config (`--scan-parallel`, `--scan-cpu`, `--scan-memory`). */
  defaults?: ScanConfigInput;
  pace?: Partial<GatewayPace>;
  /** Scratch folder; one sub-folder per running scan. */
  workDir: string;
  log: Logger;
  now?: () => Date;
}

type ScanRow = Selectable<ScansTable>;

const PROGRESS_SAVE_MS = 300;

export class ScanService {
  readonly #d: ScanServiceDeps;
  readonly #running = new Map<string, { usecaseId: string; abort: AbortController }>();
  #pumping: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(deps: ScanServiceDeps) {
    this.#d = deps;
  }

  #now(): string {
    return (this.#d.now?.() ?? new Date()).toISOString();
  }

  async #projectId(project: string): Promise<string> {
    return projectIdOf(this.#d.store.db, project);
  }

  async #usecaseRow(project: string, name: string) {
    checkName(name, 'usecase');
    const projectId = await this.#projectId(project);
    const row = await this.#d.store.db
      .selectFrom('scan_usecases')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) throw notFound(`use case '${name}' in project '${project}' (list them with usecases list)`, 'usecase');
    return row;
  }

  async #spec(usecaseId: string, revision: number): Promise<UseCaseSpec> {
    const rev = await this.#d.store.db
      .selectFrom('scan_usecase_revisions')
      .select('spec')
      .where('usecase_id', '=', usecaseId)
      .where('revision', '=', revision)
      .executeTakeFirstOrThrow();
    return JSON.parse(rev.spec) as UseCaseSpec;
  }

  /** The scan config a use case's scans get. */
  scanConfig(spec: UseCaseSpec) {
    return resolveScanConfig(this.#d.defaults ?? {}, spec.scanConfig);
  }

  /**
   * Checks the spec (fields, then the dataset's columns and groups and each model's signature) and stores it as a
   * new revision when it differs from the latest; nothing is stored when a check fails.
   */
  async apply(project: string, input: unknown, by: string, canRead: CanRead): Promise<UseCase & { changed: boolean }> {
    const spec = compileUseCase(input);
    const projectId = await this.#projectId(project);
    this.#checkReadable(project, spec, canRead);
    await checkUseCase(spec, {
      project,
      datasets: this.#d.datasets,
      models: this.#d.models,
      workDir: join(this.#d.workDir, 'apply', randomUUID()),
      config: this.scanConfig(spec),
    });
    const now = this.#now();
    const specJson = JSON.stringify(spec);
    const upload = 'upload' in spec.dataset ? spec.dataset.upload : null;
    const changed = await this.#d.store.transaction(async (trx) => {
      let row = await trx
        .selectFrom('scan_usecases')
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
          scan_count: 0,
          created_at: now,
          updated_at: now,
        };
        await trx.insertInto('scan_usecases').values(row).execute();
      } else {
        const latest = await trx
          .selectFrom('scan_usecase_revisions')
          .select('spec')
          .where('usecase_id', '=', row.id)
          .where('revision', '=', row.latest_revision)
          .executeTakeFirst();
        if (latest?.spec === specJson) return false;
      }
      const revision = row.latest_revision + 1;
      await trx
        .insertInto('scan_usecase_revisions')
        .values({
          usecase_id: row.id,
          revision,
          spec: specJson,
          dataset_sha256: upload,
          created_by: by,
          created_at: now,
        })
        .execute();
      await trx
        .updateTable('scan_usecases')
        .set({ latest_revision: revision, updated_at: now })
        .where('id', '=', row.id)
        .execute();
      return true;
    });
    return { ...(await this.get(project, spec.name)), changed };
  }

  /** A dataset in another project needs read there; the use case's own project was checked by the route. */
  #checkReadable(project: string, spec: UseCaseSpec, canRead: CanRead): void {
    const files = [
      ...('repo' in spec.dataset ? [{ file: spec.dataset, field: 'dataset.repo' }] : []),
      ...(spec.dataset.reference ? [{ file: spec.dataset.reference, field: 'dataset.reference.repo' }] : []),
    ];
    for (const { file, field } of files) {
      const where = splitRepo(file.repo, project, field);
      if (!canRead(where.project)) {
        throw new ModelportError(
          'forbidden',
          `${field}: you may not read data of project '${where.project}', so its repository '${where.repo}' cannot be scanned (ask for the viewer role there)`,
          { field },
        );
      }
    }
  }

  async list(project: string): Promise<UseCase[]> {
    const projectId = await this.#projectId(project);
    const rows = await this.#d.store.db
      .selectFrom('scan_usecases')
      .select('name')
      .where('project_id', '=', projectId)
      .orderBy('name')
      .execute();
    return Promise.all(rows.map((r) => this.get(project, r.name)));
  }

  async get(project: string, name: string): Promise<UseCase> {
    const row = await this.#usecaseRow(project, name);
    const spec = await this.#spec(row.id, row.latest_revision);
    const last = await this.#d.store.db
      .selectFrom('scans')
      .select(['id', 'number', 'state', 'created_at'])
      .where('usecase_id', '=', row.id)
      .orderBy('number', 'desc')
      .limit(1)
      .executeTakeFirst();
    const config = this.scanConfig(spec);
    return {
      project,
      name: row.name,
      revision: row.latest_revision,
      spec,
      scanConfig: { parallel: config.parallel, cpu: config.cpu, memory: config.memory },
      scans: row.scan_count,
      lastScan: last
        ? { id: last.id, number: last.number, state: last.state as ScanState, createdAt: last.created_at }
        : null,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  /** Deletes a use case and its scans; refused while one of its scans is queued or running. */
  async delete(project: string, name: string): Promise<void> {
    const row = await this.#usecaseRow(project, name);
    const active = await this.#d.store.db
      .selectFrom('scans')
      .select('number')
      .where('usecase_id', '=', row.id)
      .where('state', 'in', ['Queued', 'Running'])
      .executeTakeFirst();
    if (active) {
      throw new ModelportError(
        'conflict',
        `use case '${name}' has scan #${active.number} queued or running; cancel it first (scans cancel)`,
        { field: 'usecase' },
      );
    }
    await this.#d.store.db.deleteFrom('scan_usecases').where('id', '=', row.id).execute();
  }

  /** Queues a scan of the use case's latest revision (all its kinds, or `kinds`). */
  async run(
    project: string,
    name: string,
    options: { kinds?: readonly string[] | undefined; by: string; canRead: CanRead; models?: readonly string[] },
  ): Promise<Scan> {
    const row = await this.#usecaseRow(project, name);
    const spec = await this.#spec(row.id, row.latest_revision);
    this.#checkReadable(project, spec, options.canRead);
    let kinds = spec.scans;
    if (options.kinds && options.kinds.length > 0) {
      const unknown = options.kinds.find((k) => !(SCAN_KINDS as readonly string[]).includes(k));
      if (unknown) {
        throw new ModelportError(
          'invalid_request',
          `kinds: '${unknown.slice(0, 40)}' is not a scan kind; use ${SCAN_KINDS.join(', ')}`,
          {
            field: 'kinds',
          },
        );
      }
      const absent = options.kinds.find((k) => !spec.scans.includes(k as ScanKind));
      if (absent) {
        throw new ModelportError(
          'invalid_request',
          `kinds: use case '${name}' does not list the ${absent} scan (its scans: ${spec.scans.join(', ')})`,
          { field: 'kinds' },
        );
      }
      kinds = SCAN_KINDS.filter((k) => options.kinds!.includes(k));
    }
    const id = randomUUID();
    const now = this.#now();
    await this.#d.store.transaction(async (trx) => {
      const current = await trx
        .selectFrom('scan_usecases')
        .select('scan_count')
        .where('id', '=', row.id)
        .executeTakeFirstOrThrow();
      const number = current.scan_count + 1;
      await trx.updateTable('scan_usecases').set({ scan_count: number }).where('id', '=', row.id).execute();
      await trx
        .insertInto('scans')
        .values({
          id,
          project_id: row.project_id,
          usecase_id: row.id,
          number,
          revision: row.latest_revision,
          kinds: JSON.stringify(kinds),
          targets: options.models ? JSON.stringify(options.models) : null,
          state: 'Queued',
          reason: null,
          progress: JSON.stringify({ phase: 'queued', done: 0, total: 0 } satisfies ScanProgress),
          dataset: null,
          models: null,
          summary: null,
          report: null,
          created_by: options.by,
          created_at: now,
          started_at: null,
          finished_at: null,
        })
        .execute();
    });
    this.kick();
    return this.getScan(project, id);
  }

  async #scanRow(project: string, id: string): Promise<ScanRow> {
    const projectId = await this.#projectId(project);
    const db = this.#d.store.db;
    let row: ScanRow | undefined;
    const numbered = /^([a-z0-9][a-z0-9-]*)#(\d{1,9})$/.exec(id);
    if (numbered) {
      const usecase = await this.#usecaseRow(project, numbered[1]!);
      row = await db
        .selectFrom('scans')
        .selectAll()
        .where('usecase_id', '=', usecase.id)
        .where('number', '=', Number(numbered[2]))
        .executeTakeFirst();
    } else if (/^[0-9a-f-]{8,36}$/.test(id)) {
      const rows = await db
        .selectFrom('scans')
        .selectAll()
        .where('project_id', '=', projectId)
        .where('id', 'like', `${id}%`)
        .limit(2)
        .execute();
      if (rows.length > 1) {
        throw new ModelportError('invalid_request', `scan: '${id}' matches several scans; give more of its id`, {
          field: 'scan',
        });
      }
      row = rows[0];
    }
    if (!row || row.project_id !== projectId) {
      throw notFound(`scan '${id.slice(0, 80)}' in project '${project}' (list them with scans list)`, 'scan');
    }
    return row;
  }

  async #toScan(row: ScanRow): Promise<Scan> {
    const meta = await this.#d.store.db
      .selectFrom('scan_usecases as u')
      .innerJoin('projects as p', 'p.id', 'u.project_id')
      .select(['u.name as usecase', 'p.name as project'])
      .where('u.id', '=', row.usecase_id)
      .executeTakeFirstOrThrow();
    return {
      id: row.id,
      project: meta.project,
      usecase: meta.usecase,
      number: row.number,
      revision: row.revision,
      kinds: JSON.parse(row.kinds),
      state: row.state as ScanState,
      reason: row.reason,
      progress: JSON.parse(row.progress),
      dataset: row.dataset ? JSON.parse(row.dataset) : null,
      models: row.models ? JSON.parse(row.models) : [],
      summary: row.summary ? JSON.parse(row.summary) : null,
      createdBy: row.created_by,
      createdAt: row.created_at,
      startedAt: row.started_at,
      finishedAt: row.finished_at,
    };
  }

  async getScan(project: string, id: string): Promise<Scan> {
    return this.#toScan(await this.#scanRow(project, id));
  }

  async listScans(project: string, options: { usecase?: string | undefined; limit?: number } = {}): Promise<Scan[]> {
    const projectId = await this.#projectId(project);
    let query = this.#d.store.db.selectFrom('scans').selectAll().where('project_id', '=', projectId);
    if (options.usecase) query = query.where('usecase_id', '=', (await this.#usecaseRow(project, options.usecase)).id);
    const rows = await query
      .orderBy('created_at', 'desc')
      .orderBy('number', 'desc')
      .limit(options.limit ?? 50)
      .execute();
    return Promise.all(rows.map((r) => this.#toScan(r)));
  }

  /**
   * Scans that measured a model version, or whose dataset was a data commit (the lineage graph's `scan` nodes),
   * newest first.
   */
  async scansOf(
    project: string,
    of: { model: string; version: number } | { dataCommit: string },
    limit = 20,
  ): Promise<Scan[]> {
    const projectId = await this.#projectId(project);
    let query = this.#d.store.db
      .selectFrom('scan_results as r')
      .innerJoin('scans as s', 's.id', 'r.scan_id')
      .select(['s.id', 's.created_at'])
      .distinct()
      .where('s.project_id', '=', projectId);
    query =
      'dataCommit' in of
        ? query.where('r.data_commit', '=', of.dataCommit)
        : query.where('r.model', '=', of.model).where('r.version', '=', of.version);
    const rows = await query.orderBy('s.created_at', 'desc').limit(limit).execute();
    return Promise.all(rows.map((r) => this.getScan(project, r.id)));
  }

  async results(project: string, id: string): Promise<ScanResult[]> {
    const row = await this.#scanRow(project, id);
    const rows = await this.#d.store.db
      .selectFrom('scan_results')
      .selectAll()
      .where('scan_id', '=', row.id)
      .orderBy('target')
      .orderBy('kind')
      .orderBy('metric')
      .execute();
    return rows.map((r) => ({
      target: r.target,
      model: r.model,
      version: r.version,
      dataCommit: r.data_commit,
      kind: r.kind as ScanResult['kind'],
      metric: r.metric,
      value: r.value === null ? null : Number(r.value),
      lo: r.lo === null ? null : Number(r.lo),
      hi: r.hi === null ? null : Number(r.hi),
    }));
  }

  /** The report of a finished scan; `conflict` until it succeeded. */
  async report(project: string, id: string): Promise<ScanReport> {
    const row = await this.#scanRow(project, id);
    if (!row.report) {
      throw new ModelportError(
        'conflict',
        `scan ${row.id.slice(0, 8)} is ${row.state}${row.reason ? ` (${row.reason})` : ''}; a report exists once it succeeded`,
        { field: 'scan' },
      );
    }
    return JSON.parse(row.report) as ScanReport;
  }

  /** Cancels a queued or running scan; a finished one is left as it is. */
  async cancel(project: string, id: string): Promise<Scan> {
    const row = await this.#scanRow(project, id);
    if (row.state === 'Queued') {
      await this.#finish(row.id, 'Canceled', 'canceled before it started', ['Queued']);
    } else if (row.state === 'Running') {
      this.#running.get(row.id)?.abort.abort(new ModelportError('conflict', 'canceled'));
    }
    return this.getScan(project, row.id);
  }

  /**
   * What policies read as `scans` for a model version: per kind, the newest succeeded scan that measured it (a
   * performance-only scan does not hide the fairness of the scan before it), across the project's use cases.
   * Undefined when no scan measured the version.
   */
  async latestSummary(
    project: string,
    model: string,
    version: number,
  ): Promise<(ScanSummary[string] & { scan: string; at: string }) | undefined> {
    const projectId = await this.#projectId(project);
    const rows = await this.#d.store.db
      .selectFrom('scan_results as r')
      .innerJoin('scans as s', 's.id', 'r.scan_id')
      .select(['s.id', 's.summary', 's.finished_at', 'r.target'])
      .distinct()
      .where('s.project_id', '=', projectId)
      .where('s.state', '=', 'Succeeded')
      .where('r.model', '=', model)
      .where('r.version', '=', version)
      .orderBy('s.finished_at', 'desc')
      .limit(50)
      .execute();
    let merged: (ScanSummary[string] & { scan: string; at: string }) | undefined;
    for (const row of rows) {
      const summary = row.summary ? (JSON.parse(row.summary) as ScanSummary)[row.target] : undefined;
      if (!summary) continue;
      if (!merged) {
        merged = { ...summary, scan: row.id, at: row.finished_at ?? '' };
        continue;
      }
      for (const kind of ['performance', 'fairness', 'robustness', 'explainability', 'drift'] as const) {
        if (Object.keys(merged[kind]).length === 0 && Object.keys(summary[kind]).length > 0) {
          (merged as unknown as Record<string, unknown>)[kind] = summary[kind];
        }
      }
    }
    return merged;
  }

  /** Starts queued scans (puts scans a stopped server left Running back in the queue first). */
  async restore(): Promise<void> {
    const left = await this.#d.store.db.selectFrom('scans').select('id').where('state', '=', 'Running').execute();
    for (const { id } of left) {
      await this.#d.store.db
        .updateTable('scans')
        .set({ state: 'Queued', started_at: null })
        .where('id', '=', id)
        .where('state', '=', 'Running')
        .execute();
    }
    if (left.length > 0) this.#d.log.info('scans queued again after a restart', { scans: left.length });
    this.kick();
  }

  /** Looks for scans to start now. */
  kick(): void {
    if (this.#closed) return;
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = this.#pump()
      .catch((err: unknown) => this.#d.log.error('the scan queue failed', { err }))
      .finally(() => {
        this.#pumping = undefined;
        if (this.#again) {
          this.#again = false;
          this.kick();
        }
      });
  }

  async #pump(): Promise<void> {
    const queued = await this.#d.store.db
      .selectFrom('scans')
      .selectAll()
      .where('state', '=', 'Queued')
      .orderBy('created_at')
      .orderBy('number')
      .limit(200)
      .execute();
    for (const row of queued) {
      if (this.#closed) return;
      const spec = await this.#spec(row.usecase_id, row.revision);
      const { parallel } = this.scanConfig(spec);
      const running = [...this.#running.values()].filter((r) => r.usecaseId === row.usecase_id).length;
      if (running >= parallel) continue;
      const claimed = await this.#d.store.db
        .updateTable('scans')
        .set({ state: 'Running', started_at: this.#now() })
        .where('id', '=', row.id)
        .where('state', '=', 'Queued')
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) !== 1) continue;
      const abort = new AbortController();
      this.#running.set(row.id, { usecaseId: row.usecase_id, abort });
      void this.#execute(row, spec, abort.signal).finally(() => {
        this.#running.delete(row.id);
        this.kick();
      });
    }
  }

  async #execute(row: ScanRow, original: UseCaseSpec, signal: AbortSignal): Promise<void> {
    let spec = original;
    const log = this.#d.log.child({ scan: row.id });
    const dir = join(this.#d.workDir, row.id);
    let lastSave = 0;
    let pending: ScanProgress | undefined;
    const saveProgress = async (progress: ScanProgress, force = false) => {
      pending = progress;
      const now = performance.now();
      if (!force && now - lastSave < PROGRESS_SAVE_MS) return;
      lastSave = now;
      await this.#d.store.db
        .updateTable('scans')
        .set({ progress: JSON.stringify(pending) })
        .where('id', '=', row.id)
        .where('state', '=', 'Running')
        .execute()
        .catch((err: unknown) => log.warn('could not save the scan progress', { err }));
    };
    try {
      await mkdir(dir, { recursive: true });
      const scan = await this.#toScan(row);
      if (row.targets) spec = { ...spec, models: JSON.parse(row.targets) as string[] };
      log.info('scan started', { usecase: scan.usecase, number: scan.number, kinds: scan.kinds });
      const previous = await this.#d.store.db
        .selectFrom('scans')
        .select('report')
        .where('usecase_id', '=', row.usecase_id)
        .where('state', '=', 'Succeeded')
        .where('number', '<', row.number)
        .orderBy('number', 'desc')
        .limit(1)
        .executeTakeFirst();
      const outcome = await runScan({
        previous: previous?.report ? (JSON.parse(previous.report) as ScanReport) : undefined,
        scan: { ...scan, kinds: JSON.parse(row.kinds) },
        spec,
        config: this.scanConfig(spec),
        datasets: this.#d.datasets,
        models: this.#d.models,
        pace: this.#d.pace ?? {},
        dir,
        signal,
        progress: (p) => saveProgress(p),
        now: () => this.#now(),
      });
      await this.#d.store.transaction(async (trx) => {
        for (const r of outcome.results) {
          await trx
            .insertInto('scan_results')
            .values({
              scan_id: row.id,
              target: r.target,
              model: r.model,
              version: r.version,
              data_commit: r.dataCommit,
              kind: r.kind,
              metric: r.metric,
              value: r.value,
              lo: r.lo,
              hi: r.hi,
            })
            .execute();
        }
        await trx
          .updateTable('scans')
          .set({
            state: 'Succeeded',
            reason: null,
            progress: JSON.stringify({ phase: 'done', done: 1, total: 1 } satisfies ScanProgress),
            dataset: JSON.stringify(outcome.report.dataset),
            models: JSON.stringify(outcome.models),
            summary: JSON.stringify(outcome.report.summary),
            report: JSON.stringify(outcome.report),
            finished_at: outcome.report.scan.finishedAt,
          })
          .where('id', '=', row.id)
          .where('state', '=', 'Running')
          .execute();
      });
      log.info('scan succeeded', { elapsedMs: outcome.report.scan.elapsedMs, rows: outcome.report.dataset.rows });
    } catch (error) {
      // A server that stops leaves the scan Running: restore() queues it again on the next start.
      if (this.#closed) return;
      if (signal.aborted) {
        await this.#finish(row.id, 'Canceled', 'canceled while running', ['Running'], pending);
        log.info('scan canceled');
      } else {
        const reason =
          error instanceof ModelportError
            ? error.message
            : `the scan failed unexpectedly (${(error as Error).message?.split('\n')[0]?.slice(0, 300) ?? 'unknown error'})`;
        if (!(error instanceof ModelportError)) log.error('scan failed unexpectedly', { err: error });
        else log.warn('scan failed', { reason });
        await this.#finish(row.id, 'Failed', reason, ['Running'], pending);
      }
    } finally {
      await rm(dir, { recursive: true, force: true }).catch(() => {});
    }
  }

  async #finish(
    id: string,
    state: ScanState,
    reason: string,
    from: ScanState[],
    progress?: ScanProgress,
  ): Promise<void> {
    await this.#d.store.db
      .updateTable('scans')
      .set({
        state,
        reason,
        finished_at: this.#now(),
        ...(progress ? { progress: JSON.stringify(progress) } : {}),
      })
      .where('id', '=', id)
      .where('state', 'in', from)
      .execute();
  }

  /**
   * A fresh scan of a candidate version with a use case's dataset and checks (its models replaced by the candidate),
   * waited for: what a pipeline gate with `scan:` reads as `scans`. Throws when the scan does not succeed.
   */
  async scanCandidate(
    project: string,
    usecase: string,
    candidate: { model: string; version: number },
    options: { kinds?: readonly string[] | undefined; by: string; timeoutMs: number; signal?: AbortSignal },
  ): Promise<ScanSummary[string] & { scan: string }> {
    const ref = `${candidate.model}@${candidate.version}`;
    const scan = await this.run(project, usecase, {
      kinds: options.kinds,
      by: options.by,
      canRead: () => true,
      models: [ref],
    });
    const done = await this.wait(project, scan.id, options.timeoutMs, options.signal);
    if (done.state !== 'Succeeded' || !done.summary?.[ref]) {
      if (!FINISHED_SCAN.includes(done.state)) await this.cancel(project, scan.id);
      throw new ModelportError(
        'conflict',
        `scan ${usecase}#${done.number} of ${ref} ${done.state === 'Succeeded' ? 'has no summary' : `is ${done.state}`}${done.reason ? `: ${done.reason}` : ''}`,
        { field: 'scan' },
      );
    }
    return { ...done.summary[ref]!, scan: done.id };
  }

  /** Waits until the scan finished (or the timeout passed), polling the store. */
  async wait(project: string, id: string, timeoutMs: number, signal?: AbortSignal): Promise<Scan> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const scan = await this.getScan(project, id);
      if (FINISHED_SCAN.includes(scan.state) || Date.now() >= end || signal?.aborted) return scan;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Stops starting scans and cancels the running ones. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const { abort } of this.#running.values())
      abort.abort(new ModelportError('not_ready', 'the server is stopping'));
    await this.#pumping;
    const end = Date.now() + 10_000;
    while (this.#running.size > 0 && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
