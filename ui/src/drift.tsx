/**
 * Live drift on a deployment's page (spec.monitoring.drift): the DriftDetected condition, the share of drifted
 * features per traffic arm and each feature's PSI over time (the most drifted ones), and the newest check's
 * features in a table. Reads `GET .../deployments/:name/drift`; "Check now" runs a check as the schedule would.
 */
import { api } from './api.ts';
import { Chart, type ChartSeries } from './chart.tsx';
import { ErrorMessage, formatTime, useAction } from './components.tsx';
import { useData } from './use-data.ts';

/** Features drawn over time: the ones with the highest PSI in the newest check. */
const TOP_FEATURES = 5;

export function DriftPanel({ name }: { name: string }) {
  const report = useData(() => api.deploymentDrift(name, 200), [name], 30_000);
  const action = useAction();
  const r = report.data;
  if (r && !r.monitoring && r.checks.length === 0) return null;
  const checks = [...(r?.checks ?? [])].reverse(); // oldest first
  const judged = checks.filter((c) => c.features.length > 0);
  const newest = [...judged].reverse();
  const arms = [...new Set(judged.map((c) => c.arm))];
  const latest = arms.map((arm) => newest.find((c) => c.arm === arm)).filter((c) => c !== undefined);
  const now = Date.now();
  const first = checks[0] ? Date.parse(checks[0].checkedAt) : now - 3_600_000;
  // The axis spans the checks (with a margin), so checks minutes apart do not crowd its right edge.
  const domain: [number, number] = [first - Math.max(2000, (now - first) * 0.05), now];
  const share: ChartSeries[] = (arms.length ? arms : ['primary']).map((arm) => ({
    name: arm,
    points: judged.filter((c) => c.arm === arm).map((c) => [Date.parse(c.checkedAt), (c.share ?? 0) * 100]),
  }));
  const head = latest[0];
  const top = head ? [...head.features].sort((a, b) => b.psi - a.psi).slice(0, TOP_FEATURES) : [];
  const psi: ChartSeries[] = top.length
    ? top.map((f) => ({
        name: f.name,
        points: judged
          .filter((c) => c.arm === head?.arm)
          .map((c) => [Date.parse(c.checkedAt), c.features.find((x) => x.name === f.name)?.psi ?? null]),
      }))
    : [{ name: 'PSI', points: [] }];
  const condition = r?.condition;
  return (
    <section className="drift" aria-label="Live drift">
      <div className="row between">
        <h2>Live drift</h2>
        <button
          type="button"
          disabled={action.busy}
          onClick={() =>
            action.run(async () => {
              await api.checkDeploymentDrift(name);
              report.reload();
            })
          }
        >
          Check now
        </button>
      </div>
      <ErrorMessage error={report.error ?? action.error} />
      {r && (
        <p
          className={condition?.status === 'True' ? 'drift-status drifted' : 'drift-status'}
          data-testid="drift-condition"
        >
          <strong>DriftDetected: {condition?.status ?? 'no verdict yet'}</strong>
          {condition?.message ? ` — ${condition.message}` : ''}
          {r.nextCheck ? <span className="muted"> · next check {formatTime(r.nextCheck)}</span> : null}
        </p>
      )}
      {r && judged.length === 0 && (
        <p className="muted">
          {checks.at(-1)?.message ??
            'No check yet: the first one runs on the schedule of spec.monitoring.drift, or with "Check now".'}
        </p>
      )}
      {judged.length > 0 && (
        <>
          <div className="charts">
            <Chart title="Drifted features" unit="%" series={share} domain={domain} format={(v) => v.toFixed(0)} />
            <Chart
              title={`PSI per feature${head ? ` (${head.arm})` : ''}`}
              unit="PSI"
              series={psi}
              domain={domain}
              format={(v) => v.toFixed(2)}
            />
          </div>
          {head && (
            <div className="table-wrap">
              <table>
                <caption>
                  Newest check of {head.arm} ({head.model}@{head.modelVersion}), {head.rows} calls against{' '}
                  {head.reference}
                </caption>
                <thead>
                  <tr>
                    <th scope="col">Feature</th>
                    <th scope="col">PSI</th>
                    <th scope="col">KS / TV</th>
                    <th scope="col">p-value</th>
                    <th scope="col">Drifted</th>
                  </tr>
                </thead>
                <tbody>
                  {[...head.features]
                    .sort((a, b) => b.psi - a.psi)
                    .slice(0, 12)
                    .map((f) => (
                      <tr key={f.name} className={f.drifted ? 'drifted' : undefined}>
                        <td>{f.name}</td>
                        <td>{f.psi.toFixed(3)}</td>
                        <td>{f.effect.toFixed(3)}</td>
                        <td>{f.pValue < 0.001 ? '< 0.001' : f.pValue.toFixed(3)}</td>
                        <td>{f.drifted ? 'yes' : 'no'}</td>
                      </tr>
                    ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </section>
  );
}
