/**
 * The `kubernetes` backend: renders a revision (kubernetes-renderer.ts), validates every object against its CRD,
 * applies them server-side, deletes what an earlier revision made and this one does not, and waits for the serving
 * object's Ready condition at its current generation (polling, bounded by `readyTimeoutMs`).
 *
 * ```ts
 * const backend = new KubernetesBackend({ api: () => openKubeApi(), sources: { registry, catalogue },
 *   validator: new ManifestValidator(), format: 'kserve', namespace: 'models', storageUri: (sha) => `s3://b/sha256/${sha}` });
 * await backend.apply(plan); // { ok: true, url: 'http://fraud.models.example.com' } or { ok: false, reason, message }
 * await uninstall(api, 'models'); // everything labelled managed-by=modelport in the namespace
 * ```
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ModelportError, toModelportError } from '../../core/index.ts';
import type {
  Backend,
  BackendResult,
  DeploymentSpec,
  RevisionPlan,
  RevisionTargets,
  SecretResolver,
} from '../../deployments/index.ts';
import type { Logger } from '../../logging/index.ts';
import { type BindingSources, bindModels } from '../render-input.ts';
import type { KubeObject, ManifestValidator } from '../schema-validation.ts';
import type { KubeApi, KubeRef } from './kube-api.ts';
import { type KubernetesFormat, renderKubernetes, type S3Access, selectorOf } from './kubernetes-renderer.ts';

/** Every kind the backend creates, for clean-up by label. */
export const MANAGED_KINDS = [
  { apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService' },
  { apiVersion: 'serving.knative.dev/v1', kind: 'Service' },
  { apiVersion: 'v1', kind: 'Secret' },
  { apiVersion: 'v1', kind: 'ServiceAccount' },
] as const;

/** Where an exported manifest's artifacts are, when the server's are in a folder: to replace before applying. */
export const STORAGE_PLACEHOLDER = 's3://REPLACE-WITH-YOUR-BUCKET/modelport';

export interface KubernetesBackendOptions {
  /** The API, or a function opening it on first use (the SDK loads only when a kubernetes deployment exists). */
  api: KubeApi | (() => Promise<KubeApi>);
  sources: BindingSources;
  validator: ManifestValidator;
  format: KubernetesFormat;
  namespace: string;
  /**
   * The `s3://` URI of an artifact. Undefined when the server's artifacts are a local folder, which no pod can
   * read: `backend: kubernetes` is then refused (check) and exports fail, naming the fix.
   */
  storageUri: ((sha256: string) => string) | undefined;
  s3?: S3Access | undefined;
  imagePullSecrets?: readonly string[] | undefined;
  modelportImage?: string | undefined;
  secrets?: SecretResolver | undefined;
  /** How long to wait for Ready (default 5 minutes). */
  readyTimeoutMs?: number;
  /** How often to look at the status while waiting (default 1 s). */
  pollMs?: number;
  log?: Logger;
}

export class KubernetesBackend implements Backend {
  readonly #o: KubernetesBackendOptions;
  #api: Promise<KubeApi> | undefined;

  constructor(options: KubernetesBackendOptions) {
    this.#o = options;
  }

  /** What an export must tell the user: the STORAGE_URI placeholder when artifacts are in a folder. */
  exportWarnings(): string[] {
    if (this.#o.storageUri) return [];
    return [
      `the server keeps artifacts in a folder that pods cannot read, so STORAGE_URI and storageUri hold the placeholder ${STORAGE_PLACEHOLDER}; copy each artifact (modelport models download) to S3 and replace it with s3://<bucket>/<prefix>, or start the server with --artifacts s3://bucket/prefix`,
    ];
  }

  /** Refuses `backend: kubernetes` when models cannot reach a pod (a folder artifact store). */
  check(): void {
    this.#storageUri();
  }

  /** Refuses, before a revision is stored, what cannot render: a `spec.baseImage` that a target's type lacks. */
  async checkTargets(project: string, targets: RevisionTargets, spec: DeploymentSpec): Promise<void> {
    await bindModels({ project, name: '', revision: 0, spec, targets }, this.#o.sources, 'kubernetes');
  }

  /** Renders and validates the revision's objects; secret values only when `withSecrets` (apply, never export). */
  async render(
    plan: Omit<RevisionPlan, 'scaling'>,
    withSecrets: boolean,
    format = this.#o.format,
  ): Promise<KubeObject[]> {
    const o = this.#o;
    const input = await bindModels(plan, o.sources, 'kubernetes', { modelportImage: o.modelportImage });
    const secretValues =
      withSecrets && plan.spec.secrets.length > 0
        ? await this.#secretValues(
            plan.project,
            plan.spec.secrets.map((s) => s.secret),
          )
        : undefined;
    const s3 = o.s3 && !withSecrets ? { endpoint: o.s3.endpoint, region: o.s3.region } : o.s3;
    const objects = renderKubernetes(input, {
      format,
      namespace: o.namespace,
      // An export (no secrets) previews even without S3: a placeholder the user replaces, with exportWarnings().
      storageUri: withSecrets || o.storageUri ? this.#storageUri() : (sha) => `${STORAGE_PLACEHOLDER}/sha256/${sha}`,
      s3,
      imagePullSecrets: o.imagePullSecrets,
      secretValues,
    });
    for (const object of objects) o.validator.validateKubernetes(object);
    return objects;
  }

  async apply(plan: RevisionPlan): Promise<BackendResult> {
    let objects: KubeObject[];
    try {
      objects = await this.render(plan, true);
    } catch (error) {
      return { ok: false, reason: 'InvalidManifest', message: toModelportError(error).message };
    }
    const api = await this.#connect();
    try {
      for (const object of objects) await api.apply(object);
      await this.#prune(api, plan.project, plan.name, objects);
    } catch (error) {
      return { ok: false, reason: 'ApplyFailed', message: kubeMessage(error) };
    }
    const serving = objects[objects.length - 1]!;
    return this.#waitReady(api, refOf(serving));
  }

  async remove(project: string, name: string): Promise<void> {
    await this.#prune(await this.#connect(), project, name, []);
  }

  async #waitReady(api: KubeApi, ref: KubeRef): Promise<BackendResult> {
    const deadline = Date.now() + (this.#o.readyTimeoutMs ?? 300_000);
    let last: { reason?: string; message?: string } | undefined;
    for (;;) {
      const object = (await api.get(ref).catch(() => undefined)) as ObservedObject | undefined;
      const status = object?.status;
      const current = (status?.observedGeneration ?? 0) >= (object?.metadata.generation ?? 0);
      const ready = status?.conditions?.find((c) => c.type === 'Ready');
      if (current && ready?.status === 'True') return status?.url ? { ok: true, url: status.url } : { ok: true };
      if (current && ready?.status === 'False') {
        return {
          ok: false,
          reason: ready.reason ?? 'NotReady',
          message: `${ref.kind} ${ref.name}: ${ready.message ?? ready.reason ?? 'not ready'}`,
        };
      }
      if (ready) last = ready;
      if (Date.now() >= deadline) {
        return {
          ok: false,
          reason: 'ReadyTimeout',
          message: `${ref.kind} ${ref.name} was not Ready within ${Math.round((this.#o.readyTimeoutMs ?? 300_000) / 1000)} s${last?.message ? `: ${last.message}` : ''}`,
        };
      }
      await sleep(this.#o.pollMs ?? 1000);
    }
  }

  /** Deletes the deployment's objects that are not in `keep`. */
  async #prune(api: KubeApi, project: string, name: string, keep: readonly KubeObject[]): Promise<void> {
    const kept = new Set(keep.map((o) => `${o.apiVersion} ${o.kind} ${o.metadata.name}`));
    for (const object of await listManaged(api, this.#o.namespace, selectorOf(project, name))) {
      if (!kept.has(`${object.apiVersion} ${object.kind} ${object.metadata.name}`)) await api.delete(refOf(object));
    }
  }

  #storageUri(): (sha256: string) => string {
    if (this.#o.storageUri) return this.#o.storageUri;
    throw new ModelportError(
      'invalid_request',
      "spec.backend: 'kubernetes' needs the server's artifacts in S3 (pods cannot read the server's folder); start the server with --artifacts s3://bucket/prefix, or use backend 'compose' or 'local'",
      { field: 'spec.backend' },
    );
  }

  #connect(): Promise<KubeApi> {
    const api = this.#o.api;
    this.#api ??= typeof api === 'function' ? api() : Promise.resolve(api);
    return this.#api;
  }

  async #secretValues(project: string, names: string[]): Promise<Record<string, string>> {
    if (!this.#o.secrets) throw new Error('spec.secrets: this server has no secret store configured');
    return this.#o.secrets.resolve(project, names);
  }
}

/** Deletes everything labelled managed-by=modelport in the namespace; returns what it deleted (`Kind/name`). */
export async function uninstall(api: KubeApi, namespace: string): Promise<string[]> {
  const deleted: string[] = [];
  for (const object of await listManaged(api, namespace, selectorOf())) {
    await api.delete(refOf(object));
    deleted.push(`${object.kind}/${object.metadata.name}`);
  }
  return deleted;
}

/** Objects of every managed kind matching the selector; a kind the cluster does not serve (no CRD) is skipped. */
async function listManaged(api: KubeApi, namespace: string, selector: string): Promise<KubeObject[]> {
  const found: KubeObject[] = [];
  for (const { apiVersion, kind } of MANAGED_KINDS) {
    try {
      found.push(...(await api.list(apiVersion, kind, namespace, selector)));
    } catch (error) {
      if ((error as { code?: number }).code !== 404 && !/not found|unrecognized/i.test(String(error))) throw error;
    }
  }
  return found;
}

interface ObservedObject extends KubeObject {
  metadata: KubeObject['metadata'] & { generation?: number };
  status?: {
    observedGeneration?: number;
    url?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

function refOf(object: KubeObject): KubeRef {
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    name: object.metadata.name,
    namespace: object.metadata.namespace ?? 'default',
  };
}

/** The API server's message (its Status body) rather than the client's wrapper text. */
function kubeMessage(error: unknown): string {
  const body = (error as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      return (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      return body.slice(0, 300);
    }
  }
  return (error as Error).message ?? String(error);
}
