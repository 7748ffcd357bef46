/** Routes of batch scoring jobs: upload an input, submit, list, show, cancel, download the output and rejects. */
import { rm } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { ModelportError } from '../../core/index.ts';
import { tooLarge } from '../../http/index.ts';
import { JOB_STATES, JobCreateSchema, type JobService, type JobState } from '../../jobs/index.ts';
import type { ArtifactStore } from '../../store/index.ts';
import { spoolToFile } from '../../store/index.ts';
import { route } from '../route.ts';
import { Name, ProjectParams } from '../schemas.ts';

export interface JobRoutesDeps {
  jobs: JobService;
  artifacts: ArtifactStore;
  /** Where input uploads are spooled before they enter the artifact store. */
  uploadDir: string;
  maxUploadBytes: number;
}

const JobParams = z.strictObject({ project: Name, id: z.string().min(1).max(64) });
const Format = z.enum(['csv', 'jsonl']);
const Artifact = z.object({ sha256: z.string(), size: z.number().int() });

export const JobSchema = z.object({
  id: z.string(),
  project: z.string(),
  model: z.string(),
  version: z.number().int(),
  state: z.enum(JOB_STATES as [JobState, ...JobState[]]),
  reason: z.string().nullable(),
  attempt: z.number().int(),
  spec: z.object({
    input: z.union([z.object({ artifact: z.string() }), z.object({ url: z.string() })]),
    format: Format,
    outputFormat: Format,
    batchSize: z.number().int(),
    keep: z.array(z.string()),
    onError: z.enum(['fail', 'skip']),
    featureNames: z.array(z.string()).optional(),
    labels: z.array(z.string()).optional(),
  }),
  progress: z.object({
    rows: z.number().int(),
    rowsPerSecond: z.number(),
    bytesRead: z.number().int(),
    bytesTotal: z.number().int().nullable(),
    rejects: z.number().int(),
  }),
  output: Artifact.nullable(),
  rejects: Artifact.nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
});

export function jobRoutes({ jobs, artifacts, uploadDir, maxUploadBytes }: JobRoutesDeps) {
  /** Streams a job's output or rejects; the two download routes share it. */
  const download =
    (which: 'output' | 'rejects') =>
    async ({ params, res }: { params: z.output<typeof JobParams>; res: ServerResponse }) => {
      const { job, artifact, body } = await jobs.open(params.project, params.id, which);
      const format = which === 'rejects' ? 'csv' : job.spec.outputFormat;
      res.writeHead(200, {
        'content-type': format === 'csv' ? 'text/csv' : 'application/x-ndjson',
        'content-length': artifact.size,
        'content-disposition': `attachment; filename="job-${job.id}-${which}.${format}"`,
        'x-checksum-sha256': artifact.sha256,
      });
      for await (const chunk of body) {
        if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
      }
      res.end();
    };

  return [
    route({
      id: 'uploadJobInput',
      method: 'POST',
      path: '/projects/:project/jobs/inputs',
      permission: 'write',
      tag: 'jobs',
      summary:
        'Upload a job input (the body is the CSV or JSON-lines file); returns its sha256 for {"input": {"artifact": ...}}',
      params: ProjectParams,
      body: { stream: 'application/octet-stream' },
      status: 201,
      response: Artifact,
      handler: async ({ req, signal }) => {
        if (Number(req.headers['content-length']) > maxUploadBytes) throw tooLarge(maxUploadBytes);
        const spooled = await spoolToFile(req, { dir: uploadDir, maxBytes: maxUploadBytes, signal });
        try {
          if (spooled.size === 0) {
            throw new ModelportError('invalid_request', 'body: the input is empty; send the file as the request body', {
              field: 'body',
            });
          }
          return await artifacts.putFile(spooled.path, { signal });
        } finally {
          await rm(spooled.path, { force: true });
        }
      },
    }),
    route({
      id: 'submitJob',
      method: 'POST',
      path: '/projects/:project/jobs',
      permission: 'write',
      tag: 'jobs',
      summary: 'Submit a batch scoring job; it is queued and runs in a worker process',
      params: ProjectParams,
      body: JobCreateSchema,
      status: 201,
      response: JobSchema,
      handler: async ({ params, body }) => jobs.create(params.project, body),
    }),
    route({
      id: 'listJobs',
      method: 'GET',
      path: '/projects/:project/jobs',
      permission: 'read',
      tag: 'jobs',
      summary: 'List the jobs of a project, newest first',
      params: ProjectParams,
      query: z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).optional() }),
      response: z.object({ jobs: z.array(JobSchema) }),
      handler: async ({ params, query }) => ({ jobs: await jobs.list(params.project, query.limit) }),
    }),
    route({
      id: 'getJob',
      method: 'GET',
      path: '/projects/:project/jobs/:id',
      permission: 'read',
      tag: 'jobs',
      summary: 'Show a job: state, reason, and progress (rows, rows/s, bytes read of total, rejects)',
      params: JobParams,
      response: JobSchema,
      handler: async ({ params }) => jobs.get(params.project, params.id),
    }),
    route({
      id: 'cancelJob',
      method: 'POST',
      path: '/projects/:project/jobs/:id/cancel',
      permission: 'write',
      tag: 'jobs',
      summary: 'Cancel a queued or running job',
      params: JobParams,
      response: JobSchema,
      handler: async ({ params }) => jobs.cancel(params.project, params.id),
    }),
    route({
      id: 'downloadJobOutput',
      method: 'GET',
      path: '/projects/:project/jobs/:id/output',
      permission: 'read',
      tag: 'jobs',
      summary: "Download a succeeded job's output (CSV or JSON lines), verified against its sha256 while streaming",
      params: JobParams,
      response: 'stream',
      handler: download('output'),
    }),
    route({
      id: 'downloadJobRejects',
      method: 'GET',
      path: '/projects/:project/jobs/:id/rejects',
      permission: 'read',
      tag: 'jobs',
      summary: "Download a succeeded job's rejects (CSV: line,reason,record), when it ran with onError skip",
      params: JobParams,
      response: 'stream',
      handler: download('rejects'),
    }),
  ];
}
