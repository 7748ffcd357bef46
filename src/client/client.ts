/**
 * The typed TypeScript client of the Modelport API. The CLI and the web console use only this; other programs can
 * too:
 *
 *   const mp = new ModelportClient({ url: 'http://127.0.0.1:8080' });
 *   const v = await mp.registerVersion('fraud', await readFile('model.onnx'), { aliases: ['champion'] });
 *
 * Every failure is a `ModelportApiError` carrying the server's stable `code`, `message` and `field`.
 */
import type { ApiBody, ApiQuery, ApiResponse, OperationId } from '../api/index.ts';
import { type CallArgs, OPERATIONS } from './operations.ts';

export type { ApiBody, ApiParams, ApiQuery, ApiResponse, OperationId } from '../api/index.ts';
export { type CallArgs, type CallInput, type CallOptions, type CallParams, OPERATIONS } from './operations.ts';

/** A downloaded file: `sha256` is the server's `x-checksum-sha256`, to compare with a hash of `body` once read. */
export interface Download {
  sha256: string;
  size: number;
  body: AsyncIterable<Uint8Array>;
}

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
  /** Facts the server sent with the error (a refused policy's rule, failed clauses and values). */
  readonly details: Record<string, unknown> | undefined;

  constructor(status: number, code: string, message: string, field?: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'ModelportApiError';
    this.status = status;
    this.code = code;
    this.field = field;
    this.details = details;
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
  format?: ApiBody<'importModel'>['format'];
  /** The friendly signature (named features, output labels), checked against the model before it is stored. */
  signature?: ApiBody<'setSignature'>;
  /** The model type of the catalogue (`sklearn-1.5`); default: the format. */
  type?: string;
  /** An OCI image reference: the version is this image (upload an empty body). Container types only. */
  image?: string;
  /** A container type's tensor signature ({ inputs, outputs }), since the server never opens such a model. */
  declaredSignature?: ApiResponse<'getVersion'>['signature'];
  /** Called as upload bytes are sent (for progress bars). */
  onProgress?: (sentBytes: number) => void;
}

/** Where and how a data put commits. */
export interface DataPutOptions {
  /** Default: the repository's default branch. */
  branch?: string;
  message: string;
  /** The full id of the head the change is based on: refuse with `conflict` instead of rebasing if it moved. */
  expect?: string;
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

  /**
   * A client configured like the CLI, from environment variables the caller passes in (`process.env` in a
   * program's entry point): MODELPORT_URL (default http://127.0.0.1:8080), MODELPORT_PROJECT, MODELPORT_TOKEN.
   * `overrides` win over the environment.
   */
  static fromEnv(env: Readonly<Record<string, string | undefined>>, overrides: Partial<ClientOptions> = {}) {
    return new ModelportClient({
      url: env['MODELPORT_URL'] || 'http://127.0.0.1:8080',
      project: env['MODELPORT_PROJECT'] || undefined,
      token: env['MODELPORT_TOKEN'] || undefined,
      ...overrides,
    });
  }

  /**
   * Calls any operation of the API by its id, with its params (`project` defaults to the client's), query and
   * body typed from the server's route table, and resolves with its typed answer.
   */
  async call<K extends OperationId>(operation: K, ...[input, options]: CallArgs<K>): Promise<ApiResponse<K>> {
    const { method, path } = this.#resolve(operation, input?.params);
    return this.request(method, path, {
      query: input?.query as Query | undefined,
      body: input?.body,
      timeoutMs: options?.timeoutMs,
    });
  }

  // Projects

  async listProjects(): Promise<ApiResponse<'listProjects'>['projects']> {
    return (await this.call('listProjects')).projects;
  }

  async createProject(name: string): Promise<ApiResponse<'createProject'>> {
    return this.call('createProject', { body: { name } });
  }

  async deleteProject(name: string): Promise<void> {
    await this.call('deleteProject', { params: { project: name } });
  }

  // Identity: users, groups, tokens, project members

  async whoami(): Promise<ApiResponse<'whoami'>> {
    return this.call('whoami');
  }

  async listUsers(): Promise<ApiResponse<'listUsers'>['users']> {
    return (await this.call('listUsers')).users;
  }

  async createUser(name: string, options: { serverAdmin?: boolean } = {}): Promise<ApiResponse<'createUser'>> {
    return this.call('createUser', { body: { name, ...options } });
  }

  async deleteUser(name: string): Promise<void> {
    await this.call('deleteUser', { params: { name } });
  }

  async listGroups(): Promise<ApiResponse<'listGroups'>['groups']> {
    return (await this.call('listGroups')).groups;
  }

  async createGroup(name: string): Promise<ApiResponse<'createGroup'>> {
    return this.call('createGroup', { body: { name } });
  }

  async deleteGroup(name: string): Promise<void> {
    await this.call('deleteGroup', { params: { name } });
  }

  async addGroupMember(group: string, user: string): Promise<void> {
    await this.call('addGroupMember', { params: { name: group, user } });
  }

  async removeGroupMember(group: string, user: string): Promise<void> {
    await this.call('removeGroupMember', { params: { name: group, user } });
  }

  /** Your tokens; the server admin may ask for a user's (`user`) or everyone's (`all`). */
  async listTokens(options: { user?: string; all?: boolean } = {}): Promise<ApiResponse<'listTokens'>['tokens']> {
    const query = { user: options.user, all: options.all ? ('true' as const) : undefined };
    return (await this.call('listTokens', { query })).tokens;
  }

  /** Creates a token; `token` in the answer is its text, never shown again. `expiresIn` is a duration: 90d, 12h. */
  async createToken(input: ApiBody<'createToken'>): Promise<ApiResponse<'createToken'>> {
    return this.call('createToken', { body: input });
  }

  async revokeToken(id: string): Promise<void> {
    await this.call('revokeToken', { params: { id } });
  }

  async listMembers(project = this.project): Promise<ApiResponse<'listMembers'>['members']> {
    return (await this.call('listMembers', { params: { project } })).members;
  }

  /** Grants `role` on `project` to a user or group (replacing its role there); `code` lets an editor register js models. */
  async addMember(
    project: string,
    member: { kind: 'user' | 'group'; name: string },
    role: ApiBody<'addMember'>['role'],
    options: { code?: boolean } = {},
  ): Promise<ApiResponse<'addMember'>> {
    return this.call('addMember', {
      params: { project, kind: member.kind, name: member.name },
      body: { role, ...(options.code ? { code: true } : {}) },
    });
  }

  async removeMember(project: string, member: { kind: 'user' | 'group'; name: string }): Promise<void> {
    await this.call('removeMember', { params: { project, kind: member.kind, name: member.name } });
  }

  // Models

  async listModels(search?: string): Promise<ApiResponse<'listModels'>['models']> {
    return (await this.call('listModels', { query: { q: search } })).models;
  }

  async getModel(name: string): Promise<ApiResponse<'getModel'>> {
    return this.call('getModel', { params: { model: name } });
  }

  async deleteModel(name: string): Promise<void> {
    await this.call('deleteModel', { params: { model: name } });
  }

  async listVersions(name: string): Promise<ApiResponse<'listVersions'>['versions']> {
    return (await this.call('listVersions', { params: { model: name } })).versions;
  }

  /** The Docker build context of a version, all but its artifact (`modelport build`); `ref` a number or an alias. */
  async getBuildContext(
    name: string,
    ref: number | string,
    query: ApiQuery<'getBuildContext'> = {},
  ): Promise<ApiResponse<'getBuildContext'>> {
    return this.call('getBuildContext', { params: { model: name, version: String(ref) }, query });
  }

  /** `ref` is a version number or an alias. */
  async getVersion(name: string, ref: number | string): Promise<ApiResponse<'getVersion'>> {
    return this.call('getVersion', { params: { model: name, version: String(ref) } });
  }

  async updateVersion(
    name: string,
    ref: number | string,
    patch: ApiBody<'updateVersion'>,
  ): Promise<ApiResponse<'updateVersion'>> {
    return this.call('updateVersion', { params: { model: name, version: String(ref) }, body: patch });
  }

  /** Sets (or with null removes) a version's friendly signature; the server checks it against the model. */
  async setSignature(
    name: string,
    ref: number | string,
    signature: ApiBody<'setSignature'> | null,
  ): Promise<ApiResponse<'setSignature'>> {
    const params = { model: name, version: String(ref) };
    return signature === null
      ? this.call('deleteSignature', { params })
      : this.call('setSignature', { params, body: signature });
  }

  async deleteVersion(name: string, ref: number | string): Promise<void> {
    await this.call('deleteVersion', { params: { model: name, version: String(ref) } });
  }

  async registerVersion(
    name: string,
    file: UploadBody,
    options: RegisterOptions = {},
  ): Promise<ApiResponse<'registerVersion'>> {
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
      type: options.type,
      image: options.image,
      declaredSignature: options.declaredSignature ? JSON.stringify(options.declaredSignature) : undefined,
    };
    const { method, path } = this.#resolve('registerVersion', { model: name });
    return this.request(method, path, {
      query,
      raw: upload(file, options.onProgress),
      timeoutMs: this.#uploadTimeoutMs,
    });
  }

  /**
   * Imports a new version from an https:// or s3:// URL: the server downloads it (through its egress guard, so
   * private addresses need an administrator's allow list) and registers it like an upload.
   */
  async importModel(name: string, source: ApiBody<'importModel'>): Promise<ApiResponse<'importModel'>> {
    return this.call('importModel', { params: { model: name }, body: source }, { timeoutMs: this.#uploadTimeoutMs });
  }

  async setAlias(name: string, alias: string, version: number): Promise<ApiResponse<'setAlias'>> {
    return this.call('setAlias', { params: { model: name, alias }, body: { version } });
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.call('deleteAlias', { params: { model: name, alias } });
  }

  /**
   * Streams a version's model file. `sha256` is the server's `x-checksum-sha256` header: hash `body` while reading
   * and compare before trusting the file. Uses the upload timeout, since model files can be large.
   */
  async downloadArtifact(name: string, ref: number | string): Promise<Download> {
    return this.#download('downloadArtifact', { model: name, version: String(ref) }, 'model file');
  }

  // Deployments

  async listDeployments(): Promise<ApiResponse<'listDeployments'>['deployments']> {
    return (await this.call('listDeployments')).deployments;
  }

  async getDeployment(name: string): Promise<ApiResponse<'getDeployment'>> {
    return this.call('getDeployment', { params: { name } });
  }

  /** Creates a deployment; fails with `already_exists` when the name is taken. */
  async createDeployment(
    name: string,
    spec: ApiBody<'createDeployment'>['spec'],
  ): Promise<ApiResponse<'createDeployment'>> {
    return this.call('createDeployment', { body: { name, spec } });
  }

  /** Creates or changes a deployment; the same spec again is a no-op. */
  async applyDeployment(
    name: string,
    spec: ApiBody<'applyDeployment'>['spec'],
  ): Promise<ApiResponse<'applyDeployment'>> {
    return this.call('applyDeployment', { params: { name }, body: { spec } });
  }

  /** Deletes a deployment; its payload log is kept unless `purgePayloads` is set. */
  async deleteDeployment(name: string, options: { purgePayloads?: boolean } = {}): Promise<void> {
    await this.call('deleteDeployment', {
      params: { name },
      ...(options.purgePayloads ? { query: { purgePayloads: 'true' as const } } : {}),
    });
  }

  // Payload log

  async listPayloads(name: string, query: ApiQuery<'listPayloads'> = {}): Promise<ApiResponse<'listPayloads'>> {
    return this.call('listPayloads', { params: { name }, query });
  }

  async getPayload(requestId: string, deployment?: string): Promise<ApiResponse<'getPayload'>['records']> {
    return (await this.call('getPayload', { params: { requestId }, ...(deployment ? { query: { deployment } } : {}) }))
      .records;
  }

  /** Delayed labels as JSON: one `{ requestId, label }` or `{ labels: [...] }`. */
  async sendFeedback(name: string, body: ApiBody<'sendFeedback'>): Promise<ApiResponse<'sendFeedback'>> {
    return this.call('sendFeedback', { params: { name }, body });
  }

  /** Delayed labels as CSV text with `request_id` and `label` columns. */
  async sendFeedbackCsv(name: string, csv: string): Promise<ApiResponse<'sendFeedback'>> {
    const { method, path } = this.#resolve('sendFeedback', { name });
    const bytes = new TextEncoder().encode(csv);
    return this.request(method, path, { raw: { type: 'text/csv', size: bytes.length, body: bytes } });
  }

  async deploymentAccuracy(
    name: string,
    query: ApiQuery<'deploymentAccuracy'> = {},
  ): Promise<ApiResponse<'deploymentAccuracy'>> {
    return this.call('deploymentAccuracy', { params: { name }, query });
  }

  async deploymentRevisions(name: string): Promise<ApiResponse<'deploymentRevisions'>['revisions']> {
    return (await this.call('deploymentRevisions', { params: { name } })).revisions;
  }

  async promoteDeployment(name: string): Promise<ApiResponse<'promoteDeployment'>> {
    return this.call('promoteDeployment', { params: { name } });
  }

  async rollbackDeployment(name: string, revision?: number): Promise<ApiResponse<'rollbackDeployment'>> {
    return this.call('rollbackDeployment', { params: { name }, body: revision ? { revision } : {} });
  }

  /** Requests/s, errors, p50/p99 latency and replicas over the last 15 minutes, oldest point first. */
  /** Live drift checks of a deployment, newest first, with its DriftDetected condition. */
  async deploymentDrift(name: string, limit?: number): Promise<ApiResponse<'deploymentDrift'>> {
    return this.call('deploymentDrift', { params: { name }, ...(limit ? { query: { limit } } : {}) });
  }

  /** Runs a deployment's drift check now. */
  async checkDeploymentDrift(name: string): Promise<ApiResponse<'checkDeploymentDrift'>> {
    return this.call('checkDeploymentDrift', { params: { name } });
  }

  async deploymentMetrics(
    name: string,
    range?: ApiQuery<'deploymentMetrics'>['range'],
  ): Promise<ApiResponse<'deploymentMetrics'>> {
    return this.call('deploymentMetrics', { params: { name }, ...(range ? { query: { range } } : {}) });
  }

  /** Resolves when the deployment is Ready at its latest generation; rejects if it failed or timed out. */
  async waitDeployment(name: string, timeoutSeconds = 60): Promise<ApiResponse<'waitDeployment'>> {
    return this.call(
      'waitDeployment',
      { params: { name }, query: { timeout: timeoutSeconds } },
      { timeoutMs: (timeoutSeconds + 5) * 1000 },
    );
  }

  /**
   * The deployment's latest revision as files, without applying: `<name>.yaml` for kserve, kserve-knative and
   * knative, the bundle (base/ and example/) for compose. Write them with `writeBundle` (example/ is kept).
   */
  async exportDeployment(
    name: string,
    format: ApiQuery<'exportDeployment'>['format'],
  ): Promise<ApiResponse<'exportDeployment'>> {
    return this.call('exportDeployment', { params: { name }, query: { format } });
  }

  // Audit log (server admins)

  /** Newest first. `since` is a duration back from now (`1h`) or an ISO time; `project` filters by project. */
  async listAudit(query: ApiQuery<'listAudit'> = {}): Promise<ApiResponse<'listAudit'>['records']> {
    return (await this.call('listAudit', { query })).records;
  }

  /** Checks the audit log's hash chain; `firstBad` names the first row that was edited, deleted or inserted. */
  async verifyAudit(): Promise<ApiResponse<'verifyAudit'>> {
    return this.call('verifyAudit');
  }

  // Secrets (values go in, never come out)

  async listSecrets(): Promise<ApiResponse<'listSecrets'>['secrets']> {
    return (await this.call('listSecrets')).secrets;
  }

  /** Creates or replaces a secret; `created` tells which. */
  async setSecret(name: string, value: string): Promise<ApiResponse<'setSecret'>> {
    return this.call('setSecret', { params: { name }, body: { value } });
  }

  async deleteSecret(name: string): Promise<void> {
    await this.call('deleteSecret', { params: { name } });
  }

  /** Re-encrypts every secret under a new key; `newKey` is needed when the server's key comes from its environment. */
  async rotateSecretKey(newKey?: string): Promise<ApiResponse<'rotateSecretKey'>> {
    return this.call('rotateSecretKey', { body: newKey === undefined ? {} : { newKey } });
  }

  // Model types

  async listModelTypes(): Promise<ApiResponse<'listModelTypes'>['modeltypes']> {
    return (await this.call('listModelTypes')).modeltypes;
  }

  async getModelType(name: string): Promise<ApiResponse<'getModelType'>> {
    return this.call('getModelType', { params: { name } });
  }

  async addModelType(type: ApiBody<'addModelType'>): Promise<ApiResponse<'addModelType'>> {
    return this.call('addModelType', { body: type });
  }

  async updateModelType(type: ApiBody<'updateModelType'>): Promise<ApiResponse<'updateModelType'>> {
    return this.call('updateModelType', { params: { name: type.name }, body: type });
  }

  async setModelTypeDefaultImage(name: string, image: string): Promise<ApiResponse<'setModelTypeDefaultImage'>> {
    return this.call('setModelTypeDefaultImage', { params: { name }, body: { name: image } });
  }

  async addModelTypeImage(
    name: string,
    image: ApiBody<'addModelTypeImage'>,
  ): Promise<ApiResponse<'addModelTypeImage'>> {
    return this.call('addModelTypeImage', { params: { name }, body: image });
  }

  // Batch scoring jobs

  /** Uploads a job input (CSV or JSON lines) into the artifact store; pass its sha256 as `input.artifact`. */
  async uploadJobInput(
    file: UploadBody,
    onProgress?: (sentBytes: number) => void,
  ): Promise<ApiResponse<'uploadJobInput'>> {
    const { method, path } = this.#resolve('uploadJobInput', {});
    return this.request(method, path, { raw: upload(file, onProgress), timeoutMs: this.#uploadTimeoutMs });
  }

  /** Submits a job: `{ model: 'fraud@champion', input: { artifact: sha256 } }`; it starts queued. */
  async submitJob(request: ApiBody<'submitJob'>): Promise<ApiResponse<'submitJob'>> {
    return this.call('submitJob', { body: request });
  }

  async listJobs(limit?: number): Promise<ApiResponse<'listJobs'>['jobs']> {
    return (await this.call('listJobs', { query: { limit } })).jobs;
  }

  async getJob(id: string): Promise<ApiResponse<'getJob'>> {
    return this.call('getJob', { params: { id } });
  }

  async cancelJob(id: string): Promise<ApiResponse<'cancelJob'>> {
    return this.call('cancelJob', { params: { id } });
  }

  /**
   * Streams a succeeded job's output (or its rejects). `sha256` is the server's `x-checksum-sha256`: hash `body`
   * while reading and compare before trusting it.
   */
  async downloadJobOutput(id: string, which: 'output' | 'rejects' = 'output'): Promise<Download> {
    return this.#download(which === 'output' ? 'downloadJobOutput' : 'downloadJobRejects', { id }, which);
  }

  // Data repositories

  async listRepos(): Promise<ApiResponse<'listRepos'>['repos']> {
    return (await this.call('listRepos')).repos;
  }

  async createRepo(
    name: string,
    options: Omit<ApiBody<'createRepo'>, 'name'> = {},
  ): Promise<ApiResponse<'createRepo'>> {
    return this.call('createRepo', { body: { name, ...options } });
  }

  async getRepo(name: string): Promise<ApiResponse<'getRepo'>> {
    return this.call('getRepo', { params: { repo: name } });
  }

  async deleteRepo(name: string): Promise<void> {
    await this.call('deleteRepo', { params: { repo: name } });
  }

  async listBranches(repo: string): Promise<ApiResponse<'listBranches'>['branches']> {
    return (await this.call('listBranches', { params: { repo } })).branches;
  }

  async createBranch(repo: string, name: string, from?: string): Promise<ApiResponse<'createBranch'>> {
    return this.call('createBranch', { params: { repo }, body: from === undefined ? { name } : { name, from } });
  }

  async resetBranch(repo: string, name: string, to: string, expect?: string): Promise<ApiResponse<'resetBranch'>> {
    return this.call('resetBranch', {
      params: { repo, branch: name },
      body: expect === undefined ? { to } : { to, expect },
    });
  }

  async deleteBranch(repo: string, name: string): Promise<void> {
    await this.call('deleteBranch', { params: { repo, branch: name } });
  }

  async listTags(repo: string): Promise<ApiResponse<'listTags'>['tags']> {
    return (await this.call('listTags', { params: { repo } })).tags;
  }

  async createTag(repo: string, name: string, commit: string): Promise<ApiResponse<'createTag'>> {
    return this.call('createTag', { params: { repo }, body: { name, commit } });
  }

  async deleteTag(repo: string, name: string): Promise<void> {
    await this.call('deleteTag', { params: { repo, tag: name } });
  }

  /** Commits one file at `path` (streamed; hashed by the server while it is stored). */
  async putFile(
    repo: string,
    path: string,
    file: UploadBody,
    options: DataPutOptions,
  ): Promise<ApiResponse<'createCommit'>> {
    return this.#commitUpload(repo, path, file, 'application/octet-stream', options);
  }

  /** Commits a folder sent as a tar stream (`writeTar` in src/data), its files placed under `prefix` ('' the root). */
  async putFolder(
    repo: string,
    prefix: string,
    tar: UploadBody,
    options: DataPutOptions,
  ): Promise<ApiResponse<'createCommit'>> {
    return this.#commitUpload(repo, prefix, tar, 'application/x-tar', options);
  }

  /** Commits the removal of files or folders. */
  async deletePaths(
    repo: string,
    paths: string[],
    options: Omit<DataPutOptions, 'onProgress'>,
  ): Promise<ApiResponse<'createCommit'>> {
    const { method, path } = this.#resolve('createCommit', { repo });
    return this.request(method, path, {
      query: { branch: options.branch, message: options.message, expect: options.expect },
      body: { delete: paths },
    });
  }

  /** The history from `ref` (default the default branch) back through first parents, newest first. */
  async listCommits(repo: string, ref?: string, limit?: number): Promise<ApiResponse<'listCommits'>['commits']> {
    return (await this.call('listCommits', { params: { repo }, query: { ref, limit } })).commits;
  }

  async getCommit(repo: string, ref: string): Promise<ApiResponse<'getCommit'>> {
    return this.call('getCommit', { params: { repo, ref } });
  }

  async listTree(repo: string, ref: string, path?: string, recursive = false): Promise<ApiResponse<'listTree'>> {
    return this.call('listTree', {
      params: { repo, ref },
      query: { path, ...(recursive ? { recursive: 'true' as const } : {}) },
    });
  }

  /**
   * Streams a file at a commit. `sha256` is the server's `x-checksum-sha256`: hash `body` while reading and compare
   * before trusting it (the CLI does).
   */
  async downloadFile(repo: string, ref: string, path: string): Promise<Download & { commit: string }> {
    const resolved = this.#resolve('downloadFile', { repo, ref });
    const response = await this.#send(resolved.method, resolved.path, {
      query: { path },
      timeoutMs: this.#uploadTimeoutMs,
    });
    if (!response.body) throw new ModelportApiError(response.status, 'internal', 'the server sent no file');
    return {
      sha256: response.headers.get('x-checksum-sha256') ?? '',
      size: Number(response.headers.get('content-length') ?? -1),
      commit: response.headers.get('x-modelport-commit') ?? '',
      body: response.body as unknown as AsyncIterable<Uint8Array>,
    };
  }

  async getProfile(repo: string, ref: string, path: string): Promise<ApiResponse<'getProfile'>> {
    return this.call('getProfile', { params: { repo, ref }, query: { path } });
  }

  async diffCommits(repo: string, from: string, to: string, limit?: number): Promise<ApiResponse<'diffCommits'>> {
    return this.call('diffCommits', { params: { repo }, query: { from, to, limit } });
  }

  // Use cases and scans

  /** Uploads an evaluation dataset (CSV); pass its sha256 as `dataset: { upload }` to `applyUseCase`. */
  async uploadScanDataset(
    file: UploadBody,
    onProgress?: (sentBytes: number) => void,
  ): Promise<ApiResponse<'uploadScanDataset'>> {
    const { method, path } = this.#resolve('uploadScanDataset', {});
    return this.request(method, path, { raw: upload(file, onProgress), timeoutMs: this.#uploadTimeoutMs });
  }

  async applyUseCase(spec: ApiBody<'applyUseCase'>): Promise<ApiResponse<'applyUseCase'>> {
    return this.call('applyUseCase', { body: spec });
  }

  async listUseCases(): Promise<ApiResponse<'listUseCases'>['usecases']> {
    return (await this.call('listUseCases')).usecases;
  }

  async getUseCase(name: string): Promise<ApiResponse<'getUseCase'>> {
    return this.call('getUseCase', { params: { name } });
  }

  async deleteUseCase(name: string): Promise<void> {
    await this.call('deleteUseCase', { params: { name } });
  }

  /** Queues a scan of a use case (every kind it lists, or `kinds`). */
  async runScan(usecase: string, kinds?: string[]): Promise<ApiResponse<'runScan'>> {
    return this.call('runScan', { params: { name: usecase }, body: kinds ? { kinds } : {} });
  }

  async listScans(query: ApiQuery<'listScans'> = {}): Promise<ApiResponse<'listScans'>['scans']> {
    return (await this.call('listScans', { query })).scans;
  }

  /** A scan by id (or an 8+ character prefix) or `<usecase>#<number>`; `wait` seconds for it to finish. */
  async getScan(scan: string, wait?: number): Promise<ApiResponse<'getScan'>> {
    return this.call('getScan', { params: { scan }, query: { wait } });
  }

  async cancelScan(scan: string): Promise<ApiResponse<'cancelScan'>> {
    return this.call('cancelScan', { params: { scan } });
  }

  async getScanResults(scan: string): Promise<ApiResponse<'getScanResults'>['results']> {
    return (await this.call('getScanResults', { params: { scan } })).results;
  }

  async getScanReport(scan: string): Promise<ApiResponse<'getScanReport'>> {
    return this.call('getScanReport', { params: { scan } });
  }

  /** The report as one self-contained HTML page; with `compare`, side by side with other scans. */
  async getScanReportHtml(scan: string, compare: string[] = []): Promise<string> {
    const { method, path } = this.#resolve('getScanReportHtml', { scan });
    const response = await this.#send(method, path, {
      query: compare.length > 0 ? { compare: compare.join(',') } : {},
      timeoutMs: this.#uploadTimeoutMs,
    });
    return response.text();
  }

  async compareScans(scans: string[]): Promise<ApiResponse<'compareScans'>> {
    return this.call('compareScans', { query: { scans: scans.join(',') } });
  }

  // Pipelines and runs

  /** Uploads a pipeline's packed code folder (a tar); pass its sha256 as `code.sha256` to `applyPipeline`. */
  async uploadPipelineCode(tar: Uint8Array): Promise<ApiResponse<'uploadPipelineCode'>> {
    const { method, path } = this.#resolve('uploadPipelineCode', {});
    return this.request(method, path, { raw: upload(tar, undefined), timeoutMs: this.#uploadTimeoutMs });
  }

  async applyPipeline(body: ApiBody<'applyPipeline'>): Promise<ApiResponse<'applyPipeline'>> {
    return this.call('applyPipeline', { body });
  }

  async listPipelines(): Promise<ApiResponse<'listPipelines'>['pipelines']> {
    return (await this.call('listPipelines')).pipelines;
  }

  async getPipeline(name: string): Promise<ApiResponse<'getPipeline'>> {
    return this.call('getPipeline', { params: { name } });
  }

  async deletePipeline(name: string): Promise<void> {
    await this.call('deletePipeline', { params: { name } });
  }

  async triggerPipeline(name: string, params?: Record<string, string>): Promise<ApiResponse<'triggerPipeline'>> {
    return this.call('triggerPipeline', { params: { name }, body: params ? { params } : {} });
  }

  async listRuns(query: ApiQuery<'listRuns'> = {}): Promise<ApiResponse<'listRuns'>['runs']> {
    return (await this.call('listRuns', { query })).runs;
  }

  /** A run by id (or an 8+ character prefix) or `<pipeline>#<number>`. */
  async getRun(run: string): Promise<ApiResponse<'getRun'>> {
    return this.call('getRun', { params: { run } });
  }

  async cancelRun(run: string): Promise<ApiResponse<'cancelRun'>> {
    return this.call('cancelRun', { params: { run } });
  }

  async resumeRun(run: string): Promise<ApiResponse<'resumeRun'>> {
    return this.call('resumeRun', { params: { run } });
  }

  /**
   * A run's logs as they come (Server-Sent Events): `{ event: 'step', step }` before each step's output,
   * `{ event: 'log', text }`, and a last `{ event: 'end', state, reason }`. With `follow`, waits for steps to run.
   */
  async *runLogs(
    run: string,
    options: { step?: string; follow?: boolean } = {},
  ): AsyncGenerator<
    | { event: 'step'; step: string }
    | { event: 'log'; text: string }
    | { event: 'end'; state: string; reason: string | null }
  > {
    const resolved = this.#resolve('runLogs', { run });
    const response = await this.#send(resolved.method, resolved.path, {
      query: { step: options.step, follow: options.follow ? 'true' : undefined },
      timeoutMs: 24 * 3_600_000,
    });
    if (!response.body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        const value = JSON.parse(data) as unknown;
        if (event === 'log') yield { event: 'log', text: String(value) };
        else if (event === 'step') yield { event: 'step', step: (value as { step: string }).step };
        else if (event === 'end') {
          const end = value as { state: string; reason: string | null };
          yield { event: 'end', state: end.state, reason: end.reason };
        }
      }
    }
  }

  /**
   * The lineage graph of a request id, `deployment[@revision]`, `model@version`, a run or `repo@commit` (a prefix
   * `request:`, `deployment:`, `model:`, `run:` or `data:` says which); `direction` up, down or both (default).
   */
  async getLineage(of: string, direction?: 'up' | 'down' | 'both'): Promise<ApiResponse<'getLineage'>> {
    return this.call('getLineage', { query: { of, ...(direction ? { direction } : {}) } });
  }

  /** The same graph's runs, steps and rollouts as OpenLineage RunEvents, in time order. */
  async exportOpenLineage(
    of: string,
    direction?: 'up' | 'down' | 'both',
  ): Promise<ApiResponse<'exportOpenLineage'>['events']> {
    return (await this.call('exportOpenLineage', { query: { of, ...(direction ? { direction } : {}) } })).events;
  }

  /** Events after a cursor (the last id handled), oldest first; admin. */
  async listEvents(query: ApiQuery<'listEvents'> = {}): Promise<ApiResponse<'listEvents'>['events']> {
    return (await this.call('listEvents', { query })).events;
  }

  /** Removes contents nothing names (admin). */
  async collectGarbage(options: ApiBody<'collectGarbage'> = {}): Promise<ApiResponse<'collectGarbage'>> {
    return this.call('collectGarbage', { body: options }, { timeoutMs: this.#uploadTimeoutMs });
  }

  async #commitUpload(
    repo: string,
    prefix: string,
    file: UploadBody,
    type: string,
    options: DataPutOptions,
  ): Promise<ApiResponse<'createCommit'>> {
    const { method, path } = this.#resolve('createCommit', { repo });
    return this.request(method, path, {
      query: {
        branch: options.branch,
        path: prefix === '' ? undefined : prefix,
        message: options.message,
        expect: options.expect,
      },
      raw: { ...upload(file, options.onProgress), type },
      timeoutMs: this.#uploadTimeoutMs,
    });
  }

  // Transport

  /** Method and path of an operation, its `:name` parameters filled in (and encoded). */
  #resolve(operation: OperationId, params: object | undefined): { method: string; path: string } {
    const line = OPERATIONS[operation];
    const space = line.indexOf(' ');
    const values: Record<string, unknown> = { project: this.project, ...params };
    const path = line.slice(space + 1).replace(/:([a-zA-Z]+)/g, (_, key: string) => {
      const value = values[key];
      if (value === undefined) throw new TypeError(`${operation} needs the path parameter '${key}'`);
      return encodeURIComponent(String(value));
    });
    return { method: line.slice(0, space), path };
  }

  async #download(
    operation: 'downloadArtifact' | 'downloadJobOutput' | 'downloadJobRejects',
    params: object,
    what: string,
  ): Promise<Download> {
    const { method, path } = this.#resolve(operation, params);
    const response = await this.#send(method, path, { timeoutMs: this.#uploadTimeoutMs });
    if (!response.body) throw new ModelportApiError(response.status, 'internal', `the server sent no ${what}`);
    return {
      sha256: response.headers.get('x-checksum-sha256') ?? '',
      size: Number(response.headers.get('content-length') ?? -1),
      body: response.body as unknown as AsyncIterable<Uint8Array>,
    };
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
      let parsed: {
        error?: { code?: string; message?: string; field?: string; details?: Record<string, unknown> };
      } = {};
      try {
        parsed = JSON.parse(text);
      } catch {}
      const error = parsed.error;
      throw new ModelportApiError(
        response.status,
        error?.code ?? `http_${response.status}`,
        error?.message ?? `HTTP ${response.status} ${response.statusText}`,
        error?.field,
        error?.details,
      );
    }
    return response;
  }
}

interface RawBody {
  body: Uint8Array | AsyncIterable<Uint8Array>;
  size: number;
  type: string;
}

interface RequestOptions {
  query?: Query;
  body?: unknown;
  raw?: RawBody;
  timeoutMs?: number;
}

/** An upload's request body, reporting bytes sent when it is a stream. */
function upload(file: UploadBody, onProgress: ((sentBytes: number) => void) | undefined): RawBody {
  const type = 'application/octet-stream';
  if (file instanceof Uint8Array) {
    // Bytes go as they are: browsers cannot stream a request body over HTTP/1.1.
    onProgress?.(file.byteLength);
    return { body: file, size: file.byteLength, type };
  }
  const stream = file.stream;
  let sent = 0;
  async function* counted() {
    for await (const chunk of stream) {
      sent += chunk.byteLength;
      onProgress?.(sent);
      yield chunk;
    }
  }
  return { body: counted(), size: file.size, type };
}
