/**
 * The objects of batch scoring jobs as the API returns them, and the spec a job runs with. See job-spec.ts for how a
 * request becomes a spec, job-service.ts for the lifecycle.
 */
import type { RowFormat } from '../scoring/index.ts';

/** queued -> running -> succeeded | failed | cancelled; a server restart sends a running job back to queued. */
export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export const JOB_STATES: readonly JobState[] = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];

/** Where a job reads its rows: an artifact uploaded with `POST .../jobs/inputs`, or an object in S3. */
export type JobInput = { artifact: string } | { url: string };

/** What a job runs, fixed at submission. */
export interface JobSpec {
  input: JobInput;
  format: RowFormat;
  outputFormat: RowFormat;
  batchSize: number;
  keep: string[];
  onError: 'fail' | 'skip';
  /** Feature names and class labels added to the registry's signature (as `modelport score --signature`). */
  featureNames?: string[];
  labels?: string[];
}

/** A stored blob of a job (its output or its rejects), downloadable through the API. */
export interface JobArtifact {
  sha256: string;
  size: number;
}

export interface JobProgress {
  /** Rows scored so far (in this attempt). */
  rows: number;
  /** Rows per second over the attempt so far (or over the whole run once finished). */
  rowsPerSecond: number;
  bytesRead: number;
  /** The input's size, when known. */
  bytesTotal: number | null;
  /** Bad rows set aside (onError skip). */
  rejects: number;
}

export interface Job {
  id: string;
  project: string;
  model: string;
  /** The version pinned at submission (an alias is resolved then). */
  version: number;
  state: JobState;
  /** Why it failed or was cancelled, or a note that a server restart made it start over. */
  reason: string | null;
  /** 1 for the first run, 2 after one restart, and so on. */
  attempt: number;
  spec: JobSpec;
  progress: JobProgress;
  output: JobArtifact | null;
  rejects: JobArtifact | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}
