/**
 * The wire map of the API for the client: each operation's method and path, and the typed input of `call`, all
 * derived from the server's route table (types only: nothing of the server is bundled with the client).
 */
import type { ApiBody, ApiParams, ApiQuery, OperationId, OperationLine } from '../api/index.ts';

/**
 * Method and path of every operation of the API. The compiler checks this table against the server's route table
 * (src/api/contract.ts): a route added, moved or removed there fails here until the table follows.
 */
export const OPERATIONS = {
  getHealth: 'GET /health',
  getInfo: 'GET /info',
  listProjects: 'GET /projects',
  createProject: 'POST /projects',
  listModels: 'GET /projects/:project/models',
  getModel: 'GET /projects/:project/models/:model',
  deleteModel: 'DELETE /projects/:project/models/:model',
  listVersions: 'GET /projects/:project/models/:model/versions',
  registerVersion: 'POST /projects/:project/models/:model/versions',
  importModel: 'POST /projects/:project/models/:model/import',
  getVersion: 'GET /projects/:project/models/:model/versions/:version',
  updateVersion: 'PATCH /projects/:project/models/:model/versions/:version',
  setSignature: 'PUT /projects/:project/models/:model/versions/:version/signature',
  deleteSignature: 'DELETE /projects/:project/models/:model/versions/:version/signature',
  deleteVersion: 'DELETE /projects/:project/models/:model/versions/:version',
  downloadArtifact: 'GET /projects/:project/models/:model/versions/:version/artifact',
  getBuildContext: 'GET /projects/:project/models/:model/versions/:version/build-context',
  setAlias: 'PUT /projects/:project/models/:model/aliases/:alias',
  deleteAlias: 'DELETE /projects/:project/models/:model/aliases/:alias',
  listDeployments: 'GET /projects/:project/deployments',
  createDeployment: 'POST /projects/:project/deployments',
  getDeployment: 'GET /projects/:project/deployments/:name',
  applyDeployment: 'PUT /projects/:project/deployments/:name',
  deleteDeployment: 'DELETE /projects/:project/deployments/:name',
  deploymentRevisions: 'GET /projects/:project/deployments/:name/revisions',
  promoteDeployment: 'POST /projects/:project/deployments/:name/promote',
  rollbackDeployment: 'POST /projects/:project/deployments/:name/rollback',
  waitDeployment: 'GET /projects/:project/deployments/:name/wait',
  exportDeployment: 'GET /projects/:project/deployments/:name/export',
  deploymentMetrics: 'GET /projects/:project/deployments/:name/metrics',
  deploymentDrift: 'GET /projects/:project/deployments/:name/drift',
  checkDeploymentDrift: 'POST /projects/:project/deployments/:name/drift/check',
  listPayloads: 'GET /projects/:project/deployments/:name/payloads',
  getPayload: 'GET /projects/:project/payloads/:requestId',
  sendFeedback: 'POST /projects/:project/deployments/:name/feedback',
  deploymentAccuracy: 'GET /projects/:project/deployments/:name/accuracy',
  listSecrets: 'GET /projects/:project/secrets',
  setSecret: 'PUT /projects/:project/secrets/:name',
  deleteSecret: 'DELETE /projects/:project/secrets/:name',
  rotateSecretKey: 'POST /secrets/rotate',
  listAudit: 'GET /audit',
  verifyAudit: 'GET /audit/verify',
  listModelTypes: 'GET /modeltypes',
  getModelType: 'GET /modeltypes/:name',
  addModelType: 'POST /modeltypes',
  updateModelType: 'PUT /modeltypes/:name',
  setModelTypeDefaultImage: 'PUT /modeltypes/:name/default-image',
  addModelTypeImage: 'POST /modeltypes/:name/images',
  uploadJobInput: 'POST /projects/:project/jobs/inputs',
  submitJob: 'POST /projects/:project/jobs',
  listJobs: 'GET /projects/:project/jobs',
  getJob: 'GET /projects/:project/jobs/:id',
  cancelJob: 'POST /projects/:project/jobs/:id/cancel',
  downloadJobOutput: 'GET /projects/:project/jobs/:id/output',
  downloadJobRejects: 'GET /projects/:project/jobs/:id/rejects',
  listRepos: 'GET /projects/:project/repos',
  createRepo: 'POST /projects/:project/repos',
  getRepo: 'GET /projects/:project/repos/:repo',
  deleteRepo: 'DELETE /projects/:project/repos/:repo',
  listBranches: 'GET /projects/:project/repos/:repo/branches',
  createBranch: 'POST /projects/:project/repos/:repo/branches',
  resetBranch: 'PUT /projects/:project/repos/:repo/branches/:branch',
  deleteBranch: 'DELETE /projects/:project/repos/:repo/branches/:branch',
  listTags: 'GET /projects/:project/repos/:repo/tags',
  createTag: 'POST /projects/:project/repos/:repo/tags',
  deleteTag: 'DELETE /projects/:project/repos/:repo/tags/:tag',
  createCommit: 'POST /projects/:project/repos/:repo/commits',
  listCommits: 'GET /projects/:project/repos/:repo/commits',
  getCommit: 'GET /projects/:project/repos/:repo/commits/:ref',
  listTree: 'GET /projects/:project/repos/:repo/commits/:ref/tree',
  downloadFile: 'GET /projects/:project/repos/:repo/commits/:ref/file',
  getProfile: 'GET /projects/:project/repos/:repo/commits/:ref/profile',
  diffCommits: 'GET /projects/:project/repos/:repo/diff',
  listEvents: 'GET /events',
  collectGarbage: 'POST /gc',
  uploadPipelineCode: 'POST /projects/:project/pipelines/code',
  applyPipeline: 'PUT /projects/:project/pipelines',
  listPipelines: 'GET /projects/:project/pipelines',
  getPipeline: 'GET /projects/:project/pipelines/:name',
  deletePipeline: 'DELETE /projects/:project/pipelines/:name',
  triggerPipeline: 'POST /projects/:project/pipelines/:name/runs',
  listRuns: 'GET /projects/:project/runs',
  getRun: 'GET /projects/:project/runs/:run',
  cancelRun: 'POST /projects/:project/runs/:run/cancel',
  resumeRun: 'POST /projects/:project/runs/:run/resume',
  runLogs: 'GET /projects/:project/runs/:run/logs',
  uploadScanDataset: 'POST /projects/:project/usecases/datasets',
  applyUseCase: 'PUT /projects/:project/usecases',
  listUseCases: 'GET /projects/:project/usecases',
  getUseCase: 'GET /projects/:project/usecases/:name',
  deleteUseCase: 'DELETE /projects/:project/usecases/:name',
  runScan: 'POST /projects/:project/usecases/:name/scans',
  listScans: 'GET /projects/:project/scans',
  getScan: 'GET /projects/:project/scans/:scan',
  cancelScan: 'POST /projects/:project/scans/:scan/cancel',
  getScanResults: 'GET /projects/:project/scans/:scan/results',
  getScanReport: 'GET /projects/:project/scans/:scan/report',
  getScanReportHtml: 'GET /projects/:project/scans/:scan/report.html',
  compareScans: 'GET /projects/:project/scans-compare',
  getLineage: 'GET /projects/:project/lineage',
  exportOpenLineage: 'GET /projects/:project/lineage/openlineage',
  whoami: 'GET /whoami',
  listUsers: 'GET /users',
  createUser: 'POST /users',
  deleteUser: 'DELETE /users/:name',
  listGroups: 'GET /groups',
  createGroup: 'POST /groups',
  deleteGroup: 'DELETE /groups/:name',
  addGroupMember: 'PUT /groups/:name/members/:user',
  removeGroupMember: 'DELETE /groups/:name/members/:user',
  listTokens: 'GET /tokens',
  createToken: 'POST /tokens',
  revokeToken: 'DELETE /tokens/:id',
  listMembers: 'GET /projects/:project/members',
  addMember: 'PUT /projects/:project/members/:kind/:name',
  removeMember: 'DELETE /projects/:project/members/:kind/:name',
  deleteProject: 'DELETE /projects/:project',
} as const satisfies { readonly [K in OperationId]: OperationLine<K> };

/** Path parameters of a call; `project` defaults to the client's project. */
export type CallParams<K extends OperationId> =
  ApiParams<K> extends { project: string } ? Omit<ApiParams<K>, 'project'> & { project?: string } : ApiParams<K>;

/** A field of a call's input: absent when the route takes none, optional when all of it is optional. */
type Field<N extends string, T> = [T] extends [undefined]
  ? { [_ in N]?: undefined }
  : Record<never, never> extends T
    ? { [_ in N]?: T }
    : { [_ in N]: T };

export type CallInput<K extends OperationId> = Field<'params', CallParams<K>> &
  Field<'query', ApiQuery<K>> &
  Field<'body', ApiBody<K>>;

export interface CallOptions {
  /** Overrides the client's timeout for this call. */
  timeoutMs?: number;
}

/** The arguments of `call` after the operation: the input may be left out when nothing in it is required. */
export type CallArgs<K extends OperationId> =
  Record<never, never> extends CallInput<K>
    ? [input?: CallInput<K>, options?: CallOptions]
    : [input: CallInput<K>, options?: CallOptions];
