import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ModelportError } from '../core/index.ts';
import { buildLogisticRegressionModel } from '../onnx-builder/index.ts';
import { ModelRegistry } from '../registry/index.ts';
import { inspectOnnxModel } from '../runtimes/index.ts';
import { FolderArtifactStore } from '../store/index.ts';
import { forEachMetadataStore } from '../store/metadata/metadata-store.conformance.ts';
import { RegistryResolver } from './registry-resolver.ts';

let dir: string;
let model: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelport-resolver-'));
  model = join(dir, 'lr.onnx');
  await writeFile(model, buildLogisticRegressionModel({ weights: [0.5, -0.25, 1], bias: 0.1, featureCount: 3 }));
});
after(() => rm(dir, { recursive: true, force: true }));

const notFound = (e: unknown) => e instanceof ModelportError && e.code === 'not_found';

forEachMetadataStore('registry resolver', (open) => {
  async function setup() {
    const store = await open();
    const registry = new ModelRegistry({
      store,
      artifacts: new FolderArtifactStore(await mkdtemp(join(dir, 'artifacts-'))),
      inspector: { inspect: (path) => inspectOnnxModel(path, { timeoutMs: 60_000 }) },
    });
    // Counts the registry's lookups: the resolver's point is to spare them.
    let lookups = 0;
    const getVersion = registry.getVersion.bind(registry);
    registry.getVersion = (project, ref) => {
      lookups++;
      return getVersion(project, ref);
    };
    return { registry, lookups: () => lookups };
  }

  test('an unknown name is looked up once per ttl, then again; a model registered since is found', async () => {
    const { registry, lookups } = await setup();
    let clock = 0;
    const resolver = new RegistryResolver(registry, { ttlMs: 1000, now: () => clock });
    for (let i = 0; i < 5; i++) await assert.rejects(resolver.resolve('scorer'), notFound);
    assert.equal(lookups(), 1, 'one query for five calls of an unknown name');
    await registry.registerVersion('default', 'scorer', { file: model });
    const registered = lookups(); // registering reads the version back through the same method
    clock = 999;
    await assert.rejects(resolver.resolve('scorer'), notFound, 'still unknown within the ttl, as an alias move waits');
    assert.equal(lookups(), registered);
    clock = 1000;
    const found = await resolver.resolve('scorer');
    assert.equal(found.version.model, 'scorer', 'found once the ttl has passed');
    assert.equal(lookups(), registered + 1);
  });

  test('unknown names are bounded apart: a scan of names neither grows without end nor evicts known ones', async () => {
    const { registry, lookups } = await setup();
    await registry.registerVersion('default', 'known', { file: model });
    const resolver = new RegistryResolver(registry, { ttlMs: 60_000 });
    await resolver.resolve('known');
    for (let i = 0; i < 1500; i++) await assert.rejects(resolver.resolve(`scan-${i}`), notFound);
    const before = lookups();
    await resolver.resolve('known');
    assert.equal(lookups(), before, 'the known name is still cached');
    // The bound cleared the first 1,024 unknown names: asking one again queries once more.
    await assert.rejects(resolver.resolve('scan-0'), notFound);
    assert.equal(lookups(), before + 1);
  });

  test('a bad version is an error for the caller, never remembered as unknown', async () => {
    const { registry, lookups } = await setup();
    const resolver = new RegistryResolver(registry, { ttlMs: 60_000 });
    for (let i = 0; i < 2; i++) {
      await assert.rejects(
        resolver.resolve('scorer', 'x1'),
        (e: unknown) => e instanceof ModelportError && e.code === 'invalid_request' && e.field === 'version',
      );
    }
    assert.equal(lookups(), 0);
  });
});
