/**
 * Deployments: the user owns the spec, the reconciler owns the status.
 *
 * Every spec change makes an immutable, numbered revision (applying the same spec again changes nothing). A
 * revision pins each `model@alias` to the version it named at that moment, so a rollback means exactly what it
 * says. After each change the deployment is reconciled in the background, one change at a time per deployment;
 * `status` tells how far it got (observedGeneration, conditions Ready / RolledOut / Failed, replicas per target).
 * On start, `restore` brings every stored deployment back to its spec.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { ModelportError, notFound } from '../core/errors.ts';
import { checkName, parseModelRef } from '../core/names.ts';
import type { ModelRegistry } from '../registry/model-registry.ts';
import type { VersionUsage } from '../registry/types.ts';
import type { Database } from '../store/metadata/schema.ts';
import type { Backend } from './backend.ts';
import type { LocalBackend } from './local-backend.ts';
import { checkSpec, type DeploymentSpec, parseSpec } from './spec.ts';
import type { Condition, ConditionType, Deployment, DeploymentStatus, Revision, RevisionTargets } from './types.ts';

export interface DeploymentStore {
  db: Kysely<Database>;
  transaction<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<T>;
}

export interface DeploymentServiceOptions {
  store: DeploymentStore;
  registry: ModelRegistry;
  local: LocalBackend;
  /** The other backends this server can apply to; a spec naming one that is absent is refused. */
  backends?: Partial<Record<'kubernetes' | 'compose', Backend>>;
  /** Base URLs for status: the REST endpoint and the gRPC address. */
  urls: () => { rest: string; grpc?: string | undefined };
  log: (message: string, fields?: Record<string, unknown>) => void;
  now?: () => Date;
}

type Row = Database['deployments'];

export class DeploymentService implements VersionUsage {
  readonly #o: DeploymentServiceOptions;
  readonly #queues = new Map<string, Promise<void>>();
  readonly #waiters = new Set<() => void>();

  constructor(options: DeploymentServiceOptions) {
    this.#o = options;
  }

  // Reading

  async list(project: string): Promise<Deployment[]> {
    const projectId = await this.#projectId(project);
    const rows = await this.#o.store.db
      .selectFrom('deployments')
      .selectAll()
      .where('project_id', '=', projectId)
      .orderBy('name')
      .execute();
    return Promise.all(rows.map((row) => this.#toDeployment(project, row)));
  }

  async get(project: string, name: string): Promise<Deployment> {
    return this.#toDeployment(project, await this.#row(project, name));
  }

  async revisions(project: string, name: string): Promise<Revision[]> {
    const row = await this.#row(project, name);
    const rows = await this.#o.store.db
      .selectFrom('deployment_revisions')
      .selectAll()
      .where('deployment_id', '=', row.id)
      .orderBy('revision')
      .execute();
    return rows.map((r) => ({
      revision: r.revision,
      spec: JSON.parse(r.spec) as DeploymentSpec,
      targets: JSON.parse(r.targets) as RevisionTargets,
      createdAt: r.created_at,
    }));
  }

  /** Deployments whose serving or latest revision routes to this version (the registry refuses to delete it). */
  async usersOf(project: string, model: string, version: number): Promise<string[]> {
    const users: string[] = [];
    for (const deployment of await this.list(project)) {
      const revisions = await this.revisions(project, deployment.name);
      const live = revisions.filter(
        (r) => r.revision === deployment.currentRevision || r.revision === deployment.latestRevision,
      );
      const uses = live.some((r) =>
        [...r.targets.traffic, ...(r.targets.shadow ? [r.targets.shadow] : [])].some(
          (t) => t.model === model && t.version === version,
        ),
      );
      if (uses) users.push(deployment.name);
    }
    return users;
  }

  // Writing

  /**
   * Creates the deployment or changes its spec. A spec equal to the current revision's is a no-op. With
   * `mustNotExist`, an existing deployment is `already_exists` (for `deployments create`).
   */
  async apply(project: string, name: string, input: unknown, mustNotExist = false): Promise<Deployment> {
    checkName(name, 'name');
    const spec = parseSpec(input);
    if (spec.backend !== 'local' && !this.#o.backends?.[spec.backend]) {
      throw new ModelportError(
        'invalid_request',
        `spec.backend: '${spec.backend}' is not configured on this server; use 'local', configure it (see the README), or 'modelport export' for manifests`,
        { field: 'spec.backend' },
      );
    }
    if (spec.backend !== 'local') this.#o.backends?.[spec.backend]?.check?.(spec);
    const targets = await this.#resolveTargets(project, spec);
    const projectId = await this.#projectId(project);
    const now = this.#stamp();
    const changed = await this.#o.store.transaction(async (trx) => {
      let row = await trx
        .selectFrom('deployments')
        .selectAll()
        .where('project_id', '=', projectId)
        .where('name', '=', name)
        .executeTakeFirst();
      if (row && mustNotExist) {
        throw new ModelportError('already_exists', `deployment '${name}' already exists; use apply to change it`, {
          field: 'name',
        });
      }
      if (!row) {
        row = {
          id: randomUUID(),
          project_id: projectId,
          name,
          generation: 0,
          current_revision: 0,
          latest_revision: 0,
          status: JSON.stringify(initialStatus(now)),
          created_at: now,
          updated_at: now,
        };
        await trx.insertInto('deployments').values(row).execute();
      } else {
        const current = await trx
          .selectFrom('deployment_revisions')
          .select(['spec', 'targets'])
          .where('deployment_id', '=', row.id)
          .where('revision', '=', row.current_revision)
          .executeTakeFirst();
        if (current && current.spec === JSON.stringify(spec) && current.targets === JSON.stringify(targets)) {
          return false;
        }
      }
      const revision = row.latest_revision + 1;
      await trx
        .insertInto('deployment_revisions')
        .values({
          deployment_id: row.id,
          revision,
          spec: JSON.stringify(spec),
          targets: JSON.stringify(targets),
          created_at: now,
        })
        .execute();
      await trx
        .updateTable('deployments')
        .set({ generation: row.generation + 1, current_revision: revision, latest_revision: revision, updated_at: now })
        .where('id', '=', row.id)
        .execute();
      return true;
    });
    if (changed) this.#reconcile(project, name);
    return this.get(project, name);
  }

  /** Sends all traffic to the canary: the target tagged `canary`, else the last target with weight. */
  async promote(project: string, name: string): Promise<Deployment> {
    const deployment = await this.get(project, name);
    const spec = deployment.spec;
    const canary =
      spec.traffic.find((t) => t.tag === 'canary') ??
      (spec.traffic.length > 1 ? spec.traffic[spec.traffic.length - 1] : undefined);
    if (!canary) {
      throw new ModelportError('conflict', `deployment '${name}' has no canary to promote`, { field: 'spec.traffic' });
    }
    const current = (await this.revisions(project, name)).find((r) => r.revision === deployment.currentRevision);
    const pinned = current?.targets.traffic.find((t) => t.ref === canary.model && t.tag === canary.tag);
    const model = pinned ? `${pinned.model}@${pinned.version}` : canary.model;
    return this.apply(project, name, {
      ...spec,
      traffic: [{ model, weight: 100, ...(canary.tag ? { tag: canary.tag } : {}) }],
    });
  }

  /** Routes back to an earlier revision (by default the one before the serving one). */
  async rollback(project: string, name: string, toRevision?: number): Promise<Deployment> {
    const row = await this.#row(project, name);
    const revisions = await this.revisions(project, name);
    const target = toRevision ?? [...revisions].reverse().find((r) => r.revision < row.current_revision)?.revision;
    if (target === undefined || !revisions.some((r) => r.revision === target)) {
      throw new ModelportError(
        'not_found',
        toRevision === undefined
          ? `deployment '${name}' has no earlier revision`
          : `revision ${toRevision} of deployment '${name}' not found`,
        { field: 'revision' },
      );
    }
    if (target === row.current_revision) return this.get(project, name);
    await this.#o.store.db
      .updateTable('deployments')
      .set({ current_revision: target, generation: row.generation + 1, updated_at: this.#stamp() })
      .where('id', '=', row.id)
      .execute();
    this.#reconcile(project, name);
    return this.get(project, name);
  }

  /** Stops every worker of the deployment, then forgets it. */
  async delete(project: string, name: string): Promise<void> {
    const row = await this.#row(project, name);
    await this.#serially(project, name, async () => {
      await this.#o.local.remove(project, name);
      for (const backend of Object.values(this.#o.backends ?? {})) await backend.remove(project, name);
      await this.#o.store.db.deleteFrom('deployments').where('id', '=', row.id).execute();
    });
  }

  /** Resolves once the deployment is Ready at its current generation (or rejects when that generation failed). */
  async wait(project: string, name: string, timeoutMs: number, signal?: AbortSignal): Promise<Deployment> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const d = await this.get(project, name);
      const failed = d.status.conditions.find((c) => c.type === 'Failed' && c.status === 'True');
      if (d.status.observedGeneration >= d.generation) {
        if (failed)
          throw new ModelportError('conflict', `deployment '${name}' failed: ${failed.message ?? failed.reason}`);
        if (condition(d.status, 'Ready') === 'True') return d;
      }
      const left = deadline - Date.now();
      if (left <= 0 || signal?.aborted) {
        throw new ModelportError(
          'timeout',
          `deployment '${name}' was not ready within ${Math.round(timeoutMs / 1000)} s`,
        );
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(left, 1000));
        this.#waiters.add(done);
      });
    }
  }

  /** Reconciles every stored deployment (server start), waiting for all of them. */
  async restore(): Promise<void> {
    const rows = await this.#o.store.db
      .selectFrom('deployments')
      .innerJoin('projects', 'projects.id', 'deployments.project_id')
      .select(['projects.name as project', 'deployments.name as name'])
      .execute();
    await Promise.all(rows.map((r) => this.#reconcile(r.project, r.name)));
  }

  /** Waits for queued reconciles (tests and shutdown). */
  async settle(): Promise<void> {
    await Promise.all([...this.#queues.values()]);
  }

  // Reconciling

  #reconcile(project: string, name: string): Promise<void> {
    return this.#serially(project, name, async () => {
      let row: Row;
      try {
        row = await this.#row(project, name);
      } catch {
        return;
      }
      const revision = (await this.revisions(project, name)).find((r) => r.revision === row.current_revision);
      if (!revision) return;
      const backend: Backend | undefined =
        revision.spec.backend === 'local' ? undefined : this.#o.backends?.[revision.spec.backend];
      // Moving off the local backend stops the local workers; other backends clean up their own objects.
      if (backend) await this.#o.local.remove(project, name);
      const result = await (backend ?? this.#o.local).apply({
        project,
        name,
        revision: revision.revision,
        spec: revision.spec,
        targets: revision.targets,
        scaling: checkSpec(revision.spec),
      });
      const status = JSON.parse(row.status) as DeploymentStatus;
      const now = this.#stamp();
      const next: DeploymentStatus = { ...status, observedGeneration: row.generation };
      if (result.ok) {
        next.servingRevision = revision.revision;
        next.urls = { rest: (result as { url?: string }).url ?? '' };
        next.conditions = setConditions(status.conditions, now, [
          { type: 'Ready', status: 'True', reason: 'Serving' },
          {
            type: 'RolledOut',
            status: revision.revision === row.latest_revision ? 'True' : 'False',
            reason: revision.revision === row.latest_revision ? 'LatestRevisionServing' : 'RolledBack',
            message: `revision ${revision.revision} serves all traffic`,
          },
          { type: 'Failed', status: 'False' },
        ]);
        this.#o.log('deployment reconciled', { deployment: name, revision: revision.revision });
      } else {
        const serving = this.#o.local.route(project, name);
        next.conditions = setConditions(status.conditions, now, [
          {
            type: 'Ready',
            status: serving ? 'True' : 'False',
            reason: serving ? 'PreviousRevisionServing' : result.reason,
            ...(serving ? { message: `revision ${serving.revision} keeps serving` } : { message: result.message }),
          },
          { type: 'RolledOut', status: 'False', reason: result.reason, message: result.message },
          { type: 'Failed', status: 'True', reason: result.reason, message: result.message },
        ]);
        this.#o.log('deployment revision failed', {
          deployment: name,
          revision: revision.revision,
          reason: result.reason,
        });
      }
      await this.#o.store.db
        .updateTable('deployments')
        .set({ status: JSON.stringify(next), updated_at: now })
        .where('id', '=', row.id)
        .execute();
      for (const wake of [...this.#waiters]) wake();
    });
  }

  #serially(project: string, name: string, work: () => Promise<void>): Promise<void> {
    const key = `${project}/${name}`;
    const previous = this.#queues.get(key) ?? Promise.resolve();
    const next = previous.then(work).catch((error: unknown) => {
      this.#o.log('reconcile failed', { deployment: name, error: (error as Error).message });
    });
    this.#queues.set(key, next);
    void next.then(() => {
      if (this.#queues.get(key) === next) this.#queues.delete(key);
    });
    return next;
  }

  async #resolveTargets(project: string, spec: DeploymentSpec): Promise<RevisionTargets> {
    const pin = async (ref: string, field: string) => {
      const parsed = parseModelRef(ref, field);
      try {
        const v = await this.#o.registry.getVersion(project, parsed);
        return { model: v.model, version: v.version };
      } catch (error) {
        if (error instanceof ModelportError && error.code === 'not_found') {
          throw new ModelportError('not_found', `${field}: ${error.message}`, { field });
        }
        throw error;
      }
    };
    const traffic = await Promise.all(
      spec.traffic.map(async (t, i) => ({
        ref: t.model,
        ...(await pin(t.model, `spec.traffic[${i}].model`)),
        weight: t.weight,
        ...(t.tag ? { tag: t.tag } : {}),
      })),
    );
    const shadow = spec.shadow
      ? { ref: spec.shadow.model, ...(await pin(spec.shadow.model, 'spec.shadow.model')), percent: spec.shadow.percent }
      : undefined;
    return shadow ? { traffic, shadow } : { traffic };
  }

  /** The deployment with the spec of its current revision: the one that serves (an older one after a rollback). */
  async #toDeployment(project: string, row: Row): Promise<Deployment> {
    const revision = await this.#o.store.db
      .selectFrom('deployment_revisions')
      .select('spec')
      .where('deployment_id', '=', row.id)
      .where('revision', '=', row.current_revision)
      .executeTakeFirst();
    const stored = JSON.parse(row.status) as DeploymentStatus;
    const table = this.#o.local.route(project, row.name);
    const urls = this.#o.urls();
    const external = revision !== undefined && (JSON.parse(revision.spec) as DeploymentSpec).backend !== 'local';
    return {
      project,
      name: row.name,
      generation: row.generation,
      currentRevision: row.current_revision,
      latestRevision: row.latest_revision,
      spec: JSON.parse(revision?.spec ?? '{}') as DeploymentSpec,
      status: {
        ...stored,
        urls: external
          ? stored.urls
          : { rest: `${urls.rest}/v2/models/${row.name}/infer`, ...(urls.grpc ? { grpc: urls.grpc } : {}) },
        targets: table ? this.#o.local.targetStatus(table) : [],
        ...(table?.shadow ? { shadow: this.#o.local.shadowStatus(table) } : {}),
      },
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  async #row(project: string, name: string): Promise<Row> {
    checkName(name, 'deployment');
    const projectId = await this.#projectId(project);
    const row = await this.#o.store.db
      .selectFrom('deployments')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) throw notFound(`deployment '${name}' in project '${project}'`, 'deployment');
    return row;
  }

  async #projectId(project: string): Promise<string> {
    checkName(project, 'project');
    const row = await this.#o.store.db
      .selectFrom('projects')
      .select('id')
      .where('name', '=', project)
      .executeTakeFirst();
    if (!row) throw notFound(`project '${project}'`, 'project');
    return row.id;
  }

  #stamp(): string {
    return (this.#o.now?.() ?? new Date()).toISOString();
  }
}

function initialStatus(now: string): DeploymentStatus {
  return {
    observedGeneration: 0,
    servingRevision: null,
    conditions: (['Ready', 'RolledOut', 'Failed'] as ConditionType[]).map((type) => ({
      type,
      status: 'Unknown',
      reason: 'Reconciling',
      lastTransitionTime: now,
    })),
    urls: { rest: '' },
    targets: [],
  };
}

function condition(status: DeploymentStatus, type: ConditionType): Condition['status'] | undefined {
  return status.conditions.find((c) => c.type === type)?.status;
}

/** Updates conditions, keeping lastTransitionTime when a condition's status does not change. */
function setConditions(
  existing: Condition[],
  now: string,
  updates: Omit<Condition, 'lastTransitionTime'>[],
): Condition[] {
  return updates.map((u) => {
    const old = existing.find((c) => c.type === u.type);
    return { ...u, lastTransitionTime: old && old.status === u.status ? old.lastTransitionTime : now };
  });
}
