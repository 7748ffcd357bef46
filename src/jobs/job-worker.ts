/**
 * Child process entry of a scoring job: forked by `runJobProcess`, it takes one `JobTask`, scores the input file with
 * ONNX Runtime through `scoreStream` (so inference never runs on the server's event loop), reports progress at most
 * 5 times a second, and exits. It exits as well when its channel closes (the server went away or cancelled it).
 */
import { createReadStream } from 'node:fs';
import { ModelportError } from '../core/index.ts';
import { fileSink, InProcessScorer, mergeSignature, RejectsWriter, scoreStream } from '../scoring/index.ts';
import type { JobTask, JobWorkerMessage } from './job-messages.ts';

const PROGRESS_INTERVAL_MS = 200;

function send(message: JobWorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected) return resolve();
    process.send?.(message, () => resolve());
  });
}

function failure(error: unknown): JobWorkerMessage {
  if (error instanceof ModelportError) {
    const base = { type: 'failed', code: error.code, message: error.message } as const;
    return error.cause instanceof Error ? { ...base, detail: error.cause.message } : base;
  }
  // ONNX Runtime's and the file system's messages go to the log only: they may quote paths or model internals.
  const detail = error instanceof Error ? error.message : String(error);
  return {
    type: 'failed',
    code: 'internal',
    message: 'scoring failed unexpectedly; the server log has the details',
    detail,
  };
}

async function run(task: JobTask): Promise<JobWorkerMessage> {
  const scorer = await InProcessScorer.open(task.modelPath);
  const output = fileSink(task.outputPath);
  const rejectsSink = task.rejectsPath === undefined ? undefined : fileSink(task.rejectsPath);
  const rejects = new RejectsWriter(rejectsSink);
  let last = 0;
  try {
    const summary = await scoreStream({
      input: createReadStream(task.inputPath, { highWaterMark: 256 * 1024 }),
      inputFormat: task.inputFormat,
      output,
      outputFormat: task.outputFormat,
      scorer,
      signature: mergeSignature(scorer.signature, {
        ...(task.featureNames ? { featureNames: task.featureNames } : {}),
        ...(task.labels ? { labels: task.labels } : {}),
      }),
      batchSize: task.batchSize,
      keep: task.keep,
      onBadRow(line, reason, record) {
        if (task.onError === 'fail') {
          throw new ModelportError(
            'invalid_input',
            `line ${line}: ${reason}; fix the row, or submit the job with onError skip to set bad rows aside`,
            { field: 'input' },
          );
        }
        rejects.add(line, reason, record);
      },
      afterChunk: () => rejects.flush(),
      onProgress: (rows, bytes) => {
        const now = Date.now();
        if (now - last < PROGRESS_INTERVAL_MS) return;
        last = now;
        void send({ type: 'progress', rows, bytes, rejects: rejects.count });
      },
    });
    await output.commit();
    await rejectsSink?.commit();
    return { type: 'done', rows: summary.rows, bytes: summary.bytes, rejects: rejects.count };
  } catch (error) {
    await output.abort();
    await rejectsSink?.abort();
    throw error;
  } finally {
    await scorer.close();
  }
}

process.once('message', (task: JobTask) => {
  run(task)
    .catch(failure)
    .then(send)
    .finally(() => process.exit(0));
});
process.on('disconnect', () => process.exit(0));
