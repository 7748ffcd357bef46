/**
 * Batch scoring jobs: `modelport score` run by the server on an uploaded input (or an S3 object), in a child
 * process, with bounded concurrency, durable across restarts. `JobService` is the service; the API routes live in
 * src/api/routes/jobs.ts.
 */

export { JobService, type JobServiceOptions } from './job-service.ts';
export { compileJobSpec, type JobCreateRequest, JobCreateSchema } from './job-spec.ts';
export type { Job, JobArtifact, JobInput, JobProgress, JobSpec, JobState } from './job-types.ts';
export { JOB_STATES } from './job-types.ts';
export { type JobInputSource, S3InputSource, s3Connection } from './s3-input.ts';
