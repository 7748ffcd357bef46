/**
 * A CSV parse worker (worker thread): parses slices of the input that start on a record boundary into row batches
 * and posts them back, the feature matrices transferred without copying. Started by `CsvParsePool`.
 *
 * A slice that is not the input's last must end exactly on a record's end; `rest` reports the bytes of a record it
 * left open (the cut fell inside a quoted field), and the caller then parses from there itself.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ColumnPlan } from './columns.ts';
import { CsvBatchParser } from './csv-batch-parser.ts';
import type { RowBatch } from './row-batch.ts';

export interface ParseWorkerSetup {
  plan: ColumnPlan;
  batchSize: number;
  width: number;
  keepCount: number;
  datatype: 'FP32' | 'FP64';
}

export interface ParseRequest {
  id: number;
  bytes: Uint8Array;
  /** The input's last slice: a record without a final newline is complete. */
  last: boolean;
  /** Feature matrices the caller is done with, given back for reuse. */
  spare: ArrayBuffer[];
}

export interface ParsedBatch {
  rows: number;
  /** `batchSize * width` values, the first `rows * width` filled. */
  features: Float32Array | Float64Array;
  kept: unknown[];
}

export interface ParseReply {
  id: number;
  batches: ParsedBatch[];
  /** Bad rows: line within the slice (from 1), reason, record. */
  bad: [number, string, string][];
  /** Physical lines the slice's complete records span. */
  lines: number;
  /** Bytes at the end of the slice that do not complete a record (0 when the cut was on a record's end). */
  rest: number;
  /** The request's bytes, transferred back (the caller re-reads them when the cut was wrong). */
  bytes: Uint8Array;
  error?: string;
}

const port = parentPort;
if (port) {
  const setup = workerData as ParseWorkerSetup;
  const { plan, batchSize, width, keepCount, datatype } = setup;
  const values = batchSize * width;
  const bytesPerValue = datatype === 'FP32' ? 4 : 8;
  const spare: ArrayBuffer[] = [];
  const newBatch = (): RowBatch => {
    const buffer = spare.pop() ?? new ArrayBuffer(values * bytesPerValue);
    return {
      capacity: batchSize,
      rows: 0,
      features: datatype === 'FP32' ? new Float32Array(buffer) : new Float64Array(buffer),
      kept: new Array<unknown>(batchSize * keepCount).fill(''),
    };
  };
  port.on('message', (request: ParseRequest) => {
    for (const buffer of request.spare) if (buffer.byteLength === values * bytesPerValue) spare.push(buffer);
    const bad: ParseReply['bad'] = [];
    const batches: ParsedBatch[] = [];
    try {
      const parser = new CsvBatchParser(
        () => plan,
        (line, reason, record) => {
          bad.push([line, reason, record]);
        },
        { plan, line: 1 },
      );
      parser.push(Buffer.from(request.bytes.buffer, request.bytes.byteOffset, request.bytes.byteLength));
      if (request.last) parser.end();
      for (;;) {
        const batch = newBatch();
        const full = parser.fill(batch);
        if (batch.rows > 0) batches.push({ rows: batch.rows, features: batch.features, kept: batch.kept });
        else spare.push(batch.features.buffer as ArrayBuffer);
        if (!full) break;
      }
      const reply: ParseReply = {
        id: request.id,
        batches,
        bad,
        lines: parser.line - 1,
        rest: parser.pendingBytes,
        bytes: request.bytes,
      };
      port.postMessage(reply, [
        request.bytes.buffer as ArrayBuffer,
        ...batches.map((b) => b.features.buffer as ArrayBuffer),
      ]);
    } catch (error) {
      const reply: ParseReply = {
        id: request.id,
        batches: [],
        bad,
        lines: 0,
        rest: 0,
        bytes: request.bytes,
        error: String(error),
      };
      port.postMessage(reply);
    }
  });
  port.postMessage({ ready: true });
}
