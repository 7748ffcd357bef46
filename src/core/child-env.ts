/**
 * The environment Modelport gives the processes it forks (model workers, job workers, inspectors): nothing of its
 * own (credentials never reach a model's code) except Node's compile cache, so a child finds the TypeScript it
 * runs already stripped and compiled instead of loading the type stripper (about 15 MB per process) again.
 * Reserved names (`NODE_OPTIONS`, `LD_PRELOAD`, ... see env-policy.ts) are dropped: specs refuse them at apply, and
 * this keeps one stored before that rule from reaching a process.
 */
import { getCompileCacheDir } from 'node:module';
import { dirname } from 'node:path';
import { withoutReservedEnv } from './env-policy.ts';

export function childEnv(env: Readonly<Record<string, string>> = {}): Record<string, string> {
  const safe = withoutReservedEnv(env);
  const cache = getCompileCacheDir(); // the root given to Node plus a folder per Node version
  return cache === undefined ? safe : { ...safe, NODE_COMPILE_CACHE: dirname(cache) };
}
