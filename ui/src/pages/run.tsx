/**
 * One run: the steps' DAG drawn with each step's state, the gate's explanation, metrics, and the selected step's
 * log, followed live while the run goes on; cancel and resume.
 */
import { useEffect, useState } from 'react';
import { api } from '../api.ts';
import { ErrorMessage, Loading, useAction } from '../components.tsx';
import { Link } from '../router.tsx';
import { useData } from '../use-data.ts';
import { duration, type Run, StateBadge, triggerText } from './pipelines.tsx';

const ACTIVE = new Set(['Pending', 'Running']);
const BOX = { w: 128, h: 46, gapX: 34, gapY: 18, pad: 8 };
const FILL: Record<string, string> = {
  Succeeded: '#e3f3ea',
  Running: '#fff4d6',
  Pending: '#f1f2f5',
  Failed: '#fdeceb',
  Blocked: '#fdeceb',
  Cancelled: '#f3e8e7',
  Skipped: '#f1f2f5',
};
const STROKE: Record<string, string> = {
  Succeeded: '#157347',
  Running: '#9a6200',
  Failed: '#b3261e',
  Blocked: '#b3261e',
  Cancelled: '#b3261e',
};

/** Columns by depth (a step one column right of the deepest step it needs), rows in spec order. */
function layout(steps: Run['steps']) {
  const depth = new Map<string, number>();
  const byName = new Map(steps.map((s) => [s.name, s]));
  const depthOf = (name: string, seen = new Set<string>()): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    if (seen.has(name)) return 0;
    seen.add(name);
    const d = Math.max(-1, ...(byName.get(name)?.needs ?? []).map((n) => depthOf(n, seen))) + 1;
    depth.set(name, d);
    return d;
  };
  const rows = new Map<number, number>();
  const at = new Map<string, { x: number; y: number }>();
  for (const s of steps) {
    const col = depthOf(s.name);
    const row = rows.get(col) ?? 0;
    rows.set(col, row + 1);
    at.set(s.name, { x: BOX.pad + col * (BOX.w + BOX.gapX), y: BOX.pad + row * (BOX.h + BOX.gapY) });
  }
  const cols = Math.max(1, ...[...rows.keys()].map((c) => c + 1));
  const maxRows = Math.max(1, ...rows.values());
  return {
    at,
    width: BOX.pad * 2 + cols * BOX.w + (cols - 1) * BOX.gapX,
    height: BOX.pad * 2 + maxRows * BOX.h + (maxRows - 1) * BOX.gapY,
  };
}

function Dag({ run, selected, onSelect }: { run: Run; selected: string; onSelect: (step: string) => void }) {
  const { at, width, height } = layout(run.steps);
  return (
    <svg className="dag" width={width} height={height} role="img" aria-label={`Steps of run #${run.number}`}>
      {run.steps.flatMap((s) =>
        s.needs.map((n) => {
          const from = at.get(n);
          const to = at.get(s.name);
          if (!from || !to) return null;
          const x1 = from.x + BOX.w;
          const y1 = from.y + BOX.h / 2;
          const x2 = to.x;
          const y2 = to.y + BOX.h / 2;
          return (
            <path
              key={`${n}-${s.name}`}
              d={`M${x1},${y1} C${x1 + BOX.gapX / 2},${y1} ${x2 - BOX.gapX / 2},${y2} ${x2},${y2}`}
              fill="none"
              stroke="#9aa3b5"
              strokeWidth="1.5"
            />
          );
        }),
      )}
      {run.steps.map((s) => {
        const p = at.get(s.name)!;
        return (
          // biome-ignore lint/a11y/useSemanticElements: an SVG group is the step's box; it acts as a button
          <g
            key={s.name}
            role="button"
            tabIndex={0}
            aria-label={`${s.name}: ${s.state}`}
            onClick={() => onSelect(s.name)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' || e.key === ' ') onSelect(s.name);
            }}
            style={{ cursor: 'pointer' }}
          >
            <rect
              x={p.x}
              y={p.y}
              width={BOX.w}
              height={BOX.h}
              rx="7"
              fill={FILL[s.state] ?? '#fff'}
              stroke={selected === s.name ? '#2450d8' : (STROKE[s.state] ?? '#c5cad5')}
              strokeWidth={selected === s.name ? 2.5 : 1.2}
            />
            <text x={p.x + 10} y={p.y + 19} fontSize="13" fontWeight="600" fill="#1d2330">
              {s.name}
            </text>
            <text x={p.x + 10} y={p.y + 36} fontSize="10.5" fill="#5c6577">
              {s.kind} · {s.state}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

function LiveLog({ run, step }: { run: Run; step: string }) {
  const [text, setText] = useState('');
  const [error, setError] = useState<string>();
  const live = ACTIVE.has(run.state);
  useEffect(() => {
    let stopped = false;
    setText('');
    setError(undefined);
    (async () => {
      try {
        for await (const e of api.runLogs(run.id, { step, follow: live })) {
          if (stopped) break;
          if (e.event === 'log') setText((t) => (t + e.text).slice(-200_000));
        }
      } catch (e) {
        if (!stopped) setError(String((e as Error).message ?? e));
      }
    })();
    return () => {
      stopped = true;
    };
  }, [run.id, step, live]);
  return (
    <>
      <ErrorMessage error={error} />
      <pre className="log" aria-live="polite">
        {text || <span className="muted">{live ? 'Waiting for output…' : 'No output.'}</span>}
      </pre>
    </>
  );
}

export function RunPage({ id }: { id: string }) {
  const run = useData(() => api.getRun(id), [id], 1500);
  const [selected, setSelected] = useState<string>();
  const action = useAction();
  if (!run.data) return <section>{run.error ? <ErrorMessage error={run.error} /> : <Loading />}</section>;
  const r = run.data;
  const step = r.steps.find((s) => s.name === selected) ?? r.steps.find((s) => s.state === 'Running') ?? r.steps[0]!;
  const gates = r.steps.filter((s) => s.result?.policy);
  const metrics = r.steps.filter((s) => Object.keys(s.metrics).length > 0);
  return (
    <section>
      <h1>
        <Link href={`/pipelines/${encodeURIComponent(r.pipeline)}`}>{r.pipeline}</Link> run #{r.number}{' '}
        <StateBadge state={r.state} />
      </h1>
      <p className="muted">
        {triggerText(r)} · revision {r.revision} · attempt {r.attempt} · {duration(r)} ·{' '}
        <Link href={`/lineage?of=${encodeURIComponent(`run:${r.id}`)}`}>lineage</Link>
        {r.reason ? (
          <>
            {' '}
            · <span className="bad">{r.reason}</span>
          </>
        ) : null}
      </p>
      <div className="row">
        {ACTIVE.has(r.state) && (
          <button
            type="button"
            disabled={action.busy}
            onClick={() => action.run(() => api.cancelRun(r.id).then(run.reload))}
          >
            Cancel run
          </button>
        )}
        {(r.state === 'Failed' || r.state === 'Cancelled') && (
          <button
            type="button"
            className="primary"
            disabled={action.busy}
            onClick={() => action.run(() => api.resumeRun(r.id).then(run.reload))}
          >
            Resume from the failed steps
          </button>
        )}
      </div>
      <ErrorMessage error={action.error} />
      <div className="panel dag-panel">
        <Dag run={r} selected={step.name} onSelect={setSelected} />
      </div>
      {gates.map((g) => (
        <div key={g.name} className={`panel gate ${g.result!.policy!.passed ? 'passed' : 'failed'}`}>
          <h2>
            {g.kind === 'gate' ? 'Gate' : 'Promote rule of'} {g.name}: {g.result!.policy!.passed ? 'passed' : 'failed'}
          </h2>
          <p className="mono">{g.result!.policy!.expression}</p>
          <p>{g.result!.policy!.explanation}</p>
          <table className="compact">
            <tbody>
              {g.result!.policy!.values.map((v) => (
                <tr key={v.path}>
                  <th scope="row" className="mono">
                    {v.path}
                  </th>
                  <td>
                    {v.value === undefined
                      ? 'missing'
                      : typeof v.value === 'number'
                        ? Number(v.value.toPrecision(6))
                        : JSON.stringify(v.value)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ))}
      {metrics.length > 0 && (
        <>
          <h2>Metrics</h2>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Step</th>
                  {[...new Set(metrics.flatMap((s) => Object.keys(s.metrics)))].map((k) => (
                    <th key={k} scope="col">
                      {k}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {metrics.map((s) => (
                  <tr key={s.name}>
                    <th scope="row">{s.name}</th>
                    {[...new Set(metrics.flatMap((x) => Object.keys(x.metrics)))].map((k) => (
                      <td key={k}>{s.metrics[k] === undefined ? '–' : Number(s.metrics[k].toPrecision(4))}</td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      <h2>
        Step {step.name} <StateBadge state={step.state} />
      </h2>
      <p className="muted">
        {step.kind}
        {step.exitCode !== null ? ` · exit ${step.exitCode}` : ''}
        {step.attempt > 1 ? ` · attempt ${step.attempt}` : ''}
        {step.outputs.length > 0 ? ` · outputs ${step.outputs.join(', ')}` : ''}
        {step.result?.registered
          ? ` · registered ${step.result.registered.model}@${step.result.registered.version} (${step.result.registered.ref})`
          : ''}
        {step.result?.deployed ? ` · deployed at ${step.result.deployed.url}` : ''}
        {step.log?.cut ? ' · log cut at the cap' : ''}
      </p>
      {step.reason && <p className="bad">{step.reason}</p>}
      <LiveLog run={r} step={step.name} />
    </section>
  );
}
