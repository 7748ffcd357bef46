/**
 * Names in inference requests resolve to deployments first: `fraud` splits by the deployment's weights (sticky on
 * its header when set), `fraud@canary` (or the `modelport-tag` header) picks the target with that tag, and
 * `/versions/N` the target serving version N. A name with no deployment falls back to the registry, so any
 * registered model can still be called by name.
 */
import { ModelportError } from '../core/errors.ts';
import type { InferenceTarget, TargetResolver } from '../serving/gateway-service.ts';
import type { InferContext } from '../serving/inference-service.ts';
import type { LocalBackend, RoutedTarget } from './local-backend.ts';
import { pickTarget } from './traffic.ts';

export const TAG_HEADER = 'modelport-tag';

export class DeploymentResolver implements TargetResolver {
  readonly #local: LocalBackend;
  readonly #fallback: TargetResolver;
  readonly #project: string;

  constructor(local: LocalBackend, fallback: TargetResolver, project = 'default') {
    this.#local = local;
    this.#fallback = fallback;
    this.#project = project;
  }

  resolve(name: string, version?: string, headers?: InferContext['headers']): Promise<InferenceTarget> {
    const at = name.indexOf('@');
    const base = at < 0 ? name : name.slice(0, at);
    const table = this.#local.route(this.#project, base);
    if (!table) return this.#fallback.resolve(name, version, headers);

    const tag = at < 0 ? headers?.[TAG_HEADER] : name.slice(at + 1);
    let target: RoutedTarget | undefined;
    if (tag !== undefined && tag !== '') {
      target = table.targets.find((t) => t.tag === tag);
      if (!target) {
        return Promise.reject(
          new ModelportError('not_found', `deployment '${base}' has no target tagged '${tag.slice(0, 40)}'`, {
            field: 'model',
          }),
        );
      }
    } else if (version !== undefined) {
      target = table.targets.find((t) => String(t.version.version) === version);
      if (!target) {
        return Promise.reject(
          new ModelportError('not_found', `deployment '${base}' does not serve version ${version.slice(0, 20)}`, {
            field: 'version',
          }),
        );
      }
    } else {
      const sticky = table.stickyHeader ? headers?.[table.stickyHeader] : undefined;
      target = pickTarget(table.targets, sticky);
    }
    const chosen = target;
    return Promise.resolve({
      key: chosen.key,
      managed: true,
      version: chosen.version,
      options: chosen.options,
      ...(table.shadow
        ? { onAnswer: (request, response) => this.#local.mirror(table, request, response.outputs) }
        : {}),
    });
  }
}
