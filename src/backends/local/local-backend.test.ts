import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../logging/index.ts';
import { MetricsRegistry } from '../../metrics/index.ts';
import { buildLogisticRegressionModel } from '../../onnx-builder/index.ts';
import { ModelRegistry } from '../../registry/index.ts';
import { inspectOnnxModel } from '../../runtimes/index.ts';
import { createServingMetrics, ModelHost } from '../../serving/index.ts';
import { FolderArtifactStore, openMetadataStore } from '../../store/index.ts';
import { backendConformance } from '../backend.conformance.ts';
import { planOf } from '../backend.fixture.ts';
import { LocalBackend } from './index.ts';

// Real parts: a SQLite registry, a folder artifact store and the model host's worker processes.
backendConformance('local', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'modelport-local-conformance-'));
  const metadata = await openMetadataStore({ url: undefined, home: dir });
  const artifacts = new FolderArtifactStore(join(dir, 'artifacts'));
  const registry = new ModelRegistry({
    store: metadata,
    artifacts,
    inspector: { inspect: (path) => inspectOnnxModel(path, { timeoutMs: 60_000 }) },
  });
  const register = async (model: string, weights: number[]) => {
    const file = join(dir, `${model}-${weights.join('_')}.onnx`);
    await writeFile(file, buildLogisticRegressionModel({ weights, bias: 0.1, featureCount: weights.length }));
    return registry.registerVersion('default', model, { file });
  };
  await register('fraud', [0.5, -0.25, 1]);
  await register('fraud', [1, 2, 3]);
  // A version whose stored bytes no longer match their checksum: it can never load.
  const brittle = await register('brittle', [3, 2, 1]);
  const blob = join(dir, 'artifacts', 'sha256', brittle.sha256.slice(0, 2), brittle.sha256);
  const bytes = await readFile(blob);
  bytes[bytes.length - 5]! ^= 0xff;
  await writeFile(blob, bytes);

  const metrics = new MetricsRegistry();
  const host = new ModelHost({ artifacts, metrics: createServingMetrics(metrics) });
  const backend = new LocalBackend({ host, registry, metrics, log: silentLogger() });
  const single = (model: string) => ({ traffic: [{ model, weight: 100 }] });
  return {
    backend,
    plan: (name, revision, variant = 1) => planOf(name, single(`fraud@${variant}`), revision),
    failing: (name, revision) => ({ plan: planOf(name, single('brittle@1'), revision), reason: 'ModelLoadFailed' }),
    // No secret store on this server: a spec with secrets is refused.
    refused: (name, revision) => ({
      plan: planOf(name, { ...single('fraud@1'), secrets: [{ env: 'TOKEN', secret: 'partner-token' }] }, revision),
      field: 'spec.secrets',
    }),
    serving: async (project, name) => backend.route(project, name)?.revision,
    made: async (project, name) => {
      const table = backend.route(project, name);
      if (!table) return [];
      return table.targets.map((t) => ({
        path: t.key,
        content: JSON.stringify({ weight: t.weight, ready: host.get(t.key)?.pool.stats().ready }),
      }));
    },
    close: async () => {
      await backend.close();
      await host.close();
      await metadata.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
