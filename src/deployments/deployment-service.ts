/**
 * Deployments: the user owns the spec, the reconciler owns the status.
 *
 * Every spec change makes an immutable, numbered revision (applying the same spec again changes nothing). A
 * revision pins each `model@alias` to the version it named at that moment, so a rollback means exactly what it
 * says. After each change the deployment is reconciled in the background, one change at a time per deployment;
 * `status` tells how far it got (observedGeneration, conditions Ready / RolledOut / Failed, replicas per target).
 * On start, `restore` brings every stored deployment back to its spec.
 *
 * The parts: deployment-store.ts (the SQL), revisions.ts (pinning references), reconcile-queue.ts (one change at
 * a time per deployment), conditions.ts (the status a result turns into), and the backends (deployments/backend.ts,
 * implemented in src/backends/<name>/), given as a map by the composition root.
 */
import { checkName, ModelportError, parseModelRef } from '../core/index.ts';
import type { Logger } from '../logging/index.ts';
import { compilePolicy } from '../policy/index.ts';
import type { ModelRegistry, VersionUsage } from '../registry/index.ts';
import type { Backends, RouteReader } from './backend.ts';
import { condition, initialStatus, reconciledStatus } from './conditions.ts';
import { type DeploymentDatabase, type DeploymentRow, DeploymentStore } from './deployment-store.ts';
import { ReconcileQueue } from './reconcile-queue.ts';
import { pinTargets, routesTo } from './revisions.ts';
import { signatureWarnings } from './signature-check.ts';
import { checkSpec, type DeploymentSpec, PROMOTION_VARIABLES, parseSpec } from './spec.ts';
import type { Condition, Deployment, DeploymentStatus, Revision } from './types.ts';

export interface DeploymentServiceOptions {
  /** The metadata store (deployments and their revisions are tables in it). */
  store: DeploymentDatabase;
  registry: ModelRegistry;
  /** The backends this server applies to, by name; a spec naming one that is absent is refused. */
  backends: Backends;
  /** What this server's own workers serve now (the local backend): live replicas, and who serves after a failure. */
  routes: RouteReader;
  /** Checks what only the server can (a payload sink URL against the egress guard) before a revision is stored. */
  validate?: (project: string, spec: DeploymentSpec) => Promise<void>;
  /** Base URLs for status: the REST endpoint and the gRPC address. */
  urls: () => { rest: string; grpc?: string | undefined };
  /** Conditions observed elsewhere and shown with the stored ones (`DriftDetected`, from drift monitoring). */
  observedConditions?: (project: string, name: string) => Condition[];
  log: Logger;
  /**
   * What a `promotionPolicy` reads of the candidate (its latest scan summary as `scans`, `model`, `canary`); the
   * composition root passes it (the scans live in a room above this one).
   */
  promotionContext?: (
    project: string,
    candidate: { model: string; version: number },
  ) => Promise<Record<string, unknown>>;
  /**
   * Told when a change starts rolling out a revision and when it is Ready or failed (OpenLineage emission); not when a
   * restart reconciles an unchanged deployment. Must return at once, never throw.
   */
  onRollout?: (event: RolloutEvent) => void;
  now?: () => Date;
}

/** A deployment revision rolling out (`start`), Ready (`complete`) or refused by its backend (`fail`). */
export interface RolloutEvent {
  project: string;
  name: string;
  revision: number;
  generation: number;
  phase: 'start' | 'complete' | 'fail';
  at: string;
  message?: string;
}

export class DeploymentService implements VersionUsage {
  readonly #o: DeploymentServiceOptions;
  readonly #store: DeploymentStore;
  readonly #queue: ReconcileQueue;
  readonly #waiters = new Set<() => void>();

  constructor(options: DeploymentServiceOptions) {
    this.#o = options;
    this.#store = new DeploymentStore(options.store);
    this.#queue = new ReconcileQueue((key, error) => {
      this.#o.log.error('reconcile failed', { deployment: key.slice(key.indexOf('/') + 1), err: error });
    });
  }

  // Reading

  async list(project: string): Promise<Deployment[]> {
    const rows = await this.#store.list(await this.#store.projectId(project));
    return Promise.all(rows.map((row) => this.#toDeployment(project, row)));
  }

  async get(project: string, name: string): Promise<Deployment> {
    return this.#toDeployment(project, await this.#store.row(project, name));
  }

  async revisions(project: string, name: string): Promise<Revision[]> {
    return this.#store.revisions((await this.#store.row(project, name)).id);
  }

  /** Deployments whose serving or latest revision routes to this version (the registry refuses to delete it). */
  async usersOf(project: string, model: string, version: number): Promise<string[]> {
    const users: string[] = [];
    for (const deployment of await this.list(project)) {
      const revisions = await this.revisions(project, deployment.name);
      const live = revisions.filter(
        (r) => r.revision === deployment.currentRevision || r.revision === deployment.latestRevision,
      );
      if (live.some((r) => routesTo(r.targets, model, version))) users.push(deployment.name);
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
    const backend = this.#o.backends[spec.backend];
    if (!backend) {
      throw new ModelportError(
        'invalid_request',
        `spec.backend: '${spec.backend}' is not configured on this server; use 'local', configure it (see the README), or 'modelport export' for manifests`,
        { field: 'spec.backend' },
      );
    }
    backend.check?.(spec);
    await this.#o.validate?.(project, spec);
    const targets = await pinTargets(this.#o.registry, project, spec);
    await backend.checkTargets?.(project, targets, spec);
    const projectId = await this.#store.projectId(project);
    const now = this.#stamp();
    const changed = await this.#store.addRevision({
      projectId,
      name,
      spec,
      targets,
      initialStatus: initialStatus(now),
      now,
      mustNotExist,
    });
    if (changed) {
      backend.accepted?.(project, name);
      this.#reconcile(project, name);
    }
    const warnings = signatureWarnings(
      await Promise.all(
        targets.traffic.map(async (t) => ({
          name: `${t.model}@${t.version}${t.tag ? ` (${t.tag})` : ''}`,
          signature: (await this.#o.registry.getVersion(project, { name: t.model, version: t.version })).signature,
        })),
      ),
    );
    const deployment = await this.get(project, name);
    return warnings.length ? { ...deployment, warnings } : deployment;
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
    if (spec.promotionPolicy !== undefined) await this.#checkPromotion(project, name, spec.promotionPolicy, model);
    return this.apply(project, name, {
      ...spec,
      traffic: [{ model, weight: 100, ...(canary.tag ? { tag: canary.tag } : {}) }],
    });
  }

  /**
   * Evaluates the deployment's promotionPolicy for the candidate; refuses (`policy_refused`, with the rule, the failed
   * clauses and every value read in `details`) when it does not pass.
   */
  async #checkPromotion(project: string, name: string, expression: string, model: string): Promise<void> {
    const policy = compilePolicy(expression, PROMOTION_VARIABLES, 'spec.promotionPolicy');
    const version = await this.#o.registry.getVersion(project, parseModelRef(model, 'spec.traffic'));
    const context = {
      scans: {},
      model: { name: version.model, version: version.version, metrics: version.metrics },
      canary: {},
      ...(await this.#o.promotionContext?.(project, { model: version.model, version: version.version })),
    };
    const result = policy.evaluate(context);
    this.#o.log.info('promotion policy evaluated', { project, deployment: name, model, passed: result.passed });
    if (result.passed) return;
    throw new ModelportError(
      'policy_refused',
      `deployment '${name}': the promotionPolicy refuses promoting ${version.model}@${version.version}: ${result.explanation}`,
      {
        field: 'spec.promotionPolicy',
        details: {
          expression: result.expression,
          failed: result.failed,
          values: result.values,
          error: result.error,
          candidate: `${version.model}@${version.version}`,
        },
      },
    );
  }

  /** Routes back to an earlier revision (by default the one before the serving one). */
  async rollback(project: string, name: string, toRevision?: number): Promise<Deployment> {
    const row = await this.#store.row(project, name);
    const revisions = await this.#store.revisions(row.id);
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
    await this.#store.setCurrentRevision(row, target, this.#stamp());
    this.#reconcile(project, name);
    return this.get(project, name);
  }

  /** Stops every worker of the deployment, then forgets it. */
  async delete(project: string, name: string): Promise<void> {
    const row = await this.#store.row(project, name);
    await this.#serially(project, name, async () => {
      for (const backend of Object.values(this.#o.backends)) await backend.remove(project, name);
      await this.#store.delete(row.id);
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
        // A written bundle is as far as this server sees: waiting longer would learn nothing.
        if (d.status.conditions.some((c) => c.type === 'Ready' && c.reason === 'BundleWritten')) return d;
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
    const rows = await this.#store.listAll();
    await Promise.all(rows.map((r) => this.#reconcile(r.project, r.name)));
  }

  /** Waits for queued reconciles (tests and shutdown). */
  async settle(): Promise<void> {
    await this.#queue.settle();
  }

  // Reconciling

  #reconcile(project: string, name: string): Promise<void> {
    return this.#serially(project, name, async () => {
      let row: DeploymentRow;
      try {
        row = await this.#store.row(project, name);
      } catch {
        return;
      }
      const revision = (await this.#store.revisions(row.id)).find((r) => r.revision === row.current_revision);
      if (!revision) return;
      const backendName = revision.spec.backend;
      const backend = this.#o.backends[backendName];
      const stored = JSON.parse(row.status) as DeploymentStatus;
      const change = stored.observedGeneration !== row.generation;
      const rollout = (phase: RolloutEvent['phase'], message?: string) => {
        if (!change) return;
        const event = { project, name, revision: revision.revision, generation: row.generation, phase };
        try {
          this.#o.onRollout?.({ ...event, at: this.#stamp(), ...(message ? { message } : {}) });
        } catch {
          // A listener's failure never touches the rollout.
        }
      };
      rollout('start');
      // Moving off the local backend stops the local workers; other backends clean up their own objects.
      if (backendName !== 'local') await this.#o.backends.local?.remove(project, name);
      const result = backend
        ? await backend.apply({
            project,
            name,
            revision: revision.revision,
            spec: revision.spec,
            targets: revision.targets,
            scaling: checkSpec(revision.spec),
          })
        : {
            ok: false as const,
            reason: 'BackendNotConfigured',
            message: `spec.backend: '${backendName}' is not configured on this server`,
          };
      const now = this.#stamp();
      const next = reconciledStatus(stored, {
        generation: row.generation,
        revision: revision.revision,
        latestRevision: row.latest_revision,
        result,
        serving: this.#o.routes.serving(project, name),
        now,
      });
      if (result.ok) this.#o.log.info('deployment reconciled', { deployment: name, revision: revision.revision });
      else {
        this.#o.log.warn('deployment revision failed', {
          deployment: name,
          revision: revision.revision,
          reason: result.reason,
        });
      }
      await this.#store.setStatus(row.id, next, now);
      rollout(result.ok ? 'complete' : 'fail', result.ok ? undefined : `${result.reason}: ${result.message}`);
      for (const wake of [...this.#waiters]) wake();
    });
  }

  #serially(project: string, name: string, work: () => Promise<void>): Promise<void> {
    return this.#queue.run(`${project}/${name}`, work);
  }

  /** The deployment with the spec of its current revision: the one that serves (an older one after a rollback). */
  async #toDeployment(project: string, row: DeploymentRow): Promise<Deployment> {
    const spec = await this.#store.revisionSpec(row.id, row.current_revision);
    const stored = JSON.parse(row.status) as DeploymentStatus;
    const serving = this.#o.routes.serving(project, row.name);
    const urls = this.#o.urls();
    const external = spec !== undefined && spec.backend !== 'local';
    return {
      project,
      name: row.name,
      generation: row.generation,
      currentRevision: row.current_revision,
      latestRevision: row.latest_revision,
      spec: spec ?? ({} as Deployment['spec']),
      status: {
        ...stored,
        conditions: [...stored.conditions, ...(this.#o.observedConditions?.(project, row.name) ?? [])],
        urls: external
          ? stored.urls
          : { rest: `${urls.rest}/v2/models/${row.name}/infer`, ...(urls.grpc ? { grpc: urls.grpc } : {}) },
        targets: serving?.targets ?? [],
        ...(serving?.shadow ? { shadow: serving.shadow } : {}),
      },
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  #stamp(): string {
    return (this.#o.now?.() ?? new Date()).toISOString();
  }
}
