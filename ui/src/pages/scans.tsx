/**
 * Use cases and scans: the use cases (task, dataset, models, scan config) with a button that runs a scan, the scans
 * with their progress (polled while any runs), and one scan: its scorecards, its report (the server's
 * self-contained HTML page, in a sandboxed frame) and a side-by-side comparison with other scans.
 */
import { useState } from 'react';
import { api } from '../api.ts';
import { Empty, ErrorMessage, formatTime, Loading, useAction } from '../components.tsx';
import { Link, navigate } from '../router.tsx';
import { useData } from '../use-data.ts';

type Scan = Awaited<ReturnType<typeof api.getScan>>;

const TONE: Record<string, string> = {
  Succeeded: 'good',
  Running: 'warn',
  Queued: 'warn',
  Failed: 'bad',
  Canceled: 'bad',
};
const ACTIVE = new Set(['Queued', 'Running']);

function ScanState({ state }: { state: string }) {
  return <span className={`badge ${TONE[state] ?? ''}`}>{state}</span>;
}

const num = (v: number | null | undefined, digits = 3) =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : String(Number(v.toPrecision(digits)));

function Progress({ scan }: { scan: Scan }) {
  const ratio = scan.progress.total > 0 ? Math.min(1, scan.progress.done / scan.progress.total) : 0;
  if (!ACTIVE.has(scan.state)) return <span className="muted">–</span>;
  return (
    <span>
      <span
        className="progress"
        role="progressbar"
        aria-valuenow={Math.round(ratio * 100)}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-label={`scan ${scan.usecase}#${scan.number} progress`}
      >
        <span style={{ width: `${Math.round(ratio * 100)}%` }} />
      </span>
      <span data-testid={`scan-progress-${scan.number}`}>
        {Math.round(ratio * 100)}% {scan.progress.phase}
      </span>
    </span>
  );
}

export function ScansPage() {
  const usecases = useData(() => api.listUseCases(), [], 5000);
  const scans = useData(() => api.listScans({ limit: 50 }), [], 1000);
  const action = useAction();
  return (
    <section>
      <h1>Use cases and scans</h1>
      <ErrorMessage error={usecases.error ?? action.error} />
      {!usecases.data ? (
        !usecases.error && <Loading />
      ) : usecases.data.length === 0 ? (
        <Empty title="No use cases yet.">
          Apply one: <code>modelport usecases apply -f usecase.yaml</code> (README, "Use cases and scans").
        </Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Use case</th>
                <th scope="col">Task</th>
                <th scope="col">Dataset</th>
                <th scope="col">Models</th>
                <th scope="col">Scan config</th>
                <th scope="col">Last scan</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {usecases.data.map((u) => {
                const d = u.spec.dataset;
                return (
                  <tr key={u.name}>
                    <td>
                      <strong>{u.name}</strong>
                      <div className="muted">{u.spec.scans.join(', ')}</div>
                    </td>
                    <td>{u.spec.task}</td>
                    <td className="mono">
                      {'repo' in d ? `${d.repo}@${d.commit}:${d.path}` : `upload ${d.upload.slice(0, 12)}`}
                    </td>
                    <td>
                      {u.spec.models.map((m) => (
                        <span key={typeof m === 'string' ? m : m.deployment} className="chip">
                          {typeof m === 'string' ? m : `deployment ${m.deployment}`}
                        </span>
                      ))}
                    </td>
                    <td>
                      {u.scanConfig.parallel} at once, {u.scanConfig.cpu} CPU, {u.scanConfig.memory}
                    </td>
                    <td>
                      {u.lastScan ? (
                        <Link href={`/scans/${u.lastScan.id}`}>
                          #{u.lastScan.number} <ScanState state={u.lastScan.state} />
                        </Link>
                      ) : (
                        '–'
                      )}
                    </td>
                    <td>
                      <button
                        type="button"
                        className="primary"
                        disabled={action.busy}
                        onClick={() =>
                          void action.run(async () => {
                            await api.runScan(u.name);
                            scans.reload();
                          })
                        }
                      >
                        Run scan
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <h2>Scans</h2>
      <ErrorMessage error={scans.error} />
      {!scans.data ? (
        !scans.error && <Loading />
      ) : scans.data.length === 0 ? (
        <Empty title="No scans yet.">
          Run one here, or <code>modelport scans run &lt;usecase&gt;</code>.
        </Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Scan</th>
                <th scope="col">State</th>
                <th scope="col">Progress</th>
                <th scope="col">Kinds</th>
                <th scope="col">Models</th>
                <th scope="col">Started</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {scans.data.map((s) => (
                <tr key={s.id}>
                  <td>
                    <Link href={`/scans/${s.id}`}>
                      {s.usecase} #{s.number}
                    </Link>
                  </td>
                  <td>
                    <ScanState state={s.state} />
                  </td>
                  <td>
                    <Progress scan={s} />
                  </td>
                  <td>{s.kinds.join(', ')}</td>
                  <td>{s.models.map((m) => m.target).join(', ') || '–'}</td>
                  <td>{formatTime(s.createdAt)}</td>
                  <td className="muted">{s.reason ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export function ScanPage({ id }: { id: string }) {
  const scan = useData(() => api.getScan(id), [id], 1000);
  const others = useData(() => api.listScans({ limit: 50 }), [id]);
  const [compare, setCompare] = useState<string[]>([]);
  const action = useAction();
  const s = scan.data;
  const finished = s?.state === 'Succeeded';
  // The page is fetched and shown through srcdoc in a sandbox: no script runs and nothing loads from anywhere.
  const html = useData(
    () => (finished ? api.getScanReportHtml(id, compare) : Promise.resolve(undefined)),
    [id, finished, compare.join(',')],
  );
  if (!s) {
    return (
      <section>
        <h1>Scan</h1>
        <ErrorMessage error={scan.error} />
        {!scan.error && <Loading />}
      </section>
    );
  }
  const reportUrl = `/api/v1/projects/${encodeURIComponent(api.project)}/scans/${s.id}/report.html${
    compare.length ? `?compare=${compare.join(',')}` : ''
  }`;
  const succeeded = (others.data ?? []).filter((o) => o.state === 'Succeeded' && o.id !== s.id);
  return (
    <section>
      <p>
        <Link href="/scans">Use cases and scans</Link>
      </p>
      <h1>
        {s.usecase} scan #{s.number} <ScanState state={s.state} />
      </h1>
      <ErrorMessage error={scan.error ?? action.error} />
      <dl className="facts">
        <dt>Kinds</dt>
        <dd>{s.kinds.join(', ')}</dd>
        <dt>Dataset</dt>
        <dd className="mono">
          {s.dataset
            ? `${s.dataset.repo ? `${s.dataset.repo}@${(s.dataset.commit ?? '').slice(0, 12)}:${s.dataset.path}` : `upload ${s.dataset.sha256.slice(0, 12)}`} (${s.dataset.rows} rows)`
            : '–'}
        </dd>
        <dt>Progress</dt>
        <dd>{ACTIVE.has(s.state) ? <Progress scan={s} /> : (s.reason ?? 'done')}</dd>
        <dt>Started</dt>
        <dd>{formatTime(s.createdAt)}</dd>
      </dl>
      {ACTIVE.has(s.state) && (
        <button type="button" disabled={action.busy} onClick={() => void action.run(() => api.cancelScan(s.id))}>
          Cancel scan
        </button>
      )}
      {s.summary && (
        <>
          <h2>Scorecards</h2>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Model</th>
                  <th scope="col">Called</th>
                  <th scope="col">Trust (0-100)</th>
                  <th scope="col">ROC AUC / accuracy / R²</th>
                  <th scope="col">Disparate impact (min)</th>
                  <th scope="col">Flip rate</th>
                  <th scope="col">Drifted features</th>
                </tr>
              </thead>
              <tbody>
                {s.models.map((m) => {
                  const x = s.summary?.[m.target];
                  const p = x?.performance ?? {};
                  return (
                    <tr key={m.target}>
                      <td>
                        <Link href={`/models/${encodeURIComponent(m.model)}`}>{m.target}</Link>
                        <div className="muted">
                          {m.model}@{m.version}
                        </div>
                      </td>
                      <td>{m.via}</td>
                      <td>{num(x?.trust === null || x?.trust === undefined ? null : x.trust * 100)}</td>
                      <td>{num(p['roc_auc'] ?? p['accuracy'] ?? p['r2'])}</td>
                      <td>{num(x?.fairness['disparate_impact']?.min)}</td>
                      <td>{num(x?.robustness['flip_rate'])}</td>
                      <td>{x && 'share' in x.drift ? `${x.drift.drifted} of ${x.drift.features}` : '–'}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          <h2>Report</h2>
          {succeeded.length > 0 && (
            <fieldset className="compare">
              <legend>Compare side by side with</legend>
              {succeeded.slice(0, 12).map((o) => (
                <label key={o.id}>
                  <input
                    type="checkbox"
                    checked={compare.includes(o.id)}
                    onChange={(e) =>
                      setCompare((c) => (e.target.checked ? [...c, o.id] : c.filter((x) => x !== o.id)).slice(0, 7))
                    }
                  />{' '}
                  {o.usecase} #{o.number}
                </label>
              ))}
            </fieldset>
          )}
          <p>
            <a href={reportUrl} target="_blank" rel="noreferrer">
              Open the report on its own page
            </a>{' '}
            (a self-contained HTML file: save it to share it).
          </p>
          <ErrorMessage error={html.error} />
          {html.data === undefined ? (
            !html.error && <Loading />
          ) : (
            <iframe
              title={`Report of ${s.usecase} scan #${s.number}`}
              className="report-frame"
              srcDoc={html.data}
              sandbox=""
            />
          )}
        </>
      )}
      {s.state === 'Failed' && (
        <p>
          <button
            type="button"
            onClick={() => void action.run(async () => navigate(`/scans/${(await api.runScan(s.usecase)).id}`))}
          >
            Scan again
          </button>
        </p>
      )}
    </section>
  );
}
