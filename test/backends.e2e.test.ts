/**
 * Kubernetes and compose backends end to end: a real server (S3 artifacts on s3rver) applying `backend: kubernetes`
 * against the fake Kubernetes API server through a kubeconfig, exactly as against a cluster (server-side apply,
 * Ready with the URL, rolling update, image pull failure, delete); `backend: compose` writing its bundle; `modelport
 * export` writing files that validate against the schemas; `modelport uninstall`; a folder store refusing kubernetes.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { FakeKubeServer } from '../src/backends/kubernetes/fake-kube-server.ts';
import { type KubeObject, ManifestValidator } from '../src/backends/schema-validation.ts';
import { ModelportApiError, ModelportClient } from '../src/client/client.ts';
import { compileServerConfig, type RawSettings } from '../src/core/config.ts';
import { memoryLogger } from '../src/logging/index.ts';
import { type RunningServer, startServer } from '../src/server/server.ts';
import { type S3rverFixture, startS3rver } from '../src/store/artifacts/s3rver.fixture.ts';
import { cli } from './support/cli.ts';
import { REPO_ROOT } from './support/server.ts';

const MODEL = join(REPO_ROOT, 'examples', 'fraud', 'model.onnx');

let dir: string;
let s3: S3rverFixture;
let kube: FakeKubeServer;
let kubeconfig: string;
const servers: RunningServer[] = [];

async function start(
  settings: RawSettings,
  withS3 = true,
): Promise<{ server: RunningServer; client: ModelportClient }> {
  const home = await mkdtemp(join(dir, 'home-'));
  const raw: RawSettings = { home, port: '0', grpcPort: '0', example: 'false', ...settings };
  const env: Record<string, string> = {};
  if (withS3) {
    Object.assign(raw, { artifacts: `s3://${s3.bucket}/models`, s3Endpoint: s3.endpoint });
    Object.assign(env, {
      AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      AWS_REGION: 'us-east-1',
    });
  }
  const server = await startServer(compileServerConfig(raw, env), {
    log: memoryLogger(),
    version: 'test',
    examplesDir: join(REPO_ROOT, 'examples'),
  });
  servers.push(server);
  await server.registry.registerVersion('default', 'fraud', { file: MODEL });
  await server.registry.registerVersion('default', 'fraud', { file: MODEL });
  return { server, client: new ModelportClient({ url: server.url, project: 'default' }) };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelport-backends-e2e-'));
  s3 = await startS3rver();
  kube = await new FakeKubeServer().start();
  kubeconfig = join(dir, 'kubeconfig');
  await writeFile(kubeconfig, kube.kubeconfig('models'));
});
after(async () => {
  for (const server of servers) await server.close();
  await kube.close();
  await s3.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The fields of a Knative Service and a Secret these tests read. */
type Applied = KubeObject & {
  spec: {
    template: { spec: { containers: { args: string[] }[]; imagePullSecrets?: unknown } };
    traffic: { percent: number }[];
  };
  stringData?: Record<string, string>;
};

const ofDeployment = (name: string) =>
  kube.objects().filter((o) => o.metadata.labels?.['modelport.dev/deployment'] === name);

describe('kubernetes and compose through the server', () => {
  let server: RunningServer;
  let client: ModelportClient;
  before(async () => {
    ({ server, client } = await start({
      kubeconfig,
      kubeNamespace: 'models',
      kubeFormat: 'knative',
      imagePullSecrets: 'regcred',
      bundleDir: join(dir, 'bundles'),
    }));
  });

  test('apply reaches Ready with the URL, a second apply rolls, delete removes the objects', async () => {
    await client.applyDeployment('fraud-api', { backend: 'kubernetes', traffic: [{ model: 'fraud@1', weight: 100 }] });
    const ready = await client.waitDeployment('fraud-api', 60);
    assert.equal(ready.status.urls.rest, 'http://fraud-api.models.example.com');
    const service = ofDeployment('fraud-api').find((o) => o.kind === 'Service') as Applied;
    assert.ok(service, 'a Knative Service was applied');
    const container = service.spec.template.spec.containers[0];
    assert.deepEqual(container?.args.slice(0, 5), [
      'serve-model',
      '--model-uri',
      `s3://${s3.bucket}/models/sha256/${(await server.registry.getVersion('default', { name: 'fraud', version: 1 })).sha256}`,
      '--model-name',
      'fraud',
    ]);
    assert.deepEqual(service.spec.template.spec.imagePullSecrets, [{ name: 'regcred' }]);
    const s3Secret = ofDeployment('fraud-api').find((o) => o.kind === 'Secret') as Applied;
    assert.equal(s3Secret?.stringData?.AWS_ACCESS_KEY_ID, s3.credentials.accessKeyId);

    const patches = kube.requests.filter((r) => r.method === 'PATCH').length;
    await client.applyDeployment('fraud-api', {
      backend: 'kubernetes',
      traffic: [
        { model: 'fraud@1', weight: 80, tag: 'stable' },
        { model: 'fraud@2', weight: 20, tag: 'canary' },
      ],
    });
    const rolled = await client.waitDeployment('fraud-api', 60);
    assert.equal(rolled.status.servingRevision, 2);
    assert.ok(kube.requests.filter((r) => r.method === 'PATCH').length > patches, 'applied again');
    const next = ofDeployment('fraud-api').find((o) => o.kind === 'Service') as Applied;
    assert.equal((next.metadata as { generation?: number }).generation, 2);
    assert.deepEqual(
      next.spec.traffic.map((t) => t.percent),
      [80, 20],
    );

    await client.deleteDeployment('fraud-api');
    assert.deepEqual(ofDeployment('fraud-api'), []);
  });

  test('compose writes the bundle under the bundle folder; delete keeps example/', async () => {
    await client.applyDeployment('fraud-bundle', { backend: 'compose', traffic: [{ model: 'fraud@1', weight: 100 }] });
    const ready = await client.waitDeployment('fraud-bundle', 60);
    const bundle = join(dir, 'bundles', 'default', 'fraud-bundle');
    assert.equal(ready.status.urls.rest, `file://${join(bundle, 'example')}`);
    const base = parse(await readFile(join(bundle, 'base', 'docker-compose.yaml'), 'utf8'));
    new ManifestValidator().validateCompose(base);
    assert.deepEqual(base.services['model-download'].command, [
      'fetch-models',
      '--manifest',
      '/etc/modelport/models.json',
      '--to',
      '/models',
    ]);
    assert.equal(base.services['model-download'].environment.MODELPORT_ARTIFACTS, `s3://${s3.bucket}/models`);
    await client.deleteDeployment('fraud-bundle');
    await assert.rejects(stat(join(bundle, 'base')));
    assert.ok((await stat(join(bundle, 'example', '.env'))).isFile());
  });

  test('export writes manifests and bundles that validate, and keeps an existing example/', async () => {
    await client.applyDeployment('fraud-export', { backend: 'local', traffic: [{ model: 'fraud@1', weight: 100 }] });
    const validator = new ManifestValidator();
    for (const format of ['kserve', 'kserve-knative', 'knative'] as const) {
      const out = join(dir, `export-${format}`);
      const result = await cli(server.url, 'export', 'fraud-export', '--format', format, '-o', out);
      assert.equal(result.code, 0, result.stderr);
      const documents = parseAllDocuments(await readFile(join(out, 'fraud-export.yaml'), 'utf8')).map(
        (d) => d.toJSON() as KubeObject,
      );
      assert.ok(documents.length >= 2);
      for (const document of documents) validator.validateKubernetes(document);
      assert.ok(!documents.some((d) => d.kind === 'Secret'), 'exports never hold secret values');
      assert.equal(documents.at(-1)?.kind, format === 'knative' ? 'Service' : 'InferenceService');
    }

    const out = join(dir, 'export-compose');
    const first = await cli(server.url, 'export', 'fraud-export', '--format', 'compose', '-o', out);
    assert.equal(first.code, 0, first.stderr);
    // The count is what is on disk (example/.env included), each file listed once.
    const onDisk = (await readdir(out, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).length;
    assert.match(first.stdout, new RegExp(`^wrote ${onDisk} files to `));
    assert.equal(first.stdout.split('\n').filter((l) => l.startsWith('  ')).length, onDisk);
    validator.validateCompose(parse(await readFile(join(out, 'base', 'docker-compose.yaml'), 'utf8')));
    await writeFile(join(out, 'example', '.env'), 'EXAMPLE_DIR=/srv/mine\n');
    await client.applyDeployment('fraud-export', { backend: 'local', traffic: [{ model: 'fraud@2', weight: 100 }] });
    const again = await cli(server.url, 'export', 'fraud-export', '--format', 'compose', '-o', out);
    assert.match(again.stdout, /kept \d+ of yours \(never overwritten\):\n(.*\n)* {2}example\/\.env\n/);
    assert.equal(await readFile(join(out, 'example', '.env'), 'utf8'), 'EXAMPLE_DIR=/srv/mine\n');
    assert.match(await readFile(join(out, 'base', 'models.json'), 'utf8'), /"version": 2/);

    const wrong = await cli(server.url, 'export', 'fraud-export', '--format', 'helm', '-o', out);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /--format takes kserve/);
    await client.deleteDeployment('fraud-export');
  });

  test('uninstall deletes every labelled object in the namespace and nothing else', async () => {
    await client.applyDeployment('one', { backend: 'kubernetes', traffic: [{ model: 'fraud@1', weight: 100 }] });
    await client.waitDeployment('one', 60);
    const theirs = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'theirs', namespace: 'models' } };
    const { openKubeApi } = await import('../src/backends/kubernetes/kube-api.ts');
    await (await openKubeApi({ kubeconfig })).apply(theirs);
    const result = await cli(
      server.url,
      'uninstall',
      '--backend',
      'kubernetes',
      '--namespace',
      'models',
      '--kubeconfig',
      kubeconfig,
      '-o',
      'json',
    );
    assert.equal(result.code, 0, result.stderr);
    assert.ok((JSON.parse(result.stdout) as { deleted: string[] }).deleted.includes('Service/one'));
    assert.deepEqual(
      kube.objects().map((o) => o.metadata.name),
      ['theirs'],
    );
    await client.deleteDeployment('one');
  });
});

describe('imports from s3://', () => {
  test("an s3:// URL is read with the server's S3 settings and registered; a missing key is refused", async () => {
    const { client } = await start({});
    await s3.raw.putObject({ Bucket: s3.bucket, Key: 'incoming/fraud.onnx', Body: await readFile(MODEL) });
    const imported = await client.importModel('from-s3', { url: `s3://${s3.bucket}/incoming/fraud.onnx` });
    assert.equal(imported.format, 'onnx');
    assert.equal(imported.lineage.source, `s3://${s3.bucket}/incoming/fraud.onnx`);
    await assert.rejects(client.importModel('from-s3', { url: `s3://${s3.bucket}/incoming/none.onnx` }));
    assert.equal((await client.getModel('from-s3')).latestVersion, 1);
  });
});

describe('failures', () => {
  test('an image that cannot be pulled reports Failed with the reason', async () => {
    const { client } = await start({
      kubeconfig,
      kubeNamespace: 'models',
      modelportImage: 'registry.example.com/cannot-pull:1',
    });
    await client.applyDeployment('broken', { backend: 'kubernetes', traffic: [{ model: 'fraud@1', weight: 100 }] });
    await assert.rejects(client.waitDeployment('broken', 60), /Back-off pulling image/);
    const failed = (await client.getDeployment('broken')).status.conditions.find((c) => c.type === 'Failed');
    assert.equal(failed?.status, 'True');
    assert.equal(failed?.reason, 'ImagePullBackOff');
    await client.deleteDeployment('broken');
  });

  test('a folder artifact store refuses backend kubernetes, naming spec.backend and the fix', async () => {
    const { client } = await start({ kubeconfig }, false);
    await assert.rejects(
      client.applyDeployment('x', { backend: 'kubernetes', traffic: [{ model: 'fraud@1', weight: 100 }] }),
      (e: unknown) =>
        e instanceof ModelportApiError && /^spec\.backend: .*--artifacts s3:\/\//.test(e.message) && e.status === 400,
    );
  });

  test('export with a folder artifact store previews manifests with a STORAGE_URI placeholder and a warning', async () => {
    const { server, client } = await start({}, false);
    await client.applyDeployment('preview', { backend: 'local', traffic: [{ model: 'fraud@1', weight: 100 }] });
    const out = join(dir, 'export-folder-store');
    const result = await cli(server.url, 'export', 'preview', '--format', 'kserve', '-o', out);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /^warning: .*STORAGE_URI.*REPLACE-WITH-YOUR-BUCKET.*s3:\/\//m);
    const documents = parseAllDocuments(await readFile(join(out, 'preview.yaml'), 'utf8')).map((d) => d.toJS());
    const validator = new ManifestValidator();
    for (const d of documents) validator.validateKubernetes(d);
    assert.match(JSON.stringify(documents), /s3:\/\/REPLACE-WITH-YOUR-BUCKET\/modelport\/sha256\/[0-9a-f]{64}/);
    // A compose export needs no placeholder: the bundle mounts the folder.
    const compose = await cli(server.url, 'export', 'preview', '--format', 'compose', '-o', join(dir, 'fc'));
    assert.equal(compose.code, 0);
    assert.doesNotMatch(compose.stderr, /warning/);
  });
});
