/**
 * Serves registered models by name: `fraud` is the latest version, `fraud@champion` an alias, `fraud@3` (or the
 * path's /versions/3) a version. Lookups are cached for `ttlMs` (default 1 s) so the hot path does not query the
 * database per request; an alias move takes effect within that time. A name no model has is remembered as unknown
 * for the same time, apart and bounded, so a client calling a wrong name (or a scan of names) costs no query per
 * request (3x the CPU of a refusal, measured) and cannot evict the known names.
 */
import { ModelportError, type ModelRef, parseModelRef } from '../core/index.ts';
import type { ModelRegistry, ModelVersion } from '../registry/index.ts';
import type { InferenceTarget, TargetResolver } from './gateway-service.ts';
import { registryKey } from './model-host.ts';

/** Unknown names remembered at most (then forgotten at once): a bound on what a scan of names can make us hold. */
const MAX_UNKNOWN = 1024;

export class RegistryResolver implements TargetResolver {
  readonly #registry: ModelRegistry;
  readonly #project: string;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, { at: number; target: Promise<InferenceTarget> }>();
  readonly #unknown = new Map<string, { at: number; error: unknown }>();

  /** `now` is the clock of the ttl (tests pass their own). */
  constructor(registry: ModelRegistry, options: { project?: string; ttlMs?: number; now?: () => number } = {}) {
    this.#registry = registry;
    this.#project = options.project ?? 'default';
    this.#ttlMs = options.ttlMs ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  resolve(name: string, version?: string): Promise<InferenceTarget> {
    const key = version === undefined ? name : `${name}\u0000${version}`;
    const now = this.#now();
    const hit = this.#cache.get(key);
    if (hit && now - hit.at < this.#ttlMs) return hit.target;
    const unknown = this.#unknown.get(key);
    if (unknown && now - unknown.at < this.#ttlMs) return Promise.reject(unknown.error);
    const target = this.#lookup(name, version);
    this.#cache.set(key, { at: now, target });
    target.catch((error: unknown) => {
      this.#cache.delete(key);
      if (!(error instanceof ModelportError && error.code === 'not_found')) return;
      if (this.#unknown.size >= MAX_UNKNOWN) this.#unknown.clear();
      // From the answer, not the question: a slow lookup does not shorten the time a name stays known as unknown.
      this.#unknown.set(key, { at: this.#now(), error });
    });
    if (this.#cache.size > 10_000) this.#cache.clear();
    return target;
  }

  async #lookup(name: string, version: string | undefined): Promise<InferenceTarget> {
    const ref: ModelRef = parseModelRef(name, 'model');
    if (version !== undefined) {
      if (ref.version !== undefined || ref.alias !== undefined) {
        throw new ModelportError('invalid_request', `give the version in the name or in the path, not both`, {
          field: 'version',
        });
      }
      if (!/^[1-9]\d{0,8}$/.test(version)) {
        throw new ModelportError('invalid_request', `version '${version.slice(0, 20)}' is not a version number`, {
          field: 'version',
        });
      }
      ref.version = Number(version);
    }
    const found: ModelVersion = await this.#registry.getVersion(this.#project, ref);
    return { key: registryKey(found), version: found };
  }
}
