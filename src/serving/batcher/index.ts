/** Dynamic batching of inference requests per model version. */
export { compileBatcherOptions, type DynamicBatcherConfig, type DynamicBatcherOptions } from './batcher-options.ts';
export {
  type BatchExecutor,
  type BatchObserver,
  DynamicBatcher,
  type DynamicBatcherStats,
  type SubmitContext,
} from './dynamic-batcher.ts';
export { concatBatch, splitBatch } from './tensor-batch.ts';
