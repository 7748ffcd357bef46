/**
 * `modelport export`: a revision as files, without applying, for GitOps. Kubernetes formats give one multi-document
 * `<name>.yaml` (validated; Secrets with values are left out, so create `<name>-env` and `<name>-s3` yourself);
 * All YAML is written so that YAML 1.1 readers (kubectl's, PyYAML) read it as written.
 * `compose` gives the bundle, written with `writeBundle` so that an existing example/ is kept.
 *
 * ```ts
 * const files = await exportRevision(revision, 'knative', { kubernetes, compose });
 * await writeBundle('./out', files);
 * ```
 */
import { stringify } from 'yaml';
import { notFound } from '../core/index.ts';
import type { DeploymentService } from '../deployments/index.ts';
import type { ComposeBackend } from './compose/compose-backend.ts';
import type { BundleFile } from './compose/compose-renderer.ts';
import type { KubernetesBackend } from './kubernetes/kubernetes-backend.ts';
import type { KubernetesFormat } from './kubernetes/kubernetes-renderer.ts';
import type { RevisionInput } from './render-input.ts';
import type { KubeObject } from './schema-validation.ts';

export const EXPORT_FORMATS = ['kserve', 'kserve-knative', 'knative', 'compose'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Exports the latest revision of a deployment (the spec as last applied, whichever revision serves). */
export async function exportDeployment(
  deployments: Pick<DeploymentService, 'get' | 'revisions'>,
  project: string,
  name: string,
  format: ExportFormat,
  backends: { kubernetes: KubernetesBackend; compose: ComposeBackend },
): Promise<ExportResult> {
  const { latestRevision } = await deployments.get(project, name);
  const revision = (await deployments.revisions(project, name)).find((r) => r.revision === latestRevision);
  if (!revision) throw notFound(`revision ${latestRevision} of deployment '${name}'`, 'deployment');
  const { spec, targets } = revision;
  const files = await exportRevision({ project, name, revision: latestRevision, spec, targets }, format, backends);
  return { files, warnings: format === 'compose' ? [] : backends.kubernetes.exportWarnings() };
}

/** The files, and what the user must change before applying them (a STORAGE_URI placeholder). */
export interface ExportResult {
  files: BundleFile[];
  warnings: string[];
}

export async function exportRevision(
  revision: RevisionInput,
  format: ExportFormat,
  backends: { kubernetes: KubernetesBackend; compose: ComposeBackend },
): Promise<BundleFile[]> {
  if (format === 'compose') return backends.compose.render(revision);
  const objects = await backends.kubernetes.render(revision, false, format as KubernetesFormat);
  return [{ path: `${revision.name}.yaml`, content: kubernetesYaml(objects), owner: 'base' }];
}

/** Objects as one multi-document YAML file that YAML 1.1 readers (kubectl's) read as written. */
export function kubernetesYaml(objects: readonly KubeObject[]): string {
  return objects.map((o) => stringify(o, { version: '1.1' })).join('---\n');
}
