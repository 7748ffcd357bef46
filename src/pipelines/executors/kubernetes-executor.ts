/**
 * `KubernetesExecutor`: each step attempt is a batch/v1 Job (one Pod, no retries: the runner retries), rendered,
 * validated against the official Job schema (src/backends/schemas/job-batch-v1.json) before anything is sent,
 * created with server-side apply, followed until it completes (its status polled), its log read through the pod
 * log API as it grows, and deleted on cancel (foreground: its Pod goes with it) or once it ended.
 *
 * Enforced by the cluster: the timeout (activeDeadlineSeconds), memory and CPU (the container's limits), the
 * image. The step's folders are the container's paths /workspace/{input,work,output}; moving the commit's files
 * and the code in and the outputs out through S3 is not done here yet (see README, "Pipelines on Kubernetes").
 */
import type { KubeApi, KubeObject } from '../../backends/index.ts';
import type { StepExecution, StepExecutor, StepExit, StepLaunch } from '../executor.ts';
import { seconds } from '../executor.ts';

export interface KubernetesExecutorOptions {
  /** The API, opened on first use (the SDK loads lazily). */
  api: () => Promise<KubeApi>;
  /** Validates the rendered Job (ManifestValidator.validateKubernetes). */
  validate: (object: KubeObject) => void;
  namespace: string;
  /** Status polls (default 500 ms). */
  pollMs?: number;
  imagePullSecrets?: readonly string[];
}

/** Paths the step's folders have inside the container. */
export const CONTAINER_FOLDERS = { input: '/workspace/input', work: '/workspace/work', output: '/workspace/output' };

/** A DNS-1123 Job name from the launch id (63 characters at most). */
export function jobName(id: string): string {
  const base = `mp-${id}`
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/-+/g, '-');
  return base.slice(0, 63).replace(/-+$/, '');
}

const label = (value: string) =>
  value
    .replace(/[^A-Za-z0-9_.-]/g, '-')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '') || 'x';

/** The Job of one step attempt. */
export function renderStepJob(
  launch: StepLaunch,
  namespace: string,
  imagePullSecrets: readonly string[] = [],
): KubeObject {
  const local = new Map([
    [launch.folders.input, CONTAINER_FOLDERS.input],
    [launch.folders.work, CONTAINER_FOLDERS.work],
    [launch.folders.output, CONTAINER_FOLDERS.output],
  ]);
  const env = Object.entries(launch.env)
    .filter(([name]) => name !== 'PATH' && name !== 'HOME')
    .map(([name, value]) => ({ name, value: local.get(value) ?? value }));
  const limits: Record<string, string> = {};
  if (launch.memoryBytes !== undefined) limits['memory'] = String(launch.memoryBytes);
  if (launch.cpu !== undefined) limits['cpu'] = launch.cpu;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: jobName(launch.id),
      namespace,
      labels: {
        'app.kubernetes.io/managed-by': 'modelport',
        'modelport.io/pipeline': label(launch.pipeline),
        'modelport.io/run': label(launch.run),
        'modelport.io/step': label(launch.step),
      },
    },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: Math.max(1, Math.ceil(launch.timeoutMs / 1000)),
      ttlSecondsAfterFinished: 3600,
      template: {
        metadata: { labels: { 'app.kubernetes.io/managed-by': 'modelport', 'modelport.io/step': label(launch.step) } },
        spec: {
          restartPolicy: 'Never',
          ...(imagePullSecrets.length > 0 ? { imagePullSecrets: imagePullSecrets.map((name) => ({ name })) } : {}),
          containers: [
            {
              name: 'step',
              image: launch.image,
              command: ['/bin/sh', '-c', launch.command],
              workingDir: CONTAINER_FOLDERS.work,
              env,
              ...(Object.keys(limits).length > 0 ? { resources: { limits, requests: limits } } : {}),
            },
          ],
        },
      },
    },
  };
}

interface JobStatus {
  succeeded?: number;
  failed?: number;
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
}

interface PodStatus {
  phase?: string;
  containerStatuses?: { state?: { terminated?: { exitCode?: number; reason?: string } } }[];
}

export class KubernetesExecutor implements StepExecutor {
  readonly name = 'kubernetes' as const;
  readonly #o: KubernetesExecutorOptions;
  #api: Promise<KubeApi> | undefined;

  constructor(options: KubernetesExecutorOptions) {
    this.#o = options;
  }

  start(launch: StepLaunch): StepExecution {
    let cancelled = false;
    let wake: (() => void) | undefined;
    const job = renderStepJob(launch, this.#o.namespace, this.#o.imagePullSecrets);
    const ref = { apiVersion: 'batch/v1', kind: 'Job', name: job.metadata.name, namespace: this.#o.namespace };
    const pollMs = this.#o.pollMs ?? 500;
    const done = (async (): Promise<StepExit> => {
      let api: KubeApi;
      try {
        this.#o.validate(job);
        this.#api ??= this.#o.api();
        api = await this.#api;
        await api.apply(job);
      } catch (error) {
        return {
          exitCode: null,
          reason: `the Job could not be created: ${(error as Error).message}`,
          timedOut: false,
          cancelled,
        };
      }
      let logged = 0;
      let pod: string | undefined;
      const readLog = async () => {
        if (!api.podLog) return;
        pod ??= (await api.list('v1', 'Pod', this.#o.namespace, `job-name=${ref.name}`))[0]?.metadata.name;
        if (!pod) return;
        const text = await api.podLog(this.#o.namespace, pod).catch(() => '');
        const bytes = Buffer.from(text);
        if (bytes.length > logged) {
          launch.onLog(bytes.subarray(logged));
          logged = bytes.length;
        }
      };
      try {
        for (;;) {
          if (cancelled) {
            await api.delete(ref);
            return { exitCode: null, reason: 'cancelled', timedOut: false, cancelled: true };
          }
          const current = await api.get(ref);
          if (!current)
            return { exitCode: null, reason: 'the Job was deleted outside Modelport', timedOut: false, cancelled };
          const status = (current as { status?: JobStatus }).status ?? {};
          await readLog();
          if ((status.succeeded ?? 0) > 0) {
            await api.delete(ref);
            return { exitCode: 0, reason: null, timedOut: false, cancelled: false };
          }
          const failed = status.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
          if ((status.failed ?? 0) > 0 || failed) {
            const pods = pod
              ? [await api.get({ apiVersion: 'v1', kind: 'Pod', name: pod, namespace: this.#o.namespace })]
              : [];
            const terminated = ((pods[0] as { status?: PodStatus } | undefined)?.status?.containerStatuses ?? [])[0]
              ?.state?.terminated;
            await api.delete(ref);
            if (failed?.reason === 'DeadlineExceeded') {
              return {
                exitCode: null,
                reason: `timed out after ${seconds(launch.timeoutMs)}`,
                timedOut: true,
                cancelled: false,
              };
            }
            const exitCode = terminated?.exitCode ?? null;
            return {
              exitCode,
              reason:
                exitCode !== null
                  ? `exited with code ${exitCode}`
                  : `the Job failed: ${failed?.message ?? failed?.reason ?? 'unknown'}`,
              timedOut: false,
              cancelled: false,
            };
          }
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, pollMs);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
      } catch (error) {
        await api.delete(ref).catch(() => {});
        return {
          exitCode: null,
          reason: `following the Job failed: ${(error as Error).message}`,
          timedOut: false,
          cancelled,
        };
      }
    })();
    return {
      done,
      cancel: () => {
        cancelled = true;
        wake?.();
      },
    };
  }
}
