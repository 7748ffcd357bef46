/**
 * Renders one deployment revision into a docker-compose bundle (laid out as the seed guide's bundles):
 *
 * - `base/` (generated, rewritten on every change): `docker-compose.yaml` with a `model-download` service that
 *   fetches every artifact (S3 or a mounted folder, listed in `base/models.json`) into the `models` volume and
 *   exits; one serving service per model version (`s-<model>-v<version>`, from the model type's compose template)
 *   with cpu and memory limits and reservations and optional GPU devices, started once the download completed; and
 *   Modelport's gateway, the only published port, routing by model name and the `model-id` header with the
 *   weights, tags and shadow of `base/gateway/routes.json`.
 * - `example/` (the user's, written once and never overwritten): `docker-compose.yaml` including base, `.env` with
 *   the folder's path (EXAMPLE_DIR), and `conf/<service>/` and `creds/<service>/.env` for each service (secret
 *   names listed with empty values: values never leave the server).
 */
import { stringify } from 'yaml';
import { ModelportError, parseSize } from '../../core/index.ts';
import type { GatewayRoutes } from '../image/gateway/index.ts';
import {
  bindingKey,
  DEFAULT_MODELPORT_IMAGE,
  dnsName,
  MODEL_PORT,
  type RenderInput,
  refuseEnvOverride,
  renderBinding,
} from '../render-input.ts';

/**
 * YAML that YAML 1.1 readers (PyYAML, older docker-compose) read the same as YAML 1.2 ones: strings such as `no`,
 * `on` or `1:20` are quoted, so `restart: "no"` stays a string instead of turning into `false`.
 */
const yaml = (value: unknown): string => stringify(value, { version: '1.1' });

export interface BundleFile {
  /** Relative to the bundle folder, with `/`. */
  path: string;
  content: string;
  /** `base` files are rewritten on every change; `example` files are the user's and never overwritten. */
  owner: 'base' | 'example';
}

export interface ComposeRenderOptions {
  /** Where artifacts live: `s3://bucket/prefix` or a folder (mounted read-only into model-download). */
  artifacts: string;
  /** The S3 endpoint for model-download (a MinIO URL), when not AWS. */
  s3Endpoint?: string | undefined;
  modelportImage?: string | undefined;
  /** Host port of the gateway (default 8080; `${MODELPORT_PORT}` overrides it at run time). */
  port?: number;
}

/** The bundle's files; `base/docker-compose.yaml` is the document to validate (see composeDocuments). */
export function renderCompose(
  input: RenderInput,
  options: ComposeRenderOptions,
): { files: BundleFile[]; documents: Record<string, unknown> } {
  const image = options.modelportImage ?? DEFAULT_MODELPORT_IMAGE;
  const s3 = options.artifacts.startsWith('s3://');
  const { spec } = input;
  const services: Record<string, Record<string, unknown>> = {};
  const models: { model: string; version: number; sha256: string; path: string }[] = [];
  const credsFile = (service: string) => ({ path: `\${EXAMPLE_DIR}/creds/${service}/.env`, required: false });

  services['model-download'] = {
    image,
    command: ['fetch-models', '--manifest', '/etc/modelport/models.json', '--to', '/models'],
    environment: {
      MODELPORT_ARTIFACTS: s3 ? options.artifacts : '/artifacts',
      ...(options.s3Endpoint ? { AWS_ENDPOINT_URL_S3: options.s3Endpoint } : {}),
    },
    env_file: [credsFile('model-download')],
    volumes: [
      'models:/models',
      './models.json:/etc/modelport/models.json:ro',
      ...(s3 ? [] : ['${MODELPORT_ARTIFACTS_DIR:-./artifacts}:/artifacts:ro']),
    ],
    restart: 'no',
  };

  const limits: Record<string, string | number> = {
    ...(spec.resources.cpu !== undefined ? { cpus: cpus(spec.resources.cpu) } : {}),
    ...(spec.resources.memory !== undefined ? { memory: composeMemory(spec.resources.memory) } : {}),
  };
  const serviceOf = new Map<string, string>();
  const signatures: BundleFile[] = [];
  for (const [key, binding] of input.bindings) {
    const service = dnsName(['s', binding.model, `v${binding.version}`]);
    serviceOf.set(key, service);
    const path = `/models/${binding.model}/${binding.version}`;
    // A model image carries its model: nothing to fetch for it.
    if (binding.hasArtifact)
      models.push({ model: binding.model, version: binding.version, sha256: binding.sha256, path });
    const rendered = renderBinding(
      binding,
      {
        name: service,
        namespace: input.project,
        'model.uri': binding.hasArtifact ? `${options.artifacts}/sha256/${binding.sha256}` : '',
        'model.path': path,
      },
      `spec.traffic (${key})`,
    );
    const templateEnv = (rendered['environment'] ?? {}) as Record<string, string>;
    refuseEnvOverride(spec, [...Object.keys(templateEnv), 'MODELPORT_SIGNATURE_FILE']);
    signatures.push({
      path: `base/signatures/${service}.json`,
      content: `${JSON.stringify({ model: binding.model, version: binding.version, signature: binding.signature, friendlySignature: binding.friendlySignature }, null, 2)}\n`,
      owner: 'base',
    });
    // Modelport's own image reads the friendly signature from it (named features, labels); others may mount it.
    const own = binding.runtime !== 'container';
    services[service] = {
      ...rendered,
      environment: {
        ...templateEnv,
        ...(own ? { MODELPORT_SIGNATURE_FILE: '/etc/modelport/signature.json' } : {}),
        ...spec.env,
      },
      env_file: [credsFile(service)],
      volumes: [
        ...(binding.hasArtifact ? ['models:/models:ro'] : []),
        `\${EXAMPLE_DIR}/conf/${service}:/etc/modelport/conf:ro`,
        `./signatures/${service}.json:/etc/modelport/signature.json:ro`,
      ],
      depends_on: { 'model-download': { condition: 'service_completed_successfully' } },
      restart: 'unless-stopped',
      ...(Object.keys(limits).length || spec.resources.gpu
        ? {
            deploy: {
              resources: {
                ...(Object.keys(limits).length ? { limits } : {}),
                reservations: {
                  ...limits,
                  ...(spec.resources.gpu ? { devices: [{ capabilities: ['gpu'], count: spec.resources.gpu }] } : {}),
                },
              },
            },
          }
        : {}),
    };
  }

  const upstream = (model: string, version: number) =>
    `http://${serviceOf.get(bindingKey(model, version))}:${MODEL_PORT}`;
  // Read by `modelport gateway` (src/backends/image/gateway/), which validates it against the same type.
  const routes: GatewayRoutes = {
    deployments: [
      {
        name: input.name,
        revision: input.revision,
        modelIdHeader: 'model-id',
        ...(spec.sticky ? { stickyHeader: spec.sticky.header } : {}),
        traffic: input.targets.traffic.map((t) => ({
          model: t.model,
          version: t.version,
          weight: t.weight,
          ...(t.tag ? { tag: t.tag } : {}),
          url: upstream(t.model, t.version),
        })),
        ...(input.targets.shadow
          ? {
              shadow: {
                model: input.targets.shadow.model,
                version: input.targets.shadow.version,
                percent: input.targets.shadow.percent,
                url: upstream(input.targets.shadow.model, input.targets.shadow.version),
              },
            }
          : {}),
      },
    ],
  };
  services['gateway'] = {
    image,
    command: ['gateway', '--routes', '/etc/modelport/routes.json', '--port', String(MODEL_PORT)],
    ports: [`\${MODELPORT_PORT:-${options.port ?? 8080}}:${MODEL_PORT}`],
    volumes: [
      './gateway/routes.json:/etc/modelport/routes.json:ro',
      '${EXAMPLE_DIR}/conf/gateway:/etc/modelport/conf:ro',
    ],
    env_file: [credsFile('gateway')],
    depends_on: Object.fromEntries([...serviceOf.values()].map((s) => [s, { condition: 'service_started' }])),
    restart: 'unless-stopped',
  };

  const base = { name: dnsName(['modelport', input.name]), services, volumes: { models: {} } };
  const example = { include: [{ path: '../base/docker-compose.yaml', env_file: ['.env'] }] };
  const header = `# Generated by Modelport for deployment '${input.name}' revision ${input.revision}; rewritten on every change.\n# Configure through ../example (conf/, creds/, .env) instead of editing this file.\n`;
  const serviceNames = Object.keys(services);
  const files: BundleFile[] = [
    { path: 'base/docker-compose.yaml', content: header + yaml(base), owner: 'base' },
    { path: 'base/models.json', content: `${JSON.stringify({ models }, null, 2)}\n`, owner: 'base' },
    { path: 'base/gateway/routes.json', content: `${JSON.stringify(routes, null, 2)}\n`, owner: 'base' },
    ...signatures,
    {
      path: 'example/docker-compose.yaml',
      content: `# Yours: start the bundle with \`docker compose up -d\` from this folder.\n${yaml(example)}`,
      owner: 'example',
    },
    // Read by model-download's mount (${MODELPORT_ARTIFACTS_DIR:-./artifacts}): the server's artifact folder.
    ...(s3
      ? []
      : [
          {
            path: 'example/.env',
            content: `# The folder model-download reads artifacts from (the Modelport server's --artifacts folder), mounted read-only.\nMODELPORT_ARTIFACTS_DIR=${options.artifacts}\n`,
            owner: 'example' as const,
          },
        ]),
    ...serviceNames.flatMap((service): BundleFile[] => [
      {
        path: `example/conf/${service}/README`,
        content: `Configuration files for ${service}, mounted at /etc/modelport/conf.\n`,
        owner: 'example',
      },
      {
        path: `example/creds/${service}/.env`,
        content: credentials(service, input, s3),
        owner: 'example',
      },
    ]),
  ];
  return { files, documents: { 'base/docker-compose.yaml': base, 'example/docker-compose.yaml': example } };
}

function credentials(service: string, input: RenderInput, s3: boolean): string {
  const lines = [`# Credentials of ${service} (KEY=value). Never committed, never overwritten by Modelport.`];
  if (service === 'model-download' && s3) lines.push('AWS_ACCESS_KEY_ID=', 'AWS_SECRET_ACCESS_KEY=', 'AWS_REGION=');
  if (service.startsWith('s-')) for (const s of input.spec.secrets) lines.push(`${s.env}=`);
  return `${lines.join('\n')}\n`;
}

function cpus(cpu: string | number): number {
  const value = typeof cpu === 'number' ? cpu : cpu.endsWith('m') ? Number(cpu.slice(0, -1)) / 1000 : Number(cpu);
  if (!Number.isFinite(value) || value <= 0) {
    throw new ModelportError(
      'invalid_request',
      `spec.resources.cpu: '${cpu}' is not a CPU amount; use 1, 0.5 or 500m`,
      {
        field: 'spec.resources.cpu',
      },
    );
  }
  return value;
}

/** Memory as compose writes it (`512m`, `4g`): the largest binary unit that divides the size exactly. */
export function composeMemory(memory: string | number): string {
  const n = parseSize(memory);
  if (n === undefined || n <= 0) {
    throw new ModelportError('invalid_request', `spec.resources.memory: '${memory}' is not a size; use 512MiB`, {
      field: 'spec.resources.memory',
    });
  }
  for (const [unit, size] of [
    ['g', 1024 ** 3],
    ['m', 1024 ** 2],
    ['k', 1024],
  ] as const) {
    if (n % size === 0) return `${n / size}${unit}`;
  }
  return `${n}b`;
}
