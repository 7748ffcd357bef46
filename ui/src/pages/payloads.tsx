/**
 * The payload log in the console: a deployment's logged calls as a table with filters (since, arm, status,
 * prediction, and a free `where` filter in the CLI's language), one call's detail (every record of its request id:
 * the answer and its shadow, inputs and outputs with redacted values marked), and the live accuracy per traffic arm
 * shown on the deployment page.
 */
import { useState } from 'react';
import type { PayloadRecord } from '../../../src/sinks/sink.ts';
import { api } from '../api.ts';
import { Chart } from '../chart.tsx';
import { Empty, ErrorMessage, formatTime, Loading } from '../components.tsx';
import { Link, navigate, useLocation } from '../router.tsx';
import { useData } from '../use-data.ts';

const SINCE = [
  ['15m', 'last 15 minutes'],
  ['1h', 'last hour'],
  ['24h', 'last 24 hours'],
  ['7d', 'last 7 days'],
  ['', 'all'],
] as const;

/** A filter value as a quoted literal of the `where` language. */
const quoted = (value: string) => `'${value.replaceAll("'", "''")}'`;

export function PayloadsPage({ name }: { name: string }) {
  const { query } = useLocation();
  const [since, setSince] = useState(query.get('since') ?? '1h');
  const [arm, setArm] = useState(query.get('arm') ?? '');
  const [status, setStatus] = useState(query.get('status') ?? '');
  const [prediction, setPrediction] = useState(query.get('prediction') ?? '');
  const [where, setWhere] = useState(query.get('where') ?? '');
  const [applied, setApplied] = useState({ since, arm, status, prediction, where });
  const clauses = [
    applied.arm && `arm = ${quoted(applied.arm)}`,
    applied.status === 'ok' && "status = 'ok'",
    applied.status === 'failed' && "status != 'ok'",
    applied.prediction && `prediction = ${quoted(applied.prediction)}`,
    applied.where && `(${applied.where})`,
  ].filter(Boolean);
  const filter = clauses.join(' AND ');
  const list = useData(
    () =>
      api.listPayloads(name, {
        limit: 100,
        ...(applied.since ? { since: applied.since } : {}),
        ...(filter ? { where: filter } : {}),
      }),
    [name, applied.since, filter],
    5000,
  );
  const records = list.data?.records;
  return (
    <section>
      <p className="crumbs">
        <Link href="/deployments">Deployments</Link> /{' '}
        <Link href={`/deployments/${encodeURIComponent(name)}`}>{name}</Link> /
      </p>
      <h1>Payload log</h1>
      <p className="muted">
        Calls logged by <code>spec.logging</code>, newest first (at most 100). Redacted values never reach the log. The
        same filter works in <code>modelport payloads list {name} --where "…"</code>.
      </p>
      <FindCall name={name} />
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied({ since, arm, status, prediction, where });
        }}
      >
        <label>
          Since
          <select value={since} onChange={(e) => setSince(e.target.value)}>
            {SINCE.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Arm
          <input value={arm} onChange={(e) => setArm(e.target.value)} placeholder="primary, canary, shadow" />
        </label>
        <label>
          Status
          <select value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">any</option>
            <option value="ok">ok</option>
            <option value="failed">failed</option>
          </select>
        </label>
        <label>
          Prediction
          <input value={prediction} onChange={(e) => setPrediction(e.target.value)} placeholder="fraud" />
        </label>
        <label className="grow">
          Where
          <input
            value={where}
            onChange={(e) => setWhere(e.target.value)}
            placeholder="total_ms > 5 AND caller IS NOT NULL"
          />
        </label>
        <button type="submit">Apply</button>
      </form>
      <ErrorMessage error={list.error} />
      {!records ? (
        !list.error && <Loading />
      ) : records.length === 0 ? (
        <Empty title="No logged calls">
          Nothing matches. A deployment logs calls once its spec has <code>logging</code>; widen the time range or the
          filter.
        </Empty>
      ) : (
        <>
          <p className="muted">
            {records.length} call(s) in {list.data?.elapsedMs} ms
          </p>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Request id</th>
                  <th scope="col">Arm</th>
                  <th scope="col">Model</th>
                  <th scope="col">Protocol</th>
                  <th scope="col">Status</th>
                  <th scope="col">Prediction</th>
                  <th scope="col">Latency</th>
                  <th scope="col">Caller</th>
                </tr>
              </thead>
              <tbody>
                {records.map((r) => (
                  <tr key={`${r.requestId}|${r.arm}`}>
                    <td>{formatTime(r.time)}</td>
                    <td>
                      <Link
                        href={`/deployments/${encodeURIComponent(name)}/payloads/${encodeURIComponent(r.requestId)}`}
                      >
                        <code>{r.requestId}</code>
                      </Link>
                    </td>
                    <td>{r.arm}</td>
                    <td>
                      {r.model}@{r.modelVersion}
                    </td>
                    <td>{r.protocol}</td>
                    <td>{r.status === 'ok' ? 'ok' : <span className="bad">{r.status}</span>}</td>
                    <td>{r.prediction ?? '–'}</td>
                    <td>{r.totalMs.toFixed(1)} ms</td>
                    <td>{r.caller ?? '–'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}

export function PayloadPage({ name, requestId }: { name: string; requestId: string }) {
  const records = useData(() => api.getPayload(requestId, name), [name, requestId]);
  return (
    <section>
      <p className="crumbs">
        <Link href="/deployments">Deployments</Link> /{' '}
        <Link href={`/deployments/${encodeURIComponent(name)}`}>{name}</Link> /{' '}
        <Link href={`/deployments/${encodeURIComponent(name)}/payloads`}>Payload log</Link> /
      </p>
      <h1>
        Call <code>{requestId}</code>
      </h1>
      <ErrorMessage error={records.error} />
      {!records.data ? !records.error && <Loading /> : records.data.map((r) => <RecordDetail key={r.arm} record={r} />)}
    </section>
  );
}

function RecordDetail({ record: r }: { record: PayloadRecord }) {
  return (
    <article className="card">
      <h2>
        {r.arm === 'shadow' ? 'Shadow' : 'Answer'} · {r.arm} · {r.model}@{r.modelVersion}
      </h2>
      <dl className="facts">
        <dt>Time</dt>
        <dd>{formatTime(r.time)}</dd>
        <dt>Revision</dt>
        <dd>{r.revision}</dd>
        <dt>Protocol</dt>
        <dd>{r.protocol}</dd>
        <dt>Status</dt>
        <dd>{r.error ? `${r.status}: ${r.error}` : r.status}</dd>
        <dt>Prediction</dt>
        <dd>{r.prediction ?? '–'}</dd>
        <dt>Latency</dt>
        <dd>
          queue {r.queueMs} ms · compute {r.computeMs} ms · total {r.totalMs} ms
        </dd>
        <dt>Caller</dt>
        <dd>{r.caller ?? '–'}</dd>
      </dl>
      <Tensors title="Inputs" tensors={r.inputs} />
      <Tensors title="Outputs" tensors={r.outputs} />
    </article>
  );
}

function Tensors({ title, tensors }: { title: string; tensors: PayloadRecord['inputs'] }) {
  if (tensors === null) return <p className="muted">{title}: not logged (mode, or a failed call).</p>;
  return (
    <>
      <h3>{title}</h3>
      {tensors.map((t) => (
        <div key={t.name}>
          <p>
            <code>{t.name}</code> {t.datatype} [{t.shape.join(', ')}]
            {t.redacted === true && <span className="chip">redacted</span>}
            {Array.isArray(t.redacted) && <span className="chip">redacted: {t.redacted.join(', ')}</span>}
          </p>
          {t.data !== null && <pre className="payload">{JSON.stringify(t.data)}</pre>}
        </div>
      ))}
    </>
  );
}

const percent = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(1)}%`);

/** Live accuracy per arm from delayed labels (the deployment page's section); nothing when no label arrived yet. */
export function LiveAccuracy({ name }: { name: string }) {
  const report = useData(() => api.deploymentAccuracy(name, { window: '1h', since: '24h' }), [name], 30_000);
  const r = report.data;
  const now = Date.now();
  return (
    <>
      <div className="row between">
        <h2>Live accuracy</h2>
        <Link href={`/deployments/${encodeURIComponent(name)}/payloads`}>Payload log</Link>
      </div>
      <ErrorMessage error={report.error} />
      {r && r.arms.length === 0 && (
        <p className="muted">
          No labels yet. Send the true labels of logged calls with{' '}
          <code>modelport payloads feedback {name} -f labels.csv</code> (columns <code>request_id,label</code>);
          accuracy per arm appears here.
        </p>
      )}
      {r && r.arms.length > 0 && (
        <>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Arm</th>
                  <th scope="col">Labelled (24 h)</th>
                  <th scope="col">Accuracy</th>
                  <th scope="col">Precision</th>
                  <th scope="col">Recall</th>
                </tr>
              </thead>
              <tbody>
                {r.arms.map((a) => (
                  <tr key={a.arm}>
                    <td>{a.arm}</td>
                    <td>{a.total.n}</td>
                    <td>{percent(a.total.accuracy)}</td>
                    <td>{percent(a.total.precision)}</td>
                    <td>{percent(a.total.recall)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div className="charts">
            <Chart
              title="Accuracy per hour"
              unit="%"
              domain={[now - 24 * 3_600_000, now]}
              format={(v) => v.toFixed(1)}
              series={r.arms.map((a) => ({
                name: a.arm,
                points: a.points.map((p) => [Date.parse(p.time), p.accuracy === null ? null : p.accuracy * 100]),
              }))}
            />
          </div>
        </>
      )}
    </>
  );
}

/** Opens a request's detail from an id pasted in (the id an answer's `modelport-request-id` header carries). */
export function FindCall({ name }: { name: string }) {
  const [id, setId] = useState('');
  return (
    <form
      className="filters"
      onSubmit={(e) => {
        e.preventDefault();
        if (id.trim()) navigate(`/deployments/${encodeURIComponent(name)}/payloads/${encodeURIComponent(id.trim())}`);
      }}
    >
      <label className="grow">
        Request id
        <input value={id} onChange={(e) => setId(e.target.value)} placeholder="modelport-request-id of a call" />
      </label>
      <button type="submit">Open</button>
    </form>
  );
}
