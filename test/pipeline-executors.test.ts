/** The step executor conformance suite over both executors: local processes, and Jobs on the fake cluster. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FakeKubeServer } from '../src/backends/kubernetes/fake-kube-server.ts';
import { openKubeApi } from '../src/backends/kubernetes/kube-api.ts';
import { type KubeObject, ManifestValidator } from '../src/backends/schema-validation.ts';
import { ModelportError } from '../src/core/errors.ts';
import { executorConformance } from '../src/pipelines/executors/executor.conformance.ts';
import { KubernetesExecutor, renderStepJob } from '../src/pipelines/executors/kubernetes-executor.ts';
import { LocalExecutor } from '../src/pipelines/executors/local-executor.ts';
import { S3StepStaging } from '../src/pipelines/executors/s3-staging.ts';
import { startS3rver } from '../src/store/artifacts/s3rver.fixture.ts';

executorConformance({
  name: 'local',
  open: async () => ({ executor: new LocalExecutor(), close: async () => {} }),
});

executorConformance({
  name: 'kubernetes (fake cluster)',
  open: async () => {
    const cluster = await new FakeKubeServer().start();
    const dir = await mkdtemp(join(tmpdir(), 'modelport-kube-'));
    const kubeconfig = join(dir, 'kubeconfig');
    await writeFile(kubeconfig, cluster.kubeconfig('pipelines'));
    const validator = new ManifestValidator();
    const s3 = await startS3rver();
    const staging = new S3StepStaging({
      endpoint: s3.endpoint,
      credentials: s3.credentials,
      bucket: s3.bucket,
      prefix: 'pipeline-staging',
    });
    const executor = new KubernetesExecutor({
      api: () => openKubeApi({ kubeconfig }),
      validate: (object) => {
        validator.validateKubernetes(object);
        jobs.push(object);
      },
      namespace: 'pipelines',
      pollMs: 50,
      staging,
    });
    return {
      executor,
      close: async () => {
        await executor.close();
        await cluster.close();
        // Every staged object was removed once its step ended.
        const left = await s3.raw.listObjectsV2({ Bucket: s3.bucket, Prefix: 'pipeline-staging/' });
        assert.deepEqual(left.Contents ?? [], []);
        await s3.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
});

/** Jobs the Kubernetes harness rendered (each validated against the official schema before it was sent). */
const jobs: KubeObject[] = [];

const LAUNCH = {
  id: 'abc12345-train-1',
  pipeline: 'fraud-train',
  run: 'abc12345-0000',
  step: 'train',
  command: 'node train.ts',
  env: { MODELPORT_OUTPUT: '/tmp/x/out', TOKEN: 's' },
  image: 'node:24-slim',
  timeoutMs: 90_500,
  memoryBytes: 512 * 1024 * 1024,
  cpu: '500m',
  folders: { input: '/tmp/x/in', work: '/tmp/x/work', output: '/tmp/x/out' },
  onLog: () => {},
};

test('the rendered Job passes the official batch/v1 Job schema, with the folders mapped into the container', () => {
  const job = renderStepJob(LAUNCH, 'ml');
  new ManifestValidator().validateKubernetes(job);
  const spec = job['spec'] as {
    activeDeadlineSeconds: number;
    backoffLimit: number;
    template: { spec: { containers: { env: { name: string; value: string }[]; resources: unknown }[] } };
  };
  assert.equal(spec.activeDeadlineSeconds, 91);
  assert.equal(spec.backoffLimit, 0);
  const container = spec.template.spec.containers[0]!;
  assert.deepEqual(container.env.find((e) => e.name === 'MODELPORT_OUTPUT')?.value, '/workspace/output');
  assert.deepEqual(container.resources, {
    limits: { memory: '536870912', cpu: '500m' },
    requests: { memory: '536870912', cpu: '500m' },
  });
  assert.equal(job.metadata.name, 'mp-abc12345-train-1');
});

test('a Job the schema refuses is never sent, and the error names the field', () => {
  const job = renderStepJob(LAUNCH, 'ml');
  (job['spec'] as Record<string, unknown>)['backoffLimit'] = 'zero';
  assert.throws(
    () => new ManifestValidator().validateKubernetes(job),
    (error: unknown) => error instanceof ModelportError && error.field === 'spec.backoffLimit',
  );
});

test('a staged Job fetches with an init container, runs the step, and uploads with a sidecar, all through presigned URLs', () => {
  // Filled by the Kubernetes conformance run above: what was sent to the cluster, after schema validation.
  assert.ok(jobs.length > 0);
  const spec = jobs[0]!['spec'] as {
    template: {
      spec: {
        initContainers: { name: string; env: { name: string; value: string }[] }[];
        containers: { name: string; env: { name: string; value: string }[]; volumeMounts: unknown[] }[];
        volumes: unknown[];
      };
    };
  };
  const pod = spec.template.spec;
  assert.deepEqual(
    pod.initContainers.map((c) => c.name),
    ['fetch'],
  );
  assert.deepEqual(
    pod.containers.map((c) => c.name),
    ['step', 'upload'],
  );
  assert.deepEqual(pod.volumes, [{ name: 'workspace', emptyDir: {} }]);
  const urls = [...pod.initContainers[0]!.env, ...pod.containers[1]!.env].map((e) => e.value);
  assert.equal(urls.length, 3);
  for (const url of urls) assert.match(url, /X-Amz-Signature=[0-9a-f]{64}/);
  // The pod gets no secret key, only URLs signed for one object and one method each.
  assert.ok(urls[0]!.includes('x-id=GetObject') && urls[2]!.includes('x-id=PutObject'));
});
