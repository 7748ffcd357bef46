/**
 * Batch jobs: the list with each job's state and progress (polled while any runs), a form that uploads a CSV or
 * JSON-lines file and submits it against a model, cancel for queued and running jobs, and downloads of a
 * succeeded job's output and rejects.
 */
import { useState } from 'react';
import type { ApiResponse } from '../../../src/api/contract.ts';
import { api } from '../api.ts';
import { ConfirmButton, Empty, ErrorMessage, formatBytes, formatTime, Loading, useAction } from '../components.tsx';
import { Link } from '../router.tsx';
import { useData } from '../use-data.ts';

type Job = ApiResponse<'getJob'>;

const ACTIVE = new Set(['queued', 'running']);

/** Where the browser downloads a job's output or rejects (the API's own route, so the checksum header comes too). */
const downloadUrl = (job: Job, which: 'output' | 'rejects') =>
  `/api/v1/projects/${encodeURIComponent(job.project)}/jobs/${encodeURIComponent(job.id)}/${which}`;

function Progress({ job }: { job: Job }) {
  const { rows, rowsPerSecond, bytesRead, bytesTotal, rejects } = job.progress;
  const share = bytesTotal ? Math.min(1, bytesRead / bytesTotal) : job.state === 'succeeded' ? 1 : 0;
  return (
    <>
      <span className="progress" aria-hidden="true">
        <span style={{ width: `${Math.round(share * 100)}%` }} />
      </span>
      <span data-testid={`progress-${job.id}`}>
        {Math.round(share * 100)}% · {rows.toLocaleString()} rows
        {rowsPerSecond > 0 ? ` · ${Math.round(rowsPerSecond).toLocaleString()} rows/s` : ''}
        {rejects > 0 ? ` · ${rejects.toLocaleString()} rejected` : ''}
      </span>
    </>
  );
}

export function JobsPage() {
  const [polling, setPolling] = useState(false);
  const jobs = useData(
    async () => {
      const list = await api.listJobs(100);
      setPolling(list.some((j) => ACTIVE.has(j.state)));
      return list;
    },
    [],
    polling ? 1000 : 5000,
  );
  const action = useAction();
  const act = async (fn: () => Promise<unknown>) => {
    if (await action.run(fn)) await jobs.reload();
  };

  return (
    <section>
      <h1>Batch jobs</h1>
      <p className="muted">
        A job scores a CSV or JSON-lines file with a model version on the server and keeps the output. From the command
        line: <code>modelport jobs submit fraud@champion transactions.csv --keep id --wait</code>.
      </p>
      <ErrorMessage error={jobs.error} />
      <ErrorMessage error={action.error} />
      {!jobs.data ? (
        !jobs.error && <Loading />
      ) : jobs.data.length === 0 ? (
        <Empty title="No jobs yet.">Submit a file with the form below.</Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">Model</th>
                <th scope="col">State</th>
                <th scope="col">Progress</th>
                <th scope="col">Submitted</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {jobs.data.map((job) => (
                <tr key={job.id} data-testid={`job-${job.id}`}>
                  <td>
                    <code className="nowrap">{job.id.slice(0, 12)}</code>
                  </td>
                  <td>
                    <Link href={`/models/${encodeURIComponent(job.model)}`}>
                      {job.model}@{job.version}
                    </Link>
                  </td>
                  <td>
                    <span className={`badge ${STATE_TONE[job.state] ?? 'warn'}`}>{job.state}</span>
                    {job.reason && <div className="muted">{job.reason}</div>}
                  </td>
                  <td>
                    <Progress job={job} />
                  </td>
                  <td>{formatTime(job.createdAt)}</td>
                  <td>
                    <div className="actions">
                      {job.state === 'succeeded' && job.output && (
                        <a className="button" href={downloadUrl(job, 'output')} download={`${job.id}-output`}>
                          Output ({formatBytes(job.output.size)})
                        </a>
                      )}
                      {job.rejects && job.progress.rejects > 0 && (
                        <a className="button" href={downloadUrl(job, 'rejects')} download={`${job.id}-rejects.csv`}>
                          Rejects ({job.progress.rejects.toLocaleString()})
                        </a>
                      )}
                      {ACTIVE.has(job.state) && (
                        <ConfirmButton
                          label="Cancel"
                          confirmLabel="Cancel job"
                          question={`Cancel job ${job.id.slice(0, 12)}? Its process stops at once and its partial output is removed.`}
                          disabled={action.busy}
                          onConfirm={() => void act(() => api.cancelJob(job.id))}
                        />
                      )}
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <SubmitForm onSubmitted={() => jobs.reload()} />
    </section>
  );
}

const STATE_TONE: Record<string, string> = { succeeded: 'good', failed: 'bad', cancelled: 'bad' };

/** Uploads the input file, then submits the job with the options of `modelport score`. */
function SubmitForm({ onSubmitted }: { onSubmitted: () => Promise<void> }) {
  const models = useData(() => api.listModels(), []);
  const [model, setModel] = useState('');
  const [file, setFile] = useState<File>();
  const [keep, setKeep] = useState('');
  const [onError, setOnError] = useState<'fail' | 'skip'>('fail');
  const [sent, setSent] = useState<number>();
  const action = useAction();
  const chosen = model || (models.data?.[0] ? models.data[0].name : '');
  return (
    <form
      className="panel"
      onSubmit={async (event) => {
        event.preventDefault();
        if (!file || !chosen) return;
        const ok = await action.run(async () => {
          const bytes = new Uint8Array(await file.arrayBuffer());
          const input = await api.uploadJobInput(bytes, setSent);
          const format = /\.(jsonl|ndjson|json)$/i.test(file.name) ? 'jsonl' : 'csv';
          const columns = keep
            .split(',')
            .map((c) => c.trim())
            .filter(Boolean);
          await api.submitJob({ model: chosen, input: { artifact: input.sha256 }, format, keep: columns, onError });
        });
        setSent(undefined);
        if (ok) await onSubmitted();
      }}
    >
      <h2>Submit a job</h2>
      <div className="fields">
        <label>
          Model
          <input
            list="job-models"
            value={chosen}
            onChange={(e) => setModel(e.target.value)}
            placeholder="fraud@champion"
            required
          />
          <datalist id="job-models">
            {(models.data ?? []).flatMap((m) => [
              <option key={m.name} value={m.name} />,
              ...Object.keys(m.aliases).map((a) => <option key={`${m.name}@${a}`} value={`${m.name}@${a}`} />),
            ])}
          </datalist>
        </label>
        <label>
          Input file (CSV or JSON lines)
          <input
            type="file"
            accept=".csv,.jsonl,.ndjson,.json,text/csv"
            required
            onChange={(e) => setFile(e.target.files?.[0])}
          />
        </label>
        <label>
          Keep columns
          <input value={keep} onChange={(e) => setKeep(e.target.value)} placeholder="id" autoComplete="off" />
        </label>
        <label>
          Bad rows
          <select value={onError} onChange={(e) => setOnError(e.target.value as 'fail' | 'skip')}>
            <option value="fail">fail the job</option>
            <option value="skip">set aside as rejects</option>
          </select>
        </label>
        <button type="submit" className="primary" disabled={action.busy || !file}>
          {action.busy ? (sent === undefined ? 'Submitting…' : `Uploading ${formatBytes(sent)}…`) : 'Submit job'}
        </button>
      </div>
      <ErrorMessage error={action.error} />
    </form>
  );
}
