/**
 * The job request: a zod schema that validates `POST /projects/:project/jobs` (and documents it in OpenAPI), and
 * `compileJobSpec`, which fills the defaults. Every option error names its field (`body.batchSize`).
 *
 * Example body: `{"model": "fraud@champion", "input": {"artifact": "<sha256>"}, "keep": ["id"], "onError": "skip"}`.
 */
import { extname } from 'node:path';
import { z } from 'zod';
import type { RowFormat } from '../scoring/index.ts';
import type { JobInput, JobSpec } from './job-types.ts';

const Format = z.enum(['csv', 'jsonl']);

export const JobInputSchema = z
  .strictObject({
    artifact: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'use the sha256 (64 lowercase hex digits) that POST .../jobs/inputs returned')
      .optional(),
    url: z
      .string()
      .max(2048)
      .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/[^?#]+$/, 'use an s3://bucket/key URL')
      .optional(),
  })
  .refine((input) => (input.artifact === undefined) !== (input.url === undefined), {
    message: 'give exactly one of artifact (a sha256 from POST .../jobs/inputs) or url (s3://bucket/key)',
  })
  .describe('The rows to score: an uploaded input artifact, or an S3 object');

export const JobCreateSchema = z.strictObject({
  model: z.string().min(1).max(128).describe('name@version, name@alias, or name for its latest version'),
  input: JobInputSchema,
  format: Format.optional().describe('Input format; default from the URL extension, else csv'),
  outputFormat: Format.optional().describe('Output format; default the input format'),
  batchSize: z.number().int().min(1).max(1_000_000).optional().describe('Rows per inference call; default 1024'),
  keep: z.array(z.string().min(1).max(256)).max(1000).optional().describe('Input columns copied to the output'),
  onError: z.enum(['fail', 'skip']).optional().describe('fail (default): stop at the first bad row; skip: reject it'),
  signature: z
    .strictObject({
      featureNames: z.array(z.string().min(1).max(256)).max(100_000).optional(),
      labels: z.array(z.string().min(1).max(256)).max(100_000).optional(),
    })
    .optional()
    .describe('Feature names and class labels, as examples/fraud/signature.json'),
});

export type JobCreateRequest = z.output<typeof JobCreateSchema>;

function formatOfUrl(url: string): RowFormat {
  return ['.jsonl', '.ndjson', '.json'].includes(extname(url).toLowerCase()) ? 'jsonl' : 'csv';
}

/** The spec a validated request runs with: defaults filled, `keep` de-duplicated. */
export function compileJobSpec(request: JobCreateRequest): JobSpec {
  const input: JobInput =
    request.input.artifact !== undefined ? { artifact: request.input.artifact } : { url: request.input.url as string };
  const format = request.format ?? ('url' in input ? formatOfUrl(input.url) : 'csv');
  return {
    input,
    format,
    outputFormat: request.outputFormat ?? format,
    batchSize: request.batchSize ?? 1024,
    keep: [...new Set(request.keep ?? [])],
    onError: request.onError ?? 'fail',
    ...(request.signature?.featureNames ? { featureNames: request.signature.featureNames } : {}),
    ...(request.signature?.labels ? { labels: request.signature.labels } : {}),
  };
}
