/** `modelport payloads ...`: a deployment's logged calls, one call by its id, delayed labels and live accuracy. */
import { readFile } from 'node:fs/promises';
import { type Command, defineCommand, UsageError } from '../command.ts';
import { details, json, table } from '../output.ts';

type Tensor = { name: string; datatype: string; shape: number[]; data: unknown[] | null; redacted?: true | string[] };

const values = (tensors: Tensor[] | null, width = 60) =>
  tensors === null
    ? '-'
    : tensors
        .map((t) => `${t.name}=${t.data === null ? '[redacted]' : JSON.stringify(t.data)}`)
        .join(' ')
        .slice(0, width);

const percent = (v: number | null) => (v === null ? '-' : `${(v * 100).toFixed(1)}%`);

export const payloadCommands: Command[] = [
  defineCommand({
    words: ['payloads', 'list'],
    usage: `payloads list <deployment> [--since 1h] [--until 10m] [--where "prediction = 'fraud'"] [--limit N] [--offset N]`,
    summary: "A deployment's logged calls, newest first",
    args: [1, 1],
    options: {
      since: { type: 'string', description: 'Only calls since: a duration ago (1h, 7d) or an ISO time' },
      until: { type: 'string', description: 'Only calls before: a duration ago or an ISO time' },
      where: {
        type: 'string',
        description:
          'Filter on request_id, time, revision, arm, model, model_version, protocol, status, error, caller, queue_ms, compute_ms, total_ms, prediction: =, !=, <, >, LIKE, IN, IS NULL, AND, OR, NOT',
      },
      limit: { type: 'string', description: 'At most this many (default 100, at most 1000)' },
      offset: { type: 'string', description: 'Skip this many (the next page)' },
    },
    async run({ args, options, io, format, client }) {
      const number = (name: 'limit' | 'offset') => {
        const value = options[name];
        if (value === undefined) return undefined;
        const n = Number(value);
        if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name}: '${String(value)}' is not a whole number`);
        return n;
      };
      const limit = number('limit');
      const offset = number('offset');
      const answer = await client().listPayloads(args[0]!, {
        ...(options['since'] !== undefined ? { since: String(options['since']) } : {}),
        ...(options['until'] !== undefined ? { until: String(options['until']) } : {}),
        ...(options['where'] !== undefined ? { where: String(options['where']) } : {}),
        ...(limit !== undefined ? { limit } : {}),
        ...(offset !== undefined ? { offset } : {}),
      });
      if (format === 'json') {
        io.out(json(answer));
        return 0;
      }
      io.out(
        table(
          ['TIME', 'REQUEST ID', 'ARM', 'MODEL', 'PROTOCOL', 'STATUS', 'PREDICTION', 'MS', 'CALLER', 'INPUTS'],
          answer.records.map((r) => [
            r.time,
            r.requestId,
            r.arm,
            `${r.model}@${r.modelVersion}`,
            r.protocol,
            r.status,
            r.prediction,
            r.totalMs.toFixed(1),
            r.caller,
            values(r.inputs, 40),
          ]),
        ),
      );
      io.err(`${answer.records.length} record(s) in ${answer.elapsedMs} ms\n`);
      return 0;
    },
  }),
  defineCommand({
    words: ['payloads', 'get'],
    usage: 'payloads get <request-id> [--deployment NAME]',
    summary: 'Every logged record of one request id (and its shadow)',
    args: [1, 1],
    options: { deployment: { type: 'string', description: 'Look in this deployment only' } },
    async run({ args, options, io, format, client }) {
      const deployment = options['deployment'] === undefined ? undefined : String(options['deployment']);
      const records = await client().getPayload(args[0]!, deployment);
      if (format === 'json') {
        io.out(json({ records }));
        return 0;
      }
      io.out(
        records
          .map((r) =>
            details([
              ['request id', r.requestId],
              ['time', r.time],
              ['deployment', `${r.deployment} (revision ${r.revision}, arm ${r.arm})`],
              ['model', `${r.model}@${r.modelVersion}`],
              ['protocol', r.protocol],
              ['status', r.error ? `${r.status}: ${r.error}` : r.status],
              ['caller', r.caller],
              ['latency', `queue ${r.queueMs} ms, compute ${r.computeMs} ms, total ${r.totalMs} ms`],
              ['prediction', r.prediction],
              ['inputs', values(r.inputs, 2000)],
              ['outputs', values(r.outputs, 2000)],
            ]),
          )
          .join('\n'),
      );
      return 0;
    },
  }),
  defineCommand({
    words: ['payloads', 'feedback'],
    usage: 'payloads feedback <deployment> (-f labels.csv | --request-id ID --label LABEL)',
    summary: 'Send delayed labels (CSV with request_id and label columns), joined to the log for live accuracy',
    args: [1, 1],
    options: {
      file: { type: 'string', short: 'f', description: 'A CSV file with request_id and label columns' },
      'request-id': { type: 'string', description: 'One request id' },
      label: { type: 'string', description: 'Its true label' },
    },
    async run({ args, options, io, format, client }) {
      const file = options['file'];
      let answer: Awaited<ReturnType<ReturnType<typeof client>['sendFeedbackCsv']>>;
      if (file !== undefined) answer = await client().sendFeedbackCsv(args[0]!, await readFile(String(file), 'utf8'));
      else if (options['request-id'] !== undefined && options['label'] !== undefined) {
        answer = await client().sendFeedback(args[0]!, {
          requestId: String(options['request-id']),
          label: String(options['label']),
        });
      } else throw new UsageError('give -f labels.csv, or --request-id and --label');
      if (format === 'json') io.out(json(answer));
      else {
        io.out(`${answer.accepted} of ${answer.received} label(s) joined to logged calls\n`);
        if (answer.unknown > 0) {
          io.out(
            `${answer.unknown} label(s) name a request id the log does not hold (not logged, sampled out or purged): ${answer.unknownIds.slice(0, 10).join(', ')}${answer.unknown > 10 ? ', ...' : ''}\n`,
          );
        }
      }
      return 0;
    },
  }),
  defineCommand({
    words: ['payloads', 'accuracy'],
    usage: 'payloads accuracy <deployment> [--window 1h] [--since 24h] [--positive fraud]',
    summary: 'Live accuracy, precision and recall per traffic arm, from the labels sent',
    args: [1, 1],
    options: {
      window: { type: 'string', description: 'Time window per point (default 1h)' },
      since: { type: 'string', description: 'Predictions since (default 24h)' },
      positive: { type: 'string', description: 'The class precision and recall are about (default: macro average)' },
    },
    async run({ args, options, io, format, client }) {
      const report = await client().deploymentAccuracy(args[0]!, {
        ...(options['window'] !== undefined ? { window: String(options['window']) } : {}),
        ...(options['since'] !== undefined ? { since: String(options['since']) } : {}),
        ...(options['positive'] !== undefined ? { positive: String(options['positive']) } : {}),
      });
      if (format === 'json') {
        io.out(json(report));
        return 0;
      }
      const rows = report.arms.flatMap((a) => [
        [a.arm, 'total', a.total.n, percent(a.total.accuracy), percent(a.total.precision), percent(a.total.recall)],
        ...a.points.map((p) => ['', p.time, p.n, percent(p.accuracy), percent(p.precision), percent(p.recall)]),
      ]);
      io.out(table(['ARM', 'WINDOW', 'LABELLED', 'ACCURACY', 'PRECISION', 'RECALL'], rows));
      if (report.arms.length === 0) io.err('no labelled predictions yet: send labels with payloads feedback\n');
      return 0;
    },
  }),
];
