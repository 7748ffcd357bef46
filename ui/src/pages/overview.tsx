/** Overview: every deployment with its status and live requests/s, and what changed lately. */
import { api } from '../api.ts';
import { Empty, ErrorMessage, formatTime, isBundle, Loading, StatusBadge, trafficSummary } from '../components.tsx';
import { Link } from '../router.tsx';
import { useData } from '../use-data.ts';

export function OverviewPage() {
  const deployments = useData(
    async () =>
      Promise.all(
        (await api.listDeployments()).map(async (d) => {
          // A compose bundle runs elsewhere: there is nothing here to sample.
          if (isBundle(d)) return { deployment: d, rps: undefined };
          const points = (await api.deploymentMetrics(d.name, '5m')).points;
          return { deployment: d, rps: points.at(-1)?.requestsPerSecond };
        }),
      ),
    [],
    3000,
  );
  const models = useData(() => api.listModels(), []);

  const activity = [
    ...(deployments.data ?? []).map(({ deployment: d }) => ({
      at: d.updatedAt,
      text: `Deployment ${d.name} is at revision ${d.currentRevision}`,
      href: `/deployments/${encodeURIComponent(d.name)}`,
    })),
    ...(models.data ?? []).map((m) => ({
      at: m.updatedAt,
      text: `Model ${m.name} has ${m.versionCount} version${m.versionCount === 1 ? '' : 's'}`,
      href: `/models/${encodeURIComponent(m.name)}`,
    })),
  ]
    .sort((a, b) => b.at.localeCompare(a.at))
    .slice(0, 8);

  return (
    <section>
      <h1>Overview</h1>
      <h2>Deployments</h2>
      <ErrorMessage error={deployments.error} />
      {!deployments.data ? (
        !deployments.error && <Loading />
      ) : deployments.data.length === 0 ? (
        <Empty title="Nothing is deployed yet.">
          Register a model on the <Link href="/models">Models</Link> page, then create a deployment on the{' '}
          <Link href="/deployments">Deployments</Link> page.
        </Empty>
      ) : (
        <ul className="cards">
          {deployments.data.map(({ deployment: d, rps }) => (
            <li key={d.name} className="card">
              <Link href={`/deployments/${encodeURIComponent(d.name)}`} className="card-title">
                {d.name}
              </Link>
              <StatusBadge deployment={d} />
              {isBundle(d) ? (
                <p className="muted" data-testid={`bundle-${d.name}`}>
                  compose bundle, not observed
                </p>
              ) : (
                <p className="big" data-testid={`rps-${d.name}`}>
                  {rps === undefined ? '–' : rps.toFixed(1)} <span className="muted">req/s</span>
                </p>
              )}
              <p className="muted">{trafficSummary(d)}</p>
            </li>
          ))}
        </ul>
      )}
      <h2>Recent activity</h2>
      <ErrorMessage error={models.error} />
      {activity.length === 0 ? (
        <p className="muted">No activity yet.</p>
      ) : (
        <ul className="activity">
          {activity.map((a) => (
            <li key={a.href + a.at}>
              <time dateTime={a.at}>{formatTime(a.at)}</time> <Link href={a.href}>{a.text}</Link>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
