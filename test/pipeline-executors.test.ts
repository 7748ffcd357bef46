/** The step executor conformance suite over both executors: local processes, and Jobs on the fake cluster. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FakeKubeServer } from '../src/backends/kubernetes/fake-kube-server.ts';
import { openKubeApi } from '../src/backends/kubernetes/kube-api.ts';
import { ManifestValidator } from '../src/backends/schema-validation.ts';
import { ModelportError } from '../src/core/errors.ts';
import { executorConformance } from '../src/pipelines/executors/executor.conformance.ts';
import { KubernetesExecutor, renderStepJob } from '../src/pipelines/executors/kubernetes-executor.ts';
import { LocalExecutor } from '../src/pipelines/executors/local-executor.ts';

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
    const executor = new KubernetesExecutor({
      api: () => openKubeApi({ kubeconfig }),
      validate: (object) => validator.validateKubernetes(object),
      namespace: 'pipelines',
      pollMs: 50,
    });
    return {
      executor,
      close: async () => {
        await cluster.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
  skip: {
    outputs:
      "a Job's folders are paths in its container (/workspace/output); staging outputs back through S3 is not implemented yet",
  },
});

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
