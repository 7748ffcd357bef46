/**
 * Pipelines: each with its triggers, steps and last run, a Run button (editors), and a form to apply a pasted spec
 * (editors with the `code` permission: a pipeline's commands run on the server); below, the runs (of one pipeline,
 * when one is chosen). The server checks every permission again; the console only hides what would be refused.
 */
import { useState } from 'react';
import { parse } from 'yaml';
import { api } from '../api.ts';
import { Empty, ErrorMessage, formatTime, Loading, useAction } from '../components.tsx';
import { Link, navigate } from '../router.tsx';
import { useData } from '../use-data.ts';

type Me = Awaited<ReturnType<typeof api.whoami>>;

/** What the console offers this user on the current project. */
function powers(me: Me | undefined): { trigger: boolean; apply: boolean } {
  if (!me) return { trigger: false, apply: false };
  if (me.serverAdmin) return { trigger: true, apply: true };
  const role = me.roles.find((r) => r.project === api.project);
  const editor = role?.role === 'editor' || role?.role === 'admin';
  return { trigger: editor, apply: editor && role?.code === true };
}

const EXAMPLE = `name: hello
steps:
  - name: greet
    run: echo "hello from $MODELPORT_PIPELINE"
`;

/** Paste a spec (YAML or JSON), apply it as a new revision. */
function ApplyForm({ onApplied }: { onApplied: () => void }) {
  const [text, setText] = useState(EXAMPLE);
  const [done, setDone] = useState<string>();
  const action = useAction();
  const submit = async (event: { preventDefault(): void }) => {
    event.preventDefault();
    setDone(undefined);
    await action.run(async () => {
      let spec: unknown;
      try {
        spec = parse(text);
      } catch (e) {
        throw new Error(`The spec is not YAML: ${(e as Error).message}`);
      }
      if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
        throw new Error('The spec must be a mapping with name, trigger and steps.');
      }
      const applied = await api.applyPipeline({ spec: spec as Record<string, unknown> });
      setDone(`${applied.changed ? 'Applied' : 'Unchanged'}: ${applied.name} revision ${applied.revision}.`);
      onApplied();
    });
  };
  return (
    <details className="panel apply-pipeline">
      <summary>Apply a pipeline</summary>
      <form onSubmit={submit}>
        <p className="muted">
          The spec <code>modelport pipelines apply -f</code> takes, without the folder: its steps get no code files.
        </p>
        <label>
          Spec (YAML)
          <textarea
            className="mono"
            rows={10}
            spellCheck={false}
            value={text}
            onChange={(e) => setText(e.target.value)}
          />
        </label>
        <div className="row">
          <button type="submit" className="primary" disabled={action.busy}>
            Apply
          </button>
        </div>
      </form>
      <ErrorMessage error={action.error} />
      {done && (
        <p className="muted" role="status">
          {done}
        </p>
      )}
    </details>
  );
}

export type Run = Awaited<ReturnType<typeof api.getRun>>;

const TONE: Record<string, string> = {
  Succeeded: 'good',
  Running: 'warn',
  Pending: 'warn',
  Failed: 'bad',
  Blocked: 'bad',
  Cancelled: 'bad',
  Skipped: 'muted',
};

/** A run's or step's state as a coloured word. */
export function StateBadge({ state }: { state: string }) {
  return <span className={`badge ${TONE[state] ?? ''}`}>{state}</span>;
}

export function triggerText(run: Run): string {
  const t = run.trigger;
  switch (t.kind) {
    case 'data':
      return `commit ${t.commit.slice(0, 12)} on ${t.repo}/${t.branch}`;
    case 'model':
      return t.alias ? `${t.model}@${t.alias} moved to ${t.version}` : `new version ${t.model}@${t.version}`;
    case 'schedule':
      return `schedule ${t.tick}`;
    case 'manual':
      return `started by ${t.by}`;
    case 'webhook':
      return `webhook delivery ${t.delivery}`;
  }
}

export function duration(run: { startedAt: string | null; finishedAt: string | null }): string {
  if (!run.startedAt) return '–';
  const end = run.finishedAt ? Date.parse(run.finishedAt) : Date.now();
  return `${((end - Date.parse(run.startedAt)) / 1000).toFixed(1)} s`;
}

export function PipelinesPage({ name }: { name?: string | undefined }) {
  const pipelines = useData(() => api.listPipelines(), [], 5000);
  const runs = useData(() => api.listRuns(name ? { pipeline: name, limit: 50 } : { limit: 50 }), [name], 2000);
  const me = useData(() => api.whoami(), []);
  const may = powers(me.data);
  const trigger = useAction();
  return (
    <section>
      <h1>{name ? `Pipeline ${name}` : 'Pipelines'}</h1>
      {may.apply ? (
        <ApplyForm onApplied={() => void pipelines.reload()} />
      ) : (
        me.data && (
          <p className="muted">
            Applying a pipeline needs the editor role with the code permission on {api.project}
            {may.trigger ? '' : '; running one needs the editor role'}.
          </p>
        )
      )}
      <ErrorMessage error={pipelines.error} />
      <ErrorMessage error={trigger.error} />
      {!pipelines.data ? (
        !pipelines.error && <Loading />
      ) : pipelines.data.length === 0 ? (
        <Empty title="No pipelines yet.">
          Apply one from a folder: <code>modelport pipelines apply -f examples/fraud/pipeline.yaml</code>.
        </Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Triggers</th>
                <th scope="col">Steps</th>
                <th scope="col">Revision</th>
                <th scope="col">Last run</th>
                {may.trigger && <th scope="col">Run</th>}
              </tr>
            </thead>
            <tbody>
              {pipelines.data
                .filter((p) => !name || p.name === name)
                .map((p) => {
                  const t = p.spec.trigger;
                  const triggers = [
                    t.data && `data ${t.data.repo}/${t.data.branch} ${t.data.glob}`,
                    t.model && `model ${t.model.name}${t.model.alias ? `@${t.model.alias}` : ''}`,
                    t.schedule && `cron ${t.schedule.cron}`,
                    t.manual && 'manual',
                    t.webhook && 'webhook',
                  ].filter(Boolean);
                  return (
                    <tr key={p.name}>
                      <td>
                        <Link href={`/pipelines/${encodeURIComponent(p.name)}`}>{p.name}</Link>
                      </td>
                      <td>
                        {triggers.map((x) => (
                          <span key={String(x)} className="chip">
                            {x}
                          </span>
                        ))}
                      </td>
                      <td className="mono">{p.spec.steps.map((s) => s.name).join(' → ')}</td>
                      <td>{p.revision}</td>
                      <td>
                        {p.lastRun ? (
                          <Link href={`/runs/${p.lastRun.id}`}>
                            #{p.lastRun.number} <StateBadge state={p.lastRun.state} />
                          </Link>
                        ) : (
                          '–'
                        )}
                      </td>
                      {may.trigger && (
                        <td>
                          {t.manual && (
                            <button
                              type="button"
                              disabled={trigger.busy}
                              aria-label={`Run ${p.name} now`}
                              onClick={() =>
                                trigger.run(async () => {
                                  const run = await api.triggerPipeline(p.name);
                                  navigate(`/runs/${run.id}`);
                                })
                              }
                            >
                              Run now
                            </button>
                          )}
                        </td>
                      )}
                    </tr>
                  );
                })}
            </tbody>
          </table>
        </div>
      )}
      <h2>Runs</h2>
      <ErrorMessage error={runs.error} />
      {!runs.data ? (
        !runs.error && <Loading />
      ) : runs.data.length === 0 ? (
        <Empty title="No runs yet.">
          A commit to a watched repository starts one, or <code>modelport pipelines trigger &lt;name&gt;</code>.
        </Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">State</th>
                <th scope="col">Trigger</th>
                <th scope="col">Steps</th>
                <th scope="col">Started</th>
                <th scope="col">Duration</th>
              </tr>
            </thead>
            <tbody>
              {runs.data.map((r) => (
                <tr key={r.id}>
                  <td>
                    <Link href={`/runs/${r.id}`}>
                      {r.pipeline} #{r.number}
                    </Link>
                  </td>
                  <td>
                    <StateBadge state={r.state} />
                  </td>
                  <td>{triggerText(r)}</td>
                  <td>
                    {r.steps.filter((s) => s.state === 'Succeeded').length}/{r.steps.length}
                  </td>
                  <td>{r.startedAt ? formatTime(r.startedAt) : '–'}</td>
                  <td>{duration(r)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
