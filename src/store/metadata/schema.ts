/**
 * The metadata schema as Kysely sees it. Portable across SQLite and PostgreSQL: ids and timestamps are text
 * (ISO 8601, UTC), JSON columns are text, integers are 32-bit except sizes (bigint, parsed to number).
 */
import type { Generated } from 'kysely';

export interface ProjectsTable {
  id: string;
  name: string;
  created_at: string;
}

export interface ModelsTable {
  id: string;
  project_id: string;
  name: string;
  description: string;
  /** Highest version number ever given; versions are taken from it so numbers are never reused or skipped. */
  latest_version: number;
  created_at: string;
  updated_at: string;
}

export interface ModelVersionsTable {
  id: string;
  model_id: string;
  version: number;
  /** 'onnx' for now; 'js' arrives with the model-types issue. */
  format: string;
  model_type: string;
  artifact_sha256: string;
  artifact_size: number;
  /** JSON of ModelSignature. */
  signature: string;
  description: string;
  /** JSON object of string -> string. */
  tags: string;
  /** JSON object of string -> number. */
  metrics: string;
  source: string | null;
  data_commit: string | null;
  pipeline_run: string | null;
  /** JSON of FriendlySignature (src/signatures), or null. Added by 005_friendly_signatures. */
  friendly_signature: string | null;
  /** OCI reference of a version that is an image (no artifact of its own); null otherwise. Added by 050_model_images. */
  image: string | null;
  created_at: string;
}

export interface ModelAliasesTable {
  model_id: string;
  alias: string;
  version: number;
  updated_at: string;
}

/** One encrypted secret per (project, name); see src/secrets for the format. */
export interface SecretsTable {
  project_id: string;
  name: string;
  /** base64 of the AES-256-GCM ciphertext followed by its 16-byte tag. */
  ciphertext: string;
  /** base64 of the random 96-bit nonce, unique per write. */
  nonce: string;
  /** Which key encrypted it (a short hash of the key, never the key). */
  key_id: string;
  created_at: string;
  updated_at: string;
}

export interface DeploymentsTable {
  id: string;
  project_id: string;
  name: string;
  /** Bumped on every spec change, rollout or rollback; status.observedGeneration catches up with it. */
  generation: number;
  /** The revision that serves (or should serve) traffic. */
  current_revision: number;
  latest_revision: number;
  /** JSON of DeploymentStatus, written by the reconciler. */
  status: string;
  created_at: string;
  updated_at: string;
}

export interface DeploymentRevisionsTable {
  deployment_id: string;
  revision: number;
  /** JSON of the DeploymentSpec as applied. */
  spec: string;
  /** JSON of the resolved targets: each reference pinned to a version number when the revision was made. */
  targets: string;
  created_at: string;
}

/** A batch scoring job (src/jobs); progress columns are rewritten while it runs. */
export interface JobsTable {
  id: string;
  project_id: string;
  model: string;
  /** The version pinned when the job was submitted (an alias is resolved then). */
  version: number;
  /** JSON of JobSpec: input, formats, batch size, kept columns, error policy. */
  spec: string;
  /** queued | running | succeeded | failed | cancelled */
  state: string;
  reason: string | null;
  /** 1 on the first run; bumped when a server restart makes the job start over. */
  attempt: number;
  rows_done: number;
  rejects: number;
  bytes_read: number;
  bytes_total: number | null;
  output_sha256: string | null;
  output_size: number | null;
  rejects_sha256: string | null;
  rejects_size: number | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
}

/** One audited call (src/audit); rows are only ever inserted, and `hash` chains each to the one before. */
export interface AuditLogTable {
  /** 1, 2, 3, ... without gaps. */
  seq: number;
  at: string;
  subject: string;
  user_name: string | null;
  token_name: string | null;
  method: string;
  /** The route pattern (`/projects/:project/deployments/:name`) or the inference path family. */
  route: string;
  project: string | null;
  object: string | null;
  status: number;
  error_code: string | null;
  /** JSON: before/after of a spec change, the name of a secret set; never a secret's value. */
  detail: string | null;
  prev_hash: string;
  hash: string;
}

/** A data repository (src/data). Added by 010_data_repos. */
export interface DataReposTable {
  id: string;
  project_id: string;
  name: string;
  description: string;
  default_branch: string;
  created_by: string;
  created_at: string;
}

/** An immutable commit; `id` is the sha256 of its canonical form (tree, parents, metadata). */
export interface DataCommitsTable {
  repo_id: string;
  id: string;
  /** JSON array of parent commit ids (empty for a repository's first commit). */
  parents: string;
  /** The tree blob (sorted path -> sha256, size) in the artifact store. */
  tree_sha256: string;
  file_count: number;
  total_size: number;
  /** The branch it was committed on. */
  branch: string;
  message: string;
  author: string;
  /** JSON of { added, changed, removed } counts against the first parent. */
  changes: string;
  created_at: string;
}

export interface DataBranchesTable {
  repo_id: string;
  name: string;
  /** null until the first commit. */
  head: string | null;
  created_at: string;
  updated_at: string;
}

export interface DataTagsTable {
  repo_id: string;
  name: string;
  commit_id: string;
  created_by: string;
  created_at: string;
}

/** The profile of a tabular blob: computed once per (content, format). */
export interface DataProfilesTable {
  sha256: string;
  /** csv | jsonl | parquet */
  format: string;
  /** pending | ready | failed */
  state: string;
  /** JSON of DataProfile when ready. */
  profile: string | null;
  /** Why it failed (with the line number for a malformed CSV). */
  error: string | null;
  created_at: string;
  updated_at: string;
}

/** Domain events (011_events): consumers keep their own cursor, the last id they handled. */
export interface EventsTable {
  id: number;
  type: string;
  subject: string;
  /** JSON. */
  payload: string;
  created_at: string;
}

/** When a writer last claimed a blob it is about to reference (012_blob_touches; src/gc). */
export interface BlobTouchesTable {
  sha256: string;
  touched_at: string;
}

/** A pipeline (040_pipelines; src/pipelines): the spec lives in its revisions. */
export interface PipelinesTable {
  id: string;
  project_id: string;
  name: string;
  latest_revision: number;
  /** Highest run number given; runs are numbered from it. */
  run_count: number;
  created_at: string;
  updated_at: string;
}

export interface PipelineRevisionsTable {
  pipeline_id: string;
  revision: number;
  /** JSON of the PipelineSpec as applied. */
  spec: string;
  /** The packed code folder (tar) in the artifact store, or null when applied without one. */
  code_sha256: string | null;
  code_size: number | null;
  /** The git commit of the folder when it was a repository (`git:<sha>`), else null. */
  code_ref: string | null;
  created_at: string;
}

export interface PipelineRunsTable {
  id: string;
  project_id: string;
  pipeline_id: string;
  number: number;
  revision: number;
  /** Pending | Running | Succeeded | Failed | Blocked | Cancelled | Skipped */
  state: string;
  reason: string | null;
  /** JSON of RunTrigger. */
  trigger: string;
  /** `event:<id>`, `schedule:<tick>`, `manual:<uuid>`: unique per pipeline, so a trigger starts one run. */
  trigger_key: string;
  /** JSON object of string -> string. */
  params: string;
  attempt: number;
  /** 1 once a cancel was asked; the server running it kills its steps. */
  cancel_requested: number;
  /** The server running it (its instance id), null when pending or done. */
  owner: string | null;
  heartbeat_at: string | null;
  /** JSON of the run's summary once it ended (gate result, deployed URL...). */
  summary: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
}

export interface PipelineStepsTable {
  run_id: string;
  name: string;
  /** Index in the spec's step list. */
  position: number;
  kind: string;
  state: string;
  reason: string | null;
  attempt: number;
  /** Times a server restart re-ran it. */
  restarts: number;
  exit_code: number | null;
  /** Unused (kept for a packed form of the outputs); each file is named in `outputs`. */
  outputs_sha256: string | null;
  outputs_size: number | null;
  /** JSON array of the output files: { path, sha256, size }, each file a blob in the artifact store. */
  outputs: string;
  /** JSON object of string -> number. */
  metrics: string;
  /** JSON of the kind's result (gate explanation, registered version, deployment URL...). */
  result: string | null;
  log_sha256: string | null;
  log_size: number | null;
  /** 1 when the log was cut at the cap. */
  log_cut: number;
  started_at: string | null;
  finished_at: string | null;
}

/** Where an event consumer is (040_pipelines): the last event id it handled. */
export interface EventCursorsTable {
  consumer: string;
  last_id: number;
  updated_at: string;
}

/** A person or program that signs in with tokens (src/auth). */
export interface UsersTable {
  id: string;
  name: string;
  /** 1 for the server-wide admin role. */
  server_admin: number;
  created_at: string;
}

export interface GroupsTable {
  id: string;
  name: string;
  created_at: string;
}

export interface GroupMembersTable {
  group_id: string;
  user_id: string;
}

/** A role on a project, granted to a user or a group. */
export interface ProjectMembersTable {
  project_id: string;
  member_kind: 'user' | 'group';
  member_id: string;
  /** viewer | editor | admin */
  role: string;
  /** 1 when an editor may also register code that runs on the server (js models). */
  code: number;
  created_at: string;
}

/** An API token: only the HMAC of its secret is stored (src/auth/token.ts). */
export interface ApiTokensTable {
  /** The token's public id (16 hex digits, part of the token text). */
  id: string;
  user_id: string;
  name: string;
  /** Hex HMAC-SHA256 of the secret under the server's token key. */
  hash: string;
  /** Both set for a token limited to inference on one deployment. */
  scope_project: string | null;
  scope_deployment: string | null;
  /** Requests per second (token bucket); null for no limit. */
  rate_limit: number | null;
  expires_at: string | null;
  created_at: string;
  last_used_at: string | null;
}

/** A web console session (src/auth/session-store.ts): the cookie holds `<id>_<secret>`; only the HMAC is stored. */
export interface ConsoleSessionsTable {
  /** Public id (16 hex digits). */
  id: string;
  user_id: string;
  /** Hex HMAC-SHA256 of the cookie's secret under the token key. */
  hash: string;
  /** How the session began: `oidc` or `token`. */
  via: string;
  created_at: string;
  expires_at: string;
}

export interface SchemaMigrationsTable {
  id: string;
  applied_at: string;
}

/** One Parquet file of logged inference records (src/sinks/store-sink.ts): a deployment's records of one hour. */
export interface PayloadFilesTable {
  id: string;
  /** Project name (payloads outlive a deleted deployment unless purged). */
  project: string;
  deployment: string;
  /** The partition: `YYYY-MM-DDTHH` (UTC). */
  hour: string;
  sha256: string;
  rows: number;
  bytes: number;
  first_time: string;
  last_time: string;
  created_at: string;
}

/** A delayed label for a logged request, with what the log said about it (src/payloads/feedback.ts). */
export interface PayloadFeedbackTable {
  project: string;
  deployment: string;
  request_id: string;
  label: string;
  prediction: string | null;
  arm: string;
  revision: number;
  /** When the request was answered, ms since the epoch (time windows bucket on it). */
  predicted_at: number;
  received_at: string;
}

export interface Database {
  projects: ProjectsTable;
  models: ModelsTable;
  model_versions: ModelVersionsTable;
  model_aliases: ModelAliasesTable;
  secrets: SecretsTable;
  deployments: DeploymentsTable;
  deployment_revisions: DeploymentRevisionsTable;
  jobs: JobsTable;
  audit_log: AuditLogTable;
  data_repos: DataReposTable;
  data_commits: DataCommitsTable;
  data_branches: DataBranchesTable;
  data_tags: DataTagsTable;
  data_profiles: DataProfilesTable;
  events: EventsTable;
  blob_touches: BlobTouchesTable;
  pipelines: PipelinesTable;
  pipeline_revisions: PipelineRevisionsTable;
  pipeline_runs: PipelineRunsTable;
  pipeline_steps: PipelineStepsTable;
  event_cursors: EventCursorsTable;
  users: UsersTable;
  groups: GroupsTable;
  group_members: GroupMembersTable;
  project_members: ProjectMembersTable;
  api_tokens: ApiTokensTable;
  console_sessions: ConsoleSessionsTable;
  payload_files: PayloadFilesTable;
  payload_feedback: PayloadFeedbackTable;
  schema_migrations: SchemaMigrationsTable;
}

export type { Generated };
