/**
 * The shipped Grafana dashboard (deploy/grafana/modelport.json) against a running server: every PromQL expression
 * parses with Prometheus's own grammar (lezer-promql, the parser of Prometheus's UI), and names only metrics that the
 * server's /metrics really exports after traffic to a deployment (successes and errors), with label names those
 * metrics carry. The JSON has Grafana's dashboard shape: schemaVersion, templating variables, panels with gridPos
 * inside the 24-column grid, and targets with a refId and an expression.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parser } from '@prometheus-io/lezer-promql';
import { trainFraudModel } from '../examples/fraud/train.ts';
import { ModelportClient } from '../src/client/client.ts';
import { REPO_ROOT, startTestServer, type TestServer } from './support/server.ts';

interface Target {
  refId: string;
  expr: string;
  legendFormat?: string;
  datasource?: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  fieldConfig?: { defaults?: { unit?: string } };
  targets?: Target[];
}
interface Dashboard {
  title: string;
  uid: string;
  schemaVersion: number;
  time: { from: string; to: string };
  templating: { list: { type: string; name: string; query: string | { query: string } }[] };
  panels: Panel[];
}

/** Metric names (with a histogram's _bucket, _sum and _count) and the label names seen on each, from /metrics. */
function exported(text: string): Map<string, Set<string>> {
  const metrics = new Map<string, Set<string>>();
  const add = (name: string, labels: string[] = []) => {
    const set = metrics.get(name) ?? new Set<string>();
    for (const l of labels) set.add(l);
    metrics.set(name, set);
  };
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) {
      const [, name = '', kind] = type;
      if (kind === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) add(name + suffix);
      else add(name);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (sample)
      add(
        sample[1] ?? '',
        [...(sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)].map((m) => m[1] ?? ''),
      );
  }
  return metrics;
}

/** Grafana's variables replaced by values PromQL accepts, as Grafana does before it sends a query. */
const interpolate = (expr: string) =>
  expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__interval', '15s')
    .replace(/\$\{?(\w+)\}?/g, 'x');

/** The metric names and label names an expression uses; throws on a syntax error, naming where. */
function parse(expr: string): { metrics: string[]; matcherLabels: Map<string, string[]>; groupingLabels: string[] } {
  const text = interpolate(expr);
  const metrics: string[] = [];
  const matcherLabels = new Map<string, string[]>();
  const groupingLabels: string[] = [];
  let current: string | undefined;
  parser.parse(text).iterate({
    enter(node) {
      if (node.type.isError) throw new Error(`syntax error at ${node.from} in: ${text}`);
      const value = text.slice(node.from, node.to);
      if (node.name === 'VectorSelector') current = undefined;
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') {
        metrics.push(value);
        current = value;
      }
      if (node.name === 'LabelName') {
        const parent = node.node.parent?.name;
        if (parent === 'UnquotedLabelMatcher' && current) {
          matcherLabels.set(current, [...(matcherLabels.get(current) ?? []), value]);
        } else if (parent === 'GroupingLabels') groupingLabels.push(value);
      }
    },
  });
  return { metrics, matcherLabels, groupingLabels };
}

const model = trainFraudModel({ seed: 1, rows: 4000 });

describe('Grafana dashboard', () => {
  let t: TestServer;
  let dashboard: Dashboard;
  let metrics: Map<string, Set<string>>;
  let metricsText: string;

  before(async () => {
    dashboard = JSON.parse(await readFile(join(REPO_ROOT, 'deploy', 'grafana', 'modelport.json'), 'utf8'));
    t = await startTestServer('embedded');
    const mp = new ModelportClient({ url: t.url });
    await mp.registerVersion('fraud', model.onnx, { aliases: ['champion'] });
    await mp.registerVersion('fraud', model.onnx);
    await mp.createDeployment('fraud-api', {
      traffic: [
        { model: 'fraud@1', weight: 50, tag: 'stable' },
        { model: 'fraud@2', weight: 50, tag: 'canary' },
      ],
      shadow: { model: 'fraud@1', percent: 100 },
      logging: { sample: 100 },
    });
    await mp.waitDeployment('fraud-api');
    const infer = (shape: number[], data: number[]) =>
      fetch(`${t.url}/v2/models/fraud-api/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape, data }] }),
      });
    for (let i = 0; i < 20; i++) assert.equal((await infer([1, 30], model.samples.fraud)).status, 200);
    assert.equal((await infer([1, 3], [1, 2, 3])).status, 400);
    metricsText = await (await fetch(`${t.url}/metrics`)).text();
    metrics = exported(metricsText);
  });
  after(() => t?.close());

  test("the JSON has Grafana's dashboard shape", () => {
    assert.equal(typeof dashboard.title, 'string');
    assert.match(dashboard.uid, /^[a-zA-Z0-9_-]{1,40}$/);
    assert.ok(Number.isInteger(dashboard.schemaVersion) && dashboard.schemaVersion >= 36, 'schemaVersion');
    assert.ok(dashboard.time.from && dashboard.time.to);
    const variables = dashboard.templating.list.map((v) => `${v.type}:${v.name}`);
    assert.deepEqual(variables, ['datasource:datasource', 'query:project', 'query:deployment']);
    assert.ok(dashboard.panels.length >= 9);
    const ids = new Set<number>();
    for (const panel of dashboard.panels) {
      assert.ok(!ids.has(panel.id), `panel id ${panel.id} is unique`);
      ids.add(panel.id);
      assert.equal(panel.type, 'timeseries', panel.title);
      assert.equal(panel.datasource?.uid, '${datasource}', panel.title);
      const { x, y, w, h } = panel.gridPos;
      for (const v of [x, y, w, h]) assert.ok(Number.isInteger(v) && v >= 0, `${panel.title}: gridPos`);
      assert.ok(w > 0 && h > 0 && x + w <= 24, `${panel.title}: inside Grafana's 24 columns`);
      assert.ok(panel.fieldConfig?.defaults?.unit, `${panel.title}: a unit`);
      assert.ok(panel.targets && panel.targets.length > 0, `${panel.title}: targets`);
      const refIds = panel.targets.map((target) => target.refId);
      assert.equal(new Set(refIds).size, refIds.length, `${panel.title}: refIds are unique`);
      for (const target of panel.targets) assert.ok(target.expr.length > 0);
    }
    // No two panels overlap on the grid.
    for (const a of dashboard.panels) {
      for (const b of dashboard.panels) {
        if (a === b) continue;
        const overlap =
          a.gridPos.x < b.gridPos.x + b.gridPos.w &&
          b.gridPos.x < a.gridPos.x + a.gridPos.w &&
          a.gridPos.y < b.gridPos.y + b.gridPos.h &&
          b.gridPos.y < a.gridPos.y + a.gridPos.h;
        assert.ok(!overlap, `'${a.title}' overlaps '${b.title}'`);
      }
    }
  });

  test('every expression parses and names only metrics and labels the server exports', () => {
    const queries = [
      ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((target) => ({ where: p.title, expr: target.expr }))),
      ...dashboard.templating.list
        .filter((v) => v.type === 'query')
        .map((v) => {
          const q = typeof v.query === 'string' ? v.query : v.query.query;
          // label_values(selector, label): the selector is PromQL.
          const m = /^label_values\((.*),\s*(\w+)\)$/.exec(q);
          assert.ok(m, `variable ${v.name}: ${q}`);
          return { where: `variable ${v.name}`, expr: m[1] ?? '', label: m[2] };
        }),
    ];
    const used = new Set<string>();
    for (const { where, expr, ...rest } of queries) {
      const parsed = parse(expr);
      assert.ok(parsed.metrics.length > 0, `${where}: names a metric`);
      const labelsOfExpr = new Set<string>(['le']);
      let unsampled = false;
      for (const name of parsed.metrics) {
        const labels = metrics.get(name);
        assert.ok(labels, `${where}: '${name}' is not exported by /metrics`);
        used.add(name);
        // No sample yet (a counter nothing incremented, a drift gauge before a check): its labels are unknown.
        if (labels.size === 0) {
          unsampled = true;
          continue;
        }
        for (const l of labels) labelsOfExpr.add(l);
        for (const l of parsed.matcherLabels.get(name) ?? [])
          assert.ok(labels.has(l), `${where}: ${name} has no label '${l}'`);
      }
      if (unsampled) continue;
      for (const l of parsed.groupingLabels) assert.ok(labelsOfExpr.has(l), `${where}: no metric carries label '${l}'`);
      const label = (rest as { label?: string }).label;
      if (label) assert.ok(labelsOfExpr.has(label), `${where}: no label '${label}'`);
    }
    // The panels cover what the dashboard promises.
    for (const name of [
      'modelport_inference_requests_total',
      'modelport_inference_request_seconds_bucket',
      'modelport_inference_queued',
      'modelport_workers',
      'modelport_inference_batch_size_bucket',
      'modelport_deployment_target_info',
      'modelport_payload_records_total',
      'modelport_payload_records_dropped_total',
      'modelport_drift_share',
      'modelport_drift_psi',
    ]) {
      assert.ok(used.has(name), `the dashboard uses ${name}`);
    }
  });

  test('the join metric maps the deployment to the model versions it routes to, by tag', () => {
    const info = metricsText.split('\n').filter((l) => l.startsWith('modelport_deployment_target_info{'));
    assert.deepEqual(info.sort(), [
      'modelport_deployment_target_info{project="default",deployment="fraud-api",model="fraud",version="1",tag="stable"} 1',
      'modelport_deployment_target_info{project="default",deployment="fraud-api",model="fraud",version="2",tag="canary"} 1',
    ]);
    assert.match(metricsText, /^modelport_inference_queued\{model="fraud",version="1"\} 0$/m);
  });

  test('a broken expression or an unknown metric is caught by the checks above', () => {
    assert.throws(() => parse('sum(rate(modelport_inference_requests_total[1m])'), /syntax error/);
    assert.deepEqual(parse('rate(no_such_metric[1m])').metrics, ['no_such_metric']);
    assert.equal(metrics.has('no_such_metric'), false);
  });
});
