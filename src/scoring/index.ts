/**
 * Batch scoring: CSV or JSON lines in, predictions out, streaming with constant memory. `scoreStream` is the
 * pipeline; a `BatchScorer` runs the model (in this process, or through a V2 endpoint); `cachedArtifact` fetches
 * and verifies the registry's model file. Importing this module never loads onnxruntime-node.
 */
export { type ArtifactDownloader, type ArtifactRef, cachedArtifact } from './artifact-cache.ts';
export { type ColumnPlan, type PlanOptions, planColumns } from './columns.ts';
export { CsvBatchParser } from './csv-batch-parser.ts';
export { InProcessScorer } from './in-process-scorer.ts';
export { JsonlBatchParser } from './jsonl-batch-parser.ts';
export { type PredictionLayout, predictionLayout } from './predictions.ts';
export { type BadRowHandler, type BatchParser, createRowBatch, type RowBatch } from './row-batch.ts';
export { createRowFormatter, type RowFormat, type RowFormatter } from './row-formatter.ts';
export { type ByteSink, type ScoreStreamOptions, type ScoreSummary, scoreStream } from './score-stream.ts';
export type { BatchScorer } from './scorer.ts';
export {
  mergeSignature,
  readSignatureFile,
  type ScoringInput,
  type ScoringSignature,
  scoringInput,
} from './signature.ts';
export { type CommittableSink, fileSink, RejectsWriter, streamSink } from './sinks.ts';
export { V2HttpScorer, type V2HttpScorerOptions } from './v2-http-scorer.ts';
