/**
 * The subset of the Kubernetes API the backend calls, as its own interface; `openKubeApi` adapts
 * @kubernetes/client-node to it (loaded on demand, so the SDK stays out of the CLI's and core's start-up path).
 *
 * ```ts
 * const api = await openKubeApi({ kubeconfig: '/home/me/.kube/config' }); // or {} for KUBECONFIG / ~/.kube / in-cluster
 * await api.apply(service);                                               // server-side apply, field manager modelport
 * ```
 */
import type { KubeObject } from '../schema-validation.ts';

export interface KubeRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
}

export interface KubeApi {
  /** Server-side apply (PATCH application/apply-patch+yaml, fieldManager modelport, force): create or update. */
  apply(object: KubeObject): Promise<KubeObject>;
  /** The object, or undefined when it does not exist. */
  get(ref: KubeRef): Promise<KubeObject | undefined>;
  list(apiVersion: string, kind: string, namespace: string, labelSelector: string): Promise<KubeObject[]>;
  /** Deletes; an object already gone is not an error. */
  delete(ref: KubeRef): Promise<void>;
  /**
   * A pod's log as text (pipeline steps run as Jobs read their pods' logs); `container` names one of several (the
   * API server requires it when the pod has more than one).
   */
  podLog?(namespace: string, pod: string, container?: string): Promise<string>;
}

export interface KubeApiOptions {
  /** A kubeconfig file; by default KUBECONFIG, ~/.kube/config, or the in-cluster service account. */
  kubeconfig?: string | undefined;
  /** A context of the kubeconfig other than its current one. */
  context?: string | undefined;
}

export const FIELD_MANAGER = 'modelport';

export async function openKubeApi(options: KubeApiOptions = {}): Promise<KubeApi> {
  const k8s = await import('@kubernetes/client-node');
  const config = new k8s.KubeConfig();
  if (options.kubeconfig) config.loadFromFile(options.kubeconfig);
  else config.loadFromDefault();
  if (options.context) config.setCurrentContext(options.context);
  const client = k8s.KubernetesObjectApi.makeApiClient(config);
  const core = config.makeApiClient(k8s.CoreV1Api);
  const missing = (error: unknown) => (error as { code?: number }).code === 404;
  const header = (ref: KubeRef) => ({
    apiVersion: ref.apiVersion,
    kind: ref.kind,
    metadata: { name: ref.name, namespace: ref.namespace },
  });
  return {
    apply: async (object) =>
      (await client.patch(
        object,
        undefined,
        undefined,
        FIELD_MANAGER,
        true,
        k8s.PatchStrategy.ServerSideApply,
      )) as KubeObject,
    get: async (ref) => {
      try {
        return (await client.read(header(ref))) as KubeObject;
      } catch (error) {
        if (missing(error)) return undefined;
        throw error;
      }
    },
    list: async (apiVersion, kind, namespace, labelSelector) => {
      const list = await client.list(
        apiVersion,
        kind,
        namespace,
        undefined,
        undefined,
        undefined,
        undefined,
        labelSelector,
      );
      return list.items.map((item) => ({ apiVersion, kind, ...item }) as KubeObject);
    },
    podLog: async (namespace, pod, container) =>
      String(await core.readNamespacedPodLog({ name: pod, namespace, ...(container ? { container } : {}) })),
    delete: async (ref) => {
      try {
        await client.delete(header(ref), undefined, undefined, undefined, undefined, 'Foreground');
      } catch (error) {
        if (!missing(error)) throw error;
      }
    },
  };
}
