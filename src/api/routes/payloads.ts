/**
 * Routes of the payload log: a deployment's logged calls (filtered, newest first), one call by its request id,
 * delayed labels (JSON or CSV) and the live accuracy they give per traffic arm. Payloads may hold personal data:
 * reading them needs `read` on the project, sending labels `write`.
 */
import { z } from 'zod';
import { ModelportError, parseDuration } from '../../core/index.ts';
import type { DeploymentService } from '../../deployments/index.ts';
import { readBody } from '../../http/index.ts';
import { type FeedbackService, type PayloadLog, parseFeedbackCsv } from '../../payloads/index.ts';
import { route } from '../route.ts';
import { Name } from '../schemas.ts';

const DeploymentParams = z.strictObject({ project: Name, name: Name });

const TensorSchema = z.object({
  name: z.string(),
  datatype: z.string(),
  shape: z.array(z.number()),
  data: z.array(z.unknown()).nullable(),
  redacted: z.union([z.literal(true), z.array(z.string())]).optional(),
});

export const PayloadRecordSchema = z.object({
  requestId: z.string(),
  time: z.string(),
  project: z.string(),
  deployment: z.string(),
  revision: z.number().int(),
  arm: z.string().describe('primary, a canary tag, or shadow'),
  model: z.string(),
  modelVersion: z.number().int(),
  protocol: z.string(),
  status: z.string().describe('ok, or the error code'),
  error: z.string().nullable(),
  caller: z.string().nullable().describe("the token's name when auth is on"),
  queueMs: z.number(),
  computeMs: z.number(),
  totalMs: z.number(),
  inputs: z.array(TensorSchema).nullable(),
  outputs: z.array(TensorSchema).nullable(),
  prediction: z.string().nullable(),
});

const MetricsSchema = z.object({
  n: z.number().int(),
  correct: z.number().int(),
  accuracy: z.number().nullable(),
  precision: z.number().nullable(),
  recall: z.number().nullable(),
});

const FeedbackBodySchema = z.union([
  z.strictObject({ requestId: z.string(), label: z.union([z.string(), z.number(), z.boolean()]) }),
  z.strictObject({
    labels: z.array(z.strictObject({ requestId: z.string(), label: z.union([z.string(), z.number(), z.boolean()]) })),
  }),
]);

/** `1h`, `30m`, `7d`, or an ISO time: a point in the past, in ms since the epoch. */
function pointInTime(value: string | undefined, field: string, now: number): number | undefined {
  if (value === undefined || value === '') return undefined;
  const ago = parseDuration(value);
  if (ago !== undefined) return now - ago;
  const at = Date.parse(value);
  if (Number.isNaN(at)) {
    throw new ModelportError(
      'invalid_request',
      `${field}: '${value}' is neither a duration (1h, 30m, 7d) nor an ISO time`,
      {
        field,
      },
    );
  }
  return at;
}

export interface PayloadRoutesDeps {
  payloads: PayloadLog;
  feedback: FeedbackService;
  deployments: DeploymentService;
}

const MAX_FEEDBACK_BYTES = 32 * 1024 * 1024;

export function payloadRoutes({ payloads, feedback, deployments }: PayloadRoutesDeps) {
  return [
    route({
      id: 'listPayloads',
      method: 'GET',
      path: '/projects/:project/deployments/:name/payloads',
      permission: 'read',
      tag: 'payloads',
      summary:
        "A deployment's logged calls, newest first: since/until (1h, 7d or an ISO time), a where filter (prediction = 'fraud' AND total_ms > 5), limit (at most 1000) and offset",
      params: DeploymentParams,
      query: z.strictObject({
        since: z.string().optional(),
        until: z.string().optional(),
        where: z.string().max(2000).optional(),
        limit: z.coerce.number().int().min(1).max(1000).default(100),
        offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
      }),
      response: z.object({ records: z.array(PayloadRecordSchema), elapsedMs: z.number() }),
      handler: async ({ params, query }) => {
        const started = performance.now();
        const now = Date.now();
        const since = pointInTime(query.since, 'since', now);
        const until = pointInTime(query.until, 'until', now);
        const records = await payloads.query({
          project: params.project,
          deployment: params.name,
          ...(since !== undefined ? { since } : {}),
          ...(until !== undefined ? { until } : {}),
          ...(query.where !== undefined ? { where: query.where } : {}),
          limit: query.limit,
          offset: query.offset,
        });
        return { records, elapsedMs: Math.round(performance.now() - started) };
      },
    }),
    route({
      id: 'getPayload',
      method: 'GET',
      path: '/projects/:project/payloads/:requestId',
      permission: 'read',
      tag: 'payloads',
      summary: 'Every logged record of one request id (the answer, and a shadow’s when it was mirrored)',
      params: z.strictObject({ project: Name, requestId: z.string().min(1).max(256) }),
      query: z.strictObject({ deployment: Name.optional() }),
      response: z.object({ records: z.array(PayloadRecordSchema) }),
      handler: async ({ params, query }) => {
        const records = await payloads.get(params.project, params.requestId, query.deployment);
        if (records.length === 0) {
          throw new ModelportError(
            'not_found',
            `no logged call has the request id '${params.requestId}' in project '${params.project}' (not logged, sampled out, or purged)`,
            { field: 'requestId' },
          );
        }
        return { records };
      },
    }),
    route({
      id: 'sendFeedback',
      method: 'POST',
      path: '/projects/:project/deployments/:name/feedback',
      permission: 'write',
      tag: 'payloads',
      summary:
        'Delayed labels for logged calls: JSON {"requestId", "label"} or {"labels": [...]}, or text/csv with request_id and label columns. Unknown request ids are counted and listed, not refused',
      params: DeploymentParams,
      body: { stream: 'application/json', schema: FeedbackBodySchema },
      response: z.object({
        received: z.number().int(),
        accepted: z.number().int(),
        unknown: z.number().int(),
        unknownIds: z.array(z.string()),
      }),
      handler: async ({ params, req }) => {
        await deployments.get(params.project, params.name); // 404 for a deployment that does not exist
        const body = (await readBody(req, MAX_FEEDBACK_BYTES)).toString('utf8');
        const type = String(req.headers['content-type'] ?? '').toLowerCase();
        let labels: { requestId: string; label: string }[];
        if (type.startsWith('text/csv')) labels = parseFeedbackCsv(body);
        else {
          let json: unknown;
          try {
            json = JSON.parse(body);
          } catch {
            throw new ModelportError('invalid_request', 'body: not JSON; send {"requestId", "label"} or text/csv', {
              field: 'body',
            });
          }
          const parsed = FeedbackBodySchema.safeParse(json);
          if (!parsed.success) {
            const issue = parsed.error.issues[0]!;
            const field = ['body', ...issue.path.map(String)].join('.');
            throw new ModelportError(
              'invalid_request',
              `${field}: ${issue.message}; send {"requestId": "...", "label": "..."} or {"labels": [...]}`,
              { field },
            );
          }
          const list = 'labels' in parsed.data ? parsed.data.labels : [parsed.data];
          labels = list.map((l) => ({ requestId: l.requestId, label: String(l.label) }));
        }
        return feedback.add(params.project, params.name, labels);
      },
    }),
    route({
      id: 'deploymentAccuracy',
      method: 'GET',
      path: '/projects/:project/deployments/:name/accuracy',
      permission: 'read',
      tag: 'payloads',
      summary:
        'Live accuracy, precision and recall per traffic arm from delayed labels, in total and per time window (window 1h, since 24h; positive: the class precision and recall are about, else macro-averaged)',
      params: DeploymentParams,
      query: z.strictObject({
        window: z.string().default('1h'),
        since: z.string().default('24h'),
        positive: z.string().max(256).optional(),
      }),
      response: z.object({
        windowSeconds: z.number(),
        since: z.string(),
        positive: z.string().nullable(),
        arms: z.array(
          z.object({
            arm: z.string(),
            total: MetricsSchema,
            points: z.array(MetricsSchema.extend({ time: z.string() })),
          }),
        ),
      }),
      handler: async ({ params, query }) => {
        await deployments.get(params.project, params.name);
        const windowMs = parseDuration(query.window);
        if (windowMs === undefined || windowMs < 60_000 || windowMs > 31 * 86_400_000) {
          throw new ModelportError('invalid_request', `window: '${query.window}' is not a duration from 1m to 31d`, {
            field: 'window',
          });
        }
        const sinceMs = pointInTime(query.since, 'since', Date.now()) ?? 0;
        return feedback.accuracy(params.project, params.name, { windowMs, sinceMs, positive: query.positive });
      },
    }),
  ];
}
