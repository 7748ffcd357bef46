/** Routes of the audit log (server admins): list rows, and verify the hash chain. */
import { z } from 'zod';
import type { AuditLog } from '../../audit/index.ts';
import { ModelportError, parseDuration } from '../../core/index.ts';
import { route } from '../route.ts';
import { Name } from '../schemas.ts';

const AuditRecordSchema = z.object({
  seq: z.number().int(),
  at: z.string(),
  subject: z.string(),
  user: z.string().nullable(),
  token: z.string().nullable(),
  method: z.string(),
  route: z.string(),
  project: z.string().nullable(),
  object: z.string().nullable(),
  status: z.number().int(),
  errorCode: z.string().nullable(),
  detail: z.record(z.string(), z.unknown()).nullable(),
  hash: z.string(),
});

/** `1h`, `30m` (that long ago) or an ISO time, to an ISO time. */
export function sinceTime(value: string, now: Date): string {
  const ms = parseDuration(value);
  if (ms !== undefined) return new Date(now.getTime() - ms).toISOString();
  const at = Date.parse(value);
  if (!/^\d{4}-\d\d-\d\d/.test(value) || Number.isNaN(at)) {
    throw new ModelportError(
      'invalid_request',
      `query.since: '${value}' is neither a duration (1h, 30m) nor a time (2026-01-31T12:00:00Z)`,
      { field: 'query.since' },
    );
  }
  return new Date(at).toISOString();
}

export function auditRoutes({ audit, now = () => new Date() }: { audit: AuditLog; now?: () => Date }) {
  return [
    route({
      id: 'listAudit',
      method: 'GET',
      path: '/audit',
      permission: 'admin',
      tag: 'audit',
      summary: 'List audit rows, newest first: every mutating call and every denied call (never a secret value)',
      query: z.strictObject({
        project: Name.optional(),
        since: z.string().max(64).optional().describe('A duration back from now (1h, 30m) or an ISO time'),
        limit: z.coerce.number().int().min(1).max(1000).default(100),
      }),
      response: z.object({ records: z.array(AuditRecordSchema) }),
      handler: async ({ query }) => ({
        records: await audit.list({
          project: query.project,
          since: query.since === undefined ? undefined : sinceTime(query.since, now()),
          limit: query.limit,
        }),
      }),
    }),
    route({
      id: 'verifyAudit',
      method: 'GET',
      path: '/audit/verify',
      permission: 'admin',
      tag: 'audit',
      summary:
        'Check the hash chain: ok, the number of rows, the head (keep it to detect removals at the end), and the first bad row',
      response: z.object({
        ok: z.boolean(),
        count: z.number().int(),
        head: z.object({ seq: z.number().int(), hash: z.string() }).nullable(),
        firstBad: z.object({ seq: z.number().int(), reason: z.string() }).optional(),
      }),
      handler: async () => audit.verify(),
    }),
  ];
}
