/**
 * `inspectOnnxModel`: the signature of an ONNX file, read by ONNX Runtime in a short-lived child process, so a
 * hostile file that crashes or hangs ORT cannot take the server down.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ModelSignature } from '../../core/index.ts';
import { childEnv, ModelportError } from '../../core/index.ts';
import type { InspectReply, InspectRequest } from './inspect-main.ts';
import { sniffModelFile } from './sniff.ts';

const INSPECT_MAIN = fileURLToPath(new URL('./inspect-main.ts', import.meta.url));

export interface InspectOptions {
  /** Kill the inspector and refuse the file after this long. Default 30000 (loading ORT itself takes ~0.2 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

function refuse(message: string, cause?: unknown): ModelportError {
  return new ModelportError('invalid_model', message, { field: 'file', cause });
}

/**
 * Example: `await inspectOnnxModel(file)` -> `{ inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 30],
 * dimNames: ['N', null] }], outputs: [...] }`. Dynamic dimensions are -1; `dimNames` keeps the model's labels.
 *
 * Refuses with `invalid_model` (field `file`) anything that is not a loadable ONNX model: pickles, zip archives and
 * YAML are refused by their bytes before ORT sees them; the rest by ORT. Messages never echo the server path.
 */
export async function inspectOnnxModel(path: string, options: InspectOptions = {}): Promise<ModelSignature> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new ModelportError('invalid_request', 'timeoutMs: must be a positive number of milliseconds', {
      field: 'timeoutMs',
    });
  }
  options.signal?.throwIfAborted();
  await sniffModelFile(path);
  const child = fork(INSPECT_MAIN, [], {
    execPath: process.execPath,
    execArgv: [],
    env: childEnv(),
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
  });
  return new Promise<ModelSignature>((resolve, reject) => {
    let settled = false;
    const finish = (error: ModelportError | undefined, signature?: ModelSignature) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      if (error) reject(error);
      else resolve(signature as ModelSignature);
    };
    const onAbort = () => finish(new ModelportError('timeout', 'the model inspection was cancelled'));
    const timer = setTimeout(
      () => finish(refuse(`ONNX Runtime did not load the model within ${timeoutMs} ms; the file is refused`)),
      timeoutMs,
    );
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('message', (reply: InspectReply) => {
      if (reply.ok) finish(undefined, reply.signature);
      else finish(refuse(`ONNX Runtime cannot load the model: ${reply.message}`));
    });
    child.on('error', (error) => finish(refuse('the model inspector failed to start', error)));
    // 'close', not 'exit': it comes after the IPC channel has delivered the reply, which a child that
    // answers and exits at once can otherwise overtake under load.
    child.on('close', (code, signal) =>
      finish(
        refuse(`ONNX Runtime crashed while loading the model (${signal ?? `exit code ${code}`}); the file is refused`),
      ),
    );
    child.send({ path } satisfies InspectRequest);
  });
}
