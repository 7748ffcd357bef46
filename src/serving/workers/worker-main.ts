/**
 * Worker process entry: forked by `WorkerProcess`, it loads one model version with one runtime and answers
 * `WorkerRequest`s (IPC: load, unload, stats) and predict frames (`frames.ts`, on the pipe at fd 4). It exits when
 * either channel closes, so a dead or exiting parent never leaves it behind; a malformed frame ends it too.
 */
import { flushCompileCache } from 'node:module';
import { Socket } from 'node:net';
import type { Tensor } from '../../core/index.ts';
import { ModelportError } from '../../core/index.ts';
import { createLogger } from '../../logging/index.ts';
import { createRuntime, type ModelRuntime } from '../../runtimes/index.ts';
import { SPAN_ERROR, startTracing, type Tracing } from '../../tracing/index.ts';
import { WARM_COMPILE_CACHE } from './compile-cache.ts';
import { encodeError, encodePredicted, type Frame, FrameReader, FrameWriter } from './frames.ts';
import { IdleCollector } from './idle-collector.ts';
import type { WorkerReply, WorkerRequest, WorkerStats } from './messages.ts';

const workerLog = createLogger().child({ component: 'worker', pid: process.pid });
let runtime: ModelRuntime | undefined;
/** Set when the gateway traces: each traced batch gets a `worker compute` span, the child of the batch's. */
let tracing: Tracing | undefined;
const stats: WorkerStats = { pid: process.pid, batches: 0, rows: 0, batchSizes: {} };

function reply(message: WorkerReply): void {
  if (process.connected) process.send?.(message);
}

function failure(id: number, error: unknown): WorkerReply {
  if (error instanceof ModelportError) {
    const base = { type: 'error', id, code: error.code, message: error.message } as const;
    const withField = error.field === undefined ? base : { ...base, field: error.field };
    return error.cause instanceof Error ? { ...withField, detail: error.cause.message } : withField;
  }
  // Runtime errors (ORT's, say) go to the server log only: they may quote internals of the model.
  const detail = error instanceof Error ? error.message : String(error);
  return { type: 'error', id, code: 'internal', message: 'the model failed to run this request', detail };
}

function rowsOf(inputs: Tensor[]): number {
  return inputs[0]?.shape[0] ?? 1;
}

async function handle(message: WorkerRequest): Promise<WorkerReply> {
  switch (message.type) {
    case 'load': {
      if (runtime) throw new ModelportError('conflict', 'this worker already holds a model');
      // This process's environment is exactly the deployment's variables and secrets (WorkerProcess never copies the
      // gateway's): the one place a runtime's environment is read.
      if (message.tracing) tracing = await startTracing({ ...message.tracing, serviceName: 'modelport-worker' });
      const created = await createRuntime(message.kind, { env: process.env, log: workerLog });
      await created.load(message.options);
      runtime = created;
      const warmupError = created.warmupError;
      const loaded = { type: 'loaded', id: message.id, signature: created.signature() } as const;
      return warmupError === undefined ? loaded : { ...loaded, warmupError };
    }
    case 'unload': {
      const current = runtime;
      runtime = undefined;
      await current?.unload();
      return { type: 'unloaded', id: message.id };
    }
    case 'ping':
      return { type: 'pong', id: message.id, stats };
  }
}

async function predict(inputs: Tensor[], outputs: string[] | undefined): Promise<Tensor[]> {
  if (!runtime) throw new ModelportError('not_ready', 'the worker has no model loaded');
  const result = await runtime.predict(inputs, outputs);
  const rows = rowsOf(inputs);
  stats.batches++;
  stats.rows += rows;
  stats.batchSizes[rows] = (stats.batchSizes[rows] ?? 0) + 1;
  return result;
}

// Started by `warmWorkerCompileCache`: load what a worker of this kind loads, write the compile cache, and go.
if (process.argv[2] === WARM_COMPILE_CACHE) {
  await createRuntime(process.argv[3] ?? '', { env: {}, log: workerLog }).catch(() => undefined);
  flushCompileCache();
  process.exit(0);
}

const data = new Socket({ fd: 4, readable: true, writable: true });
const frames = new FrameWriter(data);
const reader = new FrameReader();
/** Batches received and not yet answered. */
let running = 0;
// `gc` is there when the worker runs with `--expose-gc` (WORKER_FLAGS; a js model's worker keeps V8's defaults).
const exposedGc = (globalThis as { gc?: () => void }).gc;
const collector = exposedGc ? new IdleCollector({ collect: exposedGc }) : undefined;

function answer(frame: Extract<Frame, { kind: 'predict' }>): void {
  const span =
    tracing && frame.traceparent !== undefined
      ? tracing.startChild('worker compute', frame.traceparent, {
          attributes: { 'modelport.batch.rows': rowsOf(frame.inputs), 'modelport.worker.pid': process.pid },
        })
      : undefined;
  running++;
  predict(frame.inputs, frame.outputs).then(
    (outputs) => {
      span?.end();
      frames.write(encodePredicted(frame.id, outputs));
      collector?.batchDone(--running);
    },
    (error: unknown) => {
      const { type: _, id: __, ...failed } = failure(frame.id, error) as Extract<WorkerReply, { type: 'error' }>;
      span?.setStatus({ code: SPAN_ERROR, message: failed.code });
      span?.end();
      frames.write(encodeError(frame.id, failed));
      collector?.batchDone(--running);
    },
  );
}

/** Exits once buffered spans are exported (at most 2 s), so a worker's last batches still reach the collector. */
function exit(code: number): void {
  if (!tracing) process.exit(code);
  const timer = setTimeout(() => process.exit(code), 2000);
  tracing.shutdown().finally(() => {
    clearTimeout(timer);
    process.exit(code);
  });
}

data.on('data', (chunk: Buffer) => {
  let received: Frame[];
  try {
    received = reader.push(chunk);
  } catch (error) {
    process.stderr.write(`modelport worker: ${(error as Error).message}; exiting\n`);
    process.exit(70);
  }
  for (const frame of received) if (frame.kind === 'predict') answer(frame);
});
data.on('close', () => exit(0));
data.on('error', () => exit(0));

process.on('message', (message: WorkerRequest) => {
  handle(message).then(reply, (error: unknown) => reply(failure(message.id, error)));
});
process.on('disconnect', () => exit(0));
