/**
 * A deployment: status conditions, the traffic split with a canary-weight control, promote and rollback, live
 * charts over the last 15 minutes, revisions, and a "try it" panel that calls the endpoint.
 */
import { useEffect, useState } from 'react';
import type { Deployment } from '../../../src/deployments/types.ts';
import type { ArmPoint, MetricsPoint } from '../../../src/observability/deployment-metrics-sampler.ts';
import { api } from '../api.ts';
import { Chart, type ChartSeries } from '../chart.tsx';
import { ConfirmButton, ErrorMessage, formatTime, Loading, StatusBadge, useAction } from '../components.tsx';
import { Link, navigate } from '../router.tsx';
import { TryIt } from '../try-it.tsx';
import { useData } from '../use-data.ts';
import { LiveAccuracy } from './payloads.tsx';

export function DeploymentPage({ name }: { name: string }) {
  const deployment = useData(() => api.getDeployment(name), [name], 3000);
  const revisions = useData(() => api.deploymentRevisions(name), [name, deployment.data?.latestRevision]);
  const action = useAction();
  const d = deployment.data;
  // The warnings of the last change (targets whose signatures differ): only the answer to a change carries them.
  const [warnings, setWarnings] = useState<string[]>([]);
  const act = async (fn: () => Promise<unknown>) => {
    const changed = await action.run(async () => {
      const answer = (await fn()) as { warnings?: string[] } | undefined;
      setWarnings(answer?.warnings ?? []);
    });
    if (changed) await Promise.all([deployment.reload(), revisions.reload()]);
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
          <Traffic deployment={d} warnings={warnings} busy={action.busy} act={act} />
          <LiveCharts name={name} />
          <LiveAccuracy name={name} />
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

/** A target's name in the console: its tag (`canary`, `b`), else its model reference. */
const targetName = (t: { model: string; tag?: string | undefined }) => t.tag ?? t.model;

/**
 * The split as it is served, and the controls that change it by applying a new spec. Targets are named by their
 * tags; a split tagged `canary` is a canary (a weight to shift, then promote), any other split an A/B test (weights,
 * then keep the winner).
 */
function Traffic({
  deployment: d,
  warnings,
  busy,
  act,
}: {
  deployment: Deployment;
  warnings: string[];
  busy: boolean;
  act: (fn: () => Promise<unknown>) => Promise<void>;
}) {
  const traffic = d.spec.traffic;
  const isCanary = traffic.some((t) => t.tag === 'canary');
  const tagged = traffic.findIndex((t) => t.tag === 'canary');
  const movingIndex = tagged >= 0 ? tagged : traffic.length - 1;
  const otherIndex = movingIndex === 0 ? 1 : 0;
  const moving = traffic.length > 1 ? traffic[movingIndex] : undefined;
  const [weight, setWeight] = useState(moving?.weight ?? 10);
  useEffect(() => setWeight(moving?.weight ?? 10), [moving?.weight]);
  const primaryModel = d.status.targets[0]?.model ?? traffic[0]?.model.split('@')[0] ?? '';
  const versions = useData(() => api.listVersions(primaryModel), [primaryModel]);
  const [newTarget, setNewTarget] = useState('');
  const [kind, setKind] = useState<'canary' | 'ab'>('canary');

  const withWeight = (w: number) =>
    api.applyDeployment(d.name, {
      ...d.spec,
      traffic: traffic.map((t, i) =>
        i === movingIndex ? { ...t, weight: w } : i === otherIndex ? { ...t, weight: 100 - w } : t,
      ),
    });
  const split = (ref: string, w: number) =>
    api.applyDeployment(d.name, {
      ...d.spec,
      traffic:
        kind === 'canary'
          ? [
              { ...traffic[0]!, weight: 100 - w, tag: 'stable' },
              { model: ref, weight: w, tag: 'canary' },
            ]
          : [
              { ...traffic[0]!, weight: 100 - w, tag: 'a' },
              { model: ref, weight: w, tag: 'b' },
            ],
    });
  /** Keeps one arm of an A/B test: all traffic to it, pinned to the version it serves now. */
  const keepOnly = (index: number) => {
    const t = traffic[index]!;
    const served = d.status.targets.find((s) => s.tag === t.tag);
    const model = served ? `${served.model}@${served.version}` : t.model;
    return api.applyDeployment(d.name, {
      ...d.spec,
      traffic: [{ model, weight: 100, ...(t.tag ? { tag: t.tag } : {}) }],
    });
  };
  const servingVersions = new Set(d.status.targets.map((t) => t.version));
  const candidates = (versions.data ?? []).filter((v) => !servingVersions.has(v.version));
  const aliases = [...new Set((versions.data ?? []).flatMap((v) => v.aliases))];
  const candidateRefs = [
    ...candidates.map((v) => `${primaryModel}@${v.version}`),
    ...aliases.map((a) => `${primaryModel}@${a}`),
  ];
  const targetRef = newTarget || candidateRefs[0] || '';
  const movingName = moving ? targetName(moving) : '';
  const otherName = traffic[otherIndex] ? targetName(traffic[otherIndex]!) : '';

  return (
    <>
      <h2>
        Traffic
        {traffic.length > 1 && <span className="chip">{isCanary ? 'canary' : 'A/B test'}</span>}
      </h2>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Arm</th>
              <th scope="col">Serves</th>
              <th scope="col">Weight</th>
              <th scope="col">Replicas ready</th>
            </tr>
          </thead>
          <tbody>
            {d.status.targets.map((t) => (
              <tr key={`${t.model}@${t.version}-${t.tag ?? ''}`}>
                <td>{t.tag ?? <span className="muted">untagged</span>}</td>
                <td>
                  <Link href={`/models/${encodeURIComponent(t.model)}`}>
                    {t.model}@{t.version}
                  </Link>
                </td>
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
      {warnings.length > 0 && (
        <div className="notice" role="status">
          {warnings.map((w) => (
            <p key={w}>{w}</p>
          ))}
        </div>
      )}
      {isBundle(d) ? (
        <p className="panel" data-testid="bundle-note">
          A docker-compose bundle: Modelport writes it and does not run or observe it, so it offers no canary or Try it
          here. Change the traffic in the spec and apply it, then restart the bundle with{' '}
          <code>docker compose up -d</code> in its example folder.
        </p>
      ) : moving ? (
        <form
          className="panel"
          onSubmit={(event) => {
            event.preventDefault();
            void act(() => withWeight(weight));
          }}
        >
          <div className="fields">
            <label>
              {isCanary ? `Canary weight (${moving.model})` : `Weight of ${movingName} (${moving.model})`}, %
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
              aria-label={`Weight of ${movingName}`}
              onChange={(e) => setWeight(Number(e.target.value))}
            />
            <span className="muted">
              {otherName} gets {100 - weight}%
            </span>
            <button type="submit" className="primary" disabled={busy || weight === moving.weight}>
              Apply weight
            </button>
            {isCanary ? (
              <ConfirmButton
                label="Promote canary"
                confirmLabel="Promote"
                question={`Send 100% of ${d.name}'s traffic to the canary, ${moving.model}? This makes a new revision.`}
                disabled={busy}
                onConfirm={() => void act(() => api.promoteDeployment(d.name))}
              />
            ) : (
              traffic.map((t, i) => (
                <ConfirmButton
                  key={targetName(t)}
                  label={`Keep ${targetName(t)} only`}
                  confirmLabel={`Keep ${targetName(t)}`}
                  question={`End the A/B test: send 100% of ${d.name}'s traffic to ${targetName(t)} (${t.model})? This makes a new revision.`}
                  disabled={busy}
                  onConfirm={() => void act(() => keepOnly(i))}
                />
              ))
            )}
          </div>
        </form>
      ) : (
        <form
          className="panel"
          onSubmit={(event) => {
            event.preventDefault();
            void act(() => split(targetRef, weight));
          }}
        >
          <h3>Try another version</h3>
          {candidateRefs.length === 0 ? (
            <p className="muted">
              Register another version of {primaryModel} to try it here on a share of the traffic.
            </p>
          ) : (
            <div className="fields">
              <fieldset className="segmented">
                <legend className="sr-only">Kind of split</legend>
                <label>
                  <input type="radio" name="kind" checked={kind === 'canary'} onChange={() => setKind('canary')} />
                  Canary
                </label>
                <label>
                  <input type="radio" name="kind" checked={kind === 'ab'} onChange={() => setKind('ab')} />
                  A/B test
                </label>
              </fieldset>
              <label>
                Version
                <select value={targetRef} onChange={(e) => setNewTarget(e.target.value)}>
                  {candidateRefs.map((ref) => (
                    <option key={ref} value={ref}>
                      {ref}
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
                {kind === 'canary' ? 'Start canary' : 'Start A/B test'}
              </button>
            </div>
          )}
          <p className="muted">
            {kind === 'canary'
              ? 'A canary takes a small share (tagged canary, beside stable) until you promote it.'
              : 'An A/B test splits traffic between arms a and b (often 50/50) until you keep one.'}
          </p>
        </form>
      )}
    </>
  );
}

const RANGES = [
  { value: '5m', label: '5 m', ms: 5 * 60_000 },
  { value: '1h', label: '1 h', ms: 60 * 60_000 },
  { value: '24h', label: '24 h', ms: 24 * 60 * 60_000 },
] as const;

/** An arm's legend name: its tag, then its target (`canary (fraud@2)`), or the target alone. */
const armName = (arm: ArmPoint) => (arm.tag ? `${arm.tag} (${arm.target})` : arm.target);

function LiveCharts({ name }: { name: string }) {
  const [range, setRange] = useState<(typeof RANGES)[number]>(RANGES[0]);
  const metrics = useData(() => api.deploymentMetrics(name, range.value), [name, range.value], 3000);
  const m = metrics.data;
  const now = Date.now();
  const points = m?.points ?? [];
  const first = points[0] ? Date.parse(points[0].time) - (m?.intervalSeconds ?? 3) * 1000 : undefined;
  // The axis spans the data (at most the range), so a fresh deployment's first minute fills the chart.
  const domain: [number, number] = [first === undefined ? now - range.ms : Math.max(now - range.ms, first), now];
  // An arm is a target version; its name comes from its latest tag, so a version that became `stable` when a canary
  // started keeps one line.
  const names = new Map<string, string>();
  for (const p of points) for (const a of p.arms) names.set(a.target, armName(a));
  const perArm = (pick: (a: ArmPoint) => number | null): ChartSeries[] =>
    names.size === 0
      ? [{ name: 'all', points: [] }]
      : [...names].map(([target, label]) => ({
          name: label,
          points: points.map((p) => {
            const a = p.arms.find((x) => x.target === target);
            return [Date.parse(p.time), a ? pick(a) : null];
          }),
        }));
  const total = (pick: (p: MetricsPoint) => number | null): ChartSeries[] => [
    { name: 'all', points: points.map((p) => [Date.parse(p.time), pick(p)]) },
  ];
  return (
    <>
      <div className="row between">
        <h2>Live metrics</h2>
        <fieldset className="segmented">
          <legend className="sr-only">Time range</legend>
          {RANGES.map((r) => (
            <label key={r.value}>
              <input
                type="radio"
                name="range"
                value={r.value}
                checked={r.value === range.value}
                onChange={() => setRange(r)}
              />
              {r.label}
            </label>
          ))}
        </fieldset>
      </div>
      <ErrorMessage error={metrics.error} />
      {m && points.length === 0 && (
        <p className="muted">The first points appear a few seconds after the deployment starts serving.</p>
      )}
      {m && (
        <div className="charts">
          <Chart title="Requests" unit="req/s" series={perArm((a) => a.requestsPerSecond)} domain={domain} />
          <Chart
            title="p50 latency"
            unit="ms"
            series={perArm((a) => a.p50Ms)}
            domain={domain}
            format={(v) => v.toFixed(2)}
          />
          <Chart
            title="p99 latency"
            unit="ms"
            series={perArm((a) => a.p99Ms)}
            domain={domain}
            format={(v) => v.toFixed(2)}
          />
          <Chart
            title="Errors"
            unit="%"
            series={perArm((a) => (a.errorRatio === null ? null : a.errorRatio * 100))}
            domain={domain}
          />
          <Chart
            title="Replicas"
            unit="ready"
            series={total((p) => p.replicasReady)}
            domain={domain}
            format={(v) => v.toFixed(0)}
            integer
          />
        </div>
      )}
    </>
  );
}
