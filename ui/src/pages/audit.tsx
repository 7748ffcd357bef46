/**
 * The audit log (server admins): every change and every refused call, newest first, filtered by project and time;
 * a spec change opens to its before and after; the chain check says whether any row was edited or deleted.
 */
import { useState } from 'react';
import type { AuditRecord, AuditVerifyResult } from '../../../src/audit/index.ts';
import { api } from '../api.ts';
import { Empty, ErrorMessage, formatTime, Loading, useAction } from '../components.tsx';
import { useData } from '../use-data.ts';

const SINCE = [
  ['1h', 'Last hour'],
  ['24h', 'Last 24 hours'],
  ['7d', 'Last 7 days'],
  ['', 'All time'],
] as const;

export function AuditPage() {
  const [project, setProject] = useState('');
  const [since, setSince] = useState('24h');
  const rows = useData(
    () => api.listAudit({ ...(project ? { project } : {}), ...(since ? { since } : {}), limit: 200 }),
    [project, since],
    10_000,
  );
  return (
    <section>
      <h1>Audit log</h1>
      <p className="muted">
        Every change and every refused call: who, what, when and the outcome. Secret values are never recorded.
      </p>
      <ChainCheck />
      <search className="row" aria-label="Filter the audit log">
        <label>
          Project{' '}
          <input value={project} onChange={(e) => setProject(e.target.value.trim())} placeholder="all" size={16} />
        </label>
        <label>
          Since{' '}
          <select value={since} onChange={(e) => setSince(e.target.value)}>
            {SINCE.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
      </search>
      <ErrorMessage error={rows.error} />
      {!rows.data ? (
        !rows.error && <Loading />
      ) : rows.data.length === 0 ? (
        <Empty title="No audit rows match.">
          Changes made through the API, the CLI or this console appear here as they happen.
        </Empty>
      ) : (
        <div className="table-wrap">
          <table className="audit">
            <caption className="sr-only">Audit rows, newest first</caption>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">What</th>
                <th scope="col">Project</th>
                <th scope="col">Object</th>
                <th scope="col">Outcome</th>
              </tr>
            </thead>
            <tbody>
              {rows.data.map((r) => (
                <Row key={r.seq} record={r} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Row({ record: r }: { record: AuditRecord }) {
  const ok = r.status < 400;
  return (
    <tr>
      <td className="mono">{r.seq}</td>
      <td className="nowrap">
        <time dateTime={r.at}>{formatTime(r.at)}</time>
      </td>
      <td>
        <span className="mono">{r.subject}</span>
        {r.token && <span className="muted"> (token {r.token})</span>}
      </td>
      <td>
        <span className="mono">
          {r.method} {r.route}
        </span>
        {r.detail && <Detail detail={r.detail} />}
      </td>
      <td>{r.project ?? <span className="muted">-</span>}</td>
      <td className="mono">{r.object ?? <span className="muted">-</span>}</td>
      <td className="nowrap">
        <span className={`badge ${ok ? 'good' : r.status === 401 || r.status === 403 ? 'bad' : 'warn'}`}>
          {r.status}
        </span>
        {r.errorCode && <div className="mono muted small">{r.errorCode}</div>}
      </td>
    </tr>
  );
}

/** The top-level fields a spec change touched, before and after; the rest is named, not shown. */
function changedFields(before: unknown, after: unknown) {
  const asObject = (v: unknown) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {});
  const b = asObject(before);
  const a = asObject(after);
  const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])];
  const show = (v: unknown) => (v === undefined ? '(absent)' : JSON.stringify(v, null, 2));
  const changed = keys.filter((k) => JSON.stringify(b[k]) !== JSON.stringify(a[k]));
  return {
    changed: changed.map((k) => ({ key: k, before: show(b[k]), after: show(a[k]) })),
    unchanged: keys.filter((k) => !changed.includes(k)),
  };
}

/** A spec change as the fields it touched, before and after; other details as they are. */
function Detail({ detail }: { detail: Record<string, unknown> }) {
  const change = 'before' in detail || 'after' in detail;
  if (!change) {
    return (
      <details>
        <summary className="muted">details</summary>
        <pre className="mono">{JSON.stringify(detail, null, 2)}</pre>
      </details>
    );
  }
  const created = detail['before'] == null;
  const deleted = detail['after'] == null;
  const { changed, unchanged } = changedFields(detail['before'], detail['after']);
  return (
    <details>
      <summary className="muted">
        {created
          ? 'created: the spec'
          : deleted
            ? 'deleted: the last spec'
            : `changed: ${changed.map((c) => c.key).join(', ') || 'nothing'}`}
      </summary>
      {created || deleted ? (
        <pre className="mono">{JSON.stringify(created ? detail['after'] : detail['before'], null, 2)}</pre>
      ) : (
        <table className="diff">
          <thead>
            <tr>
              <th scope="col">Field</th>
              <th scope="col">Before</th>
              <th scope="col">After</th>
            </tr>
          </thead>
          <tbody>
            {changed.map((c) => (
              <tr key={c.key}>
                <th scope="row" className="mono">
                  {c.key}
                </th>
                <td>
                  <pre className="mono">{c.before}</pre>
                </td>
                <td>
                  <pre className="mono">{c.after}</pre>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {!created && !deleted && unchanged.length > 0 && <p className="muted small">Unchanged: {unchanged.join(', ')}</p>}
    </details>
  );
}

function ChainCheck() {
  const [result, setResult] = useState<AuditVerifyResult>();
  const action = useAction();
  return (
    <div className="panel row between" aria-live="polite">
      <span>
        {!result ? (
          <span className="muted">The rows are chained by sha256: an edited or deleted row breaks the chain.</span>
        ) : result.ok ? (
          <span className="ok">
            Chain intact: {result.count} rows
            {result.head && (
              <>
                {' '}
                - head <span className="mono">{result.head.hash.slice(0, 16)}...</span>
              </>
            )}
          </span>
        ) : (
          <span className="bad">
            Chain broken at row {result.firstBad?.seq}: {result.firstBad?.reason}
          </span>
        )}
      </span>
      <ErrorMessage error={action.error} />
      <button
        type="button"
        disabled={action.busy}
        onClick={() =>
          void action.run(async () => {
            setResult(await api.verifyAudit());
          })
        }
      >
        Verify the chain
      </button>
    </div>
  );
}
