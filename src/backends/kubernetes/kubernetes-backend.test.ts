import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ModelportError } from '../../core/index.ts';
import { checkSpec, type DeploymentSpecInput } from '../../deployments/index.ts';
import { backendConformance } from '../backend.conformance.ts';
import { openSources, planOf, revisionOf, SPEC_MATRIX } from '../backend.fixture.ts';
import { kubernetesYaml } from '../export.ts';
import type { BindingSources } from '../render-input.ts';
import { type KubeObject, ManifestValidator } from '../schema-validation.ts';
import { FakeKubeServer } from './fake-kube-server.ts';
import { openKubeApi } from './kube-api.ts';
import { KubernetesBackend, uninstall } from './kubernetes-backend.ts';
import { KUBERNETES_FORMATS, type KubernetesFormat } from './kubernetes-renderer.ts';

const validator = new ManifestValidator();
let sources: BindingSources;
let closeSources: () => Promise<void>;
before(async () => {
  ({ sources, close: closeSources } = await openSources());
});
after(() => closeSources());

const s3 = { endpoint: 'http://minio.storage:9000', region: 'eu-west-1', accessKeyId: 'AKIA', secretAccessKey: 'shh' };

function backend(format: KubernetesFormat) {
  return new KubernetesBackend({
    api: () => Promise.reject(new Error('no cluster in render tests')),
    sources,
    validator,
    format,
    namespace: 'models',
    storageUri: (sha) => `s3://models-bucket/modelport/sha256/${sha}`,
    s3,
    imagePullSecrets: ['regcred'],
    secrets: { resolve: async (_p, names) => Object.fromEntries(names.map((n) => [n, `value-of-${n}`])) },
  });
}

const serving = (objects: KubeObject[]) => objects[objects.length - 1]! as KubeObject & { spec: any };
const containerOf = (object: KubeObject & { spec: any }) =>
  object.kind === 'Service'
    ? object.spec.template.spec.containers[0]
    : (object.spec.predictor.model ?? object.spec.predictor.containers[0]);

describe('kubernetes rendering', () => {
  for (const format of KUBERNETES_FORMATS) {
    for (const [name, spec] of Object.entries(SPEC_MATRIX)) {
      test(`${format} / ${name}: renders and validates against the CRD`, async () => {
        const objects = await backend(format).render(revisionOf('fraud-api', spec), true);
        for (const object of objects) validator.validateKubernetes(object);
        for (const object of objects) {
          assert.equal(object.metadata.labels?.['app.kubernetes.io/managed-by'], 'modelport');
          assert.equal(object.metadata.labels?.['modelport.dev/deployment'], 'fraud-api');
          assert.equal(object.metadata.labels?.['modelport.dev/project'], 'default');
          assert.equal(object.metadata.labels?.['modelport.dev/revision'], '1');
          assert.equal(object.metadata.namespace, 'models');
        }
        const main = serving(objects);
        const container = containerOf(main);
        // Secrets only by reference, never inline.
        assert.ok(!JSON.stringify(main).includes('value-of-'));
        assert.ok(!JSON.stringify(main).includes('"shh"'));
        // KServe's model form takes the artifact as storageUri; a container as STORAGE_URI.
        const storage =
          container.storageUri ?? container.env.find((e: { name: string }) => e.name === 'STORAGE_URI')?.value;
        if (name === 'image') assert.equal(storage, undefined, 'a model image downloads nothing');
        else assert.match(storage, /^s3:\/\/models-bucket\/modelport\/sha256\/[0-9a-f]{64}$/);
      });
    }
  }

  test("a deployment may not replace a variable the type's template sets (spec.env or a secret)", async () => {
    for (const [spec, field] of [
      [{ traffic: [{ model: 'churn@7', weight: 100 }], env: { XGB_MODEL_NAME: 'x' } }, 'spec.env.XGB_MODEL_NAME'],
      [
        { traffic: [{ model: 'churn@7', weight: 100 }], secrets: [{ env: 'XGB_MODEL_NAME', secret: 'S' }] },
        'spec.secrets[0].env',
      ],
    ] as [DeploymentSpecInput, string][]) {
      await assert.rejects(backend('kserve').render(revisionOf('fraud-api', spec), true), (e: unknown) => {
        assert.ok(e instanceof ModelportError, String(e));
        assert.equal(e.field, field);
        return e.code === 'invalid_request';
      });
    }
  });

  test('kserve Standard: first target is the predictor, the others the spec.canary list', async () => {
    const main = serving(await backend('kserve').render(revisionOf('fraud-api', SPEC_MATRIX['canary']!), true));
    assert.equal(main.metadata.annotations?.['serving.kserve.io/deploymentMode'], 'Standard');
    assert.equal(main.spec.canary.length, 1);
    assert.equal(main.spec.canary[0].trafficPercent, 10);
    assert.ok(main.spec.canary[0].predictor.containers[0].args.includes('fraud'));
    assert.equal(main.spec.predictor.containers[0].name, 'kserve-container');
  });

  test('kserve Knative mode: the canary is the predictor with canaryTrafficPercent; three targets are refused', async () => {
    const main = serving(await backend('kserve-knative').render(revisionOf('fraud-api', SPEC_MATRIX['canary']!), true));
    assert.equal(main.spec.predictor.canaryTrafficPercent, 10);
    assert.match(
      main.spec.predictor.containers[0].env.find((e: any) => e.name === 'STORAGE_URI').value,
      /\/sha256\/02/,
    );
    await assert.rejects(
      backend('kserve-knative').render(
        revisionOf('x', {
          traffic: [
            { model: 'fraud@1', weight: 50 },
            { model: 'fraud@2', weight: 25 },
            { model: 'fraud@3', weight: 25 },
          ],
        }),
        true,
      ),
      (e: ModelportError) => e.field === 'spec.traffic',
    );
  });

  test('knative: revisions per target, traffic with tags and percents, autoscaling annotations', async () => {
    const objects = await backend('knative').render(revisionOf('fraud-api', SPEC_MATRIX['canary']!), true);
    const main = serving(objects);
    assert.deepEqual(
      main.spec.traffic.map((t: any) => [t.percent, t.tag]),
      [
        [90, 'stable'],
        [10, 'canary'],
      ],
    );
    assert.equal(main.spec.template.metadata.name, main.spec.traffic[1].revisionName);
    assert.notEqual(main.spec.traffic[0].revisionName, main.spec.traffic[1].revisionName);
    const zero = serving(await backend('knative').render(revisionOf('z', SPEC_MATRIX['scale-to-zero']!), true));
    const annotations = zero.spec.template.metadata.annotations;
    assert.equal(annotations['autoscaling.knative.dev/min-scale'], '0');
    assert.equal(annotations['autoscaling.knative.dev/max-scale'], '5');
    assert.equal(annotations['autoscaling.knative.dev/target'], '4');
    assert.equal(annotations['autoscaling.knative.dev/scale-down-delay'], '60s');
    assert.equal(zero.spec.template.spec.containerConcurrency, 4);
    assert.deepEqual(zero.spec.template.spec.imagePullSecrets, [{ name: 'regcred' }]);
  });

  test('resources, GPU, secrets by secretKeyRef, S3 annotations and the custom type template', async () => {
    const gpu = containerOf(serving(await backend('kserve').render(revisionOf('g', SPEC_MATRIX['gpu']!), true)));
    assert.deepEqual(gpu.resources.limits, { cpu: '2', memory: '4Gi', 'nvidia.com/gpu': 1 });
    assert.equal(gpu.image, 'docker.io/seldonio/mlserver:1.6.1-sklearn');

    const objects = await backend('kserve').render(revisionOf('s', SPEC_MATRIX['secrets']!), true);
    const env = containerOf(serving(objects)).env;
    assert.deepEqual(env.find((e: any) => e.name === 'API_TOKEN').valueFrom, {
      secretKeyRef: { name: 's-env', key: 'partner-token' },
    });
    assert.equal(env.find((e: any) => e.name === 'LOG_LEVEL').value, 'debug');
    const envSecret = objects.find((o) => o.kind === 'Secret' && o.metadata.name === 's-env') as any;
    assert.deepEqual(envSecret.stringData, { 'partner-token': 'value-of-partner-token' });
    const account = objects.find((o) => o.kind === 'ServiceAccount')!;
    assert.equal(account.metadata.annotations?.['serving.kserve.io/s3-endpoint'], 'minio.storage:9000');
    assert.equal(account.metadata.annotations?.['serving.kserve.io/s3-usehttps'], '0');
    assert.equal((serving(objects).spec as any).predictor.serviceAccountName, account.metadata.name);

    // Without secrets (export): no Secret carries a value.
    const exported = await backend('kserve').render(revisionOf('s', SPEC_MATRIX['secrets']!), false);
    assert.ok(!exported.some((o) => o.kind === 'Secret'));

    const custom = containerOf(serving(await backend('knative').render(revisionOf('c', SPEC_MATRIX['custom']!), true)));
    assert.equal(custom.image, 'registry.example.com/ml/xgb-server:2.0');
    assert.deepEqual(custom.args.slice(0, 2), ['--model-dir', `/mnt/models/07${'ab'.repeat(31)}`]);
    assert.ok(custom.env.some((e: any) => e.name === 'XGB_MODEL_NAME' && e.value === 'churn'));
  });

  test('a sklearn version renders with KServe modelFormat sklearn on its base image, validated', async () => {
    const objects = await backend('kserve').render(revisionOf('churn-api', SPEC_MATRIX['gpu']!), false);
    for (const object of objects) validator.validateKubernetes(object);
    const predictor = serving(objects).spec.predictor;
    assert.equal(predictor.containers, undefined);
    assert.deepEqual(predictor.model.modelFormat, { name: 'sklearn' });
    assert.equal(predictor.model.image, 'docker.io/seldonio/mlserver:1.6.1-sklearn');
    assert.match(predictor.model.storageUri, /^s3:\/\/models-bucket\/modelport\/sha256\/[0-9a-f]{64}$/);
    assert.ok(predictor.model.env.some((e: any) => e.name === 'MLSERVER_MODEL_NAME' && e.value === 'iris'));
    assert.match(kubernetesYaml(objects), /modelFormat:\n\s+name: sklearn/);
    // Knative Services have no modelFormat: the same version is a plain container with STORAGE_URI.
    const knative = containerOf(serving(await backend('knative').render(revisionOf('k', SPEC_MATRIX['gpu']!), false)));
    assert.ok(knative.env.some((e: any) => e.name === 'STORAGE_URI'));
  });

  test('a model image version runs its own image with nothing to download', async () => {
    for (const format of KUBERNETES_FORMATS) {
      const objects = await backend(format).render(revisionOf('scorer-api', SPEC_MATRIX['image']!), false);
      for (const object of objects) validator.validateKubernetes(object);
      const main = containerOf(serving(objects));
      assert.equal(main.image, `registry.example.com/sas/scorer:1.4@sha256:${'c3'.repeat(32)}`, format);
      assert.equal(main.storageUri, undefined);
      assert.ok(!main.env.some((e: any) => e.name === 'STORAGE_URI'), format);
    }
  });

  test('a shadow is refused naming spec.shadow; a template typo fails validation naming the field path', async () => {
    await assert.rejects(
      backend('knative').render(revisionOf('x', { ...SPEC_MATRIX['single']!, shadow: { model: 'fraud@2' } }), true),
      (e: ModelportError) => e.field === 'spec.shadow',
    );
    const typo = { ...SPEC_MATRIX['single']! };
    const bad = new KubernetesBackend({
      api: () => Promise.reject(new Error('unused')),
      sources: {
        ...sources,
        catalogue: {
          get: (name) => sources.catalogue.get(name),
          template: async () => 'name: "{{ name }}"\nimage: "{{ image }}"\nimagePullPolcy: Always\n',
        },
      },
      validator,
      format: 'kserve',
      namespace: 'models',
      storageUri: (sha) => `s3://b/sha256/${sha}`,
    });
    await assert.rejects(bad.render(revisionOf('x', typo), false), (e: ModelportError) => {
      assert.equal(e.field, 'spec.predictor.containers[0].imagePullPolcy');
      return true;
    });
  });
});

describe('kubernetes apply against an API server', () => {
  let server: FakeKubeServer;
  let dir: string;
  let kubeconfig: string;
  before(async () => {
    server = await new FakeKubeServer().start();
    dir = await mkdtemp(join(tmpdir(), 'modelport-kube-'));
    kubeconfig = join(dir, 'config');
    await writeFile(kubeconfig, server.kubeconfig('models'));
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const applying = (format: KubernetesFormat) =>
    new KubernetesBackend({
      api: () => openKubeApi({ kubeconfig }),
      sources,
      validator,
      format,
      namespace: 'models',
      storageUri: (sha) => `s3://models-bucket/sha256/${sha}`,
      s3,
      secrets: { resolve: async (_p, names) => Object.fromEntries(names.map((n) => [n, 'v'])) },
      pollMs: 5,
      readyTimeoutMs: 60_000,
    });
  const plan = (name: string, spec: (typeof SPEC_MATRIX)[string], revision = 1) => {
    const r = revisionOf(name, spec, revision);
    return { ...r, scaling: checkSpec(r.spec) };
  };

  test('applies server-side, waits for Ready, reports the URL, rolls and deletes cleanly', async () => {
    const knative = applying('knative');
    const result = await knative.apply(plan('fraud-api', SPEC_MATRIX['secrets']!));
    assert.deepEqual(result, { ok: true, url: 'http://fraud-api.models.example.com' });
    const patches = server.requests.filter((r) => r.method === 'PATCH');
    assert.ok(patches.length >= 3);
    for (const p of patches) {
      assert.equal(p.contentType, 'application/apply-patch+yaml');
      assert.equal(p.query.get('fieldManager'), 'modelport');
    }
    assert.deepEqual(
      server
        .objects()
        .map((o) => o.kind)
        .sort(),
      ['Secret', 'Secret', 'Service', 'ServiceAccount'],
    );

    // Rolling update: the secrets go away with the spec's secrets; the Service moves to generation 2.
    const next = await knative.apply(plan('fraud-api', SPEC_MATRIX['canary']!, 2));
    assert.equal(next.ok, true);
    assert.deepEqual(
      server
        .objects()
        .map((o) => `${o.kind}/${o.metadata.name}`)
        .sort(),
      ['Secret/fraud-api-s3', 'Service/fraud-api', 'ServiceAccount/fraud-api-s3'],
    );
    assert.equal((server.objects('Service')[0]!.metadata as { generation?: number }).generation, 2);

    await knative.remove('default', 'fraud-api');
    assert.deepEqual(server.objects(), []);
  });

  /** A KServe backend on the fake API server, polling fast, with `extra` options. */
  const clusterBackend = (extra: { modelportImage?: string; readyTimeoutMs?: number }) =>
    new KubernetesBackend({
      api: () => openKubeApi({ kubeconfig }),
      sources,
      validator,
      format: 'kserve',
      namespace: 'models',
      storageUri: (sha) => `s3://b/sha256/${sha}`,
      pollMs: 5,
      ...extra,
    });

  test('an image that cannot be pulled reports Ready=False with its reason', async () => {
    const broken = clusterBackend({ modelportImage: 'registry.example.com/cannot-pull:1' });
    const result = await broken.apply(plan('broken', SPEC_MATRIX['single']!));
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.reason, 'ImagePullBackOff');
    await broken.remove('default', 'broken');
  });

  test('a revision that does not turn Ready in time reports ReadyTimeout', async () => {
    server.readsUntilReady = 1_000_000;
    try {
      const slow = clusterBackend({ readyTimeoutMs: 200 });
      const result = await slow.apply(plan('slow', SPEC_MATRIX['single']!));
      assert.equal(result.ok, false);
      assert.equal(!result.ok && result.reason, 'ReadyTimeout');
      assert.match(!result.ok ? result.message : '', /^InferenceService slow was not Ready within 0 s/);
      await slow.remove('default', 'slow');
      assert.deepEqual(server.objects(), []);
    } finally {
      server.readsUntilReady = 1;
    }
  });

  test('uninstall deletes everything labelled managed-by=modelport in the namespace, and nothing else', async () => {
    await applying('kserve').apply(plan('one', SPEC_MATRIX['single']!));
    await applying('kserve').apply(plan('two', SPEC_MATRIX['gpu']!));
    const api = await openKubeApi({ kubeconfig });
    await api.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'theirs', namespace: 'models' } });
    const deleted = await uninstall(api, 'models');
    assert.ok(deleted.includes('InferenceService/one') && deleted.includes('InferenceService/two'));
    assert.deepEqual(
      server.objects().map((o) => o.metadata.name),
      ['theirs'],
    );
  });
});

// onnx runs in Modelport's image; sklearn-1.5 is a container type (a file on MLServer, KServe modelFormat sklearn).
for (const model of ['fraud', 'iris']) {
  backendConformance(`${'kubernetes (KServe, on the fake API server)'} with ${model}`, async () => {
    const opened = await openSources();
    const server = await new FakeKubeServer().start();
    const dir = await mkdtemp(join(tmpdir(), 'modelport-kube-conformance-'));
    const kubeconfig = join(dir, 'config');
    await writeFile(kubeconfig, server.kubeconfig('models'));
    const backend = new KubernetesBackend({
      api: () => openKubeApi({ kubeconfig }),
      sources: opened.sources,
      validator,
      format: 'kserve',
      namespace: 'models',
      storageUri: (sha) => `s3://models-bucket/sha256/${sha}`,
      s3,
      pollMs: 5,
      readyTimeoutMs: 60_000,
    });
    const single = (model: string) => ({ traffic: [{ model, weight: 100 }] });
    const plan = (name: string, revision: number, variant: 1 | 2 = 1) =>
      planOf(name, single(`${model}@${variant}`), revision);
    const ofDeployment = (name: string) =>
      server.objects().filter((o) => o.metadata.labels?.['modelport.dev/deployment'] === name);
    return {
      backend,
      plan,
      failing: (name, revision) => ({ plan: planOf(name, single('ghost@1'), revision), reason: 'InvalidManifest' }),
      refused: (name, revision) => ({
        plan: planOf(name, { ...single(`${model}@1`), shadow: { model: `${model}@2`, percent: 10 } }, revision),
        field: 'spec.shadow',
      }),
      serving: async (_project, name) => {
        const serving = ofDeployment(name).find((o) => o.kind === 'InferenceService');
        return serving ? Number(serving.metadata.labels?.['modelport.dev/revision']) : undefined;
      },
      made: async (_project, name) =>
        ofDeployment(name)
          .map((o) => ({ path: `${o.kind}/${o.metadata.name}`, content: JSON.stringify(o) }))
          .sort((a, b) => a.path.localeCompare(b.path)),
      // What the API server parses (the apply bodies), and what `modelport export` writes.
      yamlFiles: async (_project, name) => [
        ...server.requests
          .filter(
            (r) => r.method === 'PATCH' && r.body !== undefined && new RegExp(`/${name}(-s3|-env)?$`).test(r.path),
          )
          .map((r) => ({ path: `PATCH ${r.path}`, content: r.body ?? '' })),
        { path: `${name}.yaml`, content: kubernetesYaml(await backend.render(plan(name, 1), false)) },
      ],
      close: async () => {
        await server.close();
        await opened.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  });
}
