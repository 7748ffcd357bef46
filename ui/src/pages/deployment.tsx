/**
 * A deployment: status conditions, the traffic split with a canary-weight control, promote and rollback, live
 * charts over the last 15 minutes, revisions, and a "try it" panel that calls the endpoint.
 */
import { useEffect, useState } from 'react';
import type { Deployment } from '../../../src/deployments/types.ts';
import type { MetricsPoint } from '../../../src/observability/deployment-metrics-sampler.ts';
import { api } from '../api.ts';
import { Chart } from '../chart.tsx';
import { ConfirmButton, ErrorMessage, formatTime, Loading, StatusBadge, useAction } from '../components.tsx';
import { Link, navigate } from '../router.tsx';
import { TryIt } from '../try-it.tsx';
import { useData } from '../use-data.ts';

export function DeploymentPage({ name }: { name: string }) {
  const deployment = useData(() => api.getDeployment(name), [name], 3000);
  const revisions = useData(() => api.deploymentRevisions(name), [name, deployment.data?.latestRevision]);
  const action = useAction();
  const d = deployment.data;
  const act = async (fn: () => Promise<unknown>) => {
    if (await action.run(fn)) await Promise.all([deployment.reload(), revisions.reload()]);
  };

  return (
    <section>
      <p className="crumbs">
        <Link href="/deployments">Deployments</Link> /
      </p>
      <div className="row between">
        <h1>
          {name} {d && <StatusBadge deployment={d} />}
        </h1>
        {d && (
          <ConfirmButton
            label="Delete deployment"
            confirmLabel="Delete"
            danger
            question={`Delete ${name}? Its endpoint stops answering and its workers are stopped.`}
            onConfirm={() =>
              void action.run(() => api.deleteDeployment(name)).then((ok) => ok && navigate('/deployments'))
            }
          />
        )}
      </div>
      <ErrorMessage error={action.error} />
      <ErrorMessage error={deployment.error} />
      {!d ? (
        !deployment.error && <Loading />
      ) : (
        <>
          <p className="muted">
            Serving revision {d.status.servingRevision ?? '–'} of {d.latestRevision} · endpoint{' '}
            <code>{d.status.urls.rest}</code>
          </p>
          <Traffic deployment={d} busy={action.busy} act={act} />
          <LiveCharts name={name} />
          <h2>Conditions</h2>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Type</th>
                  <th scope="col">Status</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Message</th>
                  <th scope="col">Since</th>
                </tr>
              </thead>
              <tbody>
                {d.status.conditions.map((c) => (
                  <tr key={c.type}>
                    <td>{c.type}</td>
                    <td>{c.status}</td>
                    <td>{c.reason ?? ''}</td>
                    <td>{c.message ?? ''}</td>
                    <td>{formatTime(c.lastTransitionTime)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <h2>Revisions</h2>
          <ErrorMessage error={revisions.error} />
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Revision</th>
                  <th scope="col">Traffic</th>
                  <th scope="col">Created</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {[...(revisions.data ?? [])].reverse().map((r) => (
                  <tr key={r.revision}>
                    <td>
                      {r.revision}
                      {r.revision === d.currentRevision && <span className="chip">current</span>}
                    </td>
                    <td>{r.targets.traffic.map((t) => `${t.model}@${t.version} ${t.weight}%`).join(' · ')}</td>
                    <td>{formatTime(r.createdAt)}</td>
                    <td>
                      {r.revision !== d.currentRevision && (
                        <ConfirmButton
                          label={`Roll back to ${r.revision}`}
                          confirmLabel="Roll back"
                          question={`Serve revision ${r.revision} of ${name} again? Traffic moves to it once it is ready.`}
                          disabled={action.busy}
                          onConfirm={() => void act(() => api.rollbackDeployment(name, r.revision))}
                        />
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {/* A compose bundle is written, not run, by Modelport: there is nothing here to call. */}
          {!isBundle(d) && <TryIt deployment={d} />}
        </>
      )}
    </section>
  );
}

/** A compose deployment: a bundle on disk that someone else starts. */
const isBundle = (d: Deployment) => d.spec.backend === 'compose';

/** The split as it is served, and the controls that change it by applying a new spec. */
function Traffic({
  deployment: d,
  busy,
  act,
}: {
  deployment: Deployment;
  busy: boolean;
  act: (fn: () => Promise<unknown>) => Promise<void>;
}) {
  const traffic = d.spec.traffic;
  const tagged = traffic.findIndex((t) => t.tag === 'canary');
  const canaryIndex = tagged >= 0 ? tagged : traffic.length - 1;
  const primaryIndex = canaryIndex === 0 ? 1 : 0;
  const canary = traffic.length > 1 ? traffic[canaryIndex] : undefined;
  const [weight, setWeight] = useState(canary?.weight ?? 10);
  useEffect(() => setWeight(canary?.weight ?? 10), [canary?.weight]);
  const primaryModel = d.status.targets[0]?.model ?? traffic[0]?.model.split('@')[0] ?? '';
  const versions = useData(() => api.listVersions(primaryModel), [primaryModel]);
  const [newCanary, setNewCanary] = useState('');

  const withCanaryWeight = (w: number) =>
    api.applyDeployment(d.name, {
      ...d.spec,
      traffic: traffic.map((t, i) =>
        i === canaryIndex ? { ...t, weight: w } : i === primaryIndex ? { ...t, weight: 100 - w } : t,
      ),
    });
  const addCanary = (ref: string, w: number) =>
    api.applyDeployment(d.name, {
      ...d.spec,
      traffic: [
        { ...traffic[0]!, weight: 100 - w },
        { model: ref, weight: w, tag: 'canary' },
      ],
    });
  const servingVersions = new Set(d.status.targets.map((t) => t.version));
  const candidates = (versions.data ?? []).filter((v) => !servingVersions.has(v.version));
  const canaryRef = newCanary || (candidates.at(-1) ? `${primaryModel}@${candidates.at(-1)!.version}` : '');

  return (
    <>
      <h2>Traffic</h2>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Target</th>
              <th scope="col">Tag</th>
              <th scope="col">Weight</th>
              <th scope="col">Replicas ready</th>
            </tr>
          </thead>
          <tbody>
            {d.status.targets.map((t) => (
              <tr key={`${t.model}@${t.version}-${t.tag ?? ''}`}>
                <td>
                  <Link href={`/models/${encodeURIComponent(t.model)}`}>
                    {t.model}@{t.version}
                  </Link>
                </td>
                <td>{t.tag ?? ''}</td>
                <td>
                  <div className="bar" aria-hidden="true">
                    <span style={{ width: `${t.weight}%` }} />
                  </div>
                  <span data-testid={`weight-${t.version}`}>{t.weight}%</span>
                </td>
                <td>
                  {t.replicas.ready} / {t.replicas.desired}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {isBundle(d) ? (
        <p className="panel" data-testid="bundle-note">
          A docker-compose bundle: Modelport writes it and does not run or observe it, so it offers no canary or Try it
          here. Change the traffic in the spec and apply it, then restart the bundle with{' '}
          <code>docker compose up -d</code> in its example folder.
        </p>
      ) : canary ? (
        <form
          className="panel"
          onSubmit={(event) => {
            event.preventDefault();
            void act(() => withCanaryWeight(weight));
          }}
        >
          <div className="fields">
            <label>
              Canary weight ({canary.model}), %
              <input
                type="number"
                min={0}
                max={100}
                step={1}
                value={weight}
                onChange={(e) => setWeight(Number(e.target.value))}
              />
            </label>
            <input
              type="range"
              min={0}
              max={100}
              value={weight}
              aria-label="Canary weight slider"
              onChange={(e) => setWeight(Number(e.target.value))}
            />
            <button type="submit" className="primary" disabled={busy || weight === canary.weight}>
              Apply weight
            </button>
            <ConfirmButton
              label="Promote canary"
              confirmLabel="Promote"
              question={`Send 100% of ${d.name}'s traffic to ${canary.model}? This makes a new revision.`}
              disabled={busy}
              onConfirm={() => void act(() => api.promoteDeployment(d.name))}
            />
          </div>
        </form>
      ) : (
        <form
          className="panel"
          onSubmit={(event) => {
            event.preventDefault();
            void act(() => addCanary(canaryRef, weight));
          }}
        >
          <h3>Start a canary</h3>
          {candidates.length === 0 ? (
            <p className="muted">
              Register another version of {primaryModel} to try it here on a share of the traffic.
            </p>
          ) : (
            <div className="fields">
              <label>
                Version
                <select value={canaryRef} onChange={(e) => setNewCanary(e.target.value)}>
                  {candidates.map((v) => (
                    <option key={v.version} value={`${primaryModel}@${v.version}`}>
                      {primaryModel}@{v.version}
                    </option>
                  ))}
                </select>
              </label>
              <label>
                Weight, %
                <input
                  type="number"
                  min={1}
                  max={99}
                  value={weight}
                  onChange={(e) => setWeight(Number(e.target.value))}
                />
              </label>
              <button type="submit" className="primary" disabled={busy}>
                Start canary
              </button>
            </div>
          )}
        </form>
      )}
    </>
  );
}

function LiveCharts({ name }: { name: string }) {
  const metrics = useData(() => api.deploymentMetrics(name), [name], 3000);
  const m = metrics.data;
  if (!m) return <ErrorMessage error={metrics.error} />;
  const now = Date.now();
  const windowMs = m.windowSeconds * 1000;
  const points = m.points;
  const series = (pick: (p: MetricsPoint) => number | null): [number, number | null][] =>
    points.map((p) => [Date.parse(p.time), pick(p)]);
  return (
    <>
      <h2>Live metrics</h2>
      <ErrorMessage error={metrics.error} />
      {m.points.length === 0 && (
        <p className="muted">The first points appear a few seconds after the deployment starts serving.</p>
      )}
      <div className="charts">
        <Chart
          title="Requests"
          unit="req/s"
          points={series((p) => p.requestsPerSecond)}
          windowMs={windowMs}
          now={now}
        />
        <Chart
          title="p50 latency"
          unit="ms"
          points={series((p) => p.p50Ms)}
          windowMs={windowMs}
          now={now}
          format={(v) => v.toFixed(2)}
        />
        <Chart
          title="p99 latency"
          unit="ms"
          points={series((p) => p.p99Ms)}
          windowMs={windowMs}
          now={now}
          format={(v) => v.toFixed(2)}
        />
        <Chart
          title="Errors"
          unit="%"
          points={series((p) => (p.errorRatio === null ? null : p.errorRatio * 100))}
          windowMs={windowMs}
          now={now}
        />
        <Chart
          title="Replicas"
          unit="ready"
          points={series((p) => p.replicasReady)}
          windowMs={windowMs}
          now={now}
          format={(v) => v.toFixed(0)}
        />
      </div>
    </>
  );
}
