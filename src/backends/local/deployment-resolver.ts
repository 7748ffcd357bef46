/**
 * Names in inference requests resolve to deployments first: `fraud` splits by the deployment's weights (sticky on
 * its header when set), `fraud@canary` (or the `modelport-tag` header) picks the target with that tag, and
 * `/versions/N` the target serving version N. A deployment accepted but not routed yet (its first revision is
 * starting) holds the request until it is routed. A name with no deployment falls back to the registry, so any
 * registered model can still be called by name.
 */
import { selectTarget, splitTag, TAG_HEADER } from '../../deployments/index.ts';
import type { InferContext, InferenceTarget, TargetResolver, TrafficArm } from '../../serving/index.ts';
import type { LocalBackend, RoutedTarget } from './local-backend.ts';

/**
 * What routing needs of the local backend: the route table, the deployments accepted but not routed yet, and where
 * to mirror for a shadow.
 */
export type LocalRoutes = Pick<LocalBackend, 'route' | 'mirror'> & Partial<Pick<LocalBackend, 'whenRouted'>>;

export class DeploymentResolver implements TargetResolver {
  readonly #local: LocalRoutes;
  readonly #fallback: TargetResolver;
  readonly #project: string;

  constructor(local: LocalRoutes, fallback: TargetResolver, project = 'default') {
    this.#local = local;
    this.#fallback = fallback;
    this.#project = project;
  }

  arms(name: string): TrafficArm[] | undefined {
    const { base, tag } = splitTag(name);
    const table = tag === undefined ? this.#local.route(this.#project, base) : undefined;
    return table?.targets.map((t) => ({
      target: `${t.version.model}@${t.version.version}`,
      tag: t.tag ?? null,
      weight: t.weight,
      outputs: t.version.signature.outputs.map((o) => o.name),
    }));
  }

  resolve(name: string, version?: string, headers?: InferContext['headers']): Promise<InferenceTarget> {
    const { base, tag } = splitTag(name);
    const table = this.#local.route(this.#project, base);
    if (!table) {
      // Accepted and still starting: held like any cold start, then routed (never a 404 in between).
      const routed = this.#local.whenRouted?.(this.#project, base);
      if (routed) return routed.then(() => this.resolve(name, version, headers));
      return this.#fallback.resolve(name, version, headers);
    }

    let target: RoutedTarget;
    try {
      target = selectTarget(table.name, table.targets, (t) => t.version.version, {
        tag: tag ?? headers?.[TAG_HEADER],
        version,
        sticky: table.stickyHeader ? headers?.[table.stickyHeader] : undefined,
      });
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.resolve({
      key: target.key,
      managed: true,
      version: target.version,
      options: target.options,
      ...(target.log ? { log: target.log } : {}),
      ...(table.shadow
        ? { onAnswer: (request, response, context) => this.#local.mirror(table, request, response.outputs, context) }
        : {}),
    });
  }
}
