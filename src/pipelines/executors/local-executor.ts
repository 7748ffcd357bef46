/**
 * `LocalExecutor`: each step is `/bin/sh -c <command>` in its own process group, in the step's working folder.
 *
 * Enforced: the timeout and cancel (SIGTERM to the whole group, SIGKILL 1 s later, so a cancel is done within
 * 2 s), memory through `ulimit -d` (RLIMIT_DATA: the heap and private writable mappings of every process of the
 * step) when `memoryBytes` is set. Not enforced here: CPU shares, disk space, network access, and processes that
 * leave the group on purpose (setsid) survive a kill; run steps on Kubernetes for those.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { StepExecution, StepExecutor, StepExit, StepLaunch } from '../executor.ts';
import { seconds } from '../executor.ts';

const KILL_GRACE_MS = 1000;

export interface LocalExecutorOptions {
  /** The shell (default /bin/sh). */
  shell?: string;
}

export class LocalExecutor implements StepExecutor {
  readonly name = 'local' as const;
  readonly #shell: string;

  constructor(options: LocalExecutorOptions = {}) {
    this.#shell = options.shell ?? '/bin/sh';
  }

  start(launch: StepLaunch): StepExecution {
    const limit =
      launch.memoryBytes === undefined
        ? ''
        : `ulimit -d ${Math.max(1, Math.floor(launch.memoryBytes / 1024))} || exit 125; `;
    let child: ChildProcess;
    let timedOut = false;
    let cancelled = false;
    let killTimer: NodeJS.Timeout | undefined;
    let exited = false;
    const killGroup = () => {
      if (exited || child.pid === undefined) return;
      const signalGroup = (signal: NodeJS.Signals) => {
        try {
          process.kill(-child.pid!, signal);
        } catch {
          // The group is gone already.
        }
      };
      signalGroup('SIGTERM');
      killTimer ??= setTimeout(() => signalGroup('SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    };
    const done = new Promise<StepExit>((resolve) => {
      try {
        child = spawn(this.#shell, ['-c', `${limit}${launch.command}`], {
          cwd: launch.folders.work,
          env: launch.env,
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      } catch (error) {
        resolve({ exitCode: null, reason: `could not start: ${(error as Error).message}`, timedOut, cancelled });
        return;
      }
      child.stdout!.on('data', (chunk: Buffer) => launch.onLog(chunk));
      child.stderr!.on('data', (chunk: Buffer) => launch.onLog(chunk));
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup();
      }, launch.timeoutMs);
      child.once('error', (error) => {
        clearTimeout(timer);
        resolve({ exitCode: null, reason: `could not start: ${error.message}`, timedOut, cancelled });
      });
      child.once('close', (code, signal) => {
        exited = true;
        clearTimeout(timer);
        // The shell ended; anything it left in the group goes too.
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {}
        if (killTimer) clearTimeout(killTimer);
        const reason = cancelled
          ? 'cancelled'
          : timedOut
            ? `timed out after ${seconds(launch.timeoutMs)}`
            : code === 0
              ? null
              : code === 125 && limit !== ''
                ? 'the memory limit could not be set (ulimit -d)'
                : code !== null
                  ? `exited with code ${code}`
                  : `killed by ${signal}`;
        resolve({ exitCode: code, reason, timedOut, cancelled });
      });
    });
    return {
      done,
      cancel: () => {
        cancelled = true;
        killGroup();
      },
    };
  }
}
