/**
 * Fills Node's compile cache for a worker's V8 flags and runtime kind before the first such worker starts.
 *
 * Node keys its compile cache by the V8 flags, and a worker runs with flags of its own, so on a fresh cache (a new
 * machine, a container start, `/tmp` cleared) the first workers find none of their sources compiled: each loads the
 * type stripper and keeps it for its life, 17-20 MB more than a worker started from the cache (the fraud worker 116
 * against 96 MB idle). One short-lived child with the same flags, the same environment and the same modules fills
 * the cache first; every worker after it, including those started at the same moment, starts from the cache. It
 * runs once per flags and kind in a gateway's life, and only when the compile cache is on (as `bin/modelport.js`
 * turns it on).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { getCompileCacheDir } from 'node:module';
import { childEnv } from '../../core/index.ts';

/** The argument that makes `worker-main.ts` load a kind's modules, write the cache and exit. */
export const WARM_COMPILE_CACHE = '--warm-compile-cache';
/** A warm-up that takes longer is abandoned: the workers then fill the cache themselves, as without it. */
const WARM_TIMEOUT_MS = 30_000;

const warmed = new Map<string, Promise<void>>();

/**
 * Resolves once the cache holds what a worker of `kind` started with `execArgv` compiles (at once when the cache is
 * off or that warm-up already ran). Never rejects: a failed warm-up costs memory, not correctness.
 */
export function warmWorkerCompileCache(workerMain: string, execArgv: readonly string[], kind: string): Promise<void> {
  if (getCompileCacheDir() === undefined) return Promise.resolve();
  const key = `${execArgv.join(' ')}\0${kind}`;
  let warming = warmed.get(key);
  if (!warming) {
    warming = runWarmUp(workerMain, execArgv, kind);
    warmed.set(key, warming);
  }
  return warming;
}

async function runWarmUp(workerMain: string, execArgv: readonly string[], kind: string): Promise<void> {
  const child = spawn(process.execPath, [...execArgv, workerMain, WARM_COMPILE_CACHE, kind], {
    env: childEnv(),
    stdio: 'ignore',
    timeout: WARM_TIMEOUT_MS,
  });
  try {
    await once(child, 'exit');
  } catch {
    // spawn failed (no such executable, out of processes): the workers start as they would without a warm-up
  }
}
