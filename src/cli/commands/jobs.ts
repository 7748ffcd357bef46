/**
 * `modelport jobs ...`: batch scoring run by the server. `submit` uploads a local input (or names an s3:// object)
 * and queues a job; `list`, `show`, `cancel` and `download` follow it. See README "Batch scoring".
 */
import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import type { ModelportClient } from '../../client/index.ts';
import { formatBytes, ModelportError } from '../../core/index.ts';
import type { Job, JobCreateRequest } from '../../jobs/index.ts';
import { type ByteSink, type CommittableSink, fileSink, readSignatureFile, streamSink } from '../../scoring/index.ts';
import { type Command, type CommandContext, defineCommand, UsageError } from '../command.ts';
import { answer, details, listing } from '../output.ts';
import { progressBar } from '../progress.ts';

const POLL_MS = 500;
const count = (n: number) => Math.round(n).toLocaleString('en-US');

function percent(job: Job): string {
  const { bytesRead, bytesTotal } = job.progress;
  if (job.state === 'succeeded') return '100%';
  return bytesTotal ? `${Math.min(100, Math.floor((bytesRead / bytesTotal) * 100))}%` : '-';
}

function describe(job: Job): string {
  const input = 'artifact' in job.spec.input ? `artifact ${job.spec.input.artifact.slice(0, 12)}` : job.spec.input.url;
  const p = job.progress;
  return details([
    ['id', job.id],
    ['model', `${job.model}@${job.version}`],
    ['state', job.state],
    ['reason', job.reason],
    ['attempt', job.attempt],
    ['input', `${input} (${job.spec.format})`],
    ['rows', `${count(p.rows)} (${count(p.rejects)} rejected), ${count(p.rowsPerSecond)} rows/s`],
    [
      'read',
      `${formatBytes(p.bytesRead)} of ${p.bytesTotal === null ? '?' : formatBytes(p.bytesTotal)} (${percent(job)})`,
    ],
    [
      'output',
      job.output ? `${job.spec.outputFormat}, ${formatBytes(job.output.size)}, sha256 ${job.output.sha256}` : null,
    ],
    ['rejects', job.rejects ? `${formatBytes(job.rejects.size)}, sha256 ${job.rejects.sha256}` : null],
    ['created', job.createdAt],
    ['finished', job.finishedAt],
  ]);
}

function show(ctx: CommandContext, job: Job): void {
  ctx.io.out(answer(ctx.format, job, describe(job)));
}

/** Polls until the job ends, drawing one progress line on a terminal; exit code 0 only when it succeeded. */
async function follow(ctx: CommandContext, client: ModelportClient, id: string): Promise<number> {
  let job = await client.getJob(id);
  let drawn = false;
  while (job.state === 'queued' || job.state === 'running') {
    if (ctx.io.interactive) {
      const p = job.progress;
      ctx.io.err(`\rjob ${id} ${job.state} ${percent(job)}  ${count(p.rows)} rows  ${count(p.rowsPerSecond)} rows/s `);
      drawn = true;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    job = await client.getJob(id);
  }
  if (drawn) ctx.io.err('\r\x1b[K');
  show(ctx, job);
  if (job.state === 'succeeded') return 0;
  ctx.io.err(`modelport: job ${id} ${job.state}${job.reason ? `: ${job.reason}` : ''}\n`);
  return 1;
}

function batchSize(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^[1-9]\d{0,6}$/.test(value) || Number(value) > 1_000_000) {
    throw new UsageError(`--batch-size takes a whole number from 1 to 1000000, not '${String(value)}'`);
  }
  return Number(value);
}

function choice<T extends string>(value: unknown, flag: string, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T))
    throw new UsageError(`${flag} takes ${allowed.join(' or ')}, not '${String(value)}'`);
  return value as T;
}

export const jobCommands: Command[] = [
  defineCommand({
    words: ['jobs', 'submit'],
    usage:
      'jobs submit <model[@version|@alias]> <input.csv | input.jsonl | s3://bucket/key> [--batch-size N] [--keep col1,col2] [--on-error fail|skip] [--signature file.json] [--format csv|jsonl] [--output-format csv|jsonl] [--wait]',
    summary: 'Submit a batch scoring job to the server (uploads a local input)',
    args: [2, 2],
    options: {
      'batch-size': { type: 'string', description: 'Rows per inference call (default 1024)' },
      keep: { type: 'string', description: 'Input columns to copy to the output, comma-separated' },
      'on-error': { type: 'string', description: 'fail (default): stop at the first bad row; skip: reject it' },
      signature: { type: 'string', description: 'JSON file with featureNames and labels' },
      format: { type: 'string', description: 'Input format, csv or jsonl (default: from the extension)' },
      'output-format': { type: 'string', description: 'Output format, csv or jsonl (default: the input format)' },
      wait: { type: 'boolean', description: 'Follow the job until it ends (exit 1 unless it succeeded)' },
    },
    async run(ctx) {
      const { args, options, io } = ctx;
      const [model, inputArg] = args as [string, string];
      const keep = (options['keep'] ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const extra = options['signature'] ? await readSignatureFile(options['signature']) : {};
      const format =
        choice(options['format'], '--format', ['csv', 'jsonl'] as const) ??
        (/\.(jsonl|ndjson|json)$/i.test(inputArg) ? 'jsonl' : 'csv');
      const api = ctx.client();
      let input: JobCreateRequest['input'];
      if (inputArg.startsWith('s3://')) {
        input = { url: inputArg };
      } else {
        const info = await stat(inputArg).catch(() => undefined);
        if (!info?.isFile()) throw new UsageError(`cannot read the input file '${inputArg}'`);
        const handle = await open(inputArg);
        const bar = progressBar(io, 'uploading', info.size);
        try {
          const stream = handle.readableWebStream() as unknown as AsyncIterable<Uint8Array>;
          const uploaded = await api.uploadJobInput({ stream, size: info.size }, (sent) => bar.update(sent));
          bar.finish();
          input = { artifact: uploaded.sha256 };
        } finally {
          await handle.close();
        }
      }
      const batch = batchSize(options['batch-size']);
      const onError = choice(options['on-error'], '--on-error', ['fail', 'skip'] as const);
      const outputFormat = choice(options['output-format'], '--output-format', ['csv', 'jsonl'] as const);
      const job = await api.submitJob({
        model,
        input,
        format,
        ...(outputFormat ? { outputFormat } : {}),
        ...(batch !== undefined ? { batchSize: batch } : {}),
        ...(keep.length > 0 ? { keep } : {}),
        ...(onError ? { onError } : {}),
        ...(extra.featureNames || extra.labels
          ? {
              signature: {
                ...(extra.featureNames ? { featureNames: [...extra.featureNames] } : {}),
                ...(extra.labels ? { labels: [...extra.labels] } : {}),
              },
            }
          : {}),
      });
      if (options['wait']) return follow(ctx, api, job.id);
      show(ctx, job);
      return 0;
    },
  }),
  defineCommand({
    words: ['jobs', 'list'],
    usage: 'jobs list',
    summary: 'List batch scoring jobs, newest first',
    args: [0, 0],
    async run(ctx) {
      const jobs = await ctx.client().listJobs();
      ctx.io.out(
        listing(ctx.format, jobs, [
          ['id', (j) => j.id],
          ['model', (j) => `${j.model}@${j.version}`],
          ['state', (j) => j.state],
          ['progress', (j) => percent(j)],
          ['rows', (j) => count(j.progress.rows)],
          ['rejects', (j) => count(j.progress.rejects)],
          ['created', (j) => j.createdAt],
          ['reason', (j) => j.reason],
        ]),
      );
      return 0;
    },
  }),
  defineCommand({
    words: ['jobs', 'show'],
    usage: 'jobs show <id> [--wait]',
    summary: 'Show a job: state, progress, output',
    args: [1, 1],
    options: { wait: { type: 'boolean', description: 'Follow the job until it ends (exit 1 unless it succeeded)' } },
    async run(ctx) {
      const id = ctx.args[0] as string;
      if (ctx.options['wait']) return follow(ctx, ctx.client(), id);
      show(ctx, await ctx.client().getJob(id));
      return 0;
    },
  }),
  defineCommand({
    words: ['jobs', 'cancel'],
    usage: 'jobs cancel <id>',
    summary: 'Cancel a queued or running job',
    args: [1, 1],
    async run(ctx) {
      show(ctx, await ctx.client().cancelJob(ctx.args[0] as string));
      return 0;
    },
  }),
  defineCommand({
    words: ['jobs', 'download'],
    usage: 'jobs download <id> [-o file | -] [--rejects]',
    summary: "Download a succeeded job's output (or its rejects), verified against its sha256",
    args: [1, 1],
    options: {
      output: { type: 'string', short: 'o', description: 'Write to this file (default - : stdout)' },
      rejects: { type: 'boolean', description: 'Download the rejects (line,reason,record) instead of the output' },
    },
    async run(ctx) {
      const id = ctx.args[0] as string;
      const path = ctx.options['output'] ?? '-';
      const which = ctx.options['rejects'] ? 'rejects' : 'output';
      const download = await ctx.client().downloadJobOutput(id, which);
      const sink: CommittableSink | ByteSink = path === '-' ? streamSink(process.stdout) : fileSink(path);
      const bar = progressBar(ctx.io, 'downloading', path === '-' ? 0 : download.size);
      const hash = createHash('sha256');
      let size = 0;
      try {
        for await (const chunk of download.body) {
          hash.update(chunk);
          size += chunk.byteLength;
          bar.update(size);
          await sink.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        }
        if (hash.digest('hex') !== download.sha256) {
          throw new ModelportError(
            'artifact_corrupt',
            `the ${which} of job ${id} does not match its sha256; download it again`,
          );
        }
        if ('commit' in sink) await sink.commit();
        bar.finish();
      } catch (error) {
        if ('abort' in sink) await sink.abort();
        throw error;
      }
      if (path !== '-') ctx.io.err(`downloaded ${formatBytes(size)} -> ${path}\n`);
      return 0;
    },
  }),
];
