/**
 * Gauges read from the serving units at scrape time, so the hot path pays nothing for them: requests waiting in
 * each model version's batcher queue, and batches running in its workers.
 */
import type { MetricsRegistry } from '../metrics/index.ts';
import type { ModelHost } from '../serving/index.ts';

export function registerQueueGauges(registry: MetricsRegistry, host: Pick<ModelHost, 'list'>): void {
  const queued = registry.gauge(
    'modelport_inference_queued',
    'Requests waiting in the batcher queue of a model version (sampled at scrape).',
    ['model', 'version'],
  );
  const running = registry.gauge(
    'modelport_inference_running_batches',
    'Batches running in the workers of a model version (sampled at scrape).',
    ['model', 'version'],
  );
  let seen = new Set<string>();
  registry.onCollect(() => {
    const totals = new Map<string, { labels: { model: string; version: string }; queued: number; running: number }>();
    for (const unit of host.list()) {
      const key = `${unit.labels.model}\u0000${unit.labels.version}`;
      const stats = unit.batcher.stats();
      const total = totals.get(key) ?? { labels: unit.labels, queued: 0, running: 0 };
      total.queued += stats.queued;
      total.running += stats.runningBatches;
      totals.set(key, total);
    }
    for (const [key, total] of totals) {
      queued.set(total.labels, total.queued);
      running.set(total.labels, total.running);
      seen.delete(key);
    }
    // Versions no longer served leave the scrape.
    for (const key of seen) {
      const [model = '', version = ''] = key.split('\u0000');
      queued.remove({ model, version });
      running.remove({ model, version });
    }
    seen = new Set(totals.keys());
  });
}
