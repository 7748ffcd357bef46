/** Worker processes that run models, one model version per process, and the supervised pool of them. */
export type { WorkerReply, WorkerRequest, WorkerStats } from './messages.ts';
export { WorkerPool, type WorkerPoolEvent, type WorkerPoolOptions, type WorkerPoolStats } from './worker-pool.ts';
export { type WorkerExit, WorkerProcess, type WorkerProcessOptions, type WorkerState } from './worker-process.ts';
