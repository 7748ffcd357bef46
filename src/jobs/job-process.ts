/**
 * `runJobProcess`: runs one `JobTask` in a child process (`job-worker.ts`) and resolves with its counts. Aborting
 * the signal kills the child (SIGKILL: a cancelled job stops at once, its partial files are the caller's to remove).
 *
 * Example: `const counts = await runJobProcess(task, { signal, onProgress: (c) => save(c) });`
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { childEnv, ModelportError } from '../core/index.ts';
import type { JobCounts, JobTask, JobWorkerMessage } from './job-messages.ts';

const JOB_WORKER = fileURLToPath(new URL('./job-worker.ts', import.meta.url));

export interface JobProcessOptions {
  signal?: AbortSignal;
  onProgress?: (counts: JobCounts) => void;
  /** Gets `detail` of a failure (ORT's own message, say), which never reaches clients. */
  onDetail?: (detail: string) => void;
}

export function runJobProcess(task: JobTask, options: JobProcessOptions = {}): Promise<JobCounts> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    // An empty environment: the server's variables (credentials among them) never reach the child.
    const child = fork(JOB_WORKER, [], {
      execPath: process.execPath,
      execArgv: [],
      serialization: 'advanced',
      env: childEnv(),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result: JobWorkerMessage | undefined;
    const kill = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    signal?.addEventListener('abort', kill, { once: true });
    child.on('message', (message: JobWorkerMessage) => {
      if (message.type === 'progress') options.onProgress?.(message);
      else result = message;
    });
    child.on('error', () => kill());
    child.on('exit', (code, exitSignal) => {
      signal?.removeEventListener('abort', kill);
      if (signal?.aborted) return reject(signal.reason);
      if (result?.type === 'done') return resolve({ rows: result.rows, bytes: result.bytes, rejects: result.rejects });
      if (result?.type === 'failed') {
        if (result.detail !== undefined) options.onDetail?.(result.detail);
        return reject(new ModelportError(result.code, result.message));
      }
      reject(
        new ModelportError(
          'worker_failed',
          `the scoring process exited unexpectedly (${exitSignal ?? `code ${code}`}); submit the job again`,
        ),
      );
    });
    child.send(task);
  });
}
