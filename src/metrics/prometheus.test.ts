import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MetricsRegistry } from './prometheus.ts';

test('renders counters, gauges and cumulative histograms in the text format', () => {
  const registry = new MetricsRegistry();
  const requests = registry.counter('reqs_total', 'Requests.', ['model', 'outcome']);
  const inFlight = registry.gauge('in_flight', 'In flight.', ['model']);
  const latency = registry.histogram('latency_seconds', 'Latency.', ['model'], [0.1, 1]);
  requests.inc({ model: 'a"b', outcome: 'ok' });
  requests.inc({ model: 'a"b', outcome: 'ok' }, 2);
  inFlight.inc({ model: 'm' });
  inFlight.dec({ model: 'm' });
  latency.observe({ model: 'm' }, 0.05);
  latency.observe({ model: 'm' }, 0.5);
  latency.observe({ model: 'm' }, 5);
  const text = registry.render();
  assert.match(text, /^# TYPE reqs_total counter$/m);
  assert.match(text, /^reqs_total\{model="a\\"b",outcome="ok"\} 3$/m);
  assert.match(text, /^in_flight\{model="m"\} 0$/m);
  assert.match(text, /^latency_seconds_bucket\{model="m",le="0.1"\} 1$/m);
  assert.match(text, /^latency_seconds_bucket\{model="m",le="1"\} 2$/m);
  assert.match(text, /^latency_seconds_bucket\{model="m",le="\+Inf"\} 3$/m);
  assert.match(text, /^latency_seconds_count\{model="m"\} 3$/m);
  assert.deepEqual(latency.get({ model: 'm' }), { count: 3, sum: 5.55 });
  assert.throws(() => registry.counter('reqs_total', 'again'), /registered twice/);
});
