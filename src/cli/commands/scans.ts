/**
 * `modelport usecases ...` and `modelport scans ...`: apply a use case (a local dataset file is uploaded first),
 * list, show and delete use cases; run a scan and follow it with a progress bar, list and show scans, write a
 * report (HTML or JSON), compare scans, cancel one. See README "Use cases and scans".
 */
import { open, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ModelportClient } from '../../client/index.ts';
import { formatBytes } from '../../core/index.ts';
import { type Command, type CommandContext, defineCommand, UsageError } from '../command.ts';
import { details, json, table } from '../output.ts';
import { progressBar } from '../progress.ts';

type Scan = Awaited<ReturnType<ModelportClient['getScan']>>;
type UseCase = Awaited<ReturnType<ModelportClient['getUseCase']>>;
type Report = Awaited<ReturnType<ModelportClient['getScanReport']>>;

const POLL_MS = 300;
const ENDED = new Set(['Succeeded', 'Failed', 'Canceled']);
const num = (v: number | null | undefined) =>
  v === null || v === undefined || !Number.isFinite(v) ? '-' : String(Number(v.toPrecision(4)));

function describeUseCase(u: UseCase): string {
  const d = u.spec.dataset;
  const dataset = 'repo' in d ? `${d.repo}@${d.commit}:${d.path}` : `upload ${d.upload.slice(0, 16)}`;
  return details([
    ['use case', u.name],
    ['revision', u.revision],
    ['task', u.spec.task],
    ['dataset', dataset],
    ['label', `${u.spec.label}${u.spec.favorable !== undefined ? ` (favourable ${u.spec.favorable})` : ''}`],
    [
      'protected',
      u.spec.protected.map((p) => `${p.column}${p.buckets ? ` [${p.buckets.join(', ')}]` : ''}`).join(', ') || null,
    ],
    ['restricted', u.spec.restricted.join(', ') || null],
    ['models', u.spec.models.map((m) => (typeof m === 'string' ? m : `deployment:${m.deployment}`)).join(', ')],
    ['scans', u.spec.scans.join(', ')],
    ['scan config', `parallel ${u.scanConfig.parallel}, cpu ${u.scanConfig.cpu}, memory ${u.scanConfig.memory}`],
    ['last scan', u.lastScan ? `#${u.lastScan.number} ${u.lastScan.state} ${u.lastScan.createdAt}` : null],
  ]);
}

function describeScan(s: Scan): string {
  const head = details([
    ['scan', `${s.usecase}#${s.number} (${s.id})`],
    ['state', s.state],
    ['reason', s.reason],
    ['kinds', s.kinds.join(', ')],
    ['progress', s.state === 'Running' ? `${s.progress.phase} ${percent(s)}` : null],
    [
      'dataset',
      s.dataset
        ? `${s.dataset.repo ? `${s.dataset.repo}@${s.dataset.commit?.slice(0, 12)}:${s.dataset.path}` : `upload ${s.dataset.sha256.slice(0, 12)}`}, ${s.dataset.rows} rows`
        : null,
    ],
    ['created', s.createdAt],
    ['finished', s.finishedAt],
  ]);
  if (!s.summary || s.models.length === 0) return head;
  const rows = s.models.map((m) => {
    const x = s.summary![m.target];
    return [
      m.target,
      `${m.model}@${m.version}`,
      m.via,
      num(x?.trust === null || x?.trust === undefined ? null : x.trust * 100),
      num(x?.performance['roc_auc'] ?? x?.performance['accuracy'] ?? x?.performance['r2']),
      num(x?.fairness['disparate_impact']?.min),
      num(x?.robustness['flip_rate']),
      x && 'share' in x.drift ? num(x.drift.share) : '-',
    ];
  });
  return `${head}\n${table(['TARGET', 'VERSION', 'VIA', 'TRUST', 'AUC/ACC/R2', 'DI MIN', 'FLIP RATE', 'DRIFT SHARE'], rows)}`;
}

function percent(s: Scan): string {
  return s.progress.total > 0 ? `${Math.min(100, Math.floor((s.progress.done / s.progress.total) * 100))}%` : '';
}

/** Polls a scan until it ends, drawing a progress bar on a terminal; exit 0 only when it succeeded. */
async function follow(ctx: CommandContext, client: ModelportClient, id: string): Promise<number> {
  let scan = await client.getScan(id);
  let drawn = false;
  while (!ENDED.has(scan.state)) {
    if (ctx.io.interactive) {
      const ratio = scan.progress.total > 0 ? Math.min(1, scan.progress.done / scan.progress.total) : 0;
      const filled = Math.round(ratio * 30);
      ctx.io.err(
        `\r\x1b[Kscan ${scan.usecase}#${scan.number} [${'#'.repeat(filled)}${'.'.repeat(30 - filled)}] ${String(Math.round(ratio * 100)).padStart(3)}% ${scan.progress.phase.slice(0, 50)}`,
      );
      drawn = true;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
    scan = await client.getScan(id);
  }
  if (drawn) ctx.io.err('\r\x1b[K');
  ctx.io.out(ctx.format === 'json' ? json(scan) : describeScan(scan));
  if (scan.state === 'Succeeded') return 0;
  ctx.io.err(`modelport: scan ${scan.usecase}#${scan.number} ${scan.state}${scan.reason ? `: ${scan.reason}` : ''}\n`);
  return 1;
}

/** The report's scorecards as text (what `scans report` prints without -o). */
function reportText(r: Report): string {
  const lines = [`${r.scan.usecase}#${r.scan.number}: ${r.dataset.rows} rows, ${r.task}, label ${r.label}`];
  for (const m of r.models) {
    lines.push(
      '',
      `${m.target} (${m.model}@${m.version}, ${m.via}): trust ${num(m.trust.score === null ? null : m.trust.score * 100)}`,
    );
    const model = m as unknown as {
      performance?: { metrics: Record<string, { value: number | null; lo: number | null; hi: number | null }> };
      fairness?: { attributes: { column: string; metrics: Record<string, { value: number | null }> }[] };
    };
    for (const [k, e] of Object.entries(model.performance?.metrics ?? {})) {
      lines.push(`  ${k.padEnd(32)} ${num(e.value)}${e.lo === null ? '' : `  [${num(e.lo)}, ${num(e.hi)}]`}`);
    }
    for (const a of model.fairness?.attributes ?? []) {
      lines.push(
        `  fairness of ${a.column}: disparate impact ${num(a.metrics['disparate_impact']?.value)}, equalized odds difference ${num(a.metrics['equalized_odds_difference']?.value)}`,
      );
    }
    for (const [k, v] of Object.entries(m.errors)) lines.push(`  ${k}: ${v}`);
  }
  return `${lines.join('\n')}\n`;
}

function comparisonText(c: Awaited<ReturnType<ModelportClient['compareScans']>>): string {
  const labels = c.models.map((m) => m.label);
  const wins = labels.map((l) => `${l} wins ${c.comparison.filter((r) => r.winner === l).length}`).join(', ');
  return `${table(
    ['KIND', 'METRIC', 'BETTER', ...labels.map((l) => l.toUpperCase()), 'WINNER'],
    c.comparison.map((r) => [r.kind, r.metric, r.better, ...labels.map((l) => num(r.values[l])), r.winner ?? 'tie']),
  )}${wins}\n`;
}

export const scanCommands: Command[] = [
  {
    words: ['usecases', 'apply'],
    usage: 'usecases apply -f <usecase.yaml>',
    summary: 'Create or change a use case (dataset: { upload: ./file.csv } uploads a local file first)',
    args: [0, 0],
    options: { file: { type: 'string', short: 'f', description: 'The use case spec (YAML or JSON)' } },
    async run(ctx) {
      const file = ctx.options['file'];
      if (typeof file !== 'string') throw new UsageError('-f <usecase.yaml> is required');
      let spec: Record<string, unknown>;
      try {
        const parsed = parseYaml(await readFile(file, 'utf8'), { maxAliasCount: 100 });
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a mapping');
        spec = parsed as Record<string, unknown>;
      } catch (error) {
        throw new UsageError(
          `${file} is not a use case spec in YAML or JSON: ${(error as Error).message.split('\n')[0]}`,
        );
      }
      const client = ctx.client();
      const dataset = spec['dataset'] as { upload?: unknown } | undefined;
      if (dataset && typeof dataset.upload === 'string' && !/^[0-9a-f]{64}$/.test(dataset.upload)) {
        const path = resolve(dirname(file), dataset.upload);
        const info = await stat(path).catch(() => undefined);
        if (!info?.isFile()) throw new UsageError(`dataset.upload: '${dataset.upload}' is neither a sha256 nor a file`);
        const handle = await open(path);
        const bar = progressBar(ctx.io, 'uploading the dataset', info.size);
        try {
          const uploaded = await client.uploadScanDataset(
            { stream: handle.readableWebStream() as unknown as AsyncIterable<Uint8Array>, size: info.size },
            (sent) => bar.update(sent),
          );
          bar.finish();
          dataset.upload = uploaded.sha256;
        } finally {
          await handle.close();
        }
      }
      const u = await client.applyUseCase(spec as Parameters<ModelportClient['applyUseCase']>[0]);
      ctx.io.out(
        ctx.format === 'json'
          ? json(u)
          : `${u.changed ? 'applied' : 'unchanged'}: use case ${u.name} revision ${u.revision}\n`,
      );
      return 0;
    },
  },
  {
    words: ['usecases', 'list'],
    usage: 'usecases list',
    summary: 'List use cases with their last scan',
    args: [0, 0],
    async run({ io, format, client }) {
      const list = await client().listUseCases();
      io.out(
        format === 'json'
          ? json(list)
          : table(
              ['NAME', 'REVISION', 'TASK', 'MODELS', 'SCANS', 'LAST SCAN'],
              list.map((u) => [
                u.name,
                u.revision,
                u.spec.task,
                u.spec.models.length,
                u.scans,
                u.lastScan ? `#${u.lastScan.number} ${u.lastScan.state}` : '-',
              ]),
            ),
      );
      return 0;
    },
  },
  {
    words: ['usecases', 'show'],
    usage: 'usecases show <name>',
    summary: 'Show a use case: dataset, label, protected attributes, models, scans, scan config',
    args: [1, 1],
    async run(ctx) {
      const u = await ctx.client().getUseCase(ctx.args[0]!);
      ctx.io.out(ctx.format === 'json' ? json(u) : describeUseCase(u));
      return 0;
    },
  },
  {
    words: ['usecases', 'delete'],
    usage: 'usecases delete <name>',
    summary: 'Delete a use case and its scans',
    args: [1, 1],
    async run(ctx) {
      await ctx.client().deleteUseCase(ctx.args[0]!);
      ctx.io.out(ctx.format === 'json' ? json({ deleted: ctx.args[0] }) : `deleted use case ${ctx.args[0]}\n`);
      return 0;
    },
  },
  defineCommand({
    words: ['scans', 'run'],
    usage: 'scans run <usecase> [--kinds performance,fairness,...] [--detach]',
    summary: 'Scan a use case and follow it with a progress bar (exit 1 unless it succeeded)',
    args: [1, 1],
    options: {
      kinds: { type: 'string', description: 'Scan kinds, comma-separated (default: every kind the use case lists)' },
      detach: { type: 'boolean', description: 'Queue the scan and return at once' },
    },
    async run(ctx) {
      const kinds = ctx.options.kinds
        ?.split(',')
        .map((k) => k.trim())
        .filter(Boolean);
      const client = ctx.client();
      const scan = await client.runScan(ctx.args[0]!, kinds);
      if (ctx.options.detach) {
        ctx.io.out(ctx.format === 'json' ? json(scan) : `queued scan ${scan.usecase}#${scan.number} (${scan.id})\n`);
        return 0;
      }
      return follow(ctx as unknown as CommandContext, client, scan.id);
    },
  }),
  defineCommand({
    words: ['scans', 'list'],
    usage: 'scans list [--usecase <name>]',
    summary: 'List scans, newest first',
    args: [0, 0],
    options: { usecase: { type: 'string', description: 'Only the scans of this use case' } },
    async run(ctx) {
      const list = await ctx.client().listScans(ctx.options.usecase ? { usecase: ctx.options.usecase } : {});
      ctx.io.out(
        ctx.format === 'json'
          ? json(list)
          : table(
              ['SCAN', 'ID', 'STATE', 'KINDS', 'MODELS', 'PROGRESS', 'CREATED', 'REASON'],
              list.map((s) => [
                `${s.usecase}#${s.number}`,
                s.id.slice(0, 8),
                s.state,
                s.kinds.join(','),
                s.models.length || '-',
                s.state === 'Running' ? percent(s) : '-',
                s.createdAt,
                s.reason ?? '',
              ]),
            ),
      );
      return 0;
    },
  }),
  {
    words: ['scans', 'show'],
    usage: 'scans show <id|usecase#number>',
    summary: 'Show a scan: state, progress, dataset commit, model versions and scorecards',
    args: [1, 1],
    async run(ctx) {
      const s = await ctx.client().getScan(ctx.args[0]!);
      ctx.io.out(ctx.format === 'json' ? json(s) : describeScan(s));
      return 0;
    },
  },
  {
    words: ['scans', 'cancel'],
    usage: 'scans cancel <id|usecase#number>',
    summary: 'Cancel a queued or running scan',
    args: [1, 1],
    async run(ctx) {
      const s = await ctx.client().cancelScan(ctx.args[0]!);
      ctx.io.out(ctx.format === 'json' ? json(s) : `scan ${s.usecase}#${s.number}: ${s.state}\n`);
      return 0;
    },
  },
  defineCommand({
    words: ['scans', 'report'],
    usage: 'scans report <id|usecase#number> [-o report.html|report.json]',
    summary: "Write a scan's report: a self-contained HTML page or JSON (without -o, print its scorecards)",
    args: [1, 1],
    options: { output: { type: 'string', short: 'o', description: 'Write to this file (.html or .json)' } },
    async run(ctx) {
      const client = ctx.client();
      // `-o json` (the global output format's spelling) prints the report as JSON.
      const asJson = ctx.options.output === 'json' || ctx.format === 'json';
      const out = ctx.options.output === 'json' ? undefined : ctx.options.output;
      if (out && !/\.(html?|json)$/i.test(out)) throw new UsageError('-o takes a file ending in .html or .json');
      if (out && /\.html?$/i.test(out)) {
        const html = await client.getScanReportHtml(ctx.args[0]!);
        await writeFile(out, html);
        ctx.io.out(
          ctx.format === 'json'
            ? json({ written: out, bytes: Buffer.byteLength(html) })
            : `wrote ${out} (${formatBytes(Buffer.byteLength(html))})\n`,
        );
        return 0;
      }
      const report = await client.getScanReport(ctx.args[0]!);
      if (out) {
        const text = JSON.stringify(report, null, 2);
        await writeFile(out, `${text}\n`);
        ctx.io.out(
          ctx.format === 'json'
            ? json({ written: out, bytes: Buffer.byteLength(text) })
            : `wrote ${out} (${formatBytes(Buffer.byteLength(text))})\n`,
        );
        return 0;
      }
      ctx.io.out(asJson ? json(report) : reportText(report));
      return 0;
    },
  }),
  defineCommand({
    words: ['scans', 'compare'],
    usage: 'scans compare <id> <id> [<id>...] [-o compare.html]',
    summary: 'Compare the models of two or more scans: per metric the values and which one wins',
    args: [2, 8],
    options: { output: { type: 'string', short: 'o', description: 'Write the comparison as an HTML page' } },
    async run(ctx) {
      const client = ctx.client();
      const asJson = ctx.options.output === 'json' || ctx.format === 'json';
      if (ctx.options.output && !asJson) {
        if (!/\.html?$/i.test(ctx.options.output)) throw new UsageError('-o takes a file ending in .html');
        const html = await client.getScanReportHtml(ctx.args[0]!, ctx.args.slice(1));
        await writeFile(ctx.options.output, html);
        ctx.io.out(`wrote ${ctx.options.output} (${formatBytes(Buffer.byteLength(html))})\n`);
        return 0;
      }
      const c = await client.compareScans(ctx.args);
      ctx.io.out(asJson ? json(c) : comparisonText(c));
      return 0;
    },
  }),
];
