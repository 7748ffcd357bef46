/**
 * `inspectJsModel`: checks a js model archive at registration, so a broken one is refused before anything is
 * stored. The archive is unpacked (with `readTarGz`'s rules) into a temp folder, its manifest read, and its module
 * imported and `load`ed in a short-lived child process with an empty environment and a timeout. The temp folder is
 * removed whatever happens.
 *
 * A model's `load` therefore runs once at registration without the deployment's variables and secrets
 * (`context.env` is `{}`): read those lazily, or tolerate their absence in `load`.
 */
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModelSignature } from '../../core/index.ts';
import { childEnv, ModelportError } from '../../core/index.ts';
import { extractArchive } from './extract.ts';
import type { JsInspectReply, JsInspectRequest } from './inspect-main.ts';
import { readJsManifest } from './manifest.ts';
import type { TarLimits } from './tar-reader.ts';

const INSPECT_MAIN = fileURLToPath(new URL('./inspect-main.ts', import.meta.url));

export interface JsInspectOptions extends TarLimits {
  /** Kill the child and refuse the model when importing and `load` take longer. Default 30000 ms. */
  timeoutMs?: number;
  /** Where the temp folder is made. Default the OS temp folder. */
  workDir?: string;
  signal?: AbortSignal;
}

function refuse(message: string, cause?: unknown): ModelportError {
  return new ModelportError('invalid_model', message, { field: 'file', cause });
}

/** Runs the model's module in a child; resolves once it loaded, rejects with `invalid_model` otherwise. */
function loadInChild(dir: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
  const child = fork(INSPECT_MAIN, [], {
    execPath: process.execPath,
    execArgv: [],
    env: childEnv(),
    cwd: dir,
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
  });
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const finish = (error: ModelportError | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      if (error) reject(error);
      else resolve();
    };
    const onAbort = () => finish(new ModelportError('timeout', 'the model inspection was cancelled'));
    const timer = setTimeout(
      () => finish(refuse(`the js model did not load within ${timeoutMs} ms; the model is refused`)),
      timeoutMs,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('message', (reply: JsInspectReply) => finish(reply.ok ? undefined : refuse(reply.message)));
    child.on('error', (error) => finish(refuse('the js model inspector failed to start', error)));
    // 'close', not 'exit': it comes after the IPC channel has delivered the reply, which a child that
    // answers and exits at once can otherwise overtake under load.
    child.on('close', (code, exitSignal) =>
      finish(refuse(`the js model exited while loading (${exitSignal ?? `exit code ${code}`}); the model is refused`)),
    );
    child.send({ dir } satisfies JsInspectRequest);
  });
}

/**
 * Example: `await inspectJsModel('/tmp/upload.part')` -> the signature from modelport.json, once the module loaded.
 * Refuses with `invalid_model` (field `file`): a bad archive, a missing or wrong manifest, a module that cannot be
 * imported, has no `predict`, or whose `load` throws, hangs or exits. Messages never show server paths.
 */
export async function inspectJsModel(archive: string, options: JsInspectOptions = {}): Promise<ModelSignature> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  options.signal?.throwIfAborted();
  const temp = await mkdtemp(join(options.workDir ?? tmpdir(), 'modelport-js-inspect-'));
  try {
    const dir = join(temp, 'model');
    await extractArchive(archive, dir, options);
    const manifest = await readJsManifest(dir);
    await loadInChild(dir, timeoutMs, options.signal);
    return manifest.signature;
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}
