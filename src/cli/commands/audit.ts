/** `modelport audit ...`: the server's audit log (server admins): list rows, verify the hash chain. */
import type { Command } from '../command.ts';
import { UsageError } from '../command.ts';
import { json, listing } from '../output.ts';

export const auditCommands: Command[] = [
  {
    words: ['audit', 'list'],
    usage: 'audit list [--project P] [--since 1h] [--limit N]',
    summary: 'List audit rows, newest first: who did what, when, and the outcome (every change and every denial)',
    args: [0, 0],
    options: {
      since: { type: 'string', description: 'Only rows from this long ago (1h, 30m, 7d) or since an ISO time' },
      limit: { type: 'string', description: 'At most this many rows (default 100, at most 1000)' },
    },
    async run({ options, io, format, client }) {
      const limit = options['limit'] === undefined ? undefined : Number(options['limit']);
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 1000)) {
        throw new UsageError(`--limit takes a whole number from 1 to 1000, not '${options['limit']}'`);
      }
      // Only an explicit --project filters (MODELPORT_PROJECT picks the project of other commands, not this one).
      const records = await client().listAudit({
        project: options['project'] as string | undefined,
        since: options['since'] as string | undefined,
        ...(limit ? { limit } : {}),
      });
      io.out(
        listing(
          format,
          records,
          [
            ['seq', (r) => r.seq],
            ['at', (r) => r.at],
            ['who', (r) => r.subject],
            ['token', (r) => r.token],
            ['method', (r) => r.method],
            ['route', (r) => r.route],
            ['project', (r) => r.project],
            ['object', (r) => r.object],
            ['outcome', (r) => (r.errorCode ? `${r.status} ${r.errorCode}` : r.status)],
          ],
          { empty: 'no audit rows match\n' },
        ),
      );
      return 0;
    },
  },
  {
    words: ['audit', 'verify'],
    usage: 'audit verify',
    summary: 'Check the audit log hash chain; exits 1 naming the first row that was edited or deleted',
    args: [0, 0],
    async run({ io, format, client }) {
      const result = await client().verifyAudit();
      if (format === 'json') io.out(json(result));
      else if (result.ok) {
        io.out(
          result.head
            ? `audit log intact: ${result.count} rows; head ${result.head.seq} ${result.head.hash} (keep it to detect rows removed from the end)\n`
            : 'audit log intact: no rows yet\n',
        );
      } else io.err(`modelport: audit log broken at row ${result.firstBad?.seq}: ${result.firstBad?.reason}\n`);
      return result.ok ? 0 : 1;
    },
  },
];
