/**
 * `modelport pipelines ...` and `modelport runs ...`: apply a pipeline spec (its folder packed as the revision's
 * code), list, show, delete and trigger pipelines; list, show, follow the logs of, cancel and resume runs. See
 * README "Pipelines".
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import type { ModelportClient } from '../../client/index.ts';
import { writeTar } from '../../client/index.ts';
import { formatBytes } from '../../core/index.ts';
import type { Command, CommandContext } from '../command.ts';
import { UsageError } from '../command.ts';
import { answer, columns, details, json, listing } from '../output.ts';

type Run = Awaited<ReturnType<ModelportClient['getRun']>>;
type Pipeline = Awaited<ReturnType<ModelportClient['getPipeline']>>;

/** Largest packed code folder sent by `pipelines apply` (the server enforces its own limit too). */
const MAX_CODE_BYTES = 64 * 1024 * 1024;
const LEFT_OUT = new Set(['node_modules', '.git']);
const ENDED = new Set(['Succeeded', 'Failed', 'Blocked', 'Cancelled', 'Skipped']);

/** The folder's files, node_modules and .git left out, as a tar in memory (bounded by MAX_CODE_BYTES). */
async function packFolder(root: string): Promise<{ tar: Uint8Array; files: number }> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const files: { path: string; full: string; size: number }[] = [];
  let total = 0;
  for (const entry of entries) {
    const full = join(entry.parentPath, entry.name);
    const path = relative(root, full).split(sep).join('/');
    if (path.split('/').some((part) => LEFT_OUT.has(part))) continue;
    if (entry.isDirectory() || entry.isSymbolicLink()) continue;
    if (!entry.isFile()) continue;
    const { size } = await stat(full);
    total += size;
    if (total > MAX_CODE_BYTES) {
      throw new UsageError(
        `the folder ${root} holds more than ${formatBytes(MAX_CODE_BYTES)} of files (node_modules and .git left out); put data in a data repository and keep the pipeline's folder to its code`,
      );
    }
    files.push({ path, full, size });
  }
  files.sort((a, b) => (a.path < b.path ? -1 : 1));
  const chunks: Uint8Array[] = [];
  for await (const chunk of writeTar(
    files.map((f) => ({
      path: f.path,
      size: f.size,
      open: async function* () {
        yield await readFile(f.full);
      },
    })),
  )) {
    chunks.push(chunk);
  }
  return { tar: Buffer.concat(chunks), files: files.length };
}

/** `git:<commit>` when the folder is in a git work tree, else undefined. */
async function gitRef(folder: string): Promise<string | undefined> {
  try {
    const { stdout } = await promisify(execFile)('git', ['-C', folder, 'rev-parse', 'HEAD'], { timeout: 5000 });
    const sha = stdout.trim();
    return /^[0-9a-f]{40,64}$/.test(sha) ? `git:${sha}` : undefined;
  } catch {
    return undefined;
  }
}

function duration(run: Run): string {
  if (!run.startedAt) return '-';
  const end = run.finishedAt ? Date.parse(run.finishedAt) : Date.now();
  return `${((end - Date.parse(run.startedAt)) / 1000).toFixed(1)} s`;
}

function triggerText(run: Run): string {
  const t = run.trigger;
  switch (t.kind) {
    case 'data':
      return `commit ${t.commit.slice(0, 12)} on ${t.repo}/${t.branch}`;
    case 'model':
      return t.alias ? `${t.model}@${t.alias} -> ${t.version}` : `new ${t.model}@${t.version}`;
    case 'schedule':
      return `schedule ${t.tick}`;
    case 'manual':
      return `manual by ${t.by}${t.commit ? ` at ${t.commit.slice(0, 12)}` : ''}`;
  }
}

function describeRun(run: Run): string {
  const head = details([
    ['run', `${run.pipeline}#${run.number} (${run.id})`],
    ['state', run.state],
    ['reason', run.reason],
    ['trigger', triggerText(run)],
    ['revision', run.revision],
    ['attempt', run.attempt],
    ['duration', duration(run)],
  ]);
  const steps = columns(run.steps, [
    ['STEP', (s) => s.name],
    ['KIND', (s) => s.kind],
    ['STATE', (s) => s.state],
    ['EXIT', (s) => s.exitCode ?? '-'],
    [
      'METRICS',
      (s) =>
        Object.entries(s.metrics)
          .slice(0, 6)
          .map(([k, v]) => `${k}=${Number(v.toPrecision(4))}`)
          .join(' ') || '-',
    ],
    ['REASON', (s) => s.reason ?? (s.result?.policy ? s.result.policy.explanation : '-')],
  ]);
  const gates = run.steps
    .filter((s) => s.result?.policy)
    .map((s) => `${s.name}: ${s.result!.policy!.explanation}`)
    .join('\n');
  return `${head}\n${steps}${gates ? `\n${gates}\n` : ''}`;
}

function describePipeline(p: Pipeline): string {
  const t = p.spec.trigger;
  const triggers = [
    t.data ? `data ${t.data.repo}/${t.data.branch} ${t.data.glob}` : undefined,
    t.model ? `model ${t.model.name}${t.model.alias ? `@${t.model.alias}` : ''}` : undefined,
    t.schedule ? `schedule "${t.schedule.cron}" ${t.schedule.timezone}` : undefined,
    t.manual ? 'manual' : undefined,
  ].filter(Boolean);
  return details([
    ['pipeline', p.name],
    ['revision', p.revision],
    ['triggers', triggers.join(', ')],
    ['concurrency', `${p.spec.concurrency.limit} (${p.spec.concurrency.policy})`],
    ['executor', p.spec.executor],
    ['steps', p.spec.steps.map((s) => `${s.name}${s.needs.length ? ` <- ${s.needs.join(',')}` : ''}`).join('  ')],
    [
      'code',
      p.code
        ? `${formatBytes(p.code.size)}, sha256 ${p.code.sha256.slice(0, 16)}${p.codeRef ? `, ${p.codeRef}` : ''}`
        : null,
    ],
    ['runs', p.runs],
    ['last run', p.lastRun ? `#${p.lastRun.number} ${p.lastRun.state} ${p.lastRun.createdAt}` : null],
  ]);
}

async function followLogs(
  ctx: CommandContext,
  run: string,
  step: string | undefined,
  follow: boolean,
): Promise<number> {
  let state = '';
  const many = step === undefined;
  for await (const e of ctx.client().runLogs(run, { ...(step ? { step } : {}), follow })) {
    if (e.event === 'step' && many) ctx.io.out(`==> ${e.step} <==\n`);
    else if (e.event === 'log') ctx.io.out(e.text);
    else if (e.event === 'end') state = e.state;
  }
  if (!follow) return 0;
  return state === 'Succeeded' ? 0 : 1;
}

export const pipelineCommands: Command[] = [
  {
    words: ['pipelines', 'apply'],
    usage: 'pipelines apply -f <pipeline.yaml>',
    summary: "Create or change a pipeline; the spec's folder is packed as its code",
    args: [0, 0],
    options: {
      file: { type: 'string', short: 'f', description: 'The pipeline spec (YAML or JSON); its folder is packed' },
    },
    async run(ctx) {
      const file = ctx.options['file'];
      if (typeof file !== 'string') throw new UsageError('-f <pipeline.yaml> is required');
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch {
        throw new UsageError(`cannot read the file '${file}'`);
      }
      let spec: unknown;
      try {
        spec = parseYaml(text, { maxAliasCount: 100 });
      } catch (error) {
        throw new UsageError(`${file} is not valid YAML or JSON: ${(error as Error).message.split('\n')[0]}`);
      }
      if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
        throw new UsageError(`${file}: the document must be a pipeline spec (name, trigger, steps)`);
      }
      const folder = dirname(resolve(file));
      const { tar, files } = await packFolder(folder);
      const client = ctx.client();
      const code = await client.uploadPipelineCode(tar);
      const codeRef = await gitRef(folder);
      const p = await client.applyPipeline({
        spec: spec as Record<string, unknown>,
        code: { sha256: code.sha256 },
        ...(codeRef ? { codeRef } : {}),
      });
      if (ctx.format === 'json') ctx.io.out(json(p));
      else {
        ctx.io.out(
          `${p.changed ? 'applied' : 'unchanged'}: pipeline ${p.name} revision ${p.revision} (${files} files of code, ${formatBytes(code.size)})\n`,
        );
      }
      return 0;
    },
  },
  {
    words: ['pipelines', 'list'],
    usage: 'pipelines list',
    summary: 'List pipelines with their last run',
    args: [0, 0],
    async run({ io, format, client }) {
      const list = await client().listPipelines();
      io.out(
        listing(format, list, [
          ['NAME', (p) => p.name],
          ['REVISION', (p) => p.revision],
          ['STEPS', (p) => p.spec.steps.length],
          ['RUNS', (p) => p.runs],
          ['LAST RUN', (p) => (p.lastRun ? `#${p.lastRun.number} ${p.lastRun.state}` : '-')],
        ]),
      );
      return 0;
    },
  },
  {
    words: ['pipelines', 'show'],
    usage: 'pipelines show <name>',
    summary: 'Show a pipeline: triggers, steps, code and last run',
    args: [1, 1],
    async run(ctx) {
      const p = await ctx.client().getPipeline(ctx.args[0]!);
      ctx.io.out(answer(ctx.format, p, describePipeline(p)));
      return 0;
    },
  },
  {
    words: ['pipelines', 'delete'],
    usage: 'pipelines delete <name>',
    summary: 'Delete a pipeline (its active runs are cancelled, its runs deleted)',
    args: [1, 1],
    async run(ctx) {
      await ctx.client().deletePipeline(ctx.args[0]!);
      ctx.io.out(answer(ctx.format, { deleted: ctx.args[0] }, `deleted pipeline ${ctx.args[0]}\n`));
      return 0;
    },
  },
  {
    words: ['pipelines', 'trigger'],
    usage: 'pipelines trigger <name> [--param k=v ...] [--follow]',
    summary: 'Start a run by hand (on the head of its data branch), optionally following its logs',
    args: [1, 1],
    options: {
      param: { type: 'string', multiple: true, description: 'A parameter of the run, k=v' },
      follow: { type: 'boolean', description: 'Follow the logs until the run ends (exit 1 unless it succeeded)' },
    },
    async run(ctx) {
      const params: Record<string, string> = {};
      for (const p of (ctx.options['param'] as string[] | undefined) ?? []) {
        const eq = p.indexOf('=');
        if (eq <= 0) throw new UsageError(`--param takes k=v, not '${p}'`);
        params[p.slice(0, eq)] = p.slice(eq + 1);
      }
      const run = await ctx.client().triggerPipeline(ctx.args[0]!, params);
      if (ctx.options['follow']) {
        ctx.io.err(`run ${run.pipeline}#${run.number} (${run.id})\n`);
        return followLogs(ctx, run.id, undefined, true);
      }
      ctx.io.out(answer(ctx.format, run, `started ${run.pipeline}#${run.number}: ${run.id} (${run.state})\n`));
      return 0;
    },
  },
  {
    words: ['runs', 'list'],
    usage: 'runs list [--pipeline NAME] [--limit N]',
    summary: 'List pipeline runs, newest first',
    args: [0, 0],
    options: {
      pipeline: { type: 'string', description: 'Only the runs of this pipeline' },
      limit: { type: 'string', description: 'How many (default 50)' },
    },
    async run(ctx) {
      const limit = ctx.options['limit'] === undefined ? undefined : Number(ctx.options['limit']);
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 500)) {
        throw new UsageError('--limit takes a whole number from 1 to 500');
      }
      const runs = await ctx.client().listRuns({
        ...(ctx.options['pipeline'] ? { pipeline: ctx.options['pipeline'] as string } : {}),
        ...(limit ? { limit } : {}),
      });
      ctx.io.out(
        listing(ctx.format, runs, [
          ['RUN', (r) => `${r.pipeline}#${r.number}`],
          ['ID', (r) => r.id.slice(0, 8)],
          ['STATE', (r) => r.state],
          ['TRIGGER', (r) => triggerText(r)],
          ['STEPS', (r) => `${r.steps.filter((s) => s.state === 'Succeeded').length}/${r.steps.length}`],
          ['DURATION', (r) => duration(r)],
        ]),
      );
      return 0;
    },
  },
  {
    words: ['runs', 'show'],
    usage: 'runs show <run>',
    summary: "Show a run: each step's state, exit code, metrics, and the gate's explanation",
    args: [1, 1],
    async run(ctx) {
      const run = await ctx.client().getRun(ctx.args[0]!);
      ctx.io.out(answer(ctx.format, run, describeRun(run)));
      return 0;
    },
  },
  {
    words: ['runs', 'logs'],
    usage: 'runs logs <run> [--step S] [-f]',
    summary: "A run's logs (every step, or one); -f follows them live until the run ends",
    args: [1, 1],
    options: {
      step: { type: 'string', description: 'Only this step' },
      follow: {
        type: 'boolean',
        short: 'f',
        description: 'Follow live until the run ends (exit 1 unless it succeeded)',
      },
    },
    async run(ctx) {
      return followLogs(ctx, ctx.args[0]!, ctx.options['step'] as string | undefined, ctx.options['follow'] === true);
    },
  },
  {
    words: ['runs', 'cancel'],
    usage: 'runs cancel <run>',
    summary: 'Cancel a pending or running run (its steps are killed within 2 s)',
    args: [1, 1],
    async run(ctx) {
      const client = ctx.client();
      let run = await client.cancelRun(ctx.args[0]!);
      for (let i = 0; i < 40 && !ENDED.has(run.state); i++) {
        await new Promise((r) => setTimeout(r, 100));
        run = await client.getRun(run.id);
      }
      ctx.io.out(answer(ctx.format, run, `run ${run.pipeline}#${run.number} ${run.state}\n`));
      return 0;
    },
  },
  {
    words: ['runs', 'resume'],
    usage: 'runs resume <run>',
    summary: 'Run a failed or cancelled run again from its failed steps (succeeded steps keep their outputs)',
    args: [1, 1],
    async run(ctx) {
      const run = await ctx.client().resumeRun(ctx.args[0]!);
      ctx.io.out(
        ctx.format === 'json'
          ? json(run)
          : `resumed ${run.pipeline}#${run.number} (attempt ${run.attempt}): ${run.steps
              .filter((s) => s.state === 'Pending')
              .map((s) => s.name)
              .join(', ')} will run again\n`,
      );
      return 0;
    },
  },
];
