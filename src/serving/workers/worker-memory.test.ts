/**
 * What a worker process holds: the modules it loads (an onnx worker never loads the hosted runtime's YAML and
 * protocol codecs, nor the OpenTelemetry API when tracing is off) and the V8 flags it runs with.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { childEnv } from '../../core/index.ts';
import { writeJsModels } from '../../runtimes/js/js-models.fixture.ts';
import { type TestModels, writeTestModels } from '../../runtimes/onnx/model-files.fixture.ts';
import { runWorkerMainOnce } from './worker-main.fixture.ts';
import { WorkerProcess } from './worker-process.ts';

/** A preload that records every module the process loads (ESM and CommonJS) and writes the list at exit. */
const RECORD_MODULES = `data:text/javascript,${encodeURIComponent(`
import { registerHooks } from 'node:module';
import { writeFileSync } from 'node:fs';
const seen = [];
registerHooks({ load(url, context, next) { seen.push(url); return next(url, context); } });
process.on('exit', () => writeFileSync(process.env.MODELPORT_TEST_MODULES, seen.join('\\n')));
`)}`;

/** The command line of a running process (Linux). */
const commandLine = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');

describe('worker process memory', { timeout: 60_000 }, () => {
  let models: TestModels;
  let dir: string;
  before(async () => {
    models = await writeTestModels();
    dir = await mkdtemp(join(tmpdir(), 'modelport-worker-memory-'));
  });
  after(async () => {
    await models.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  test('an onnx worker loads ONNX Runtime, and neither YAML, the protocol codecs nor the OpenTelemetry API', async () => {
    const list = join(dir, 'modules.txt');
    await runWorkerMainOnce({
      execArgv: [`--import=${RECORD_MODULES}`],
      env: { ...childEnv(), MODELPORT_TEST_MODULES: list },
      model: models.lr,
    });
    const loaded = (await readFile(list, 'utf8')).split('\n');
    assert.ok(
      loaded.some((url) => url.includes('/onnxruntime-node/')),
      'the recorder saw ONNX Runtime load',
    );
    for (const heavy of ['/node_modules/yaml/', '/node_modules/@opentelemetry/api/', '/src/protocols/']) {
      assert.deepEqual(
        loaded.filter((url) => url.includes(heavy)),
        [],
        `${heavy} is loaded only when a worker needs it`,
      );
    }
  });

  test('an onnx worker caps its young generation, runs V8 single-threaded and may collect; a js worker keeps V8 defaults', {
    skip: existsSync('/proc/self/cmdline') ? false : 'reads /proc (Linux)',
  }, async () => {
    const js = await writeJsModels();
    const onnx = new WorkerProcess({ kind: 'onnx', load: { path: models.lr }, stdio: 'ignore' });
    const jsWorker = new WorkerProcess({ kind: 'js', load: { path: await js.archive('sum') }, stdio: 'ignore' });
    try {
      await Promise.all([onnx.start(), jsWorker.start()]);
      assert.ok(commandLine(onnx.pid as number).includes('--max-semi-space-size=1'));
      assert.ok(commandLine(onnx.pid as number).includes('--single-threaded'));
      assert.ok(commandLine(onnx.pid as number).includes('--expose-gc'), 'an onnx worker may collect between batches');
      assert.ok(!commandLine(jsWorker.pid as number).includes('--expose-gc'), "a js model's code never sees gc()");
      assert.ok(!commandLine(jsWorker.pid as number).some((arg) => arg.startsWith('--max-semi-space-size')));
      assert.ok(!commandLine(jsWorker.pid as number).includes('--single-threaded'));
    } finally {
      await Promise.all([onnx.close(), jsWorker.close()]);
      await js.cleanup();
    }
  });
});
