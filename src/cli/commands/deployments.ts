/** `modelport deployments ...`: declarative endpoints from the command line. */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import type { Deployment } from '../../deployments/index.ts';
import { type Command, type CommandContext, defineCommand, UsageError } from '../command.ts';
import { details, json, table } from '../output.ts';

function condition(d: Deployment, type: string): string {
  const c = d.status.conditions.find((x) => x.type === type);
  return c ? c.status : '-';
}

function summary(d: Deployment): string {
  const traffic = d.status.targets.length
    ? d.status.targets.map(
        (t) =>
          `${t.model}@${t.version}${t.tag ? ` (${t.tag})` : ''} ${t.weight}% ${t.replicas.ready}/${t.replicas.desired} ready`,
      )
    : d.spec.traffic.map((t) => `${t.model} ${t.weight}%`);
  const failed = d.status.conditions.find((c) => c.type === 'Failed' && c.status === 'True');
  // The status lags the spec until the reconciler has rolled the change out: say what is coming, not only what was.
  const pending = d.status.observedGeneration < d.generation;
  const lines = details([
    ['name', d.name],
    ['ready', condition(d, 'Ready')],
    ['rolled out', condition(d, 'RolledOut')],
    ['revision', `${d.currentRevision} of ${d.latestRevision} (serving ${d.status.servingRevision ?? '-'})`],
    ['generation', `${d.generation} (observed ${d.status.observedGeneration})`],
    ['traffic', traffic],
    ...(pending
      ? ([
          [
            'rolling out',
            `${d.spec.traffic.map((t) => `${t.model}${t.tag ? ` (${t.tag})` : ''} ${t.weight}%`).join(', ')} (--wait blocks until it serves)`,
          ],
        ] as [string, unknown][])
      : []),
    ['url', d.status.urls.rest],
    ...(d.status.shadow
      ? ([
          [
            'shadow',
            `${d.status.shadow.model}@${d.status.shadow.version} ${d.status.shadow.percent}%: ${d.status.shadow.requests} mirrored, agreement ${d.status.shadow.agreementRate === null ? '-' : `${(d.status.shadow.agreementRate * 100).toFixed(1)}%`}`,
          ],
        ] as [string, unknown][])
      : []),
    ...(failed ? ([['failed', `${failed.reason}: ${failed.message ?? ''}`]] as [string, unknown][]) : []),
  ]);
  return lines;
}

/** A change's warnings (targets whose signatures differ), on stderr so that `-o json` stays parseable. */
function warn(ctx: CommandContext, d: Deployment): Deployment {
  for (const warning of d.warnings ?? []) ctx.io.err(`warning: ${warning}\n`);
  return d;
}

function show(ctx: CommandContext, d: Deployment): void {
  ctx.io.out(ctx.format === 'json' ? json(d) : summary(d));
}

function int(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d+$/.test(value)) throw new UsageError(`${flag} takes a whole number`);
  return Number(value);
}

export const deploymentCommands: Command[] = [
  defineCommand({
    words: ['deployments', 'create'],
    usage: 'deployments create <name> --model <model@ref> [--min N] [--max N] [--canary <model@ref>:<pct>]',
    summary: 'Create a deployment serving a model',
    args: [1, 1],
    options: {
      model: { type: 'string', description: 'The model to serve: name, name@version or name@alias' },
      min: { type: 'string', description: 'Minimum replicas (0 allows scale to zero; default 1)' },
      max: { type: 'string', description: 'Maximum replicas (default: the minimum, at least 1)' },
      canary: { type: 'string', description: 'A canary target and its share of traffic, e.g. fraud@4:10' },
      'target-concurrency': {
        type: 'string',
        description: 'In-flight requests per replica before scaling up (default 16)',
      },
      wait: { type: 'boolean', description: 'Block until the deployment is ready' },
    },
    async run(ctx) {
      const { args, options, client } = ctx;
      const model = options['model'];
      if (typeof model !== 'string') throw new UsageError('--model is required');
      const min = int(options['min'], '--min') ?? 1;
      const max = int(options['max'], '--max') ?? Math.max(min, 1);
      const concurrency = int(options['target-concurrency'], '--target-concurrency');
      let traffic: { model: string; weight: number; tag?: string }[] = [{ model, weight: 100 }];
      if (typeof options['canary'] === 'string') {
        const match = /^(.+):(\d{1,3})$/.exec(options['canary']);
        if (!match || Number(match[2]) > 100)
          throw new UsageError('--canary takes <model@ref>:<percent>, e.g. fraud@4:10');
        const pct = Number(match[2]);
        traffic = [
          { model, weight: 100 - pct, tag: 'stable' },
          { model: match[1]!, weight: pct, tag: 'canary' },
        ];
      }
      const name = args[0]!;
      let d = warn(
        ctx,
        await client().createDeployment(name, {
          traffic,
          scaling: { minReplicas: min, maxReplicas: max, ...(concurrency ? { targetConcurrency: concurrency } : {}) },
        }),
      );
      if (options['wait']) d = await client().waitDeployment(name, 120);
      show(ctx, d);
      return 0;
    },
  }),
  defineCommand({
    words: ['deployments', 'apply'],
    usage: 'deployments apply -f <file.yaml|file.json>',
    summary: 'Create or change a deployment from a file (name + spec)',
    args: [0, 0],
    options: {
      file: {
        type: 'string',
        short: 'f',
        description: 'A YAML or JSON document: { name, spec: { traffic, scaling, ... } }',
      },
      wait: { type: 'boolean', description: 'Block until the change is rolled out' },
    },
    async run(ctx) {
      const file = ctx.options['file'];
      if (typeof file !== 'string') throw new UsageError('-f <file> is required');
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch {
        throw new UsageError(`cannot read the file '${file}'`);
      }
      let doc: unknown;
      try {
        doc = parseYaml(text, { maxAliasCount: 100 });
      } catch (error) {
        throw new UsageError(`${file} is not valid YAML or JSON: ${(error as Error).message.split('\n')[0]}`);
      }
      const { name, spec } = (doc ?? {}) as { name?: unknown; spec?: unknown };
      if (typeof name !== 'string') throw new UsageError(`${file}: the document needs a 'name'`);
      if (typeof spec !== 'object' || spec === null) throw new UsageError(`${file}: the document needs a 'spec'`);
      let d = warn(ctx, await ctx.client().applyDeployment(name, spec as never));
      if (ctx.options['wait']) d = await ctx.client().waitDeployment(name, 120);
      show(ctx, d);
      return 0;
    },
  }),
  defineCommand({
    words: ['deployments', 'list'],
    usage: 'deployments list',
    summary: 'List deployments with their status',
    args: [0, 0],
    async run({ io, format, client }) {
      const list = await client().listDeployments();
      if (format === 'json') io.out(json(list));
      else if (list.length === 0)
        io.out('no deployments yet; create one with: modelport deployments create <name> --model <model>\n');
      else
        io.out(
          table(
            ['name', 'ready', 'revision', 'traffic', 'url'],
            list.map((d) => [
              d.name,
              condition(d, 'Ready'),
              d.currentRevision,
              d.status.targets.map((t) => `${t.model}@${t.version}:${t.weight}%`).join(' '),
              d.status.urls.rest,
            ]),
          ),
        );
      return 0;
    },
  }),
  defineCommand({
    words: ['deployments', 'show'],
    usage: 'deployments show <name>',
    summary: 'Show a deployment: status, revisions, traffic and replicas',
    args: [1, 1],
    async run(ctx) {
      show(ctx, await ctx.client().getDeployment(ctx.args[0]!));
      return 0;
    },
  }),
  defineCommand({
    words: ['deployments', 'delete'],
    usage: 'deployments delete <name> [--purge-payloads]',
    summary: 'Delete a deployment and stop all its workers (its payload log is kept unless --purge-payloads)',
    args: [1, 1],
    options: {
      'purge-payloads': { type: 'boolean', description: "Also delete the deployment's logged calls and labels" },
    },
    async run({ args, options, io, format, client }) {
      const purge = options['purge-payloads'] === true;
      await client().deleteDeployment(args[0]!, { purgePayloads: purge });
      if (format === 'json') io.out(json({ deleted: args[0], payloadsPurged: purge }));
      else {
        io.out(
          purge
            ? `deleted deployment ${args[0]} and its payload log\n`
            : `deleted deployment ${args[0]}; its payload log is kept (payloads list ${args[0]}; delete it with --purge-payloads)\n`,
        );
      }
      return 0;
    },
  }),
  defineCommand({
    words: ['deployments', 'promote'],
    usage: 'deployments promote <name> [--wait]',
    summary: 'Send all traffic to the canary',
    args: [1, 1],
    options: { wait: { type: 'boolean', description: 'Block until the promoted revision serves, then show it' } },
    async run(ctx) {
      const d = warn(ctx, await ctx.client().promoteDeployment(ctx.args[0]!));
      show(ctx, ctx.options['wait'] ? await ctx.client().waitDeployment(d.name, 120) : d);
      return 0;
    },
  }),
  defineCommand({
    words: ['deployments', 'rollback'],
    usage: 'deployments rollback <name> [--to-revision N] [--wait]',
    summary: 'Serve an earlier revision (default: the previous one)',
    args: [1, 1],
    options: {
      'to-revision': { type: 'string', description: 'The revision to serve' },
      wait: { type: 'boolean', description: 'Block until that revision serves, then show it' },
    },
    async run(ctx) {
      const d = warn(
        ctx,
        await ctx.client().rollbackDeployment(ctx.args[0]!, int(ctx.options['to-revision'], '--to-revision')),
      );
      show(ctx, ctx.options['wait'] ? await ctx.client().waitDeployment(d.name, 120) : d);
      return 0;
    },
  }),
  defineCommand({
    words: ['deployments', 'wait'],
    usage: 'deployments wait <name> [--timeout SECONDS]',
    summary: 'Block until the deployment is ready, then print its URL',
    args: [1, 1],
    options: { timeout: { type: 'string', description: 'Seconds to wait (default 120)' } },
    async run({ args, options, io, format, client }) {
      const d = await client().waitDeployment(args[0]!, int(options['timeout'], '--timeout') ?? 120);
      io.out(format === 'json' ? json(d) : `${d.status.urls.rest}\n`);
      return 0;
    },
  }),
];
