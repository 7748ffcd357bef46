/**
 * The scan report as one self-contained HTML page: the charts are SVG drawn on the server by @observablehq/plot into
 * a linkedom document, the styles are inline, and the page loads nothing (no script, font, image or stylesheet), so
 * it opens offline and under a `default-src 'none'` policy. It holds the report's aggregates only, never a data row.
 *
 * Sections: a header (use case, dataset commit, rows), the comparison (which model wins on what, when there are two
 * or more), then per model a scorecard, ROC and calibration curves, per-group fairness bars with the threshold
 * marked, importance bars and drift per feature.
 */
import * as Plot from '@observablehq/plot';
import { parseHTML } from 'linkedom';
import type { ComparisonRow, ModelReport, ScanReport } from '../scans/index.ts';
import { compareReports } from '../scans/index.ts';

const esc = (value: unknown) =>
  String(value).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

const num = (v: number | null | undefined, digits = 3) =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : Number(v.toPrecision(digits)).toString();

const PALETTE = ['#4269d0', '#efb118', '#ff725c', '#6cc5b0', '#3ca951', '#ff8ab7', '#a463f2', '#97bbf5'];

type PlotOptions = Parameters<typeof Plot.plot>[0];

/** One chart as SVG markup (a figure when it has a legend). */
function chart(options: PlotOptions): string {
  const { document } = parseHTML('<!doctype html><html><body></body></html>');
  const node = Plot.plot({
    document: document as never,
    style: { fontFamily: 'system-ui, sans-serif', fontSize: '11px', background: 'transparent' },
    marginLeft: 60,
    ...options,
  } as PlotOptions);
  return (node as unknown as { outerHTML: string }).outerHTML;
}

const colorScale = (targets: string[]) => ({
  domain: targets,
  range: PALETTE.slice(0, Math.max(1, targets.length)),
  legend: true,
});

function rocChart(models: ModelReport[], targets: string[]): string {
  const points = models.flatMap((m) =>
    m.performance?.roc
      ? m.performance.roc.fpr.map((x, i) => ({ model: m.target, fpr: x, tpr: m.performance!.roc!.tpr[i]! }))
      : [],
  );
  if (points.length === 0) return '';
  return chart({
    width: 420,
    height: 340,
    x: { domain: [0, 1], label: 'False positive rate (share of negatives) →' },
    y: { domain: [0, 1], label: '↑ True positive rate (share of positives)', grid: true },
    color: colorScale(targets),
    marks: [
      Plot.line(
        [
          { x: 0, y: 0 },
          { x: 1, y: 1 },
        ],
        { x: 'x', y: 'y', stroke: '#999', strokeDasharray: '4 3' },
      ),
      Plot.line(points, { x: 'fpr', y: 'tpr', stroke: 'model', strokeWidth: 2 }),
    ],
  });
}

function calibrationChart(models: ModelReport[], targets: string[]): string {
  const points = models.flatMap((m) =>
    (m.performance?.calibration ?? []).map((b) => ({
      model: m.target,
      predicted: b.meanPredicted,
      observed: b.fractionPositive,
    })),
  );
  if (points.length === 0) return '';
  return chart({
    width: 420,
    height: 340,
    x: { domain: [0, 1], label: 'Mean predicted probability →' },
    y: { domain: [0, 1], label: '↑ Observed share of positives', grid: true },
    color: colorScale(targets),
    marks: [
      Plot.line(
        [
          { x: 0, y: 0 },
          { x: 1, y: 1 },
        ],
        { x: 'x', y: 'y', stroke: '#999', strokeDasharray: '4 3' },
      ),
      Plot.line(points, { x: 'predicted', y: 'observed', stroke: 'model', marker: 'circle' }),
    ],
  });
}

function fairnessCharts(models: ModelReport[], targets: string[]): string {
  const attributes = [...new Set(models.flatMap((m) => (m.fairness?.attributes ?? []).map((a) => a.column)))];
  return attributes
    .map((column) => {
      const rows = models.flatMap((m) => {
        const a = m.fairness?.attributes.find((x) => x.column === column);
        return (a?.groups ?? []).map((g) => ({
          model: m.target,
          group: g.small ? `${g.name} (too small)` : g.name,
          impact: g.disparateImpact ?? 0,
          rate: g.selectionRate.value ?? 0,
        }));
      });
      const threshold = models.find((m) => m.fairness)?.fairness?.threshold ?? 0.8;
      const groups = [...new Set(rows.map((r) => r.group))];
      const many = models.length > 1;
      return `<div class="chart"><h4>${esc(column)}: disparate impact by group (threshold ${num(threshold)})</h4>${chart(
        {
          width: 520,
          height: Math.max(120, (many ? 22 * models.length + 8 : 26) * groups.length + 50),
          marginLeft: many ? 140 : 120,
          x: {
            domain: [0, Math.max(1, ...rows.map((r) => r.impact))],
            label: 'Disparate impact (group selection rate / highest group’s) →',
            grid: true,
          },
          ...(many
            ? { fy: { domain: groups, label: null }, y: { domain: targets, label: null, axis: null } }
            : { y: { domain: groups, label: null } }),
          color: colorScale(targets),
          marks: [
            Plot.barX(rows, {
              x: 'impact',
              y: many ? 'model' : 'group',
              ...(many ? { fy: 'group' } : {}),
              fill: 'model',
            }),
            Plot.ruleX([threshold], { stroke: '#d03030', strokeWidth: 2, strokeDasharray: '5 3' }),
            Plot.ruleX([0]),
          ],
        },
      )}<p class="note">Dashed red line: the four-fifths threshold ${num(threshold)}; a judged group left of it fails.</p></div>`;
    })
    .join('');
}

function importanceChart(m: ModelReport): string {
  const e = m.explainability;
  if (!e || e.importance.length === 0) return '';
  const top = e.importance.slice(0, 15);
  return chart({
    width: 520,
    height: 26 * top.length + 50,
    marginLeft: 110,
    x: { label: `Drop in ${e.metric} when the feature is shuffled →`, grid: true },
    y: { domain: top.map((t) => t.feature), label: null },
    marks: [
      Plot.barX(top, { x: 'mean', y: 'feature', fill: '#4269d0' }),
      Plot.ruleY(top, { y: 'feature', x1: 'lo', x2: 'hi', stroke: '#222' }),
      Plot.ruleX([0]),
    ],
  });
}

function driftChart(m: ModelReport): string {
  const d = m.drift;
  if (!d || d.skipped !== null || d.features.length === 0) return '';
  const rows = d.features.map((f) => ({
    feature: f.feature,
    psi: f.psi ?? 0,
    drifted: f.drifted ? 'drifted' : 'stable',
  }));
  return chart({
    width: 520,
    height: 22 * rows.length + 60,
    marginLeft: 110,
    x: { label: 'Population stability index (PSI) →', grid: true },
    y: { domain: rows.map((r) => r.feature), label: null },
    color: { domain: ['stable', 'drifted'], range: ['#6cc5b0', '#ff725c'], legend: true },
    marks: [
      Plot.barX(rows, { x: 'psi', y: 'feature', fill: 'drifted' }),
      Plot.ruleX([0.2], { stroke: '#d03030', strokeDasharray: '5 3' }),
      Plot.ruleX([0]),
    ],
  });
}

function metricTable(m: ModelReport): string {
  const metrics = Object.entries(m.performance?.metrics ?? {});
  if (metrics.length === 0) return '';
  return `<table><thead><tr><th>Metric</th><th>Value</th><th>95% interval</th></tr></thead><tbody>${metrics
    .map(
      ([name, e]) =>
        `<tr><td>${esc(name)}</td><td class="n">${num(e.value)}</td><td class="n">${e.lo === null ? '–' : `${num(e.lo)} – ${num(e.hi)}`}</td></tr>`,
    )
    .join('')}</tbody></table>`;
}

function confusionTable(m: ModelReport): string {
  const c = m.performance?.confusion;
  if (!c) return '';
  const names = m.performance?.classes ?? ['negative', 'positive'];
  return `<table class="confusion"><caption>Confusion matrix (rows: truth, columns: prediction)</caption><thead><tr><th></th>${names
    .map((n) => `<th>${esc(n)}</th>`)
    .join('')}</tr></thead><tbody>${c
    .map((row, i) => `<tr><th>${esc(names[i] ?? i)}</th>${row.map((v) => `<td class="n">${v}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

function fairnessTable(m: ModelReport): string {
  if (!m.fairness) return '';
  return m.fairness.attributes
    .map(
      (a) =>
        `<table><caption>${esc(a.column)}${a.buckets ? ` (buckets ${esc(a.buckets.join(', '))})` : ''}: ${Object.entries(
          a.metrics,
        )
          .map(
            ([k, e]) =>
              `${esc(k.replaceAll('_', ' '))} ${num(e.value)}${e.lo === null ? '' : ` [${num(e.lo)}, ${num(e.hi)}]`}`,
          )
          .join(
            '; ',
          )}</caption><thead><tr><th>Group</th><th>Rows</th><th>Selection rate</th><th>Disparate impact</th><th>TPR</th><th>FPR</th><th>Accuracy</th><th>Burden</th></tr></thead><tbody>${a.groups
          .map(
            (g) =>
              `<tr${g.small ? ' class="small"' : ''}><td>${esc(g.name)}${g.small ? ' <span class="flag">too small to judge</span>' : ''}</td><td class="n">${g.rows}</td><td class="n">${num(g.selectionRate.value)} [${num(g.selectionRate.lo)}, ${num(g.selectionRate.hi)}]</td><td class="n${(g.disparateImpact ?? 1) < m.fairness!.threshold && !g.small ? ' bad' : ''}">${num(g.disparateImpact)}</td><td class="n">${num(g.truePositiveRate)}</td><td class="n">${num(g.falsePositiveRate)}</td><td class="n">${num(g.accuracy)}</td><td class="n">${num(g.burden)}</td></tr>`,
          )
          .join('')}</tbody></table>`,
    )
    .join('');
}

function comparisonSection(rows: ComparisonRow[], labels: string[]): string {
  if (labels.length < 2) return '';
  const wins = new Map(labels.map((l) => [l, [] as string[]]));
  for (const r of rows) if (r.winner) wins.get(r.winner)?.push(r.metric);
  const verdict = [...wins.entries()]
    .sort((a, b) => b[1].length - a[1].length)
    .map(([label, metrics]) =>
      metrics.length === 0
        ? `<li><b>${esc(label)}</b> wins on nothing.</li>`
        : `<li><b>${esc(label)}</b> wins on ${metrics.length} of ${rows.length}: ${esc(metrics.join(', '))}.</li>`,
    )
    .join('');
  return `<section><h2>Comparison</h2><ul class="verdict">${verdict}</ul><table><thead><tr><th>Kind</th><th>Metric</th><th>Better</th>${labels
    .map((l) => `<th>${esc(l)}</th>`)
    .join('')}<th>Winner</th></tr></thead><tbody>${rows
    .map(
      (r) =>
        `<tr><td>${esc(r.kind)}</td><td>${esc(r.metric)}</td><td>${r.better}</td>${labels
          .map((l) => `<td class="n${r.winner === l ? ' win' : ''}">${num(r.values[l] ?? null)}</td>`)
          .join('')}<td>${r.winner ? esc(r.winner) : 'tie'}</td></tr>`,
    )
    .join('')}</tbody></table></section>`;
}

function modelSection(m: ModelReport): string {
  const trust = m.trust.score;
  const parts = Object.entries(m.trust.parts)
    .map(([k, v]) => `${esc(k)} ${num(v)} (weight ${num(m.trust.weights[k] ?? 0)})`)
    .join(', ');
  const errors = Object.entries(m.errors)
    .map(([k, v]) => `<p class="error"><b>${esc(k)}</b>: ${esc(v)}</p>`)
    .join('');
  const r = m.robustness;
  const e = m.explainability;
  return `<section class="model"><h2>${esc(m.target)} <small>${esc(m.model)} version ${m.version}, ${esc(m.via)}${
    m.dataCommit ? `, trained on ${esc(m.dataCommit.slice(0, 40))}` : ''
  }</small></h2>
  <div class="scorecard"><div class="trust"><span class="big">${trust === null ? '–' : num(trust * 100, 3)}</span><span>trust score (0-100)</span></div><p>${parts || 'no parts measured'}</p></div>
  ${errors}
  ${m.performance ? `<h3>Performance <small>${m.performance.rows} rows</small></h3>${metricTable(m)}${confusionTable(m)}` : ''}
  ${m.fairness ? `<h3>Fairness</h3>${fairnessTable(m)}` : ''}
  ${r ? `<h3>Robustness</h3><p>Flip rate ${num(r.flipRate.value)} [${num(r.flipRate.lo)}, ${num(r.flipRate.hi)}] under perturbations of ±${num(r.epsilon)} of each numeric feature's range over ${r.rows} sampled rows. Counterfactuals (${esc(r.counterfactual.method)}): ${r.counterfactual.found} of ${r.counterfactual.searched} rows flipped, mean normalised distance ${num(r.counterfactual.meanDistance)}.</p>` : ''}
  ${e ? `<h3>Explainability <small>${e.rows} rows, ${e.repeats} repeats</small></h3><div class="chart">${importanceChart(m)}</div><p class="note">${esc(e.method)}</p>` : ''}
  ${m.drift ? `<h3>Drift</h3>${m.drift.skipped ? `<p>${esc(m.drift.skipped)}</p>` : `<p>${m.drift.drifted} of ${m.drift.features.length} features drifted (share ${num(m.drift.share)}), prediction PSI ${num(m.drift.predictionPsi)}; reference ${esc(m.drift.reference.source)}.</p><div class="chart">${driftChart(m)}</div>`}` : ''}
  </section>`;
}

const STYLE = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2129;margin:0;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px}
header{background:#1d2b4f;color:#fff;padding:20px 24px}header h1{margin:0 0 6px;font-size:22px}header p{margin:2px 0;opacity:.85}
section{background:#fff;border:1px solid #e1e4ea;border-radius:8px;padding:16px 20px;margin:16px 0;overflow-x:auto}
h2{font-size:18px;margin:0 0 12px}h2 small,h3 small{font-weight:normal;color:#667}h3{font-size:15px;margin:18px 0 8px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}th,td{padding:4px 10px;border-bottom:1px solid #eceef2;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}td.win{font-weight:700;background:#e8f5e9}td.bad{color:#c62828;font-weight:700}
caption{text-align:left;font-size:12px;color:#556;padding:4px 0}tr.small td{color:#888}.flag{font-size:11px;background:#fff3cd;color:#7a5b00;padding:1px 5px;border-radius:3px}
.scorecard{display:flex;gap:20px;align-items:center}.trust{display:flex;flex-direction:column;align-items:center;background:#eef2fb;border-radius:8px;padding:10px 18px}
.big{font-size:32px;font-weight:700;color:#1d2b4f}.charts{display:flex;flex-wrap:wrap;gap:16px}.chart h4{font-size:13px;margin:6px 0}
.error{color:#c62828}.note{font-size:12px;color:#667}.verdict li{margin:3px 0}
@media (max-width:600px){main{padding:8px}section{padding:10px}}
`;

/** The report of one scan, or of several side by side (a comparison first). */
export async function renderReportHtml(reports: readonly ScanReport[]): Promise<string> {
  const first = reports[0]!;
  const compared = compareReports(reports);
  const models = reports.flatMap((r) => r.models).map((m, i) => ({ ...m, target: compared.models[i]!.label }));
  const labels = compared.models.map((m) => m.label);
  const title =
    reports.length === 1
      ? `Scan #${first.scan.number} of ${first.scan.usecase}`
      : `Comparison of ${reports.map((r) => `${r.scan.usecase}#${r.scan.number}`).join(', ')}`;
  const datasets = reports
    .map(
      (r) =>
        `<p>${esc(r.scan.usecase)}#${r.scan.number}: ${r.dataset.repo ? `${esc(r.dataset.repo)}@${esc((r.dataset.commit ?? '').slice(0, 12))}:${esc(r.dataset.path)}` : `uploaded dataset ${esc(r.dataset.sha256.slice(0, 12))}`}, ${r.dataset.rows} rows; ${esc(r.task)}, label <b>${esc(r.label)}</b>${r.favorable !== null ? `, favourable ${esc(r.favorable)}` : ''}; scans: ${esc(r.scan.kinds.join(', '))}; finished ${esc(r.scan.finishedAt)} in ${num(r.scan.elapsedMs / 1000)} s</p>`,
    )
    .join('');
  const curves = [rocChart(models, labels), calibrationChart(models, labels)].filter(Boolean);
  const fairness = fairnessCharts(models, labels);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)}</title><style>${STYLE}</style></head><body>
<header><h1>${esc(title)}</h1>${datasets}</header><main>
${comparisonSection(compared.comparison, labels)}
${curves.length ? `<section><h2>ROC and calibration</h2><div class="charts">${curves.map((c) => `<div class="chart">${c}</div>`).join('')}</div></section>` : ''}
${fairness ? `<section><h2>Fairness by group</h2><div class="charts">${fairness}</div></section>` : ''}
${models.map(modelSection).join('')}
</main></body></html>`;
}
