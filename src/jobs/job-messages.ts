/**
 * The messages between `runJobProcess` (the server) and `job-worker.ts` (the child that scores). One task goes in;
 * progress messages, then one `done` or `failed`, come out.
 */
import type { ErrorCode } from '../core/index.ts';
import type { RowFormat } from '../scoring/index.ts';

export interface JobTask {
  /** The verified model file. */
  modelPath: string;
  inputPath: string;
  inputFormat: RowFormat;
  /** Written under a temporary name and renamed here when the run succeeds. */
  outputPath: string;
  outputFormat: RowFormat;
  /** With onError skip: the rejects CSV (line,reason,record). */
  rejectsPath: string | undefined;
  batchSize: number;
  keep: string[];
  onError: 'fail' | 'skip';
  featureNames?: readonly string[];
  labels?: readonly string[];
}

export interface JobCounts {
  rows: number;
  bytes: number;
  rejects: number;
}

export type JobWorkerMessage =
  | ({ type: 'progress' } & JobCounts)
  | ({ type: 'done' } & JobCounts)
  /** `message` may reach clients; `detail` is for the server log only. */
  | { type: 'failed'; code: ErrorCode; message: string; detail?: string };
