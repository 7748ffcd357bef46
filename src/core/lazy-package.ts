/**
 * Packages that only some features use (YAML, JSON Schema and CEL checks, the gRPC proto), loaded on first use
 * rather than when their importer is: `modelport server` imports nearly every module, and together these cost the
 * gateway about 9 MB resident (code, and the heap that its size sets the old generation's limit from) that a server
 * which never meets those features carries for nothing. The load is synchronous (`require`, which also takes ESM),
 * so the functions using them keep their signatures.
 *
 * ```ts
 * const loadYaml = lazyPackage<typeof import('yaml')>('yaml');
 * loadYaml().parse('a: 1'); // -> { a: 1 }, the package loaded by this first call
 * ```
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export function lazyPackage<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => {
    loaded ??= require(name) as T;
    return loaded;
  };
}
