import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { ModelportError } from '../../core/index.ts';
import { checkSpec, type DeploymentSpecInput } from '../../deployments/index.ts';
import { backendConformance } from '../backend.conformance.ts';
import { filesUnder, openSources, planOf, revisionOf, SPEC_MATRIX } from '../backend.fixture.ts';
import type { BindingSources } from '../render-input.ts';
import { ManifestValidator } from '../schema-validation.ts';
import { ComposeBackend, writeBundle } from './compose-backend.ts';
import { composeMemory } from './compose-renderer.ts';

const validator = new ManifestValidator();
let sources: BindingSources;
let closeSources: () => Promise<void>;
let dir: string;
before(async () => {
  ({ sources, close: closeSources } = await openSources());
  dir = await mkdtemp(join(tmpdir(), 'modelport-compose-'));
});
after(async () => {
  await closeSources();
  await rm(dir, { recursive: true, force: true });
});

const backend = () =>
  new ComposeBackend({
    bundleDir: dir,
    sources,
    validator,
    artifacts: 's3://models-bucket/modelport',
    s3Endpoint: 'http://minio:9000',
  });
const withShadow = { ...SPEC_MATRIX['canary']!, shadow: { model: 'fraud@3', percent: 20 } };
const plan = (name: string, spec: (typeof SPEC_MATRIX)[string], revision = 1) => {
  const r = revisionOf(name, spec, revision);
  return { ...r, scaling: checkSpec(r.spec) };
};

describe('compose bundle', () => {
  for (const [name, spec] of Object.entries({ ...SPEC_MATRIX, shadow: withShadow })) {
    test(`${name}: renders a bundle valid against the compose specification`, async () => {
      const files = await backend().render(revisionOf('fraud-api', spec));
      const base = parse(files.find((f) => f.path === 'base/docker-compose.yaml')!.content);
      validator.validateCompose(base);
      const published = Object.entries(base.services).filter(([, s]) => (s as { ports?: unknown }).ports);
      assert.deepEqual(
        published.map(([n]) => n),
        ['gateway'],
      );
      for (const [service, s] of Object.entries(base.services as Record<string, any>)) {
        if (!service.startsWith('s-')) continue;
        assert.deepEqual(s.depends_on, { 'model-download': { condition: 'service_completed_successfully' } });
      }
    });
  }

  test("a deployment may not replace a variable the type's template sets (spec.env or a secret)", async () => {
    const traffic = [{ model: 'churn@7', weight: 100 }];
    for (const [spec, field] of [
      [{ traffic, env: { XGB_MODEL_NAME: 'other' } }, 'spec.env.XGB_MODEL_NAME'],
      [{ traffic, secrets: [{ env: 'xgb_model_name', secret: 'S' }] }, 'spec.secrets[0].env'],
    ] as [DeploymentSpecInput, string][]) {
      await assert.rejects(backend().render(revisionOf('churn-api', spec)), (e: unknown) => {
        assert.ok(e instanceof ModelportError, String(e));
        assert.equal(e.field, field);
        return e.code === 'invalid_request';
      });
    }
  });

  test('serving services come from the type template with limits, reservations and GPU devices', async () => {
    const files = await backend().render(revisionOf('g', SPEC_MATRIX['gpu']!));
    const base = parse(files.find((f) => f.path === 'base/docker-compose.yaml')!.content);
    const service = base.services['s-iris-v3'];
    assert.equal(service.image, 'docker.io/seldonio/mlserver:1.6.1-sklearn');
    assert.equal(service.environment.MLSERVER_MODEL_URI, '/models/iris/3');
    assert.deepEqual(service.deploy.resources.limits, { cpus: 2, memory: '4g' });
    assert.deepEqual(composeMemory('512MiB'), '512m');
    assert.deepEqual(composeMemory('1536MiB'), '1536m');
    assert.deepEqual(composeMemory(1000), '1000b');
    assert.deepEqual(service.deploy.resources.reservations.devices, [{ capabilities: ['gpu'], count: 1 }]);
    const custom = parse((await backend().render(revisionOf('c', SPEC_MATRIX['custom']!)))[0]!.content);
    assert.equal(custom.services['s-churn-v7'].image, 'registry.example.com/ml/xgb-server:2.0');
    assert.deepEqual(custom.services['s-churn-v7'].command, ['--model-dir', '/models/churn/7', '--http-port', '8080']);
  });

  test('the friendly signature is carried into the bundle; a folder store names MODELPORT_ARTIFACTS_DIR in .env', async () => {
    const files = await backend().render(revisionOf('g', SPEC_MATRIX['gpu']!));
    const signature = JSON.parse(files.find((f) => f.path === 'base/signatures/s-iris-v3.json')!.content);
    assert.deepEqual(signature.friendlySignature, { outputs: { labels: ['setosa', 'versicolor', 'virginica'] } });
    const base = parse(files.find((f) => f.path === 'base/docker-compose.yaml')!.content);
    assert.ok(
      base.services['s-iris-v3'].volumes.includes('./signatures/s-iris-v3.json:/etc/modelport/signature.json:ro'),
    );
    const onnx = parse((await backend().render(revisionOf('f', SPEC_MATRIX['single']!)))[0]!.content);
    assert.equal(onnx.services['s-fraud-v1'].environment.MODELPORT_SIGNATURE_FILE, '/etc/modelport/signature.json');

    const folderStore = new ComposeBackend({
      bundleDir: dir,
      sources,
      validator,
      artifacts: '/srv/modelport/artifacts',
    });
    const out = join(dir, 'env-check');
    await writeBundle(out, await folderStore.render(revisionOf('f', SPEC_MATRIX['single']!)));
    const env = await readFile(join(out, 'example', '.env'), 'utf8');
    assert.match(env, /^EXAMPLE_DIR=.*\/env-check\/example$/m);
    assert.match(env, /^MODELPORT_ARTIFACTS_DIR=\/srv\/modelport\/artifacts$/m);
  });

  test('a model image version is its own service, with nothing downloaded for it', async () => {
    const files = await backend().render(revisionOf('scorer-api', SPEC_MATRIX['image']!));
    const base = parse(files.find((f) => f.path === 'base/docker-compose.yaml')!.content);
    validator.validateCompose(base);
    const service = base.services['s-scorer-v2'];
    assert.equal(service.image, `registry.example.com/sas/scorer:1.4@sha256:${'c3'.repeat(32)}`);
    assert.ok(!service.volumes.includes('models:/models:ro'));
    assert.deepEqual(JSON.parse(files.find((f) => f.path === 'base/models.json')!.content), { models: [] });
  });

  test('the gateway routes carry weights, tags and the shadow; secrets appear as names only', async () => {
    const files = await backend().render(
      revisionOf('fraud-api', { ...withShadow, secrets: [{ env: 'TOKEN', secret: 'partner-token' }] }),
    );
    const routes = JSON.parse(files.find((f) => f.path === 'base/gateway/routes.json')!.content);
    assert.deepEqual(
      routes.deployments[0].traffic.map((t: any) => [t.weight, t.tag, t.url]),
      [
        [90, 'stable', 'http://s-fraud-v1:8080'],
        [10, 'canary', 'http://s-fraud-v2:8080'],
      ],
    );
    assert.equal(routes.deployments[0].shadow.url, 'http://s-fraud-v3:8080');
    assert.equal(files.find((f) => f.path === 'example/creds/s-fraud-v1/.env')!.content.split('\n')[1], 'TOKEN=');
  });

  test('regenerating rewrites base/ and keeps the user edits in example/', async () => {
    const compose = backend();
    const first = await compose.apply(plan('keep', SPEC_MATRIX['single']!));
    assert.equal(first.ok, true);
    const bundle = join(dir, 'default', 'keep');
    const envFile = join(bundle, 'example', '.env');
    assert.match(await readFile(envFile, 'utf8'), new RegExp(`EXAMPLE_DIR=${join(bundle, 'example')}`));
    await writeFile(envFile, 'EXAMPLE_DIR=/srv/mine\nMODELPORT_PORT=9000\n');
    await writeFile(join(bundle, 'example', 'creds', 'model-download', '.env'), 'AWS_ACCESS_KEY_ID=mine\n');

    assert.equal((await compose.apply(plan('keep', SPEC_MATRIX['canary']!, 2))).ok, true);
    assert.equal(await readFile(envFile, 'utf8'), 'EXAMPLE_DIR=/srv/mine\nMODELPORT_PORT=9000\n');
    assert.equal(
      await readFile(join(bundle, 'example', 'creds', 'model-download', '.env'), 'utf8'),
      'AWS_ACCESS_KEY_ID=mine\n',
    );
    const base = parse(await readFile(join(bundle, 'base', 'docker-compose.yaml'), 'utf8'));
    assert.ok(base.services['s-fraud-v2'], 'base/ follows the new revision');

    await compose.remove('default', 'keep');
    await assert.rejects(readFile(join(bundle, 'base', 'docker-compose.yaml')));
    assert.equal(await readFile(envFile, 'utf8'), 'EXAMPLE_DIR=/srv/mine\nMODELPORT_PORT=9000\n');
  });
});

// onnx runs in Modelport's image; sklearn-1.5 is a container type (a file on MLServer, KServe modelFormat sklearn).
for (const model of ['fraud', 'iris']) {
  backendConformance(`${'compose'} with ${model}`, async () => {
    const opened = await openSources();
    const bundleDir = await mkdtemp(join(tmpdir(), 'modelport-compose-conformance-'));
    const folder = (project: string, name: string) => join(bundleDir, project, name);
    const single = (model: string) => ({ traffic: [{ model, weight: 100 }] });
    return {
      backend: new ComposeBackend({
        bundleDir,
        sources: opened.sources,
        validator,
        artifacts: 's3://models-bucket/modelport',
        s3Endpoint: 'http://minio:9000',
      }),
      plan: (name, revision, variant = 1) => planOf(name, single(`${model}@${variant}`), revision),
      failing: (name, revision) => ({ plan: planOf(name, single('ghost@1'), revision), reason: 'BundleFailed' }),
      refused: (name, revision) => ({
        plan: planOf(name, { ...single(`${model}@1`), resources: { cpu: 'lots' } }, revision),
        field: 'spec.resources.cpu',
      }),
      serving: async (project, name) => {
        const routes = await readFile(join(folder(project, name), 'base', 'gateway', 'routes.json'), 'utf8').catch(
          () => undefined,
        );
        return routes === undefined ? undefined : (JSON.parse(routes).deployments[0].revision as number);
      },
      made: (project, name) => filesUnder(join(folder(project, name), 'base')),
      yamlFiles: async (project, name) =>
        (await filesUnder(folder(project, name))).filter((f) => /\.ya?ml$/.test(f.path)),
      close: async () => {
        await opened.close();
        await rm(bundleDir, { recursive: true, force: true });
      },
    };
  });
}
