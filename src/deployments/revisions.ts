/**
 * Revisions pin what a spec names: each `model@alias` becomes the version it names at the moment the revision is
 * made, so a revision always means the same models (and a rollback means exactly what it says).
 */
import { ModelportError, parseModelRef } from '../core/index.ts';
import type { ModelRegistry } from '../registry/index.ts';
import type { DeploymentSpec } from './spec.ts';
import type { RevisionTargets } from './types.ts';

/** Pins every traffic target and the shadow; a reference to nothing is `not_found` naming its spec field. */
export async function pinTargets(
  registry: Pick<ModelRegistry, 'getVersion'>,
  project: string,
  spec: DeploymentSpec,
): Promise<RevisionTargets> {
  const pin = async (ref: string, field: string) => {
    const parsed = parseModelRef(ref, field);
    try {
      const v = await registry.getVersion(project, parsed);
      return { model: v.model, version: v.version };
    } catch (error) {
      if (error instanceof ModelportError && error.code === 'not_found') {
        throw new ModelportError('not_found', `${field}: ${error.message}`, { field });
      }
      throw error;
    }
  };
  const traffic = await Promise.all(
    spec.traffic.map(async (t, i) => ({
      ref: t.model,
      ...(await pin(t.model, `spec.traffic[${i}].model`)),
      weight: t.weight,
      ...(t.tag ? { tag: t.tag } : {}),
    })),
  );
  const shadow = spec.shadow
    ? { ref: spec.shadow.model, ...(await pin(spec.shadow.model, 'spec.shadow.model')), percent: spec.shadow.percent }
    : undefined;
  return shadow ? { traffic, shadow } : { traffic };
}

/** Whether the revision's traffic or shadow goes to this version. */
export function routesTo(targets: RevisionTargets, model: string, version: number): boolean {
  return [...targets.traffic, ...(targets.shadow ? [targets.shadow] : [])].some(
    (t) => t.model === model && t.version === version,
  );
}
