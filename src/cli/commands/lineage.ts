/**
 * `modelport lineage <request-id | deployment[@revision] | model@version | run | repo@commit>`: the lineage graph as
 * a tree (upstream: what made it; downstream: what it reached), as JSON with `-o json`, or as OpenLineage RunEvents
 * (one JSON object a line) with `--format openlineage`.
 */
import type { ModelportClient } from '../../client/index.ts';
import { defineCommand, UsageError } from '../command.ts';
import { json } from '../output.ts';

type Graph = Awaited<ReturnType<ModelportClient['getLineage']>>;
type Node = Graph['nodes'][number];

const KIND_NAMES: Record<Node['kind'], string> = {
  prediction: 'prediction',
  predictions: 'predictions',
  deployment: 'deployment revision',
  arm: 'traffic arm',
  version: 'model version',
  run: 'pipeline run',
  step: 'step',
  commit: 'data commit',
  profile: 'profile',
  scan: 'scan',
};

/** Edges drawn under their source whichever way the tree goes: a run's steps, a commit's profiles, scans. */
const ATTACHED = new Set(['ran', 'profiled', 'scanned']);

function describeNode(node: Node): string {
  const d = node.detail;
  const state = node.state ? ` [${node.state}]` : '';
  const extra: string[] = [];
  if (node.kind === 'step' && typeof d['explanation'] === 'string') extra.push(d['explanation']);
  else if (node.kind === 'step' && node.state !== 'Succeeded' && typeof d['reason'] === 'string') {
    extra.push(d['reason']);
  }
  if (node.kind === 'commit' && typeof d['message'] === 'string') extra.push(`"${d['message']}"`);
  if (node.kind === 'profile' && typeof d['rows'] === 'number')
    extra.push(`${d['rows']} rows, ${d['columns']} columns`);
  if (node.kind === 'version') {
    const metrics = Object.entries(d)
      .filter(([k]) => k.startsWith('metric.'))
      .slice(0, 3)
      .map(([k, v]) => `${k.slice(7)}=${typeof v === 'number' ? Number(v.toPrecision(4)) : v}`);
    if (metrics.length > 0) extra.push(metrics.join(' '));
  }
  if (node.kind === 'prediction') extra.push(`${d['model']} ${d['arm']} -> ${d['prediction'] ?? node.state}`);
  return `${node.label}${state}${extra.length > 0 ? `: ${extra.join('; ')}` : ''}`;
}

/** The graph as a tree in the terminal: each node drawn once, later meetings marked with ^. */
export function renderLineageTree(graph: Graph): string {
  const nodes = new Map(graph.nodes.map((n) => [n.id, n]));
  const into = new Map<string, Graph['edges']>();
  const out = new Map<string, Graph['edges']>();
  for (const e of graph.edges) {
    into.set(e.to, [...(into.get(e.to) ?? []), e]);
    out.set(e.from, [...(out.get(e.from) ?? []), e]);
  }
  const subject = nodes.get(graph.subject.node)!;
  const lines = [`${KIND_NAMES[subject.kind]} ${describeNode(subject)}`];

  // Up: what fed a node, and what hangs off it (a run's steps, a commit's profiles); down: everything it fed.
  const childrenOf = (id: string, way: 'up' | 'down'): [string, string][] =>
    way === 'up'
      ? [
          ...(out.get(id) ?? [])
            .filter((e) => ATTACHED.has(e.relation))
            .map((e): [string, string] => [e.to, e.relation]),
          ...(into.get(id) ?? []).map((e): [string, string] => [e.from, e.relation]),
        ]
      : (out.get(id) ?? []).map((e): [string, string] => [e.to, e.relation]);
  const section = (title: string, way: 'up' | 'down', lastSection: boolean) => {
    const seen = new Set([subject.id]);
    const draw = (id: string, relation: string, parent: string, prefix: string, last: boolean) => {
      const node = nodes.get(id);
      if (!node) return;
      const again = seen.has(id);
      seen.add(id);
      lines.push(`${prefix}${last ? '└─ ' : '├─ '}${relation}: ${describeNode(node)}${again ? ' ^' : ''}`);
      if (again) return;
      const children = childrenOf(id, way).filter(([child]) => child !== parent);
      for (const [i, [child, rel]] of children.entries()) {
        draw(child, rel, id, `${prefix}${last ? '   ' : '│  '}`, i === children.length - 1);
      }
    };
    // Under both sections, the subject's own steps or profiles that lead nowhere further are drawn once, above.
    const children = childrenOf(subject.id, way).filter(
      ([child, rel]) =>
        way === 'up' ||
        graph.direction === 'down' ||
        !ATTACHED.has(rel) ||
        (out.get(child) ?? []).some((e) => e.to !== subject.id),
    );
    lines.push(`${lastSection ? '└─ ' : '├─ '}${title}${children.length === 0 ? ': nothing' : ''}`);
    for (const [i, [child, rel]] of children.entries()) {
      draw(child, rel, subject.id, lastSection ? '   ' : '│  ', i === children.length - 1);
    }
  };
  if (graph.direction !== 'down') section('upstream (what made it)', 'up', graph.direction === 'up');
  if (graph.direction !== 'up') section('downstream (what it reached)', 'down', true);
  if (graph.truncated) lines.push('(some lists were cut; ask about a narrower subject)');
  return `${lines.join('\n')}\n`;
}

export const lineageCommands = [
  defineCommand({
    words: ['lineage'],
    usage:
      'lineage <request-id | deployment[@revision] | model@version | run | repo@commit> [--direction up|down|both] [--format tree|openlineage]',
    summary:
      'Where it came from and what it reached: prediction, revision, arm, model version, run and steps, data commit, gates',
    args: [1, 1],
    options: {
      direction: { type: 'string', description: 'up (what made it), down (what it reached) or both (default)' },
      format: {
        type: 'string',
        description: 'tree (default; -o json for the graph) or openlineage (RunEvents, one JSON object a line)',
      },
    },
    async run(ctx) {
      const direction = ctx.options.direction ?? 'both';
      if (direction !== 'up' && direction !== 'down' && direction !== 'both') {
        throw new UsageError(`--direction takes up, down or both, not '${direction}'`);
      }
      const format = ctx.options.format ?? 'tree';
      if (format !== 'tree' && format !== 'openlineage') {
        throw new UsageError(`--format takes tree or openlineage, not '${format}'`);
      }
      const of = ctx.args[0]!;
      if (format === 'openlineage') {
        const events = await ctx.client().exportOpenLineage(of, direction);
        ctx.io.out(events.map((e) => `${JSON.stringify(e)}\n`).join(''));
        return 0;
      }
      const graph = await ctx.client().getLineage(of, direction);
      ctx.io.out(ctx.format === 'json' ? json(graph) : renderLineageTree(graph));
      return 0;
    },
  }),
];
