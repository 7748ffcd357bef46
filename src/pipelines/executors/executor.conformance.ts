/**
 * The one conformance suite every step executor runs (local processes, Kubernetes Jobs on the fake cluster):
 * exit codes, logs in order from stdout and stderr, the environment, the timeout, and cancel killing the whole
 * process tree within 2 s. A harness may skip a case only with its reason.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { StepExecutor, StepLaunch } from '../executor.ts';

export interface ExecutorHarness {
  name: string;
  open(): Promise<{ executor: StepExecutor; close(): Promise<void> }>;
  /** Cases this executor cannot run, with the reason. */
  skip?: Partial<Record<'outputs', string>>;
}

/** True when the process is gone (or a zombie waiting to be reaped: it runs no more). */
function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

export function executorConformance(harness: ExecutorHarness): void {
  describe(`step executor conformance [${harness.name}]`, { timeout: 60_000 }, () => {
    let executor: StepExecutor;
    let close: () => Promise<void>;
    let dir: string;
    let n = 0;

    before(async () => {
      ({ executor, close } = await harness.open());
      dir = await mkdtemp(join(tmpdir(), 'modelport-executor-'));
    });
    after(async () => {
      await close();
      await rm(dir, { recursive: true, force: true });
    });

    const launch = async (
      command: string,
      {
        prepare,
        ...overrides
      }: Partial<StepLaunch> & { prepare?: (folders: StepLaunch['folders']) => Promise<void> } = {},
    ) => {
      const id = `conf${++n}`;
      const folders = { input: join(dir, id, 'in'), work: join(dir, id, 'work'), output: join(dir, id, 'out') };
      for (const f of Object.values(folders)) await mkdir(f, { recursive: true });
      await prepare?.(folders);
      const log: Buffer[] = [];
      const execution = executor.start({
        id,
        pipeline: 'conformance',
        run: `run-${id}`,
        step: 'step',
        command,
        env: {
          PATH: process.env['PATH'] ?? '/usr/bin:/bin',
          MODELPORT_INPUT: folders.input,
          MODELPORT_OUTPUT: folders.output,
        },
        image: 'busybox:1.36',
        timeoutMs: 30_000,
        folders,
        onLog: (chunk) => log.push(chunk),
        ...overrides,
      });
      return { execution, log: () => Buffer.concat(log).toString('utf8'), folders };
    };

    test('a command that exits 0 succeeds, with its stdout and stderr in the log and its environment set', async () => {
      const { execution, log } = await launch('echo "hello $WHO"; echo "to stderr" >&2; echo done', {
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', WHO: 'pipelines' },
      });
      const exit = await execution.done;
      assert.deepEqual(exit, { exitCode: 0, reason: null, timedOut: false, cancelled: false });
      assert.match(log(), /hello pipelines\n/);
      assert.match(log(), /to stderr\n/);
      assert.ok(log().indexOf('hello') < log().indexOf('done'));
    });

    test('a non-zero exit is reported with its code', async () => {
      const { execution } = await launch('echo failing; exit 7');
      const exit = await execution.done;
      assert.equal(exit.exitCode, 7);
      assert.equal(exit.reason, 'exited with code 7');
      assert.equal(exit.cancelled, false);
    });

    test('a step past its timeout is killed and reported as timed out', async () => {
      const { execution } = await launch('sleep 30', { timeoutMs: 1000 });
      const exit = await execution.done;
      assert.equal(exit.timedOut, true);
      assert.equal(exit.reason, 'timed out after 1 s');
    });

    test('cancel kills the whole process tree within 2 s', async () => {
      const pidFile = join(dir, `pid-${n + 1}`);
      const { execution } = await launch(`sleep 300 & echo $! > "${pidFile}"; sh -c "sleep 301" & wait`);
      let pid = 0;
      for (let i = 0; i < 200 && !pid; i++) {
        pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
        if (!pid) await new Promise((r) => setTimeout(r, 25));
      }
      assert.ok(pid > 0, 'the step started its background process');
      const asked = Date.now();
      execution.cancel();
      const exit = await execution.done;
      while (!gone(pid) && Date.now() - asked < 2000) await new Promise((r) => setTimeout(r, 20));
      const tookMs = Date.now() - asked;
      assert.equal(exit.cancelled, true);
      assert.equal(exit.reason, 'cancelled');
      assert.ok(gone(pid), 'the background process was killed');
      assert.ok(tookMs < 2000, `cancel took ${tookMs} ms`);
    });

    test('files written to $MODELPORT_OUTPUT are the step outputs', { skip: harness.skip?.outputs }, async () => {
      const { execution, folders } = await launch('echo 42 > "$MODELPORT_OUTPUT/answer.txt"');
      assert.equal((await execution.done).exitCode, 0);
      assert.equal(await readFile(join(folders.output, 'answer.txt'), 'utf8'), '42\n');
    });

    test('the command runs in the code folder and reads the commit files from $MODELPORT_INPUT', {
      skip: harness.skip?.outputs,
    }, async () => {
      const { execution, folders, log } = await launch(
        'mkdir -p "$MODELPORT_OUTPUT/nested" && cat "$MODELPORT_INPUT/data/rows.csv" code.txt > "$MODELPORT_OUTPUT/nested/both.txt"',
        {
          prepare: async (f) => {
            await mkdir(join(f.input, 'data'), { recursive: true });
            await writeFile(join(f.input, 'data', 'rows.csv'), 'a,b\n1,2\n');
            await writeFile(join(f.work, 'code.txt'), 'from the code\n');
          },
        },
      );
      const exit = await execution.done;
      assert.equal(exit.exitCode, 0, log());
      assert.equal(await readFile(join(folders.output, 'nested', 'both.txt'), 'utf8'), 'a,b\n1,2\nfrom the code\n');
    });
  });
}
