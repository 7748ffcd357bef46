/** Garbage collection of the artifact store that models and data share, safe while writers run. */
export { BlobGuard } from './blob-guard.ts';
export { collectGarbage, type GarbageCollectorDeps, type GcOptions, type GcReport } from './garbage-collector.ts';
