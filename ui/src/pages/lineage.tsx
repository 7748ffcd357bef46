/**
 * Lineage: the graph around a request id, a deployment revision, a model version, a run or a data commit, drawn in
 * layers from the data (top) to the predictions (bottom); every node is a link to the page that shows it. The
 * layers wrap to the width of the screen, so a phone shows the same graph, taller.
 */
import { useEffect, useRef, useState } from 'react';
import { api } from '../api.ts';
import { ErrorMessage, formatTime, Loading } from '../components.tsx';
import { Link, navigate, useLocation } from '../router.tsx';
import { useData } from '../use-data.ts';

type Graph = Awaited<ReturnType<typeof api.getLineage>>;
type Node = Graph['nodes'][number];

/** Top to bottom: where data flows. */
const LAYER: Record<Node['kind'], number> = {
  commit: 0,
  profile: 1,
  run: 1,
  step: 2,
  version: 3,
  scan: 4,
  arm: 4,
  deployment: 5,
  prediction: 6,
  predictions: 6,
};
const KIND: Record<Node['kind'], string> = {
  commit: 'data commit',
  profile: 'profile',
  run: 'pipeline run',
  step: 'step',
  version: 'model version',
  scan: 'scan',
  arm: 'traffic arm',
  deployment: 'deployment revision',
  prediction: 'prediction',
  predictions: 'predictions',
};
const BOX = { min: 140, max: 176, h: 52, gapX: 14, gapY: 38, pad: 8 };
const GOOD = new Set(['Succeeded', 'serving', 'ready', 'ok', 'passed']);
const BAD = new Set(['Failed', 'Blocked', 'Cancelled', 'failed']);

function colours(node: Node) {
  if (node.detail['kind'] === 'gate' && node.detail['passed'] === false) return { fill: '#fdeceb', stroke: '#b3261e' };
  if (node.state && BAD.has(node.state)) return { fill: '#fdeceb', stroke: '#b3261e' };
  if (node.state && GOOD.has(node.state)) return { fill: '#e3f3ea', stroke: '#157347' };
  return { fill: '#f5f7fb', stroke: '#8a93a6' };
}

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** Rows by layer, wrapped to `width`; returns each node's box and the drawing's size. */
function layout(graph: Graph, width: number) {
  const perLine = Math.max(1, Math.floor((width - 2 * BOX.pad + BOX.gapX) / (BOX.min + BOX.gapX)));
  // As wide as the line allows, so a phone gets two columns and a desktop six.
  const w = Math.min(BOX.max, Math.max(BOX.min, (width - 2 * BOX.pad - (perLine - 1) * BOX.gapX) / perLine));
  const layers = new Map<number, Node[]>();
  for (const n of graph.nodes) layers.set(LAYER[n.kind], [...(layers.get(LAYER[n.kind]) ?? []), n]);
  const at = new Map<string, { x: number; y: number }>();
  let y = BOX.pad;
  let widest = 0;
  for (const layer of [...layers.keys()].sort((a, b) => a - b)) {
    const nodes = layers.get(layer)!;
    for (let i = 0; i < nodes.length; i += perLine) {
      const line = nodes.slice(i, i + perLine);
      line.forEach((n, j) => {
        at.set(n.id, { x: BOX.pad + j * (w + BOX.gapX), y });
      });
      widest = Math.max(widest, line.length);
      y += BOX.h + BOX.gapY;
    }
  }
  return {
    at,
    w,
    width: BOX.pad * 2 + widest * w + Math.max(0, widest - 1) * BOX.gapX,
    height: y - BOX.gapY + BOX.pad,
  };
}

function LineageGraph({ graph }: { graph: Graph }) {
  const panel = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(1200);
  useEffect(() => {
    const el = panel.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setWidth(el.clientWidth));
    observer.observe(el);
    setWidth(el.clientWidth);
    return () => observer.disconnect();
  }, []);
  const { at, w: boxW, width: w, height } = layout(graph, width);
  return (
    <div className="dag-panel lineage-panel" ref={panel}>
      <svg
        className="dag lineage"
        width={w}
        height={height}
        role="img"
        aria-label={`Lineage of ${graph.subject.query}`}
      >
        <defs>
          <marker id="lineage-arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto">
            <path d="M0,0 L8,4 L0,8 z" fill="#8a93a6" />
          </marker>
        </defs>
        {graph.edges.map((e) => {
          const a = at.get(e.from);
          const b = at.get(e.to);
          if (!a || !b) return null;
          const x1 = a.x + boxW / 2;
          const y1 = a.y + BOX.h;
          const x2 = b.x + boxW / 2;
          const y2 = b.y;
          const bend = Math.max(18, (y2 - y1) / 2);
          return (
            <path
              key={`${e.from}>${e.to}`}
              d={`M${x1},${y1} C${x1},${y1 + bend} ${x2},${y2 - bend} ${x2},${y2 - 2}`}
              fill="none"
              stroke="#b5bccb"
              strokeWidth="1.4"
              markerEnd="url(#lineage-arrow)"
            >
              <title>{e.relation}</title>
            </path>
          );
        })}
        {graph.nodes.map((n) => {
          const p = at.get(n.id)!;
          const c = colours(n);
          const subject = n.id === graph.subject.node;
          const state =
            n.detail['kind'] === 'gate' && typeof n.detail['passed'] === 'boolean'
              ? n.detail['passed']
                ? 'gate passed'
                : 'gate failed'
              : n.state;
          const body = (
            <>
              <rect
                x={p.x}
                y={p.y}
                width={boxW}
                height={BOX.h}
                rx="7"
                fill={c.fill}
                stroke={subject ? '#2f5bd3' : c.stroke}
                strokeWidth={subject ? 2.5 : 1.2}
              />
              <text x={p.x + 9} y={p.y + 15} fontSize="9.5" fill="#5c6577" letterSpacing="0.04em">
                {KIND[n.kind].toUpperCase()}
              </text>
              <text x={p.x + 9} y={p.y + 31} fontSize="12.5" fontWeight="600" fill="#1d2330">
                {clip(n.label, Math.floor(boxW / 7.6))}
              </text>
              {state && (
                <text x={p.x + 9} y={p.y + 45} fontSize="10.5" fill={c.stroke}>
                  {clip(state, Math.floor(boxW / 6))}
                </text>
              )}
              <title>
                {[`${KIND[n.kind]} ${n.label}`, ...Object.entries(n.detail).map(([k, v]) => `${k}: ${v}`)].join('\n')}
              </title>
            </>
          );
          return n.link ? (
            <a
              key={n.id}
              href={n.link}
              aria-label={`${KIND[n.kind]} ${n.label}${state ? ` (${state})` : ''}`}
              onClick={(event) => {
                if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
                event.preventDefault();
                navigate(n.link!);
              }}
            >
              {body}
            </a>
          ) : (
            <g key={n.id}>{body}</g>
          );
        })}
      </svg>
    </div>
  );
}

function NodeTable({ graph }: { graph: Graph }) {
  const ordered = [...graph.nodes].sort((a, b) => LAYER[a.kind] - LAYER[b.kind]);
  return (
    <div className="table-wrap">
      <table className="lineage-nodes">
        <thead>
          <tr>
            <th>What</th>
            <th>Name</th>
            <th>State</th>
            <th>When</th>
          </tr>
        </thead>
        <tbody>
          {ordered.map((n) => (
            <tr key={n.id}>
              <td>{KIND[n.kind]}</td>
              <td>{n.link ? <Link href={n.link}>{n.label}</Link> : n.label}</td>
              <td>
                {n.kind === 'step' && typeof n.detail['explanation'] === 'string'
                  ? n.detail['explanation']
                  : (n.state ?? '')}
              </td>
              <td>{n.time ? formatTime(n.time) : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function LineagePage() {
  const { query } = useLocation();
  const of = query.get('of') ?? '';
  const direction = (query.get('direction') ?? 'both') as 'up' | 'down' | 'both';
  const [text, setText] = useState(of);
  useEffect(() => setText(of), [of]);
  const graph = useData(async () => (of ? api.getLineage(of, direction) : undefined), [of, direction]);
  const go = (value: string, dir: string) =>
    navigate(`/lineage?of=${encodeURIComponent(value)}${dir === 'both' ? '' : `&direction=${dir}`}`);
  return (
    <section>
      <h1>Lineage{of ? `: ${of}` : ''}</h1>
      <form
        className="panel"
        onSubmit={(event) => {
          event.preventDefault();
          if (text.trim()) go(text.trim(), direction);
        }}
      >
        <div className="fields">
          <label>
            Trace
            <input
              value={text}
              onChange={(event) => setText(event.target.value)}
              placeholder="model:fraud@2, transactions@main, fraud-train#1, a request id"
              size={34}
            />
          </label>
          <label>
            Direction
            <select value={direction} onChange={(event) => of && go(of, event.target.value)}>
              <option value="both">both</option>
              <option value="up">up: what made it</option>
              <option value="down">down: what it reached</option>
            </select>
          </label>
          <button type="submit" className="primary">
            Trace
          </button>
        </div>
      </form>
      {!of ? (
        <p className="muted">
          Name a model version (<code>model:fraud@2</code>), a deployment revision (<code>deployment:fraud@3</code>), a
          run (<code>fraud-train#1</code>), a data commit (<code>transactions@main</code>) or a request id.
        </p>
      ) : graph.error ? (
        <ErrorMessage error={graph.error} />
      ) : !graph.data ? (
        <Loading />
      ) : (
        <>
          <p className="muted">
            {graph.data.nodes.length} nodes, {graph.data.edges.length} links; data flows downwards. Select a node to
            open its page.{graph.data.truncated ? ' Some lists were cut.' : ''}
          </p>
          <LineageGraph graph={graph.data} />
          <h2>Nodes</h2>
          <NodeTable graph={graph.data} />
        </>
      )}
    </section>
  );
}
