import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MetricsRegistry } from '../metrics/index.ts';
import { createServingMetrics } from '../serving/index.ts';
import { bucketDelta, bucketQuantile } from './bucket-quantile.ts';
import { DeploymentMetricsSampler, type SampledDeployment } from './deployment-metrics-sampler.ts';

describe('bucketQuantile', () => {
  const bounds = [1, 2, 4, 8];

  test('interpolates linearly inside the bucket that holds the rank', () => {
    assert.equal(bucketQuantile(bounds, [0, 4, 0, 0], 4, 0.5), 1.5);
    assert.equal(bucketQuantile(bounds, [0, 4, 0, 0], 4, 0.75), 1.75);
    // rank 2 of 4 ends the first bucket exactly; rank 3 is half-way through the third.
    assert.equal(bucketQuantile(bounds, [2, 0, 2, 0], 4, 0.5), 1);
    assert.equal(bucketQuantile(bounds, [2, 0, 2, 0], 4, 0.75), 3);
  });

  test('the first bucket starts at zero', () => {
    assert.equal(bucketQuantile(bounds, [4, 0, 0, 0], 4, 0.25), 0.25);
  });

  test('a rank above the last bound answers the last bound; no observations answer null', () => {
    assert.equal(bucketQuantile(bounds, [0, 0, 0, 1], 5, 0.99), 8);
    assert.equal(bucketQuantile(bounds, [0, 0, 0, 0], 0, 0.5), null);
  });

  test('bucketDelta subtracts per bucket and never goes negative', () => {
    assert.deepEqual(bucketDelta([5, 7, 9], [1, 7, 10]), [4, 0, 0]);
    assert.deepEqual(bucketDelta([5, 7], undefined), [5, 7]);
  });
});

describe('DeploymentMetricsSampler', () => {
  const target = (model: string, version: number, ready: number, tag?: string) => ({
    model,
    version,
    tag,
    replicas: { desired: 1, ready },
  });

  function setup(windowMs = 60_000) {
    const metrics = createServingMetrics(new MetricsRegistry());
    let deployments: SampledDeployment[] = [
      {
        project: 'default',
        name: 'fraud',
        status: { targets: [target('fraud', 1, 2, 'stable'), target('fraud', 2, 1, 'canary')] },
      },
    ];
    const sampler = new DeploymentMetricsSampler({
      metrics,
      deployments: async () => deployments,
      intervalMs: 2000,
      windowMs,
    });
    const serve = (model: string, version: number, seconds: number, outcome = 'ok') => {
      const labels = { model, version: String(version), protocol: 'v2' };
      metrics.requests.inc({ ...labels, outcome });
      metrics.requestSeconds.observe(labels, seconds);
    };
    return { sampler, serve, drop: () => (deployments = []) };
  }

  test("rates and quantiles come from the deltas of the deployment's model versions only", async () => {
    const { sampler, serve } = setup();
    serve('fraud', 1, 9); // before the first tick: never counted
    await sampler.tick(0);
    assert.deepEqual(sampler.series('default', 'fraud').points, []);

    for (let i = 0; i < 3; i++) serve('fraud', 1, 0.003); // bucket (0.0025, 0.005]
    serve('fraud', 2, 0.2, 'invalid_request'); // bucket (0.1, 0.25]
    for (let i = 0; i < 100; i++) serve('other', 1, 5);
    await sampler.tick(2000);

    const [point] = sampler.series('default', 'fraud').points;
    assert.deepEqual(point, {
      time: '1970-01-01T00:00:02.000Z',
      requestsPerSecond: 2,
      errorsPerSecond: 0.5,
      errorRatio: 0.25,
      // rank 2 of 4: two thirds into (2.5 ms, 5 ms]; rank 3.96: 96% into (100 ms, 250 ms].
      p50Ms: 4.167,
      p99Ms: 244,
      replicasReady: 3,
      replicasDesired: 2,
      // Each arm on its own: the stable one fast and clean, the canary slow and failing.
      arms: [
        { target: 'fraud@1', tag: 'stable', requestsPerSecond: 1.5, errorRatio: 0, p50Ms: 3.75, p99Ms: 4.975 },
        { target: 'fraud@2', tag: 'canary', requestsPerSecond: 0.5, errorRatio: 1, p50Ms: 175, p99Ms: 248.5 },
      ],
    });
  });

  test('a range beyond the fine window answers one point a minute, its quantiles from the summed buckets', async () => {
    const { sampler, serve } = setup(60_000);
    await sampler.tick(0);
    for (let t = 2000; t <= 180_000; t += 2000) {
      serve('fraud', 1, t < 60_000 ? 0.003 : 0.2);
      await sampler.tick(t);
    }
    const hour = sampler.series('default', 'fraud', 60 * 60_000);
    assert.equal(hour.intervalSeconds, 60);
    assert.equal(hour.windowSeconds, 3600);
    // Minutes 0-1 and 1-2 are complete; 2-3 is still summing.
    assert.deepEqual(
      hour.points.map((p) => [p.time, p.requestsPerSecond, p.p50Ms]),
      [
        ['1970-01-01T00:01:00.000Z', 0.5, 3.793], // 29 fast requests and the slow one served at 60 s
        ['1970-01-01T00:02:00.000Z', 0.5, 175],
      ],
    );
    const fine = sampler.series('default', 'fraud', 5 * 60_000);
    assert.equal(fine.intervalSeconds, 60, 'five minutes is beyond this one-minute fine window');
    assert.equal(sampler.series('default', 'fraud', 30_000).points.length, 15);
  });

  test('an interval without traffic has zero rates and no latency', async () => {
    const { sampler, serve } = setup();
    serve('fraud', 1, 0.003);
    await sampler.tick(0);
    await sampler.tick(2000);
    const [point] = sampler.series('default', 'fraud').points;
    assert.equal(point?.requestsPerSecond, 0);
    assert.equal(point?.errorRatio, null);
    assert.equal(point?.p50Ms, null);
    assert.equal(point?.p99Ms, null);
  });

  test('keeps only the window and forgets deleted deployments', async () => {
    const { sampler, drop } = setup(6000);
    for (let t = 0; t <= 10_000; t += 2000) await sampler.tick(t);
    const { points, windowSeconds, intervalSeconds } = sampler.series('default', 'fraud', 6000);
    assert.equal(windowSeconds, 6);
    assert.equal(intervalSeconds, 2);
    assert.deepEqual(
      points.map((p) => p.time),
      ['1970-01-01T00:00:06.000Z', '1970-01-01T00:00:08.000Z', '1970-01-01T00:00:10.000Z'],
    );
    drop();
    await sampler.tick(12_000);
    assert.deepEqual(sampler.series('default', 'fraud').points, []);
  });
});
