/**
 * The scoring pipeline: input chunks -> parse -> batch -> score -> format -> write, with backpressure end to end.
 *
 * Memory stays constant whatever the input size: the next chunk is read only after the batches it completed were
 * handed to the scorer, at most `scorer.concurrency` batches are in flight, and each formatted batch waits for the
 * output (and the rejects) to drain before the next is formatted. Rows come out in input order.
 *
 * Example:
 *   const summary = await scoreStream({ input: createReadStream('in.csv'), inputFormat: 'csv', output, scorer,
 *     signature, batchSize: 1024, keep: ['id'], onBadRow });
 */
import type { Tensor } from '../core/index.ts';
import { planColumns } from './columns.ts';
import { CsvBatchParser, type PlanBuilder } from './csv-batch-parser.ts';
import { JsonlBatchParser } from './jsonl-batch-parser.ts';
import { checkOutputs, predictionLayout } from './predictions.ts';
import { type BadRowHandler, type BatchParser, createRowBatch, type RowBatch } from './row-batch.ts';
import { createRowFormatter, type RowFormat, type RowFormatter } from './row-formatter.ts';
import type { BatchScorer } from './scorer.ts';
import { type ScoringSignature, scoringInput } from './signature.ts';

/** Where output bytes go; `write` resolves once the destination can take more (it drained). */
export interface ByteSink {
  write(chunk: Buffer): Promise<void>;
}

export interface ScoreStreamOptions {
  input: AsyncIterable<Buffer | string>;
  inputFormat: RowFormat;
  output: ByteSink;
  outputFormat: RowFormat;
  scorer: BatchScorer;
  /** The scorer's signature, with feature names and labels merged in (see `mergeSignature`). */
  signature: ScoringSignature;
  /** Rows per inference call; default 1024. */
  batchSize?: number;
  /** Input columns copied to the output before the predictions. */
  keep?: readonly string[];
  /** Called for each bad row; throw from it to stop the run. */
  onBadRow: BadRowHandler;
  /** Called after each input chunk with the rows scored and input bytes read so far. */
  onProgress?: (rows: number, bytes: number) => void;
  /** Awaited after each input chunk (flush rejects with backpressure, say). */
  afterChunk?: () => Promise<void>;
  signal?: AbortSignal;
}

export interface ScoreSummary {
  rows: number;
  bytes: number;
}

export async function scoreStream(options: ScoreStreamOptions): Promise<ScoreSummary> {
  const { scorer, signature, output } = options;
  const input = scoringInput(signature);
  const layout = predictionLayout(signature);
  const batchSize = options.batchSize ?? 1024;
  const keep = options.keep ?? [];
  const buildPlan: PlanBuilder = (header, columnCount) =>
    planColumns({ header, columnCount, width: input.width, featureNames: signature.featureNames, keep });
  const parser: BatchParser =
    options.inputFormat === 'csv'
      ? new CsvBatchParser(buildPlan, options.onBadRow)
      : new JsonlBatchParser(buildPlan, options.onBadRow);

  // Batches cycle through a fixed pool: filling -> in flight -> written -> free again.
  const free: RowBatch[] = [];
  const newBatch = () => free.pop() ?? createRowBatch(batchSize, input.width, keep.length, input.datatype);
  const inFlight: { batch: RowBatch; result: Promise<Tensor[]> }[] = [];
  let formatter: RowFormatter | undefined;
  let rows = 0;
  let bytes = 0;

  const writeOldest = async () => {
    const { batch, result } = inFlight.shift() as (typeof inFlight)[number];
    const outputs = await result;
    checkOutputs(layout, outputs, batch.rows);
    if (!formatter) {
      formatter = createRowFormatter(options.outputFormat, parser.keepNames ?? [], layout);
      const header = formatter.header();
      if (header.length > 0) await output.write(header);
    }
    await output.write(formatter.format(batch, outputs));
    rows += batch.rows;
    batch.rows = 0;
    free.push(batch);
  };

  const submit = async (batch: RowBatch) => {
    const n = batch.rows;
    const tensor: Tensor = {
      name: input.name,
      datatype: input.datatype,
      shape: [n, input.width],
      data: n === batch.capacity ? batch.features : batch.features.subarray(0, n * input.width),
    };
    const result = scorer.score(tensor, layout.outputs);
    result.catch(() => {}); // observed by writeOldest; avoids an unhandled rejection while earlier batches write
    inFlight.push({ batch, result });
    if (inFlight.length >= scorer.concurrency) await writeOldest();
  };

  let batch = newBatch();
  try {
    for await (const chunk of options.input) {
      options.signal?.throwIfAborted();
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      bytes += buffer.length;
      parser.push(buffer);
      while (parser.fill(batch)) {
        await submit(batch);
        batch = newBatch();
      }
      await options.afterChunk?.();
      options.onProgress?.(rows, bytes);
    }
    parser.end();
    while (parser.fill(batch)) {
      await submit(batch);
      batch = newBatch();
    }
    if (batch.rows > 0) await submit(batch);
    while (inFlight.length > 0) await writeOldest();
    await options.afterChunk?.();
    if (!formatter && parser.keepNames) {
      // No row scored, but the input had a header: still write the output's header.
      const header = createRowFormatter(options.outputFormat, parser.keepNames, layout).header();
      if (header.length > 0) await output.write(header);
    }
  } finally {
    await Promise.allSettled(inFlight.map((f) => f.result));
  }
  options.onProgress?.(rows, bytes);
  return { rows, bytes };
}
