/**
 * Test support shared by the backend tests: the shipped model-type catalogue in a temp folder plus a custom type
 * with its own templates and base image, model versions to bind, and the matrix of specs every renderer runs.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { RevisionPlan, RevisionTargets } from '../deployments/index.ts';
import { checkSpec, type DeploymentSpecInput, parseSpec } from '../deployments/index.ts';
import { ModelTypeCatalogue } from '../modeltypes/index.ts';
import type { ModelVersion } from '../registry/index.ts';
import type { BindingSources, RevisionInput } from './render-input.ts';

/** A type only this test knows: its own image and templates, so output must come from them. */
export const CUSTOM_TYPE = {
  name: 'xgb-custom',
  runtime: 'container',
  default_base_image: { name: 'xgb-2', value: 'registry.example.com/ml/xgb-server:2.0' },
  available_base_images: [{ name: 'xgb-2', value: 'registry.example.com/ml/xgb-server:2.0' }],
  templates: {
    kubernetes:
      'name: "{{ name }}"\nimage: "{{ image }}"\nargs: ["--model-dir", "{{ model.path }}", "--http-port", "{{ port }}"]\nenv:\n  - { name: XGB_MODEL_NAME, value: "{{ model.name }}" }\n',
    compose:
      'image: "{{ image }}"\ncommand: ["--model-dir", "{{ model.path }}", "--http-port", "{{ port }}"]\nenvironment:\n  XGB_MODEL_NAME: "{{ model.name }}"\n',
  },
};

// `ghost` has a model type the catalogue does not hold: binding it fails (a failed apply in the conformance suite).
const TYPES: Record<string, string> = {
  fraud: 'onnx',
  churn: 'xgb-custom',
  iris: 'sklearn-1.5',
  broken: 'onnx',
  ghost: 'retired-type',
  scorer: 'sas-scr',
};

/** Versions that are images (no artifact of their own). */
const IMAGES: Record<string, string> = { scorer: `registry.example.com/sas/scorer:1.4@sha256:${'c3'.repeat(32)}` };

export function version(model: string, v: number): ModelVersion {
  return {
    project: 'default',
    model,
    version: v,
    format: TYPES[model] === 'onnx' ? 'onnx' : IMAGES[model] ? 'image' : 'container',
    modelType: TYPES[model] ?? 'onnx',
    sha256: `${String(v).padStart(2, '0')}${'ab'.repeat(31)}`,
    size: 100,
    signature: { inputs: [], outputs: [] } as unknown as ModelVersion['signature'],
    description: '',
    tags: {},
    metrics: {},
    lineage: { source: null, dataCommit: null, pipelineRun: null },
    aliases: [],
    image: IMAGES[model] ?? null,
    friendlySignature: model === 'iris' ? { outputs: { labels: ['setosa', 'versicolor', 'virginica'] } } : null,
    createdAt: '2025-01-01T00:00:00.000Z',
  };
}

export async function openSources(): Promise<{ sources: BindingSources; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'modelport-backends-'));
  const catalogue = await ModelTypeCatalogue.open(join(dir, 'modeltypes.yaml'));
  await catalogue.add(CUSTOM_TYPE);
  return {
    sources: {
      registry: { getVersion: async (_project, ref) => version(ref.name, ref.version) },
      catalogue,
    },
    close: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A revision from a spec: `model@N` references pin to version N. */
export function revisionOf(name: string, input: DeploymentSpecInput, revision = 1): RevisionInput {
  const spec = parseSpec(input);
  const pin = (ref: string) => {
    const [model = '', v = '1'] = ref.split('@');
    return { ref, model, version: Number(v) };
  };
  const targets: RevisionTargets = {
    traffic: spec.traffic.map((t) => ({ ...pin(t.model), weight: t.weight, ...(t.tag ? { tag: t.tag } : {}) })),
    ...(spec.shadow ? { shadow: { ...pin(spec.shadow.model), percent: spec.shadow.percent } } : {}),
  };
  return { project: 'default', name, revision, spec, targets };
}

/** A revision as a backend applies it. */
export function planOf(name: string, input: DeploymentSpecInput, revision = 1): RevisionPlan {
  const r = revisionOf(name, input, revision);
  return { ...r, scaling: checkSpec(r.spec) };
}

/** Every file under `dir` (relative paths, sorted) with its text; none when the folder does not exist. */
export async function filesUnder(dir: string): Promise<{ path: string; content: string }[]> {
  const names = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  const files = names
    .filter((d) => d.isFile())
    .map((d) => relative(dir, join(d.parentPath, d.name)))
    .sort();
  return Promise.all(files.map(async (path) => ({ path, content: await readFile(join(dir, path), 'utf8') })));
}

/** The specs every renderer must turn into valid output. */
export const SPEC_MATRIX: Record<string, DeploymentSpecInput> = {
  single: { traffic: [{ model: 'fraud@1', weight: 100 }] },
  canary: {
    traffic: [
      { model: 'fraud@1', weight: 90, tag: 'stable' },
      { model: 'fraud@2', weight: 10, tag: 'canary' },
    ],
  },
  'scale-to-zero': {
    traffic: [{ model: 'fraud@1', weight: 100 }],
    scaling: { minReplicas: 0, maxReplicas: 5, targetConcurrency: 4, scaleDownDelay: '1m', idleTimeout: '10m' },
  },
  gpu: { traffic: [{ model: 'iris@3', weight: 100 }], resources: { cpu: 2, memory: '4GiB', gpu: 1 } },
  secrets: {
    traffic: [{ model: 'fraud@1', weight: 100 }],
    env: { LOG_LEVEL: 'debug' },
    secrets: [{ env: 'API_TOKEN', secret: 'partner-token' }],
  },
  custom: { traffic: [{ model: 'churn@7', weight: 100 }], resources: { memory: '512MiB', cpu: '500m' } },
  image: { traffic: [{ model: 'scorer@2', weight: 100 }] },
};
