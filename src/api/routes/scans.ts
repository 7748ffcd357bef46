/**
 * Routes of use cases and scans: upload an evaluation dataset, apply, list, show and delete use cases; run a scan,
 * list and show scans, cancel one, read its results, its report (JSON or a self-contained HTML page) and compare
 * scans. A dataset in another project needs read there too, for applying, running and reading reports alike.
 */
import { rm } from 'node:fs/promises';
import { z } from 'zod';
import { can } from '../../auth/index.ts';
import { ModelportError } from '../../core/index.ts';
import { tooLarge } from '../../http/index.ts';
import type { ComparisonRow, ModelReport, ScanReport, ScanService } from '../../scans/index.ts';
import { compareReports, REPORT_SCHEMA, SCAN_KINDS, SCAN_STATES, UseCaseSpecSchema } from '../../scans/index.ts';
import type { ArtifactStore } from '../../store/index.ts';
import { spoolToFile } from '../../store/index.ts';
import { route } from '../route.ts';
import { Name, ProjectParams } from '../schemas.ts';

export interface ScanRoutesDeps {
  scans: ScanService;
  artifacts: ArtifactStore;
  uploadDir: string;
  maxUploadBytes: number;
  /** Renders a report (or a comparison of several) as one self-contained HTML page (src/reports). */
  renderHtml(reports: ScanReport[]): Promise<string>;
}

const UseCaseParams = z.strictObject({ project: Name, name: Name });
const ScanParams = z.strictObject({
  project: Name,
  scan: z.string().min(1).max(100).describe('A scan id (or a unique prefix of 8+ characters), or <usecase>#<number>'),
});
const State = z.enum(SCAN_STATES);
const Kind = z.enum(SCAN_KINDS);

const Progress = z.object({ phase: z.string(), done: z.number(), total: z.number() });
const ScanModelSchema = z.object({
  target: z.string(),
  via: z.enum(['in-process', 'hosted', 'deployment']),
  model: z.string(),
  version: z.number().int(),
  dataCommit: z.string().nullable(),
});
const DatasetSchema = z.object({
  repo: z.string().nullable(),
  commit: z.string().nullable(),
  path: z.string().nullable(),
  sha256: z.string(),
  rows: z.number().int(),
  columns: z.array(z.string()),
});
const SummarySchema = z.record(
  z.string(),
  z.object({
    trust: z.number().nullable(),
    performance: z.record(z.string(), z.number()),
    fairness: z.record(z.string(), z.object({ min: z.number(), max: z.number() })),
    robustness: z.record(z.string(), z.number()),
    explainability: z.record(z.string(), z.number()),
    drift: z.union([
      z.object({ share: z.number(), drifted: z.number(), features: z.number(), prediction_psi: z.number().nullable() }),
      z.object({}),
    ]),
  }),
);

export const ScanSchema = z.object({
  id: z.string(),
  project: z.string(),
  usecase: z.string(),
  number: z.number().int(),
  revision: z.number().int(),
  kinds: z.array(Kind),
  state: State,
  reason: z.string().nullable(),
  progress: Progress,
  dataset: DatasetSchema.nullable(),
  models: z.array(ScanModelSchema),
  summary: SummarySchema.nullable(),
  createdBy: z.string(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
});

export const UseCaseSchema = z.object({
  project: z.string(),
  name: z.string(),
  revision: z.number().int(),
  spec: UseCaseSpecSchema,
  scanConfig: z.object({ parallel: z.number().int(), cpu: z.string(), memory: z.string() }),
  scans: z.number().int(),
  lastScan: z.object({ id: z.string(), number: z.number().int(), state: State, createdAt: z.string() }).nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const ComparisonSchema = z.array(
  z.object({
    kind: z.string(),
    metric: z.string(),
    better: z.enum(['higher', 'lower']),
    values: z.record(z.string(), z.number().nullable()),
    winner: z.string().nullable(),
  }),
) as unknown as z.ZodType<ComparisonRow[]>;

/** The report (docs/scan-report.md); model sections are documented there rather than repeated here. */
export const ScanReportSchema = z.object({
  schema: z.literal(REPORT_SCHEMA),
  scan: z.object({
    id: z.string(),
    project: z.string(),
    usecase: z.string(),
    number: z.number().int(),
    revision: z.number().int(),
    kinds: z.array(Kind),
    createdAt: z.string(),
    finishedAt: z.string(),
    elapsedMs: z.number(),
  }),
  task: z.enum(['binary-classification', 'multiclass-classification', 'regression']),
  label: z.string(),
  favorable: z.string().nullable(),
  threshold: z.number(),
  dataset: DatasetSchema,
  models: z.array(
    ScanModelSchema.extend({
      trust: z.object({
        score: z.number().nullable(),
        parts: z.record(z.string(), z.number()),
        weights: z.record(z.string(), z.number()),
      }),
      errors: z.record(z.string(), z.string()),
    }).passthrough() as unknown as z.ZodType<ModelReport>,
  ),
  comparison: ComparisonSchema,
  summary: SummarySchema,
});

const ResultSchema = z.object({
  target: z.string(),
  model: z.string().nullable(),
  version: z.number().int().nullable(),
  dataCommit: z.string().nullable(),
  kind: z.string(),
  metric: z.string(),
  value: z.number().nullable(),
  lo: z.number().nullable(),
  hi: z.number().nullable(),
});

export function scanRoutes({ scans, artifacts, uploadDir, maxUploadBytes, renderHtml }: ScanRoutesDeps) {
  /** The report of a scan, after checking the caller may read its dataset's project. */
  const readableReport = async (project: string, id: string, canRead: (p: string) => boolean) => {
    const report = await scans.report(project, id);
    const repo = report.dataset.repo;
    const other = repo?.includes('/') ? repo.split('/')[0]! : project;
    if (!canRead(other)) {
      throw new ModelportError('forbidden', `scan: its dataset is in project '${other}', which you may not read`, {
        field: 'scan',
      });
    }
    return report;
  };
  const sendHtml = (res: import('node:http').ServerResponse, html: string, name: string) => {
    const body = Buffer.from(html);
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': body.length,
      'content-disposition': `inline; filename="${name}.html"`,
      // The page is self-contained: nothing may load from anywhere, scripts included.
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    });
    res.end(body);
  };
  return [
    route({
      id: 'uploadScanDataset',
      method: 'POST',
      path: '/projects/:project/usecases/datasets',
      permission: 'write',
      tag: 'scans',
      summary:
        'Upload an evaluation dataset (a CSV with a header); returns its sha256 for dataset: { upload: <sha256> }',
      params: ProjectParams,
      body: { stream: 'application/octet-stream' },
      status: 201,
      response: z.object({ sha256: z.string(), size: z.number().int() }),
      handler: async ({ req, signal }) => {
        if (Number(req.headers['content-length']) > maxUploadBytes) throw tooLarge(maxUploadBytes);
        const spooled = await spoolToFile(req, { dir: uploadDir, maxBytes: maxUploadBytes, signal });
        try {
          if (spooled.size === 0) {
            throw new ModelportError(
              'invalid_request',
              'body: the dataset is empty; send the CSV as the request body',
              {
                field: 'body',
              },
            );
          }
          return await artifacts.putFile(spooled.path, { signal });
        } finally {
          await rm(spooled.path, { force: true });
        }
      },
    }),
    route({
      id: 'applyUseCase',
      method: 'PUT',
      path: '/projects/:project/usecases',
      permission: 'write',
      tag: 'scans',
      summary:
        'Create or update a use case; checked against its dataset and models first (a new revision only when it changed)',
      params: ProjectParams,
      body: UseCaseSpecSchema,
      response: UseCaseSchema.extend({ changed: z.boolean() }),
      handler: async ({ params, body, principal }) =>
        scans.apply(params.project, body, principal.subject, (p) => can(principal, 'read', p)),
    }),
    route({
      id: 'listUseCases',
      method: 'GET',
      path: '/projects/:project/usecases',
      permission: 'read',
      tag: 'scans',
      summary: 'List use cases',
      params: ProjectParams,
      response: z.object({ usecases: z.array(UseCaseSchema) }),
      handler: async ({ params }) => ({ usecases: await scans.list(params.project) }),
    }),
    route({
      id: 'getUseCase',
      method: 'GET',
      path: '/projects/:project/usecases/:name',
      permission: 'read',
      tag: 'scans',
      summary: 'Show a use case: its spec, scan config and last scan',
      params: UseCaseParams,
      response: UseCaseSchema,
      handler: async ({ params }) => scans.get(params.project, params.name),
    }),
    route({
      id: 'deleteUseCase',
      method: 'DELETE',
      path: '/projects/:project/usecases/:name',
      permission: 'write',
      tag: 'scans',
      summary: 'Delete a use case and its scans (refused while a scan of it is queued or running)',
      params: UseCaseParams,
      response: 'empty',
      handler: async ({ params }) => {
        await scans.delete(params.project, params.name);
      },
    }),
    route({
      id: 'runScan',
      method: 'POST',
      path: '/projects/:project/usecases/:name/scans',
      permission: 'write',
      tag: 'scans',
      summary: "Queue a scan of the use case's latest revision (every kind it lists, or `kinds`)",
      params: UseCaseParams,
      body: z.strictObject({ kinds: z.array(z.string().max(40)).max(8).optional() }),
      status: 202,
      response: ScanSchema,
      handler: async ({ params, body, principal }) =>
        scans.run(params.project, params.name, {
          kinds: body.kinds,
          by: principal.subject,
          canRead: (p) => can(principal, 'read', p),
        }),
    }),
    route({
      id: 'listScans',
      method: 'GET',
      path: '/projects/:project/scans',
      permission: 'read',
      tag: 'scans',
      summary: 'List scans, newest first (of one use case with ?usecase=)',
      params: ProjectParams,
      query: z.strictObject({
        usecase: Name.optional(),
        limit: z.coerce.number().int().min(1).max(500).default(50),
      }),
      response: z.object({ scans: z.array(ScanSchema) }),
      handler: async ({ params, query }) => ({
        scans: await scans.listScans(params.project, { usecase: query.usecase, limit: query.limit }),
      }),
    }),
    route({
      id: 'getScan',
      method: 'GET',
      path: '/projects/:project/scans/:scan',
      permission: 'read',
      tag: 'scans',
      summary: 'Show a scan: state, progress, dataset commit, model versions and summary',
      params: ScanParams,
      query: z.strictObject({
        wait: z.coerce.number().int().min(0).max(600).default(0).describe('Seconds to wait for the scan to finish'),
      }),
      response: ScanSchema,
      handler: async ({ params, query, signal }) =>
        query.wait > 0
          ? scans.wait(params.project, params.scan, query.wait * 1000, signal)
          : scans.getScan(params.project, params.scan),
    }),
    route({
      id: 'cancelScan',
      method: 'POST',
      path: '/projects/:project/scans/:scan/cancel',
      permission: 'write',
      tag: 'scans',
      summary: 'Cancel a queued or running scan',
      params: ScanParams,
      response: ScanSchema,
      handler: async ({ params }) => scans.cancel(params.project, params.scan),
    }),
    route({
      id: 'getScanResults',
      method: 'GET',
      path: '/projects/:project/scans/:scan/results',
      permission: 'read',
      tag: 'scans',
      summary: "A scan's stored results: one row per model and metric, with the model version and dataset commit",
      params: ScanParams,
      response: z.object({ results: z.array(ResultSchema) }),
      handler: async ({ params }) => ({ results: await scans.results(params.project, params.scan) }),
    }),
    route({
      id: 'getScanReport',
      method: 'GET',
      path: '/projects/:project/scans/:scan/report',
      permission: 'read',
      tag: 'scans',
      summary: "A succeeded scan's report as JSON (docs/scan-report.md): numbers, curves and groups, never a data row",
      params: ScanParams,
      response: ScanReportSchema,
      handler: async ({ params, principal }) =>
        readableReport(params.project, params.scan, (p) => can(principal, 'read', p)),
    }),
    route({
      id: 'getScanReportHtml',
      method: 'GET',
      path: '/projects/:project/scans/:scan/report.html',
      permission: 'read',
      tag: 'scans',
      summary:
        "A succeeded scan's report as one self-contained HTML page with SVG charts (no script, font or CSS fetched); with ?compare=, side by side with other scans",
      params: ScanParams,
      query: z.strictObject({
        compare: z.string().max(2000).optional().describe('More scans to compare with, comma-separated (up to 7)'),
      }),
      response: 'stream',
      handler: async ({ params, query, principal, res }) => {
        const ids = [
          params.scan,
          ...(query.compare ?? '')
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        ];
        if (ids.length > 8) {
          throw new ModelportError('invalid_request', 'compare: name at most 7 more scans', { field: 'compare' });
        }
        const reports = await Promise.all(
          ids.map((id) => readableReport(params.project, id, (p) => can(principal, 'read', p))),
        );
        const name = `scan-${reports.map((r) => `${r.scan.usecase}-${r.scan.number}`).join('-vs-')}`;
        sendHtml(res, await renderHtml(reports), name);
      },
    }),
    route({
      id: 'compareScans',
      method: 'GET',
      path: '/projects/:project/scans-compare',
      permission: 'read',
      tag: 'scans',
      summary: 'Compare the models of two or more scans side by side: per metric, the values and which model wins',
      params: ProjectParams,
      query: z.strictObject({
        scans: z.string().min(1).max(2000).describe('Scan ids or <usecase>#<number>, comma-separated (2 to 8)'),
      }),
      response: z.object({
        scans: z.array(z.object({ id: z.string(), usecase: z.string(), number: z.number().int() })),
        models: z.array(z.object({ label: z.string(), scan: z.string(), target: z.string() })),
        comparison: ComparisonSchema,
      }),
      handler: async ({ params, query, principal }) => {
        const ids = query.scans
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        if (ids.length < 2 || ids.length > 8) {
          throw new ModelportError('invalid_request', 'scans: name 2 to 8 scans, comma-separated', { field: 'scans' });
        }
        const reports = await Promise.all(
          ids.map((id) => readableReport(params.project, id, (p) => can(principal, 'read', p))),
        );
        return compareReports(reports);
      },
    }),
  ];
}
