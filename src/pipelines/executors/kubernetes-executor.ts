/**
 * `KubernetesExecutor`: each step attempt is a batch/v1 Job (one Pod, no retries: the runner retries), rendered,
 * validated against the official Job schema (src/backends/schemas/job-batch-v1.json) before anything is sent,
 * created with server-side apply, followed until it completes (its status polled), its log read through the pod
 * log API as it grows, and deleted on cancel (foreground: its Pod goes with it) or once it ended.
 *
 * Enforced by the cluster: the timeout (activeDeadlineSeconds), memory and CPU (the container's limits), the
 * image. The step's folders are the container's paths /workspace/{input,work,output} on an emptyDir volume. With a
 * `staging` (S3), they travel through presigned URLs: the server uploads the commit's files and the code copy as
 * tars, an init container `fetch` (the `stagingImage`: curl and tar) downloads and unpacks them, the step container
 * runs the command and writes its exit code to /workspace/.exit, and a sidecar `upload` (same image) waits for that
 * file and PUTs a tar of /workspace/output, which the server unpacks into the step's output folder once the Job
 * succeeded. The step image needs only /bin/sh. Without a staging, the folders start empty and outputs stay in
 * the pod.
 */
import type { KubeApi, KubeObject } from '../../backends/index.ts';
import type { StepExecution, StepExecutor, StepExit, StepLaunch } from '../executor.ts';
import { seconds } from '../executor.ts';
import type { StepStaging } from './s3-staging.ts';

export interface KubernetesExecutorOptions {
  /** The API, opened on first use (the SDK loads lazily). */
  api: () => Promise<KubeApi>;
  /** Validates the rendered Job (ManifestValidator.validateKubernetes). */
  validate: (object: KubeObject) => void;
  namespace: string;
  /** Status polls (default 500 ms). */
  pollMs?: number;
  imagePullSecrets?: readonly string[];
  /** Moves the folders through S3; without it the Job's folders start empty and its outputs are lost. */
  staging?: StepStaging | undefined;
  /** The image of the `fetch` and `upload` containers: needs sh, curl and tar (default curlimages/curl:8.11.1). */
  stagingImage?: string;
}

/** Presigned URLs of one step attempt's staged folders. */
export interface StagedUrls {
  input: string;
  work: string;
  output: string;
}

export const DEFAULT_STAGING_IMAGE = 'curlimages/curl:8.11.1';

/** The init container's script: the commit's files and the code into the workspace. */
export const FETCH_SCRIPT = [
  'set -e',
  'mkdir -p /workspace/input /workspace/work /workspace/output',
  'curl -fsS --retry 3 -o /workspace/.input.tar "$MODELPORT_INPUT_URL"',
  'tar -xf /workspace/.input.tar -C /workspace/input',
  'curl -fsS --retry 3 -o /workspace/.work.tar "$MODELPORT_WORK_URL"',
  'tar -xf /workspace/.work.tar -C /workspace/work',
  'rm -f /workspace/.input.tar /workspace/.work.tar',
].join('\n');

/** The step container's wrapper: runs the command ($0), then leaves its exit code for the sidecar. */
export const STEP_WRAPPER =
  '/bin/sh -c "$0"; code=$?; echo "$code" > /workspace/.exit.tmp; mv /workspace/.exit.tmp /workspace/.exit; exit "$code"';

/** The sidecar's script: once the step ended with 0, a tar of the outputs is PUT (S3 wants a length: a file). */
export const UPLOAD_SCRIPT = [
  'while [ ! -f /workspace/.exit ]; do sleep 0.2; done',
  '[ "$(cat /workspace/.exit)" = 0 ] || exit 0',
  'set -e',
  'tar -cf /workspace/.output.tar -C /workspace/output .',
  'curl -fsS --retry 3 -X PUT -H "content-type: application/x-tar" --upload-file /workspace/.output.tar "$MODELPORT_OUTPUT_URL"',
].join('\n');

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
  staged?: { urls: StagedUrls; image: string },
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
  const mounts = [{ name: 'workspace', mountPath: '/workspace' }];
  const step = {
    name: 'step',
    image: launch.image,
    command: staged ? ['/bin/sh', '-c', STEP_WRAPPER, launch.command] : ['/bin/sh', '-c', launch.command],
    workingDir: CONTAINER_FOLDERS.work,
    env,
    ...(Object.keys(limits).length > 0 ? { resources: { limits, requests: limits } } : {}),
    ...(staged ? { volumeMounts: mounts } : {}),
  };
  const stagingContainers = staged
    ? {
        initContainers: [
          {
            name: 'fetch',
            image: staged.image,
            command: ['/bin/sh', '-c', FETCH_SCRIPT],
            env: [
              { name: 'MODELPORT_INPUT_URL', value: staged.urls.input },
              { name: 'MODELPORT_WORK_URL', value: staged.urls.work },
            ],
            volumeMounts: mounts,
          },
        ],
        volumes: [{ name: 'workspace', emptyDir: {} }],
      }
    : {};
  const upload = staged
    ? [
        {
          name: 'upload',
          image: staged.image,
          command: ['/bin/sh', '-c', UPLOAD_SCRIPT],
          env: [{ name: 'MODELPORT_OUTPUT_URL', value: staged.urls.output }],
          volumeMounts: mounts,
        },
      ]
    : [];
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
          ...stagingContainers,
          containers: [step, ...upload],
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
  initContainerStatuses?: { name?: string; state?: { terminated?: { exitCode?: number; reason?: string } } }[];
  containerStatuses?: { name?: string; state?: { terminated?: { exitCode?: number; reason?: string } } }[];
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
    const name = jobName(launch.id);
    const ref = { apiVersion: 'batch/v1', kind: 'Job', name, namespace: this.#o.namespace };
    const pollMs = this.#o.pollMs ?? 500;
    const staging = this.#o.staging;
    // Unique per attempt even when a launch id comes again (a resumed run): stale objects are never read.
    const stage = `${name}-${Date.now().toString(36)}`;
    const keys = { input: `${stage}/input.tar`, work: `${stage}/work.tar`, output: `${stage}/output.tar` };
    const failed = (reason: string): StepExit => ({ exitCode: null, reason, timedOut: false, cancelled });
    const done = (async (): Promise<StepExit> => {
      let api: KubeApi;
      try {
        let staged: { urls: StagedUrls; image: string } | undefined;
        if (staging) {
          // The URLs outlive the step's deadline by an hour (pulling the image, waiting for a node).
          const expires = Math.min(604_800, Math.ceil(launch.timeoutMs / 1000) + 3600);
          const [input, work, output] = await Promise.all([
            staging.putFolder(keys.input, launch.folders.input, expires),
            staging.putFolder(keys.work, launch.folders.work, expires),
            staging.putUrl(keys.output, expires),
          ]);
          staged = { urls: { input, work, output }, image: this.#o.stagingImage ?? DEFAULT_STAGING_IMAGE };
        }
        const job = renderStepJob(launch, this.#o.namespace, this.#o.imagePullSecrets, staged);
        this.#o.validate(job);
        this.#api ??= this.#o.api();
        api = await this.#api;
        if (cancelled) return { exitCode: null, reason: 'cancelled', timedOut: false, cancelled: true };
        await api.apply(job);
      } catch (error) {
        return failed(`the Job could not be created: ${(error as Error).message}`);
      }
      const container = staging ? 'step' : undefined;
      let logged = 0;
      let pod: string | undefined;
      const findPod = async () => {
        pod ??= (await api.list('v1', 'Pod', this.#o.namespace, `job-name=${ref.name}`))[0]?.metadata.name;
        return pod;
      };
      const readLog = async () => {
        if (!api.podLog || !(await findPod())) return;
        const text = await api.podLog(this.#o.namespace, pod!, container).catch(() => '');
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
          if (!current) return failed('the Job was deleted outside Modelport');
          const status = (current as { status?: JobStatus }).status ?? {};
          await readLog();
          if ((status.succeeded ?? 0) > 0) {
            await api.delete(ref);
            if (staging && !(await staging.getFolder(keys.output, launch.folders.output))) {
              return failed('the step ended but its outputs were never uploaded (the upload container)');
            }
            return { exitCode: 0, reason: null, timedOut: false, cancelled: false };
          }
          const failure = status.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
          if ((status.failed ?? 0) > 0 || failure) {
            const podObject = (await findPod())
              ? ((await api.get({ apiVersion: 'v1', kind: 'Pod', name: pod!, namespace: this.#o.namespace })) as
                  | { status?: PodStatus }
                  | undefined)
              : undefined;
            const exitOf = (statuses: PodStatus['containerStatuses'], name: string) =>
              (statuses ?? []).find((c) => c.name === name || (c.name === undefined && name === 'step'))?.state
                ?.terminated?.exitCode;
            const fetchExit = exitOf(podObject?.status?.initContainerStatuses, 'fetch');
            const stepExit = exitOf(podObject?.status?.containerStatuses, 'step');
            const uploadExit = exitOf(podObject?.status?.containerStatuses, 'upload');
            if (staging && fetchExit !== undefined && fetchExit !== 0 && api.podLog) {
              const text = await api.podLog(this.#o.namespace, pod!, 'fetch').catch(() => '');
              launch.onLog(Buffer.from(text));
            }
            await api.delete(ref);
            if (failure?.reason === 'DeadlineExceeded') {
              return {
                exitCode: null,
                reason: `timed out after ${seconds(launch.timeoutMs)}`,
                timedOut: true,
                cancelled: false,
              };
            }
            if (fetchExit !== undefined && fetchExit !== 0) {
              return failed(
                `fetching the commit's files and the code failed (the fetch container exited ${fetchExit})`,
              );
            }
            if (stepExit === 0 && uploadExit !== undefined && uploadExit !== 0) {
              return failed(`uploading the outputs failed (the upload container exited ${uploadExit})`);
            }
            const exitCode = stepExit ?? null;
            return {
              exitCode,
              reason:
                exitCode !== null
                  ? `exited with code ${exitCode}`
                  : `the Job failed: ${failure?.message ?? failure?.reason ?? 'unknown'}`,
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
        return failed(`following the Job failed: ${(error as Error).message}`);
      }
    })().finally(() => staging?.remove(Object.values(keys)).catch(() => {}));
    return {
      done,
      cancel: () => {
        cancelled = true;
        wake?.();
      },
    };
  }

  async close(): Promise<void> {
    await this.#o.staging?.close?.();
  }
}
