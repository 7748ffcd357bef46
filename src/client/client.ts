/**
 * The typed TypeScript client of the Modelport API. The CLI and the web console use only this; other programs can
 * too:
 *
 *   const mp = new ModelportClient({ url: 'http://127.0.0.1:8080' });
 *   const v = await mp.registerVersion('fraud', await readFile('model.onnx'), { aliases: ['champion'] });
 *
 * Every failure is a `ModelportApiError` carrying the server's stable `code`, `message` and `field`.
 */
import type { BundleFile } from '../backends/compose/compose-renderer.ts';
import type { ExportFormat } from '../backends/export.ts';
import type { DeploymentSpecInput } from '../deployments/spec.ts';
import type { Deployment, Revision } from '../deployments/types.ts';
import type { Job, JobArtifact, JobCreateRequest } from '../jobs/index.ts';
import type { BaseImage, ModelType } from '../modeltypes/model-type.ts';
import type { DeploymentMetrics } from '../observability/deployment-metrics-sampler.ts';
import type { Model, ModelVersion, Project } from '../registry/types.ts';
import type { SecretInfo } from '../secrets/secret-store.ts';
import type { FriendlySignature } from '../signatures/index.ts';

export interface ClientOptions {
  /** Base URL of the server, e.g. http://127.0.0.1:8080. */
  url: string;
  /** Project for model calls; `default` unless given. */
  project?: string;
  /** Sent as `Authorization: Bearer <token>` when set. */
  token?: string;
  /** Per-request timeout in milliseconds (default 60 s; uploads use `uploadTimeoutMs`). */
  timeoutMs?: number;
  uploadTimeoutMs?: number;
  fetch?: typeof fetch;
}

export class ModelportApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;

  constructor(status: number, code: string, message: string, field?: string) {
    super(message);
    this.name = 'ModelportApiError';
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

export interface RegisterOptions {
  description?: string;
  aliases?: string[];
  tags?: Record<string, string>;
  metrics?: Record<string, number>;
  source?: string;
  dataCommit?: string;
  pipelineRun?: string;
  /** 'onnx', 'js' for a js model folder as a .tgz, 'hosted' for a descriptor; default: the server tells by the bytes. */
  format?: 'onnx' | 'js' | 'hosted';
  /** The friendly signature (named features, output labels), checked against the model before it is stored. */
  signature?: FriendlySignature;
  /** Called as upload bytes are sent (for progress bars). */
  onProgress?: (sentBytes: number) => void;
}

/** The body of an upload: bytes in memory or a stream of chunks with a known size. */
export type UploadBody = Uint8Array | { stream: AsyncIterable<Uint8Array>; size: number };

type Query = Record<string, string | number | undefined | (string | number)[]>;

export class ModelportClient {
  readonly url: string;
  readonly project: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  readonly #uploadTimeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(options: ClientOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.project = options.project ?? 'default';
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#uploadTimeoutMs = options.uploadTimeoutMs ?? 30 * 60_000;
    this.#fetch = options.fetch ?? fetch;
  }

  // Projects

  async listProjects(): Promise<Project[]> {
    return (await this.request<{ projects: Project[] }>('GET', '/projects')).projects;
  }

  async createProject(name: string): Promise<Project> {
    return this.request('POST', '/projects', { body: { name } });
  }

  // Models

  async listModels(search?: string): Promise<Model[]> {
    return (await this.request<{ models: Model[] }>('GET', `${this.#models()}`, { query: { q: search } })).models;
  }

  async getModel(name: string): Promise<Model> {
    return this.request('GET', this.#models(name));
  }

  async deleteModel(name: string): Promise<void> {
    await this.request('DELETE', this.#models(name));
  }

  async listVersions(name: string): Promise<ModelVersion[]> {
    return (await this.request<{ versions: ModelVersion[] }>('GET', `${this.#models(name)}/versions`)).versions;
  }

  /** `ref` is a version number or an alias. */
  async getVersion(name: string, ref: number | string): Promise<ModelVersion> {
    return this.request('GET', `${this.#models(name)}/versions/${encodeURIComponent(String(ref))}`);
  }

  async updateVersion(
    name: string,
    ref: number | string,
    patch: { description?: string; tags?: Record<string, string>; metrics?: Record<string, number> },
  ): Promise<ModelVersion> {
    return this.request('PATCH', `${this.#models(name)}/versions/${encodeURIComponent(String(ref))}`, { body: patch });
  }

  /** Sets (or with null removes) a version's friendly signature; the server checks it against the model. */
  async setSignature(name: string, ref: number | string, signature: FriendlySignature | null): Promise<ModelVersion> {
    const path = `${this.#models(name)}/versions/${encodeURIComponent(String(ref))}/signature`;
    return signature === null ? this.request('DELETE', path) : this.request('PUT', path, { body: signature });
  }

  async deleteVersion(name: string, ref: number | string): Promise<void> {
    await this.request('DELETE', `${this.#models(name)}/versions/${encodeURIComponent(String(ref))}`);
  }

  async registerVersion(name: string, file: UploadBody, options: RegisterOptions = {}): Promise<ModelVersion> {
    const query: Query = {
      description: options.description,
      alias: options.aliases,
      tag: Object.entries(options.tags ?? {}).map(([k, v]) => `${k}=${v}`),
      metric: Object.entries(options.metrics ?? {}).map(([k, v]) => `${k}=${v}`),
      source: options.source,
      dataCommit: options.dataCommit,
      pipelineRun: options.pipelineRun,
      format: options.format,
      signature: options.signature ? JSON.stringify(options.signature) : undefined,
    };
    const size = file instanceof Uint8Array ? file.byteLength : file.size;
    const chunks = file instanceof Uint8Array ? chunked(file) : file.stream;
    const onProgress = options.onProgress;
    let sent = 0;
    async function* counted() {
      for await (const chunk of chunks) {
        sent += chunk.byteLength;
        onProgress?.(sent);
        yield chunk;
      }
    }
    // Bytes go as they are: browsers cannot stream a request body over HTTP/1.1.
    if (file instanceof Uint8Array) onProgress?.(size);
    return this.request('POST', `${this.#models(name)}/versions`, {
      query,
      raw: { body: file instanceof Uint8Array ? file : counted(), size, type: 'application/octet-stream' },
      timeoutMs: this.#uploadTimeoutMs,
    });
  }

  /**
   * Imports a new version from an https:// or s3:// URL: the server downloads it (through its egress guard, so
   * private addresses need an administrator's allow list) and registers it like an upload.
   */
  async importModel(
    name: string,
    source: {
      url: string;
      format?: 'onnx' | 'js';
      description?: string;
      aliases?: string[];
      tags?: Record<string, string>;
    },
  ): Promise<ModelVersion> {
    return this.request('POST', `${this.#models(name)}/import`, { body: source, timeoutMs: this.#uploadTimeoutMs });
  }

  async setAlias(name: string, alias: string, version: number): Promise<Model> {
    return this.request('PUT', `${this.#models(name)}/aliases/${encodeURIComponent(alias)}`, { body: { version } });
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.request('DELETE', `${this.#models(name)}/aliases/${encodeURIComponent(alias)}`);
  }

  /**
   * Streams a version's model file. `sha256` is the server's `x-checksum-sha256` header: hash `body` while reading
   * and compare before trusting the file. Uses the upload timeout, since model files can be large.
   */
  async downloadArtifact(
    name: string,
    ref: number | string,
  ): Promise<{ sha256: string; size: number; body: AsyncIterable<Uint8Array> }> {
    const response = await this.#send(
      'GET',
      `${this.#models(name)}/versions/${encodeURIComponent(String(ref))}/artifact`,
      {
        timeoutMs: this.#uploadTimeoutMs,
      },
    );
    if (!response.body) throw new ModelportApiError(response.status, 'internal', 'the server sent no model file');
    return {
      sha256: response.headers.get('x-checksum-sha256') ?? '',
      size: Number(response.headers.get('content-length') ?? -1),
      body: response.body as unknown as AsyncIterable<Uint8Array>,
    };
  }

  // Deployments

  async listDeployments(): Promise<Deployment[]> {
    return (await this.request<{ deployments: Deployment[] }>('GET', this.#deployments())).deployments;
  }

  async getDeployment(name: string): Promise<Deployment> {
    return this.request('GET', this.#deployments(name));
  }

  /** Creates a deployment; fails with `already_exists` when the name is taken. */
  async createDeployment(name: string, spec: DeploymentSpecInput): Promise<Deployment> {
    return this.request('POST', this.#deployments(), { body: { name, spec } });
  }

  /** Creates or changes a deployment; the same spec again is a no-op. */
  async applyDeployment(name: string, spec: DeploymentSpecInput): Promise<Deployment> {
    return this.request('PUT', this.#deployments(name), { body: { spec } });
  }

  async deleteDeployment(name: string): Promise<void> {
    await this.request('DELETE', this.#deployments(name));
  }

  async deploymentRevisions(name: string): Promise<Revision[]> {
    return (await this.request<{ revisions: Revision[] }>('GET', `${this.#deployments(name)}/revisions`)).revisions;
  }

  async promoteDeployment(name: string): Promise<Deployment> {
    return this.request('POST', `${this.#deployments(name)}/promote`, { body: {} });
  }

  async rollbackDeployment(name: string, revision?: number): Promise<Deployment> {
    return this.request('POST', `${this.#deployments(name)}/rollback`, { body: revision ? { revision } : {} });
  }

  /** Requests/s, errors, p50/p99 latency and replicas over the last 15 minutes, oldest point first. */
  async deploymentMetrics(name: string): Promise<DeploymentMetrics> {
    return this.request('GET', `${this.#deployments(name)}/metrics`);
  }

  /** Resolves when the deployment is Ready at its latest generation; rejects if it failed or timed out. */
  async waitDeployment(name: string, timeoutSeconds = 60): Promise<Deployment> {
    return this.request('GET', `${this.#deployments(name)}/wait`, {
      query: { timeout: timeoutSeconds },
      timeoutMs: (timeoutSeconds + 5) * 1000,
    });
  }

  /**
   * The deployment's latest revision as files, without applying: `<name>.yaml` for kserve, kserve-knative and
   * knative, the bundle (base/ and example/) for compose. Write them with `writeBundle` (example/ is kept).
   */
  async exportDeployment(name: string, format: ExportFormat): Promise<BundleFile[]> {
    return (
      await this.request<{ files: BundleFile[] }>('GET', `${this.#deployments(name)}/export`, { query: { format } })
    ).files;
  }

  #deployments(name?: string): string {
    const base = `/projects/${encodeURIComponent(this.project)}/deployments`;
    return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
  }

  // Secrets (values go in, never come out)

  async listSecrets(): Promise<SecretInfo[]> {
    return (await this.request<{ secrets: SecretInfo[] }>('GET', this.#secrets())).secrets;
  }

  /** Creates or replaces a secret; `created` tells which. */
  async setSecret(name: string, value: string): Promise<SecretInfo & { created: boolean }> {
    return this.request('PUT', this.#secrets(name), { body: { value } });
  }

  async deleteSecret(name: string): Promise<void> {
    await this.request('DELETE', this.#secrets(name));
  }

  /** Re-encrypts every secret under a new key; `newKey` is needed when the server's key comes from its environment. */
  async rotateSecretKey(newKey?: string): Promise<{ rotated: number; keyId: string; origin: 'env' | 'file' }> {
    return this.request('POST', '/secrets/rotate', { body: newKey === undefined ? {} : { newKey } });
  }

  // Model types

  async listModelTypes(): Promise<ModelType[]> {
    return (await this.request<{ modeltypes: ModelType[] }>('GET', '/modeltypes')).modeltypes;
  }

  async getModelType(name: string): Promise<ModelType> {
    return this.request('GET', `/modeltypes/${encodeURIComponent(name)}`);
  }

  async addModelType(type: ModelType): Promise<ModelType> {
    return this.request('POST', '/modeltypes', { body: type });
  }

  async updateModelType(type: ModelType): Promise<ModelType> {
    return this.request('PUT', `/modeltypes/${encodeURIComponent(type.name)}`, { body: type });
  }

  async setModelTypeDefaultImage(name: string, image: string): Promise<ModelType> {
    return this.request('PUT', `/modeltypes/${encodeURIComponent(name)}/default-image`, { body: { name: image } });
  }

  async addModelTypeImage(name: string, image: BaseImage): Promise<ModelType> {
    return this.request('POST', `/modeltypes/${encodeURIComponent(name)}/images`, { body: image });
  }

  // Batch scoring jobs

  /** Uploads a job input (CSV or JSON lines) into the artifact store; pass its sha256 as `input.artifact`. */
  async uploadJobInput(file: UploadBody, onProgress?: (sentBytes: number) => void): Promise<JobArtifact> {
    const size = file instanceof Uint8Array ? file.byteLength : file.size;
    const chunks = file instanceof Uint8Array ? chunked(file) : file.stream;
    let sent = 0;
    async function* counted() {
      for await (const chunk of chunks) {
        sent += chunk.byteLength;
        onProgress?.(sent);
        yield chunk;
      }
    }
    // Bytes go as they are: browsers cannot stream a request body over HTTP/1.1.
    if (file instanceof Uint8Array) onProgress?.(size);
    return this.request('POST', `${this.#jobs()}/inputs`, {
      raw: { body: file instanceof Uint8Array ? file : counted(), size, type: 'application/octet-stream' },
      timeoutMs: this.#uploadTimeoutMs,
    });
  }

  /** Submits a job: `{ model: 'fraud@champion', input: { artifact: sha256 } }`; it starts queued. */
  async submitJob(request: JobCreateRequest): Promise<Job> {
    return this.request('POST', this.#jobs(), { body: request });
  }

  async listJobs(limit?: number): Promise<Job[]> {
    return (await this.request<{ jobs: Job[] }>('GET', this.#jobs(), { query: { limit } })).jobs;
  }

  async getJob(id: string): Promise<Job> {
    return this.request('GET', this.#jobs(id));
  }

  async cancelJob(id: string): Promise<Job> {
    return this.request('POST', `${this.#jobs(id)}/cancel`);
  }

  /**
   * Streams a succeeded job's output (or its rejects). `sha256` is the server's `x-checksum-sha256`: hash `body`
   * while reading and compare before trusting it.
   */
  async downloadJobOutput(
    id: string,
    which: 'output' | 'rejects' = 'output',
  ): Promise<{ sha256: string; size: number; body: AsyncIterable<Uint8Array> }> {
    const response = await this.#send('GET', `${this.#jobs(id)}/${which}`, { timeoutMs: this.#uploadTimeoutMs });
    if (!response.body) throw new ModelportApiError(response.status, 'internal', `the server sent no ${which}`);
    return {
      sha256: response.headers.get('x-checksum-sha256') ?? '',
      size: Number(response.headers.get('content-length') ?? -1),
      body: response.body as unknown as AsyncIterable<Uint8Array>,
    };
  }

  #jobs(id?: string): string {
    const base = `/projects/${encodeURIComponent(this.project)}/jobs`;
    return id === undefined ? base : `${base}/${encodeURIComponent(id)}`;
  }

  // Transport

  #secrets(name?: string): string {
    const base = `/projects/${encodeURIComponent(this.project)}/secrets`;
    return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
  }

  #models(name?: string): string {
    const base = `/projects/${encodeURIComponent(this.project)}/models`;
    return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
  }

  /** Calls any API route (path relative to /api/v1) and returns its parsed JSON. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const text = await (await this.#send(method, path, options)).text();
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  /** Sends a request; resolves with the response when it is 2xx, else throws its `ModelportApiError`. */
  async #send(method: string, path: string, options: RequestOptions): Promise<Response> {
    const url = new URL(`${this.url}/api/v1${path}`);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value === undefined) continue;
      for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(key, String(item));
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#token) headers['authorization'] = `Bearer ${this.#token}`;
    let body: RequestInit['body'];
    if (options.raw) {
      headers['content-type'] = options.raw.type;
      headers['content-length'] = String(options.raw.size);
      const raw = options.raw.body;
      // DOM's typings lack ReadableStream.from, which Node and current browsers have.
      body = (raw instanceof Uint8Array
        ? raw
        : (ReadableStream as unknown as { from(i: AsyncIterable<Uint8Array>): ReadableStream }).from(
            raw,
          )) as unknown as RequestInit['body'];
    } else if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    let response: Response;
    try {
      response = await this.#fetch(url, {
        method,
        headers,
        body,
        signal: AbortSignal.timeout(options.timeoutMs ?? this.#timeoutMs),
        ...(options.raw && !(options.raw.body instanceof Uint8Array) ? { duplex: 'half' } : {}),
      } as RequestInit);
    } catch (error) {
      const reason = (error as Error).name === 'TimeoutError' ? 'timed out' : 'is not reachable';
      throw new ModelportApiError(0, 'unreachable', `the Modelport server at ${this.url} ${reason}`);
    }
    if (!response.ok) {
      const text = await response.text();
      let parsed: { error?: { code?: string; message?: string; field?: string } } = {};
      try {
        parsed = JSON.parse(text);
      } catch {}
      const error = parsed.error;
      throw new ModelportApiError(
        response.status,
        error?.code ?? `http_${response.status}`,
        error?.message ?? `HTTP ${response.status} ${response.statusText}`,
        error?.field,
      );
    }
    return response;
  }
}

interface RequestOptions {
  query?: Query;
  body?: unknown;
  raw?: { body: Uint8Array | AsyncIterable<Uint8Array>; size: number; type: string };
  timeoutMs?: number;
}

function* chunked(bytes: Uint8Array, size = 1 << 20): Generator<Uint8Array> {
  for (let offset = 0; offset < bytes.byteLength; offset += size) yield bytes.subarray(offset, offset + size);
}
