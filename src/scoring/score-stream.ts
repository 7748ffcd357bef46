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
import { availableParallelism } from 'node:os';
import type { Tensor } from '../core/index.ts';
import { planColumns } from './columns.ts';
import { CsvBatchParser, type PlanBuilder } from './csv-batch-parser.ts';
import type { ParseReply } from './csv-parse-worker.ts';
import { JsonlBatchParser } from './jsonl-batch-parser.ts';
import { CsvParsePool, RecordCutter } from './parallel-csv.ts';
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
  /**
   * CSV: worker threads that parse slices of the input while this thread scores and writes (default: one fewer than
   * the cores, 1 to 3, so the threads match the cores; 0 parses on this thread). Output, bad rows and line numbers are the same either way.
   */
  parseThreads?: number;
  /** CSV: bytes parsed on this thread before the workers start (default 4 MiB), so small inputs never start one. */
  parallelAfterBytes?: number;
  /** CSV: wait for the workers once started instead of parsing on this thread while they start (for tests). */
  waitForWorkers?: boolean;
}

/** Output bytes gathered before a write. */
const WRITE_BYTES = 1 << 20;
/** Bytes held without a record's end before the workers give way to this thread (a lone-CR file, a stray quote). */
const MAX_UNCUT_BYTES = 16 * 1024 * 1024;

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
  let parser: BatchParser =
    options.inputFormat === 'csv'
      ? new CsvBatchParser(buildPlan, options.onBadRow)
      : new JsonlBatchParser(buildPlan, options.onBadRow);

  // Batches cycle through a fixed pool: filling -> in flight -> written -> free again. Batches parsed by the
  // workers are not pooled (their matrices were transferred here).
  const free: RowBatch[] = [];
  const pooled = new WeakSet<RowBatch>();
  const newBatch = () => {
    const reused = free.pop();
    if (reused) return reused;
    const created = createRowBatch(batchSize, input.width, keep.length, input.datatype);
    pooled.add(created);
    return created;
  };
  const inFlight: { batch: RowBatch; result: Promise<Tensor[]> }[] = [];
  /** Workers' feature matrices that were scored and written, to go back with the next slice. */
  const spareFeatures: ArrayBuffer[] = [];
  let formatter: RowFormatter | undefined;
  let rows = 0;
  let bytes = 0;

  // Formatted batches are written in runs of about 1 MiB: a write costs about as much CPU for 25 KB as for 1 MB.
  const unwritten: Buffer[] = [];
  let unwrittenBytes = 0;
  const flush = async () => {
    if (unwrittenBytes === 0) return;
    const chunk = unwritten.length === 1 ? (unwritten[0] as Buffer) : Buffer.concat(unwritten, unwrittenBytes);
    unwritten.length = 0;
    unwrittenBytes = 0;
    await output.write(chunk);
  };

  const writeOldest = async () => {
    const { batch, result } = inFlight.shift() as (typeof inFlight)[number];
    const outputs = await result;
    checkOutputs(layout, outputs, batch.rows);
    if (!formatter) {
      formatter = createRowFormatter(options.outputFormat, parser.keepNames ?? [], layout);
      const header = formatter.header();
      if (header.length > 0) await output.write(header);
    }
    const formatted = formatter.format(batch, outputs);
    unwritten.push(formatted);
    unwrittenBytes += formatted.length;
    if (unwrittenBytes >= WRITE_BYTES) await flush();
    rows += batch.rows;
    batch.rows = 0;
    if (pooled.has(batch)) free.push(batch);
    else if (spareFeatures.length < 64) spareFeatures.push(batch.features.buffer as ArrayBuffer);
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
  const parseHere = async () => {
    while (parser.fill(batch)) {
      await submit(batch);
      batch = newBatch();
    }
  };

  // CSV on several cores: once the header is read and enough input seen, slices go to parse workers; their replies
  // are taken in input order, with line numbers counted on from where this thread stopped.
  const threads =
    options.inputFormat === 'csv' ? (options.parseThreads ?? Math.max(1, Math.min(3, availableParallelism() - 1))) : 0;
  const parallelAfter = options.parallelAfterBytes ?? 4 * 1024 * 1024;
  let pool: CsvParsePool | undefined;
  let cutter: RecordCutter | undefined;
  let fellBack = false;
  /** Line the next slice starts on. */
  let line = 1;
  const slices: Promise<ParseReply>[] = [];
  const sendSlice = (slice: Uint8Array, last: boolean) => {
    const reply = (pool as CsvParsePool).parse(slice, last, spareFeatures.splice(0));
    reply.catch(() => {}); // observed in order by takeSlice; avoids an unhandled rejection if a worker dies
    slices.push(reply);
  };

  const startWorkers = () => {
    const plan = (parser as CsvBatchParser).plan;
    if (threads <= 0 || fellBack || pool || !plan || bytes < parallelAfter) return;
    pool = new CsvParsePool(threads, {
      plan,
      batchSize,
      width: input.width,
      keepCount: keep.length,
      datatype: input.datatype,
    });
  };
  const switchToWorkers = async () => {
    if (pool && !cutter && options.waitForWorkers) await pool.started();
    if (!pool?.ready || cutter) return;
    if (batch.rows > 0) {
      await submit(batch);
      batch = newBatch();
    }
    const csv = parser as CsvBatchParser;
    line = csv.line;
    cutter = new RecordCutter(csv.takeRest());
  };
  /** Back to this thread for the rest of the input: a cut fell inside a record, or no record ends in sight. */
  const fallBack = async (rest: Uint8Array) => {
    const plan = (parser as CsvBatchParser).plan as NonNullable<CsvBatchParser['plan']>;
    const later = slices.splice(0);
    const tail = (cutter as RecordCutter).takeRest();
    cutter = undefined;
    fellBack = true;
    parser = new CsvBatchParser(buildPlan, options.onBadRow, { plan, line });
    parser.push(Buffer.from(rest));
    await parseHere();
    for (const reply of later) {
      parser.push(Buffer.from((await reply).bytes));
      await parseHere();
    }
    parser.push(Buffer.from(tail));
    await parseHere();
    await pool?.close();
    pool = undefined;
  };
  const takeSlice = async () => {
    const reply = await (slices.shift() as Promise<ParseReply>);
    for (const [at, reason, record] of reply.bad) options.onBadRow(line + at - 1, reason, record);
    for (const parsed of reply.batches) {
      await submit({ capacity: batchSize, rows: parsed.rows, features: parsed.features, kept: parsed.kept });
    }
    line += reply.lines;
    if (reply.rest === 0) cutter?.recycle(reply.bytes.buffer as ArrayBuffer);
    if (reply.rest > 0) await fallBack(reply.bytes.subarray(reply.bytes.length - reply.rest));
  };

  try {
    for await (const chunk of options.input) {
      options.signal?.throwIfAborted();
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      bytes += buffer.length;
      if (cutter && pool) {
        const slice = cutter.push(buffer);
        if (slice) sendSlice(slice, false);
        while (cutter && slices.length >= 2 * pool.threads) await takeSlice();
        if (cutter && cutter.pending > MAX_UNCUT_BYTES) {
          while (cutter && slices.length > 0) await takeSlice();
          if (cutter) await fallBack(new Uint8Array(0));
        }
      } else {
        parser.push(buffer);
        await parseHere();
        startWorkers();
        await switchToWorkers();
      }
      await options.afterChunk?.();
      options.onProgress?.(rows, bytes);
    }
    if (cutter && pool) {
      sendSlice(cutter.takeRest(), true);
      while (cutter && slices.length > 0) await takeSlice();
    }
    if (!cutter) {
      parser.end();
      await parseHere();
    }
    if (batch.rows > 0) await submit(batch);
    while (inFlight.length > 0) await writeOldest();
    await flush();
    await options.afterChunk?.();
    if (!formatter && parser.keepNames) {
      // No row scored, but the input had a header: still write the output's header.
      const header = createRowFormatter(options.outputFormat, parser.keepNames, layout).header();
      if (header.length > 0) await output.write(header);
    }
  } finally {
    await Promise.allSettled(inFlight.map((f) => f.result));
    await Promise.allSettled(slices);
    await pool?.close();
  }
  options.onProgress?.(rows, bytes);
  return { rows, bytes };
}
