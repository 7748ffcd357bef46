/**
 * Test helper: runs `worker-main.ts` as a bare child (no `WorkerProcess`), has it load one onnx model, and lets it
 * exit by closing its channel, so a test can read what a preload given in `execArgv` recorded at the worker's exit.
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { WorkerReply } from './messages.ts';

const WORKER_MAIN = fileURLToPath(new URL('./worker-main.ts', import.meta.url));

export async function runWorkerMainOnce(options: {
  execArgv: string[];
  env: Record<string, string>;
  /** The onnx model file to load. */
  model: string;
}): Promise<void> {
  const child = fork(WORKER_MAIN, [], {
    execArgv: options.execArgv,
    serialization: 'advanced',
    env: options.env,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc', 'pipe'],
  });
  const exited = once(child, 'exit');
  child.send({ type: 'load', id: 1, kind: 'onnx', options: { path: options.model } });
  const [reply] = (await once(child, 'message')) as [WorkerReply];
  assert.equal(reply.type, 'loaded');
  child.disconnect(); // the worker exits when its channel closes
  await exited;
}
