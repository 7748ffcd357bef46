/**
 * Test support: a small real HTTP server speaking the few Kubernetes API calls the backend makes (discovery,
 * server-side apply, get, list with an equality labelSelector, delete) for Secrets, ServiceAccounts,
 * InferenceServices and Knative Services, with a status that moves like a controller's: Ready=Unknown after an
 * apply, then True with a URL once `readsUntilReady` reads have seen it (no timers), or False with
 * ImagePullBackOff when a container image contains `cannot-pull`. `kubeconfig()` points a client at it.
 *
 * batch/v1 Jobs run for real, without an image: the Job controller of this fake creates one Pod and runs its
 * init containers, then its containers, each `command` as a local process group (with the container's env; an
 * emptyDir volume is a temp folder its mount path is rewritten to), so the pipeline executor's conformance cases
 * (exit codes, logs, deadlines, delete-to-cancel, outputs through S3) hold on it as on the local executor. Pod logs
 * are served per container at `/api/v1/namespaces/<ns>/pods/<pod>/log?container=`; `activeDeadlineSeconds` kills
 * the processes and fails the Job with reason DeadlineExceeded; deleting the Job kills them and deletes its Pod.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { KubeObject } from '../schema-validation.ts';

interface Resource {
  group: string;
  version: string;
  plural: string;
  kind: string;
}

const RESOURCES: Resource[] = [
  { group: '', version: 'v1', plural: 'secrets', kind: 'Secret' },
  { group: '', version: 'v1', plural: 'serviceaccounts', kind: 'ServiceAccount' },
  { group: 'serving.kserve.io', version: 'v1beta1', plural: 'inferenceservices', kind: 'InferenceService' },
  { group: 'serving.knative.dev', version: 'v1', plural: 'services', kind: 'Service' },
  { group: 'batch', version: 'v1', plural: 'jobs', kind: 'Job' },
  { group: '', version: 'v1', plural: 'pods', kind: 'Pod' },
];

interface RunningPod {
  children: Set<ChildProcess>;
  /** By container name (init containers included). */
  logs: Map<string, Buffer[]>;
  /** The names of the regular containers, for the log API's "a container name must be specified". */
  containers: string[];
  deadline: NodeJS.Timeout | undefined;
  /** emptyDir volumes: name -> temp folder. */
  volumes: Map<string, string> | undefined;
  stopped: boolean;
}

const SERVING = new Set(['InferenceService', 'Service']);

interface Stored {
  object: KubeObject & { metadata: KubeObject['metadata'] & { generation: number }; status?: unknown };
  reads: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  contentType: string | undefined;
  query: URLSearchParams;
  /** The body as sent (PATCH only): what a real API server would parse, with YAML 1.1 rules. */
  body?: string;
}

export class FakeKubeServer {
  readonly requests: RecordedRequest[] = [];
  readonly #objects = new Map<string, Stored>();
  readonly #pods = new Map<string, RunningPod>();
  readonly #server: Server;
  /** Reads of a serving object after an apply before it turns Ready (default 1: one poll sees Unknown). */
  readsUntilReady = 1;
  url = '';

  constructor() {
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => send(res, 500, status(500, String(error))));
    });
  }

  async start(): Promise<this> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const pod of this.#pods.values()) this.#kill(pod);
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** A kubeconfig (YAML text) whose current context points at this server. */
  kubeconfig(namespace = 'default'): string {
    return [
      'apiVersion: v1',
      'kind: Config',
      // The client refuses plain http unless TLS verification is off, as for any local test cluster.
      `clusters: [{ name: fake, cluster: { server: "${this.url}", insecure-skip-tls-verify: true } }]`,
      'users: [{ name: tester, user: { token: test-token } }]',
      `contexts: [{ name: fake, context: { cluster: fake, user: tester, namespace: ${namespace} } }]`,
      'current-context: fake',
    ].join('\n');
  }

  /** Stored objects of a kind (what a `kubectl get` would list). */
  objects(kind?: string): KubeObject[] {
    return [...this.#objects.values()].map((s) => s.object).filter((o) => kind === undefined || o.kind === kind);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const recorded: RecordedRequest = {
      method: req.method ?? '',
      path: url.pathname,
      contentType: req.headers['content-type'],
      query: url.searchParams,
    };
    this.requests.push(recorded);
    const parts = url.pathname.split('/').filter(Boolean);
    // Discovery: /api/v1 and /apis/<group>/<version>.
    if (req.method === 'GET' && (parts.length === 2 || parts.length === 3) && !parts.includes('namespaces')) {
      const [group, version] = parts[0] === 'api' ? ['', parts[1]] : [parts[1], parts[2]];
      const resources = RESOURCES.filter((r) => r.group === group && r.version === version);
      if (resources.length === 0)
        return send(res, 404, status(404, 'the server could not find the requested resource'));
      return send(res, 200, {
        kind: 'APIResourceList',
        groupVersion: group ? `${group}/${version}` : version,
        resources: resources.map((r) => ({
          name: r.plural,
          singularName: r.kind.toLowerCase(),
          namespaced: true,
          kind: r.kind,
          verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
        })),
      });
    }
    // /api/v1/namespaces/<ns>/<plural>[/<name>] or /apis/<g>/<v>/namespaces/<ns>/<plural>[/<name>]
    const at = parts.indexOf('namespaces');
    const group = parts[0] === 'api' ? '' : (parts[1] ?? '');
    const version = parts[0] === 'api' ? parts[1] : parts[2];
    const namespace = parts[at + 1] ?? '';
    const resource = RESOURCES.find((r) => r.group === group && r.version === version && r.plural === parts[at + 2]);
    const name = parts[at + 3];
    if (at < 0 || !resource) return send(res, 404, status(404, 'the server could not find the requested resource'));
    if (resource.kind === 'Pod' && name && parts[at + 4] === 'log' && req.method === 'GET') {
      const pod = this.#pods.get(`${namespace}/${name}`);
      if (!pod) return send(res, 404, status(404, `pods "${name}" not found`));
      const container = url.searchParams.get('container') ?? (pod.containers.length === 1 ? pod.containers[0] : '');
      if (!container) {
        const choices = pod.containers.join(' ');
        return send(
          res,
          400,
          status(400, `a container name must be specified for pod ${name}, choose one of: [${choices}]`),
        );
      }
      const log = pod.logs.get(container);
      if (!log) return send(res, 400, status(400, `container ${container} is not valid for pod ${name}`));
      const body = Buffer.concat(log);
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
      res.end(body);
      return;
    }
    const apiVersion = group ? `${group}/${version}` : `${version}`;
    const key = `${apiVersion} ${resource.kind} ${namespace}/${name ?? ''}`;

    if (req.method === 'PATCH' && name) {
      if (req.headers['content-type'] !== 'application/apply-patch+yaml') {
        return send(res, 415, status(415, `unsupported patch type ${req.headers['content-type']}`));
      }
      if (!url.searchParams.get('fieldManager'))
        return send(res, 400, status(400, 'fieldManager is required for apply'));
      recorded.body = await text(req);
      const body = parse(recorded.body) as KubeObject;
      const existing = this.#objects.get(key);
      const { status: _, ...desired } = body as KubeObject & { status?: unknown };
      const changed =
        !existing || JSON.stringify(strip(existing.object)) !== JSON.stringify(strip(desired as KubeObject));
      const generation = (existing?.object.metadata.generation ?? 0) + (changed ? 1 : 0);
      const object = {
        ...desired,
        metadata: { ...desired.metadata, namespace, generation },
        ...(SERVING.has(resource.kind)
          ? changed
            ? {
                status: {
                  observedGeneration: generation,
                  conditions: [{ type: 'Ready', status: 'Unknown', reason: 'Reconciling' }],
                },
              }
            : { status: existing?.object.status }
          : {}),
      } as Stored['object'];
      this.#objects.set(key, { object, reads: changed ? 0 : (existing?.reads ?? 0) });
      if (resource.kind === 'Job' && !existing) this.#startJob(object);
      return send(res, existing ? 200 : 201, object);
    }
    if (req.method === 'GET' && name) {
      const stored = this.#objects.get(key);
      if (!stored) return send(res, 404, status(404, `${resource.plural} "${name}" not found`));
      this.#progress(stored);
      return send(res, 200, stored.object);
    }
    if (req.method === 'GET') {
      const selector = (url.searchParams.get('labelSelector') ?? '').split(',').filter(Boolean);
      const items = [...this.#objects.values()]
        .map((s) => s.object)
        .filter((o) => o.apiVersion === apiVersion && o.kind === resource.kind && o.metadata.namespace === namespace)
        .filter((o) =>
          selector.every((term) => {
            const [k, v] = term.split('=');
            return o.metadata.labels?.[k ?? ''] === v;
          }),
        );
      return send(res, 200, { apiVersion, kind: `${resource.kind}List`, metadata: {}, items });
    }
    if (req.method === 'DELETE' && name) {
      const stored = this.#objects.get(key);
      if (!this.#objects.delete(key)) return send(res, 404, status(404, `${resource.plural} "${name}" not found`));
      if (stored?.object.kind === 'Job') this.#deleteJobPods(namespace, name);
      return send(res, 200, { ...status(200, 'deleted'), status: 'Success' });
    }
    return send(res, 405, status(405, 'method not allowed'));
  }

  /**
   * The Job controller and the kubelet: one Pod; its init containers run one after another, then its containers
   * together, each as a local process group. An emptyDir volume is a temp folder, and a container sees it by its
   * mount path being rewritten to that folder in its command, environment and working directory (no image, no
   * mount namespace: the commands run on this machine, with its sh, curl and tar).
   */
  #startJob(job: Stored['object']): void {
    const namespace = job.metadata.namespace ?? 'default';
    type Container = {
      name: string;
      command?: string[];
      env?: { name: string; value?: string }[];
      workingDir?: string;
      volumeMounts?: { name: string; mountPath: string }[];
    };
    const spec = job.spec as {
      activeDeadlineSeconds?: number;
      template: {
        spec: {
          initContainers?: Container[];
          containers: Container[];
          volumes?: { name: string; emptyDir?: object }[];
        };
      };
    };
    const podSpec = spec.template.spec;
    const podName = `${job.metadata.name}-${Math.random().toString(36).slice(2, 7)}`;
    const pod: Stored['object'] = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: podName, namespace, generation: 1, labels: { 'job-name': job.metadata.name } },
      status: { phase: 'Running' },
    };
    this.#objects.set(`v1 Pod ${namespace}/${podName}`, { object: pod, reads: 0 });
    job.status = { active: 1, startTime: new Date().toISOString() };
    const running: RunningPod = {
      children: new Set(),
      logs: new Map(),
      containers: podSpec.containers.map((c) => c.name),
      deadline: undefined,
      volumes: undefined,
      stopped: false,
    };
    this.#pods.set(`${namespace}/${podName}`, running);
    let deadlineExceeded = false;
    if (spec.activeDeadlineSeconds !== undefined) {
      running.deadline = setTimeout(() => {
        deadlineExceeded = true;
        this.#kill(running);
      }, spec.activeDeadlineSeconds * 1000);
    }
    const runContainer = async (container: Container): Promise<number> => {
      const log: Buffer[] = [];
      running.logs.set(container.name, log);
      if (running.stopped) return 137;
      const mounts = (container.volumeMounts ?? []).map((m) => [m.mountPath, running.volumes?.get(m.name)] as const);
      const mapped = (value: string) =>
        mounts.reduce((v, [path, host]) => (host === undefined ? v : v.split(path).join(host)), value);
      const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, mapped(e.value ?? '')]));
      const [file, ...args] = (container.command ?? ['/bin/true']).map(mapped);
      const cwd = container.workingDir ? mapped(container.workingDir) : undefined;
      const child = spawn(file!, args, {
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env },
        ...(cwd !== undefined && existsSync(cwd) ? { cwd } : {}),
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      running.children.add(child);
      child.stdout!.on('data', (c: Buffer) => log.push(c));
      child.stderr!.on('data', (c: Buffer) => log.push(c));
      const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
      running.children.delete(child);
      return code ?? (signal ? 137 : 1);
    };
    const terminated = (name: string, exitCode: number) => ({
      name,
      state: { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error' } },
    });
    void (async () => {
      const volumes = new Map<string, string>();
      for (const v of podSpec.volumes ?? []) {
        if (v.emptyDir) volumes.set(v.name, await mkdtemp(join(tmpdir(), `fake-kube-${v.name}-`)));
      }
      running.volumes = volumes;
      const initStatuses = [];
      let initFailed = false;
      for (const c of podSpec.initContainers ?? []) {
        const exitCode = await runContainer(c);
        initStatuses.push(terminated(c.name, exitCode));
        if (exitCode !== 0) {
          initFailed = true;
          break;
        }
      }
      const exits = initFailed ? [] : await Promise.all(podSpec.containers.map(runContainer));
      if (running.deadline) clearTimeout(running.deadline);
      const ok = !initFailed && exits.every((code) => code === 0);
      pod.status = {
        phase: ok ? 'Succeeded' : 'Failed',
        ...(initStatuses.length > 0 ? { initContainerStatuses: initStatuses } : {}),
        containerStatuses: exits.map((code, i) => terminated(podSpec.containers[i]!.name, code)),
      };
      const now = new Date().toISOString();
      job.status = ok
        ? { succeeded: 1, completionTime: now, conditions: [{ type: 'Complete', status: 'True' }] }
        : {
            failed: 1,
            conditions: [
              deadlineExceeded
                ? {
                    type: 'Failed',
                    status: 'True',
                    reason: 'DeadlineExceeded',
                    message: 'Job was active longer than specified deadline',
                  }
                : {
                    type: 'Failed',
                    status: 'True',
                    reason: 'BackoffLimitExceeded',
                    message: 'Job has reached the specified backoff limit',
                  },
            ],
          };
    })();
  }

  #deleteJobPods(namespace: string, job: string): void {
    for (const [key, stored] of this.#objects) {
      if (stored.object.kind !== 'Pod' || stored.object.metadata.labels?.['job-name'] !== job) continue;
      this.#objects.delete(key);
      const running = this.#pods.get(`${namespace}/${stored.object.metadata.name}`);
      if (running) this.#kill(running);
    }
  }

  #kill(pod: RunningPod): void {
    pod.stopped = true;
    if (pod.deadline) clearTimeout(pod.deadline);
    for (const child of pod.children) {
      if (child.pid === undefined) continue;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }
    for (const folder of pod.volumes?.values() ?? []) void rm(folder, { recursive: true, force: true });
  }

  /** The controller's work, advanced by reads instead of time. */
  #progress(stored: Stored): void {
    const object = stored.object;
    if (!SERVING.has(object.kind)) return;
    const state = object.status as { conditions: { status: string }[] } | undefined;
    if (state?.conditions[0]?.status !== 'Unknown') return;
    stored.reads++;
    if (stored.reads <= this.readsUntilReady) return;
    const generation = object.metadata.generation;
    const cannotPull = JSON.stringify(object.spec).includes('cannot-pull');
    object.status = cannotPull
      ? {
          observedGeneration: generation,
          conditions: [
            { type: 'Ready', status: 'False', reason: 'ImagePullBackOff', message: 'Back-off pulling image' },
          ],
        }
      : {
          observedGeneration: generation,
          url: `http://${object.metadata.name}.${object.metadata.namespace}.example.com`,
          conditions: [{ type: 'Ready', status: 'True' }],
        };
  }
}

function strip(object: KubeObject): unknown {
  const { metadata, ...rest } = object;
  const { generation: _g, namespace: _n, ...meta } = metadata as KubeObject['metadata'] & { generation?: number };
  const { status: _s, ...body } = rest as Record<string, unknown>;
  return { metadata: meta, ...body };
}

function status(code: number, message: string) {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', message, code };
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function text(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
