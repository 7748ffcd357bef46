/**
 * The `local` backend: runs a deployment revision in this server's model host and routes its traffic.
 *
 * `apply` is the reconcile step for one revision, idempotent: it starts (or reuses) one serving unit per target,
 * waits until each has a warmed worker, and only then swaps the deployment's route table in one assignment; the
 * units no longer routed to are drained and stopped afterwards. A unit that fails to load is stopped and the old
 * routes stay, so a broken revision never receives a request. Units are keyed by deployment, version and runtime
 * settings, so a change of weights or scaling reuses the running workers and takes effect at once.
 */
import { createHash } from 'node:crypto';
import type { InferRequest, Tensor } from '../../core/index.ts';
import { ModelportError, parseDuration, toModelportError } from '../../core/index.ts';
import type {
  Backend,
  BackendResult,
  CompiledScaling,
  DeploymentSpec,
  RevisionPlan,
  RevisionTargets,
  RouteReader,
  SecretResolver,
  ServingRoute,
  ShadowStatus,
  TargetStatus,
} from '../../deployments/index.ts';
import { Autoscaler, outputsAgree } from '../../deployments/index.ts';
import type { Logger } from '../../logging/index.ts';
import type { Counter, MetricsRegistry } from '../../metrics/index.ts';
import type { ModelRegistry, ModelVersion } from '../../registry/index.ts';
import type { CallLog, InferContext, ModelHost, ServeOptions } from '../../serving/index.ts';

export interface RoutedTarget {
  key: string;
  version: ModelVersion;
  weight: number;
  tag?: string | undefined;
  options: ServeOptions;
  /** The payload log of this arm, when the deployment has `spec.logging`. */
  log?: CallLog | undefined;
}

/** Makes the payload log of one deployment arm (`primary`, a tag, `shadow`); undefined when it logs nothing. */
export type CallLogFactory = (
  ref: { project: string; deployment: string; revision: number; arm: string },
  logging: DeploymentSpec['logging'],
) => CallLog | undefined;

export interface RouteTable {
  project: string;
  name: string;
  revision: number;
  targets: RoutedTarget[];
  shadow?:
    | (RoutedTarget & { percent: number; counts: { requests: number; agreements: number; errors: number } })
    | undefined;
  stickyHeader?: string | undefined;
  /** `spec.auth: open`: inference takes calls without a token. */
  open?: boolean;
}

export interface LocalBackendOptions {
  host: ModelHost;
  registry: ModelRegistry;
  metrics: MetricsRegistry;
  secrets?: SecretResolver;
  log: Logger;
  /** How often the autoscaler looks at load (default 500 ms). */
  autoscaleTickMs?: number;
  /** The payload log (src/payloads), given by the composition root. */
  callLogs?: CallLogFactory;
}

const deploymentKey = (project: string, name: string) => `${project}/${name}`;

interface RouteWaiter {
  resolve: (table: RouteTable) => void;
  reject: (error: ModelportError) => void;
}

export class LocalBackend implements Backend, RouteReader {
  readonly #options: LocalBackendOptions;
  readonly #routes = new Map<string, RouteTable>();
  /** Deployments accepted but not routed yet, with the requests waiting for their first route. */
  readonly #pending = new Map<string, Set<RouteWaiter>>();
  readonly #autoscaler: Autoscaler;
  readonly #shadowCounter: Counter;

  constructor(options: LocalBackendOptions) {
    this.#options = options;
    this.#autoscaler = new Autoscaler(options.autoscaleTickMs ?? 500);
    this.#shadowCounter = options.metrics.counter(
      'modelport_shadow_requests_total',
      'Requests mirrored to a deployment shadow, by outcome (agree, disagree, error).',
      ['deployment', 'outcome'],
    );
  }

  route(project: string, name: string): RouteTable | undefined {
    return this.#routes.get(deploymentKey(project, name));
  }

  /** A revision was accepted: until the deployment is routed, requests for its name wait (`whenRouted`). */
  accepted(project: string, name: string): void {
    const key = deploymentKey(project, name);
    if (!this.#routes.has(key) && !this.#pending.has(key)) this.#pending.set(key, new Set());
  }

  /**
   * For a deployment accepted and not routed yet: resolves with its route table once its first revision is routed,
   * or fails with `not_ready` when that revision cannot start or the deployment is removed. Undefined otherwise.
   */
  whenRouted(project: string, name: string): Promise<RouteTable> | undefined {
    const waiters = this.#pending.get(deploymentKey(project, name));
    if (!waiters) return undefined;
    return new Promise((resolve, reject) => waiters.add({ resolve, reject }));
  }

  #settlePending(key: string, table: RouteTable | undefined, why: string): void {
    const waiters = this.#pending.get(key);
    if (!waiters) return;
    this.#pending.delete(key);
    for (const waiter of waiters) {
      if (table) waiter.resolve(table);
      else waiter.reject(new ModelportError('not_ready', why, { retryAfter: 1 }));
    }
  }

  serving(project: string, name: string): ServingRoute | undefined {
    const table = this.route(project, name);
    if (!table) return undefined;
    const shadow = this.shadowStatus(table);
    return { revision: table.revision, targets: this.targetStatus(table), ...(shadow ? { shadow } : {}) };
  }

  /** Starts the revision's units, then routes to them; on failure the previous routes stay. */
  /** A container model type's version is refused before a revision is stored (see refuseContainerType). */
  async checkTargets(project: string, targets: RevisionTargets): Promise<void> {
    const all = [
      ...targets.traffic.map((t, i) => ({ ...t, field: `spec.traffic[${i}].model` })),
      ...(targets.shadow ? [{ ...targets.shadow, field: 'spec.shadow.model' }] : []),
    ];
    for (const t of all) {
      refuseContainerType(
        await this.#options.registry.getVersion(project, { name: t.model, version: t.version }),
        t.field,
      );
    }
  }

  async apply(plan: RevisionPlan): Promise<BackendResult> {
    const { host, registry, log } = this.#options;
    const previous = this.route(plan.project, plan.name);
    let table: RouteTable;
    try {
      const env = await this.#environment(plan);
      const routed = async (
        field: string,
        model: string,
        version: number,
        weight: number,
        tag?: string,
      ): Promise<RoutedTarget> => {
        const v = await registry.getVersion(plan.project, { name: model, version });
        refuseContainerType(v, field);
        const options = serveOptions(plan.spec, plan.scaling, env);
        return { key: unitKey(plan, v, options), version: v, weight, tag, options };
      };
      const targets = await Promise.all(
        plan.targets.traffic.map((t, i) => routed(`spec.traffic[${i}].model`, t.model, t.version, t.weight, t.tag)),
      );
      // Arms as the payload log names them: the tag, else `primary` (or model@version when several are untagged).
      const untagged = targets.filter((t) => !t.tag).length;
      const log = (arm: string) =>
        this.#options.callLogs?.(
          { project: plan.project, deployment: plan.name, revision: plan.revision, arm },
          plan.spec.logging,
        );
      for (const t of targets) {
        t.log = log(t.tag ?? (untagged === 1 ? 'primary' : `${t.version.model}@${t.version.version}`));
      }
      const shadow = plan.targets.shadow
        ? {
            ...(await routed('spec.shadow.model', plan.targets.shadow.model, plan.targets.shadow.version, 0)),
            percent: plan.targets.shadow.percent,
            counts: previous?.shadow?.counts ?? { requests: 0, agreements: 0, errors: 0 },
            log: log('shadow'),
          }
        : undefined;
      table = {
        project: plan.project,
        name: plan.name,
        revision: plan.revision,
        targets,
        shadow,
        stickyHeader: plan.spec.sticky?.header.toLowerCase(),
        open: plan.spec.auth === 'open',
      };
    } catch (error) {
      const e = toModelportError(error);
      this.#settlePending(deploymentKey(plan.project, plan.name), undefined, `deployment '${plan.name}': ${e.message}`);
      const reason = e instanceof ContainerTypeRefused ? 'ContainerModelType' : 'InvalidTargets';
      return { ok: false, reason, message: e.message };
    }

    const units = [...table.targets, ...(table.shadow ? [table.shadow] : [])];
    const fresh = units.filter((u) => !host.get(u.key));
    const results = await Promise.allSettled(units.map((u) => host.ensure(u.key, u.version, u.options)));
    const failed = results.findIndex((r) => r.status === 'rejected');
    if (failed >= 0) {
      for (const unit of fresh) if (!this.#inUse(unit.key, previous)) await host.stop(unit.key);
      const error = toModelportError((results[failed] as PromiseRejectedResult).reason);
      const unit = units[failed]!;
      this.#settlePending(
        deploymentKey(plan.project, plan.name),
        undefined,
        `deployment '${plan.name}' failed to start: ${unit.version.model}@${unit.version.version} could not be loaded`,
      );
      log.warn('revision failed to load; previous revision keeps serving', {
        deployment: plan.name,
        revision: plan.revision,
      });
      return {
        ok: false,
        reason: 'ModelLoadFailed',
        message: `${unit.version.model}@${unit.version.version} could not be loaded: ${error.message}`,
      };
    }

    this.#routes.set(deploymentKey(plan.project, plan.name), table);
    this.#settlePending(deploymentKey(plan.project, plan.name), table, '');
    for (const unit of units) this.#manage(unit, plan.scaling);
    if (previous) await this.#retire(previous, table);
    return { ok: true };
  }

  /** Stops routing to the deployment and stops all of its units. */
  async remove(project: string, name: string): Promise<void> {
    this.#settlePending(deploymentKey(project, name), undefined, `deployment '${name}' was removed`);
    const table = this.route(project, name);
    if (!table) return;
    this.#routes.delete(deploymentKey(project, name));
    await this.#retire(table, undefined);
  }

  /** Replicas per target, read live from the units. */
  targetStatus(table: RouteTable): TargetStatus[] {
    return table.targets.map((t) => {
      const stats = this.#options.host.get(t.key)?.pool.stats();
      return {
        model: t.version.model,
        version: t.version.version,
        weight: t.weight,
        tag: t.tag,
        replicas: { desired: stats?.target ?? 0, ready: stats?.ready ?? 0 },
      };
    });
  }

  shadowStatus(table: RouteTable): ShadowStatus | undefined {
    const shadow = table.shadow;
    if (!shadow) return undefined;
    const compared = shadow.counts.requests - shadow.counts.errors;
    return {
      model: shadow.version.model,
      version: shadow.version.version,
      percent: shadow.percent,
      ...shadow.counts,
      agreementRate: compared > 0 ? shadow.counts.agreements / compared : null,
    };
  }

  /** Mirrors a request to the table's shadow (never awaited by the caller) and records agreement. */
  mirror(
    table: RouteTable,
    request: Parameters<typeof mirrorRequest>[1],
    outputs: Parameters<typeof mirrorRequest>[2],
    context?: InferContext,
  ): void {
    const shadow = table.shadow;
    if (!shadow || Math.random() * 100 >= shadow.percent) return;
    const log = context && shadow.log?.take() ? shadow.log : undefined;
    mirrorRequest(
      this.#options.host,
      request,
      outputs,
      shadow.key,
      log && context ? { log, context, version: shadow.version } : undefined,
    ).then(
      (agree) => {
        shadow.counts.requests++;
        if (agree) shadow.counts.agreements++;
        this.#shadowCounter.inc({ deployment: table.name, outcome: agree ? 'agree' : 'disagree' });
      },
      () => {
        shadow.counts.requests++;
        shadow.counts.errors++;
        this.#shadowCounter.inc({ deployment: table.name, outcome: 'error' });
      },
    );
  }

  async close(): Promise<void> {
    this.#autoscaler.close();
    for (const key of [...this.#pending.keys()]) this.#settlePending(key, undefined, 'the server is shutting down');
    this.#routes.clear();
  }

  #manage(unit: RoutedTarget, scaling: CompiledScaling): void {
    const { host } = this.#options;
    this.#autoscaler.set(unit.key, {
      scaling,
      observe: () => {
        const served = host.get(unit.key);
        if (!served) return { current: 0, peakActive: 0, active: 0, lastUsed: Date.now() };
        return {
          current: served.pool.stats().target,
          peakActive: host.takePeak(served),
          active: served.active,
          lastUsed: served.lastUsed,
        };
      },
      scaleTo: (replicas) => {
        const served = host.get(unit.key);
        if (!served) return;
        this.#options.log.info('autoscaling', { unit: unit.key, from: served.pool.stats().target, to: replicas });
        served.pool.scaleTo(replicas);
      },
    });
  }

  #inUse(key: string, table: RouteTable | undefined): boolean {
    if (!table) return false;
    return table.targets.some((t) => t.key === key) || table.shadow?.key === key;
  }

  /** Drains and stops the units of `old` that `next` does not route to (and no other deployment uses). */
  async #retire(old: RouteTable, next: RouteTable | undefined): Promise<void> {
    const keys = new Set([...old.targets.map((t) => t.key), ...(old.shadow ? [old.shadow.key] : [])]);
    const stops: Promise<void>[] = [];
    for (const key of keys) {
      if (this.#inUse(key, next)) continue;
      this.#autoscaler.delete(key);
      stops.push(this.#options.host.stop(key));
    }
    await Promise.all(stops);
  }

  async #environment(plan: RevisionPlan): Promise<Record<string, string>> {
    const env = { ...plan.spec.env };
    if (plan.spec.secrets.length === 0) return env;
    if (!this.#options.secrets) {
      throw new ModelportError('invalid_request', 'spec.secrets: this server has no secret store configured', {
        field: 'spec.secrets',
      });
    }
    const values = await this.#options.secrets.resolve(
      plan.project,
      plan.spec.secrets.map((s) => s.secret),
    );
    for (const ref of plan.spec.secrets) env[ref.env] = values[ref.secret] ?? '';
    return env;
  }
}

function serveOptions(spec: DeploymentSpec, scaling: CompiledScaling, env: Record<string, string>): ServeOptions {
  const batching = spec.runtime.batching;
  const ms = (value: string | number | undefined) => (value === undefined ? undefined : parseDuration(value));
  return {
    // One worker at first even when scaling may go to zero: a revision proves it loads before it gets traffic.
    replicas: Math.max(1, scaling.minReplicas),
    settings: {
      ...(spec.runtime.intraOpThreads ? { intraOpNumThreads: spec.runtime.intraOpThreads } : {}),
      ...(spec.runtime.interOpThreads ? { interOpNumThreads: spec.runtime.interOpThreads } : {}),
      ...(spec.runtime.graphOptimization ? { graphOptimizationLevel: spec.runtime.graphOptimization } : {}),
    },
    ...(batching
      ? {
          batching: {
            ...(batching.maxBatchSize !== undefined ? { maxBatchSize: batching.maxBatchSize } : {}),
            ...(batching.minBatchDelay !== undefined ? { minBatchDelayMs: ms(batching.minBatchDelay) } : {}),
            ...(batching.maxQueueDelay !== undefined ? { maxQueueDelayMs: ms(batching.maxQueueDelay) } : {}),
            ...(batching.preferredBatchSizes ? { preferredBatchSizes: batching.preferredBatchSizes } : {}),
            ...(batching.maxQueueSize !== undefined ? { maxQueueSize: batching.maxQueueSize } : {}),
            ...(batching.timeout !== undefined ? { timeoutMs: ms(batching.timeout) } : {}),
          },
        }
      : {}),
    env,
  };
}

/** Units are shared across revisions of a deployment when version and runtime settings are equal. */
function unitKey(plan: RevisionPlan, version: ModelVersion, options: ServeOptions): string {
  const { replicas: _, ...runtime } = options;
  const hash = createHash('sha256').update(JSON.stringify(runtime)).digest('hex').slice(0, 12);
  return `deploy:${plan.project}/${plan.name}/${version.model}@${version.version}/${hash}`;
}

async function mirrorRequest(
  host: ModelHost,
  request: InferRequest,
  primary: Tensor[],
  key: string,
  logTo?: { log: CallLog; context: InferContext; version: ModelVersion },
): Promise<boolean> {
  const started = performance.now();
  const timing = { queueMs: 0 };
  let outputs: Tensor[] | undefined;
  let failure: ModelportError | undefined;
  try {
    const served = host.acquire(key);
    if (!served) throw new ModelportError('not_ready', 'the shadow is not running');
    try {
      host.wake(served);
      outputs = await served.batcher.submit(request, { deadline: Date.now() + 30_000, timing });
      return outputsAgree(primary, outputs);
    } finally {
      host.release(served);
    }
  } catch (error) {
    failure = toModelportError(error);
    throw error;
  } finally {
    if (logTo) {
      // The shadow's answer is logged under the primary call's id, with arm `shadow`.
      const totalMs = performance.now() - started;
      logTo.log.record({
        requestId: logTo.context.requestId ?? '',
        startedAt: Date.now() - totalMs,
        protocol: logTo.context.protocol,
        request,
        outputs: failure ? undefined : outputs,
        error: failure,
        headers: logTo.context.headers,
        version: logTo.version,
        queueMs: timing.queueMs,
        computeMs: Math.max(0, totalMs - timing.queueMs),
        totalMs,
      });
    }
  }
}

/** A container model type's version runs only in its own image: never in this server's workers. */
class ContainerTypeRefused extends ModelportError {}

/**
 * Refuses a version whose model type runs in a container (a pickle, a .pt, a model image): the local backend has no
 * container engine, and Modelport never loads such a file itself.
 */
function refuseContainerType(v: ModelVersion, field: string): void {
  if (['onnx', 'js', 'hosted'].includes(v.format)) return;
  throw new ContainerTypeRefused(
    'invalid_request',
    `${field}: ${v.model}@${v.version} has the model type '${v.modelType}', which runs in its own container image; the local backend runs only onnx, js and hosted models. Set backend: kubernetes or backend: compose`,
    { field },
  );
}
