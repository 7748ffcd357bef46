/**
 * Renders one deployment revision into Kubernetes objects, in one of three forms:
 *
 * - `kserve`: a KServe InferenceService (serving.kserve.io/v1beta1) in Standard mode: the first target is
 *   `spec.predictor`, the others are the `spec.canary` traffic list (`{ predictor, trafficPercent }`).
 * - `kserve-knative`: an InferenceService in Knative mode: the predictor is the newest target (tagged `canary`, else
 *   the last) with `canaryTrafficPercent`; KServe keeps the previous rolled-out revision for the rest. Two targets
 *   at most.
 * - `knative`: a Knative Service (serving.knative.dev/v1): the template is the newest target; every target is a
 *   revision named from its pod spec (`<name>-<hash>`, so a weight change never restarts pods) with a traffic block
 *   carrying its percent and tag. Revisions of older targets exist from earlier rollouts.
 *
 * Every object carries Modelport's labels (MANAGED_BY, `modelport.dev/{project,deployment,revision}`). Model
 * artifacts come through `storageUri` (the STORAGE_URI of KServe's storage initializer) with a per-deployment S3
 * Secret and ServiceAccount carrying KServe's `serving.kserve.io/s3-*` annotations; secrets reach the container by
 * `secretKeyRef` from `<name>-env`, never inline. Secret values are written only when `secretValues` / `s3`
 * credentials are given (apply); exports never contain them.
 */
import { ModelportError, parseDuration } from '../../core/index.ts';
import {
  bindingKey,
  cpuQuantity,
  dnsName,
  type ModelBinding,
  memoryQuantity,
  type RenderInput,
  refuseEnvOverride,
  renderBinding,
  shortHash,
} from '../render-input.ts';
import type { KubeObject } from '../schema-validation.ts';

export const KUBERNETES_FORMATS = ['kserve', 'kserve-knative', 'knative'] as const;
export type KubernetesFormat = (typeof KUBERNETES_FORMATS)[number];

export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'modelport' } as const;
export const LABEL_PROJECT = 'modelport.dev/project';
export const LABEL_DEPLOYMENT = 'modelport.dev/deployment';
export const LABEL_REVISION = 'modelport.dev/revision';

export interface S3Access {
  /** `http(s)://host:port` of an S3-compatible server; AWS when absent. */
  endpoint?: string | undefined;
  region?: string | undefined;
  accessKeyId?: string | undefined;
  secretAccessKey?: string | undefined;
}

export interface KubernetesRenderOptions {
  format: KubernetesFormat;
  namespace: string;
  /** The storage URI of an artifact (`s3://bucket/prefix/sha256/<hex>`). */
  storageUri: (sha256: string) => string;
  /** S3 access for the storage initializer; credentials only on apply. */
  s3?: S3Access | undefined;
  imagePullSecrets?: readonly string[] | undefined;
  /** Values of the spec's secrets by Modelport secret name; only on apply. */
  secretValues?: Readonly<Record<string, string>> | undefined;
}

const MOUNT = '/mnt/models';

/** The selector of everything Modelport made for one deployment (or, without a name, in a namespace). */
export function selectorOf(project?: string, name?: string): string {
  return [
    'app.kubernetes.io/managed-by=modelport',
    ...(project ? [`${LABEL_PROJECT}=${project}`] : []),
    ...(name ? [`${LABEL_DEPLOYMENT}=${name}`] : []),
  ].join(',');
}

/** The objects of a revision, dependencies (Secrets, ServiceAccount) first and the serving object last. */
export function renderKubernetes(input: RenderInput, options: KubernetesRenderOptions): KubeObject[] {
  if (input.targets.shadow) {
    throw new ModelportError(
      'invalid_request',
      `spec.shadow: shadows are mirrored by Modelport's gateway and are not available with ${options.format}; remove spec.shadow or use the local or compose backend`,
      { field: 'spec.shadow' },
    );
  }
  const name = dnsName([input.name]);
  const labels = {
    ...MANAGED_BY,
    [LABEL_PROJECT]: input.project,
    [LABEL_DEPLOYMENT]: input.name,
    [LABEL_REVISION]: String(input.revision),
  };
  const meta = (objectName: string, annotations?: Record<string, string>) => ({
    name: objectName,
    namespace: options.namespace,
    labels,
    ...(annotations && Object.keys(annotations).length ? { annotations } : {}),
  });

  const objects: KubeObject[] = [];
  const s3Name = dnsName([input.name, 's3']);
  const envName = dnsName([input.name, 'env']);
  if (options.s3) {
    const endpoint = options.s3.endpoint ? new URL(options.s3.endpoint) : undefined;
    const annotations: Record<string, string> = {
      ...(endpoint ? { 'serving.kserve.io/s3-endpoint': endpoint.host } : {}),
      ...(endpoint ? { 'serving.kserve.io/s3-usehttps': endpoint.protocol === 'https:' ? '1' : '0' } : {}),
      ...(options.s3.region ? { 'serving.kserve.io/s3-region': options.s3.region } : {}),
    };
    const credentials =
      options.s3.accessKeyId && options.s3.secretAccessKey
        ? { AWS_ACCESS_KEY_ID: options.s3.accessKeyId, AWS_SECRET_ACCESS_KEY: options.s3.secretAccessKey }
        : undefined;
    if (credentials) {
      objects.push({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: meta(s3Name, annotations),
        type: 'Opaque',
        stringData: credentials,
      });
    }
    objects.push({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: meta(s3Name, annotations),
      secrets: [{ name: s3Name }],
    });
  }
  if (options.secretValues && input.spec.secrets.length > 0) {
    const data = Object.fromEntries(input.spec.secrets.map((s) => [s.secret, options.secretValues?.[s.secret] ?? '']));
    objects.push({ apiVersion: 'v1', kind: 'Secret', metadata: meta(envName), type: 'Opaque', stringData: data });
  }

  const { spec } = input;
  const scaling = spec.scaling;
  const container = (binding: ModelBinding, field: string, containerName?: string): Record<string, unknown> => {
    // A model image carries its model: nothing to download, so no STORAGE_URI.
    const uri = binding.hasArtifact ? options.storageUri(binding.sha256) : undefined;
    const rendered = renderBinding(
      binding,
      {
        name: dnsName([input.name, binding.model, `v${binding.version}`]),
        namespace: options.namespace,
        'model.uri': uri ?? '',
        'model.path': uri ? `${MOUNT}/${uri.split('/').pop()}` : MOUNT,
      },
      field,
    );
    const templateEnv = Array.isArray(rendered['env']) ? (rendered['env'] as unknown[]) : [];
    refuseEnvOverride(spec, [
      'STORAGE_URI',
      ...templateEnv.flatMap((e) => {
        const name = (e as { name?: unknown } | null)?.name;
        return typeof name === 'string' ? [name] : [];
      }),
    ]);
    const env = [
      ...templateEnv,
      ...(uri ? [{ name: 'STORAGE_URI', value: uri }] : []),
      ...Object.entries(spec.env).map(([key, value]) => ({ name: key, value })),
      ...spec.secrets.map((s) => ({ name: s.env, valueFrom: { secretKeyRef: { name: envName, key: s.secret } } })),
      ...(options.s3?.accessKeyId
        ? [
            { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: s3Name, key: 'AWS_ACCESS_KEY_ID' } } },
            {
              name: 'AWS_SECRET_ACCESS_KEY',
              valueFrom: { secretKeyRef: { name: s3Name, key: 'AWS_SECRET_ACCESS_KEY' } },
            },
          ]
        : []),
      ...(options.s3?.endpoint ? [{ name: 'AWS_ENDPOINT_URL_S3', value: options.s3.endpoint }] : []),
      ...(options.s3?.region ? [{ name: 'AWS_REGION', value: options.s3.region }] : []),
    ];
    const amounts: Record<string, string | number> = {
      ...(spec.resources.cpu !== undefined ? { cpu: cpuQuantity(spec.resources.cpu) } : {}),
      ...(spec.resources.memory !== undefined ? { memory: memoryQuantity(spec.resources.memory) } : {}),
      ...(spec.resources.gpu ? { 'nvidia.com/gpu': spec.resources.gpu } : {}),
    };
    return {
      ...rendered,
      ...(containerName ? { name: containerName } : {}),
      env,
      ...(Object.keys(amounts).length ? { resources: { requests: amounts, limits: amounts } } : {}),
    };
  };
  const binding = (model: string, version: number) => input.bindings.get(bindingKey(model, version))!;
  const pullSecrets = options.imagePullSecrets?.length
    ? { imagePullSecrets: options.imagePullSecrets.map((n) => ({ name: n })) }
    : {};
  const serviceAccount = options.s3 ? { serviceAccountName: s3Name } : {};
  const autoscaling = {
    'autoscaling.knative.dev/min-scale': String(scaling.minReplicas),
    'autoscaling.knative.dev/max-scale': String(scaling.maxReplicas),
    'autoscaling.knative.dev/target': String(scaling.targetConcurrency),
    'autoscaling.knative.dev/scale-down-delay': seconds(scaling.scaleDownDelay),
    'autoscaling.knative.dev/scale-to-zero-pod-retention-period': seconds(scaling.idleTimeout),
  };
  const traffic = input.targets.traffic;
  const newest =
    traffic.findIndex((t) => t.tag === 'canary') >= 0
      ? traffic.findIndex((t) => t.tag === 'canary')
      : traffic.length - 1;

  if (options.format === 'knative') {
    const revisions = traffic.map((t, i) => {
      const field = `spec.traffic[${i}].model`;
      const podSpec = {
        containerConcurrency: scaling.targetConcurrency,
        ...serviceAccount,
        ...pullSecrets,
        containers: [container(binding(t.model, t.version), field)],
      };
      return { target: t, podSpec, name: dnsName([input.name, shortHash({ podSpec, autoscaling })]) };
    });
    const template = revisions[newest]!;
    return [
      ...objects,
      {
        apiVersion: 'serving.knative.dev/v1',
        kind: 'Service',
        metadata: meta(name),
        spec: {
          template: { metadata: { name: template.name, labels, annotations: autoscaling }, spec: template.podSpec },
          traffic: revisions.map((r) => ({
            revisionName: r.name,
            percent: r.target.weight,
            ...(r.target.tag ? { tag: r.target.tag } : {}),
          })),
        },
      },
    ];
  }

  const predictor = (i: number): Record<string, unknown> => {
    const t = traffic[i]!;
    const bound = binding(t.model, t.version);
    const main = container(bound, `spec.traffic[${i}].model`, 'kserve-container');
    return {
      minReplicas: scaling.minReplicas,
      maxReplicas: scaling.maxReplicas,
      scaleMetric: 'concurrency',
      scaleTarget: scaling.targetConcurrency,
      containerConcurrency: scaling.targetConcurrency,
      ...serviceAccount,
      ...pullSecrets,
      labels,
      ...(bound.kserveFormat && bound.hasArtifact
        ? { model: asKserveModel(main, bound.kserveFormat) }
        : { containers: [main] }),
    };
  };
  if (options.format === 'kserve') {
    return [
      ...objects,
      {
        apiVersion: 'serving.kserve.io/v1beta1',
        kind: 'InferenceService',
        metadata: meta(name, { 'serving.kserve.io/deploymentMode': 'Standard' }),
        spec: {
          predictor: predictor(0),
          ...(traffic.length > 1
            ? { canary: traffic.slice(1).map((t, i) => ({ predictor: predictor(i + 1), trafficPercent: t.weight })) }
            : {}),
        },
      },
    ];
  }
  if (traffic.length > 2) {
    throw new ModelportError(
      'invalid_request',
      'spec.traffic: KServe in Knative mode splits traffic between two revisions at most; use kserve or knative for more targets',
      { field: 'spec.traffic' },
    );
  }
  return [
    ...objects,
    {
      apiVersion: 'serving.kserve.io/v1beta1',
      kind: 'InferenceService',
      metadata: meta(name, { 'serving.kserve.io/deploymentMode': 'Knative' }),
      spec: {
        predictor: {
          ...predictor(newest),
          annotations: autoscaling,
          ...(traffic.length === 2 ? { canaryTrafficPercent: traffic[newest]!.weight } : {}),
        },
      },
    },
  ];
}

/**
 * The predictor's `model` form, where KServe has a ServingRuntime for the format: `modelFormat` names it (so
 * KServe's tooling and runtime selection see a sklearn model), `storageUri` hands the artifact to KServe's storage
 * initializer, and the type's container fields (image, env, ports, probes) override the runtime's.
 */
function asKserveModel(main: Record<string, unknown>, format: string): Record<string, unknown> {
  const env = (main['env'] as { name?: string; value?: string }[]) ?? [];
  const storageUri = env.find((e) => e.name === 'STORAGE_URI')?.value;
  return {
    modelFormat: { name: format },
    protocolVersion: 'v2',
    ...(storageUri ? { storageUri } : {}),
    ...main,
    env: env.filter((e) => e.name !== 'STORAGE_URI'),
  };
}

function seconds(duration: string | number): string {
  return `${Math.ceil((parseDuration(duration) ?? 0) / 1000)}s`;
}
