/**
 * The compile cache warm-up: a worker started on a fresh cache finds its sources already compiled, so it never
 * loads Node's type stripper (17-20 MB for the worker's life). This file turns the compile cache on for its own
 * process (as bin/modelport.js does), in a fresh folder.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { enableCompileCache } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { childEnv, ModelportError } from '../../core/index.ts';
import { type TestModels, writeTestModels } from '../../runtimes/onnx/model-files.fixture.ts';
import { warmWorkerCompileCache } from './compile-cache.ts';
import { runWorkerMainOnce } from './worker-main.fixture.ts';
import { WORKER_FLAGS, WorkerProcess } from './worker-process.ts';

const WORKER_MAIN = fileURLToPath(new URL('./worker-main.ts', import.meta.url));

/** A preload that writes, at exit, whether the process loaded Node's type stripper (amaro). */
const RECORD_STRIPPER = `data:text/javascript,${encodeURIComponent(`
import { writeFileSync } from 'node:fs';
process.on('exit', () => writeFileSync(process.env.MODELPORT_TEST_STRIPPER,
  String(process.moduleLoadList.some((m) => m.includes('amaro')))));
`)}`;

describe('worker compile cache warm-up', { timeout: 60_000 }, () => {
  let models: TestModels;
  let dir: string;
  before(async () => {
    models = await writeTestModels();
    dir = await mkdtemp(join(tmpdir(), 'modelport-compile-cache-'));
    const status = enableCompileCache(join(dir, 'cache'));
    assert.equal(status.status, 1, `the compile cache is on in this test process (${status.message ?? ''})`); // ENABLED
  });
  after(async () => {
    await models.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  /** Starts worker-main.ts with the worker's flags and `env`, loads the LR model, and says whether it stripped types. */
  async function workerStrippedTypes(env: Record<string, string>): Promise<boolean> {
    const record = join(dir, `stripper-${Math.random()}.txt`);
    await runWorkerMainOnce({
      execArgv: [...WORKER_FLAGS, `--import=${RECORD_STRIPPER}`],
      env: { ...env, MODELPORT_TEST_STRIPPER: record },
      model: models.lr,
    });
    return (await readFile(record, 'utf8')) === 'true';
  }

  test('without the warm-up, a worker on a fresh cache loads the type stripper (what the warm-up saves)', async () => {
    const fresh = { ...childEnv(), NODE_COMPILE_CACHE: join(dir, 'cold-cache') };
    assert.equal(await workerStrippedTypes(fresh), true);
  });

  test('after the warm-up, a worker with the same flags starts from the cache and never loads the stripper', async () => {
    await warmWorkerCompileCache(WORKER_MAIN, WORKER_FLAGS, 'onnx');
    assert.equal(await workerStrippedTypes(childEnv()), false);
  });

  test('a worker closed while the cache warms never starts a child, and start says so', async () => {
    const worker = new WorkerProcess({ kind: 'onnx', load: { path: models.lr }, stdio: 'ignore' });
    const starting = worker.start();
    await worker.close();
    await assert.rejects(
      starting,
      (error: unknown) => error instanceof ModelportError && error.code === 'worker_failed',
    );
    assert.equal(worker.pid, undefined);
    assert.equal(worker.state, 'exited');
  });
});
