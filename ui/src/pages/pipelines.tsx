/** Pipelines: each with its triggers, steps and last run; below, the runs (of one pipeline, when one is chosen). */
import { api } from '../api.ts';
import { Empty, formatTime, List } from '../components.tsx';
import { Link } from '../router.tsx';
import { useData } from '../use-data.ts';

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
  }
}

export function duration(run: { startedAt: string | null; finishedAt: string | null }): string {
  if (!run.startedAt) return '–';
  const end = run.finishedAt ? Date.parse(run.finishedAt) : Date.now();
  return `${((end - Date.parse(run.startedAt)) / 1000).toFixed(1)} s`;
}

type Pipeline = Awaited<ReturnType<typeof api.listPipelines>>[number];

/** A pipeline's triggers in words: `data repo/branch glob`, `model name@alias`, `cron ...`, `manual`. */
function triggers(p: Pipeline): string[] {
  const t = p.spec.trigger;
  return [
    t.data && `data ${t.data.repo}/${t.data.branch} ${t.data.glob}`,
    t.model && `model ${t.model.name}${t.model.alias ? `@${t.model.alias}` : ''}`,
    t.schedule && `cron ${t.schedule.cron}`,
    t.manual && 'manual',
  ].filter((x): x is string => Boolean(x));
}

export function PipelinesPage({ name }: { name?: string | undefined }) {
  const pipelines = useData(() => api.listPipelines(), [], 5000);
  const runs = useData(() => api.listRuns(name ? { pipeline: name, limit: 50 } : { limit: 50 }), [name], 2000);
  return (
    <section>
      <h1>{name ? `Pipeline ${name}` : 'Pipelines'}</h1>
      <List
        list={pipelines}
        empty={
          <Empty title="No pipelines yet.">
            Apply one from a folder: <code>modelport pipelines apply -f examples/fraud/pipeline.yaml</code>.
          </Empty>
        }
        show={(p) => !name || p.name === name}
        rowKey={(p) => p.name}
        columns={[
          { header: 'Name', cell: (p) => <Link href={`/pipelines/${encodeURIComponent(p.name)}`}>{p.name}</Link> },
          {
            header: 'Triggers',
            cell: (p) =>
              triggers(p).map((x) => (
                <span key={x} className="chip">
                  {x}
                </span>
              )),
          },
          { header: 'Steps', className: 'mono', cell: (p) => p.spec.steps.map((s) => s.name).join(' → ') },
          { header: 'Revision', cell: (p) => p.revision },
          {
            header: 'Last run',
            cell: (p) =>
              p.lastRun ? (
                <Link href={`/runs/${p.lastRun.id}`}>
                  #{p.lastRun.number} <StateBadge state={p.lastRun.state} />
                </Link>
              ) : (
                '–'
              ),
          },
        ]}
      />
      <h2>Runs</h2>
      <List
        list={runs}
        empty={
          <Empty title="No runs yet.">
            A commit to a watched repository starts one, or <code>modelport pipelines trigger &lt;name&gt;</code>.
          </Empty>
        }
        rowKey={(r) => r.id}
        columns={[
          {
            header: 'Run',
            cell: (r) => (
              <Link href={`/runs/${r.id}`}>
                {r.pipeline} #{r.number}
              </Link>
            ),
          },
          { header: 'State', cell: (r) => <StateBadge state={r.state} /> },
          { header: 'Trigger', cell: (r) => triggerText(r) },
          {
            header: 'Steps',
            cell: (r) => (
              <>
                {r.steps.filter((s) => s.state === 'Succeeded').length}/{r.steps.length}
              </>
            ),
          },
          { header: 'Started', cell: (r) => (r.startedAt ? formatTime(r.startedAt) : '–') },
          { header: 'Duration', cell: (r) => duration(r) },
        ]}
      />
    </section>
  );
}
