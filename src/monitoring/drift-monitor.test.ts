/**
 * The drift monitor on SQLite and PostgreSQL: checks stored and read back newest first, the DriftDetected
 * condition and its alert once per change, the verdict kept across a restart, per-arm judgement, and the reasons
 * for no verdict. The deployment, registry, data and payload reads are small in-memory stand-ins (the end-to-end
 * path with the real services is test/drift.e2e.test.ts); the reference profile and the statistics are real.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ColumnProfile, DataProfile } from '../data/index.ts';
import type { Deployment } from '../deployments/index.ts';
import { memoryLogger } from '../logging/index.ts';
import { MetricsRegistry } from '../metrics/index.ts';
import type { ModelVersion } from '../registry/index.ts';
import { createRng, numericReference } from '../stats/index.ts';
import { forEachMetadataStore } from '../store/metadata/metadata-store.conformance.ts';
import { featureSlots, featureValues, type LoggedCall, referenceFromColumn } from './drift-inputs.ts';
import { DriftMonitor } from './drift-monitor.ts';

const FEATURES = ['a', 'b', 'c'];

/** A numeric column profile as src/data's profiler writes it: quantiles and an equal-width histogram. */
function profileOf(name: string, values: number[]): ColumnProfile {
  const sorted = [...values].sort((x, y) => x - y);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
  const min = sorted[0] as number;
  const max = sorted.at(-1) as number;
  const bins = 20;
  const width = (max - min) / bins || 1;
  const histogram = Array.from({ length: bins }, (_, k) => ({
    lo: min + k * width,
    hi: min + (k + 1) * width,
    count: 0,
  }));
  for (const v of values) (histogram[Math.min(bins - 1, Math.floor((v - min) / width))] as { count: number }).count++;
  return {
    name,
    type: 'DOUBLE',
    nulls: 0,
    distinct: values.length,
    min,
    max,
    mean: null,
    stddev: null,
    quantiles: { p01: q(0.01), p05: q(0.05), p25: q(0.25), p50: q(0.5), p75: q(0.75), p95: q(0.95), p99: q(0.99) },
    histogram,
    top: null,
  };
}

function normals(seed: number, n: number, shift = 0): number[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => rng.normal() + shift);
}

function version(n: number): ModelVersion {
  return {
    model: 'm',
    version: n,
    signature: { inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3] }], outputs: [] },
    friendlySignature: { features: FEATURES.map((name) => ({ name, type: 'number' as const })) },
    lineage: { source: null, dataCommit: `train@${'c'.repeat(64)}`, pipelineRun: null },
  } as unknown as ModelVersion;
}

/** Calls of `rows` rows each; feature b shifted by `shiftB` standard deviations. */
function calls(
  modelVersion: number,
  arm: string,
  seed: number,
  count: number,
  shiftB = 0,
): (LoggedCall & { time: string })[] {
  const a = normals(seed, count);
  const b = normals(seed + 1, count, shiftB);
  const c = normals(seed + 2, count);
  return a.map((_, i) => ({
    time: new Date().toISOString(),
    model: 'm',
    modelVersion,
    arm,
    status: 'ok',
    inputs: [{ name: 'x', shape: [1, 3], data: [[a[i], b[i], c[i]]] }],
  }));
}

test('a profile becomes a reference: the stored one, else rebuilt with a sketch and bins that follow the data', () => {
  const values = normals(1, 5000);
  const ref = referenceFromColumn(profileOf('a', values), values.length);
  assert.equal(ref?.kind, 'numeric');
  if (ref?.kind !== 'numeric') return;
  assert.equal(ref.quantiles.length, 101);
  assert.equal(ref.counts.length, ref.edges.length + 1);
  assert.equal(
    ref.counts.reduce((x, y) => x + y, 0),
    5000,
  );
  // The interpolated median sits near the exact one (0 for a standard normal).
  const exact = numericReference(values);
  assert.ok(Math.abs((ref.quantiles[50] ?? 9) - (exact.quantiles[50] ?? 0)) < 0.05);
  for (let k = 1; k < ref.quantiles.length; k++) assert.ok((ref.quantiles[k] ?? 0) >= (ref.quantiles[k - 1] ?? 0));
  // A profile that stores its drift reference is used as it is.
  const stored = numericReference(values);
  assert.equal(referenceFromColumn({ ...profileOf('a', values), drift: stored }, values.length), stored);
  const text = referenceFromColumn(
    {
      ...profileOf('t', [1]),
      histogram: null,
      min: 'a',
      top: [
        { value: 'web', count: 60 },
        { value: 'shop', count: 30 },
      ],
    },
    100,
  );
  assert.deepEqual(text, { kind: 'categorical', n: 100, nulls: 0, counts: { web: 60, shop: 30 }, other: 10 });
});

test('features come from the friendly signature, nested or flat, redacted and failed calls left out', () => {
  const slots = featureSlots(version(1));
  assert.deepEqual(
    slots.map((s) => [s.name, s.column]),
    [
      ['a', 0],
      ['b', 1],
      ['c', 2],
    ],
  );
  const values = featureValues(slots, [
    {
      model: 'm',
      modelVersion: 1,
      arm: 'primary',
      status: 'ok',
      inputs: [{ name: 'x', shape: [2, 3], data: [1, 2, 3, 4, 5, 6] }],
    },
    {
      model: 'm',
      modelVersion: 1,
      arm: 'primary',
      status: 'ok',
      inputs: [{ name: 'x', shape: [1, 3], data: [[7, 8, 9]] }],
    },
    { model: 'm', modelVersion: 1, arm: 'primary', status: 'ok', inputs: [{ name: 'x', shape: [1, 3], data: null }] },
    {
      model: 'm',
      modelVersion: 1,
      arm: 'primary',
      status: 'invalid_input',
      inputs: [{ name: 'x', shape: [1, 3], data: [0, 0, 0] }],
    },
  ]);
  assert.deepEqual(Object.fromEntries(values), { a: [1, 4, 7], b: [2, 5, 8], c: [3, 6, 9] });
});

forEachMetadataStore('drift monitor', (open) => {
  test('checks per arm, the condition and one alert per change, kept across a restart', async () => {
    const metadata = await open();
    const training = Object.fromEntries(FEATURES.map((f, i) => [f, normals(100 + i, 4000)]));
    const profile: DataProfile = {
      format: 'csv',
      rows: 4000,
      columns: FEATURES.map((f) => profileOf(f, training[f] as number[])),
      elapsedMs: 1,
    };
    let logged: (LoggedCall & { time: string })[] = [];
    const deployment = {
      name: 'd',
      currentRevision: 2,
      spec: {
        traffic: [],
        monitoring: {
          drift: {
            schedule: '0 0 1 1 *',
            window: '1h',
            threshold: 0.2,
            share: 0.3,
            minRows: 50,
            maxRows: 5000,
            notify: [{ webhook: { url: 'https://hooks.example.com/x', format: 'slack' } }],
          },
        },
      },
      status: {
        targets: [
          { model: 'm', version: 1, tag: 'stable', weight: 50, replicas: { desired: 1, ready: 1 } },
          { model: 'm', version: 2, tag: 'canary', weight: 50, replicas: { desired: 1, ready: 1 } },
        ],
      },
    } as unknown as Deployment;
    const posted: { url: string; body: { text: string } }[] = [];
    const metrics = new MetricsRegistry();
    const deps = {
      db: metadata.db,
      projects: async () => ['default'],
      deployments: { list: async () => [deployment], get: async () => deployment },
      registry: { getVersion: async (_p: string, ref: { version: number }) => version(ref.version) },
      data: {
        tree: async () => ({
          entries: [
            { path: 'train.csv', type: 'file' },
            { path: 'README.md', type: 'file' },
          ],
        }),
        profile: async () => ({ state: 'ready', profile }),
      },
      payloads: {
        query: async (q: { limit?: number; offset?: number }) =>
          logged.slice(q.offset ?? 0, (q.offset ?? 0) + (q.limit ?? 100)),
      },
      post: async (url: string, body: string) => {
        posted.push({ url, body: JSON.parse(body) });
        return { status: 200 };
      },
      secrets: async () => ({}),
      log: memoryLogger(),
      syncIntervalMs: 60_000,
    };
    const monitor = new DriftMonitor({ ...deps, metrics });
    await monitor.start();
    try {
      assert.ok(monitor.nextRun('default', 'd'), 'the schedule is armed');
      // Too few calls: no verdict, no condition.
      logged = calls(1, 'stable', 1, 10);
      let checks = await monitor.check('default', 'd');
      assert.deepEqual(
        checks.map((c) => [c.arm, c.state]),
        [
          ['stable', 'too_few_rows'],
          ['canary', 'too_few_rows'],
        ],
      );
      assert.equal(monitor.condition('default', 'd'), undefined);

      // Both arms like the training data: ok.
      logged = [...calls(1, 'stable', 1, 400), ...calls(2, 'canary', 11, 400)];
      checks = await monitor.check('default', 'd');
      assert.deepEqual(
        checks.map((c) => [c.arm, c.modelVersion, c.state, c.rows, c.reference]),
        [
          ['stable', 1, 'ok', 400, `train@${'c'.repeat(12)}:train.csv`],
          ['canary', 2, 'ok', 400, `train@${'c'.repeat(12)}:train.csv`],
        ],
      );
      assert.equal(monitor.condition('default', 'd')?.status, 'False');
      assert.equal(posted.length, 0);

      // The canary's feature b shifts: 1 of 3 features (33% >= 30%) on the canary only.
      logged = [...calls(1, 'stable', 21, 400), ...calls(2, 'canary', 31, 400, 3)];
      checks = await monitor.check('default', 'd');
      assert.deepEqual(
        checks.map((c) => [c.arm, c.state]),
        [
          ['stable', 'ok'],
          ['canary', 'drifted'],
        ],
      );
      const canary = checks[1];
      assert.deepEqual(
        canary?.features.filter((f) => f.drifted).map((f) => f.name),
        ['b'],
      );
      const condition = monitor.condition('default', 'd');
      assert.equal(condition?.status, 'True');
      assert.match(condition?.message ?? '', /^canary \(m@2\): 1 of 3 features drifted \(33% >= 30%\): b \(PSI/);
      assert.equal(posted.length, 1);
      assert.equal(posted[0]?.url, 'https://hooks.example.com/x');
      assert.match(posted[0]?.body.text ?? '', /^Deployment d: drift detected\n/);
      assert.match(metrics.render(), /^modelport_drift_detected\{project="default",deployment="d"\} 1$/m);

      // Stored newest first.
      const history = await monitor.history('default', 'd', 3);
      assert.deepEqual(
        history.map((c) => `${c.arm}:${c.state}`),
        ['canary:drifted', 'stable:ok', 'canary:ok'],
      );
    } finally {
      await monitor.close();
    }

    // A restarted server keeps the verdict; back to normal is alerted once.
    const again = new DriftMonitor(deps);
    await again.start();
    try {
      assert.equal(again.condition('default', 'd')?.status, 'True');
      logged = [...calls(1, 'stable', 41, 400), ...calls(2, 'canary', 51, 400)];
      await again.check('default', 'd');
      assert.equal(again.condition('default', 'd')?.status, 'False');
      assert.equal(posted.length, 2);
      assert.match(posted[1]?.body.text ?? '', /^Deployment d: drift cleared\n/);
    } finally {
      await again.close();
    }
  });
});
