/**
 * The typed control messages between a `WorkerProcess` (parent) and `worker-main.ts` (child). They cross the IPC
 * channel with `serialization: 'advanced'` (the V8 serializer). Every request carries an `id`; the reply with the
 * same `id` answers it. Batches do not travel here: predict and its answer are binary frames (`frames.ts`) on a
 * pipe of their own, and reach the parent's code as a `predicted` or `error` reply.
 */
import type { ErrorCode, ModelSignature, Tensor } from '../../core/index.ts';
import type { RuntimeKind, RuntimeLoadOptions } from '../../runtimes/index.ts';
import type { TracingSettings } from '../../tracing/index.ts';

export type WorkerRequest =
  | { type: 'load'; id: number; kind: RuntimeKind; options: RuntimeLoadOptions; tracing?: TracingSettings }
  | { type: 'unload'; id: number }
  | { type: 'ping'; id: number };

/** Counters a worker keeps since it started. `batchSizes` maps a batch's row count to how many batches had it. */
export interface WorkerStats {
  pid: number;
  batches: number;
  rows: number;
  batchSizes: Record<number, number>;
}

export type WorkerReply =
  | { type: 'loaded'; id: number; signature: ModelSignature; warmupError?: string }
  | { type: 'predicted'; id: number; outputs: Tensor[] }
  | { type: 'unloaded'; id: number }
  | { type: 'pong'; id: number; stats: WorkerStats }
  /** `detail` is for the server log only (it may quote the model); `message` may reach clients. */
  | { type: 'error'; id: number; code: ErrorCode; message: string; field?: string; detail?: string };
