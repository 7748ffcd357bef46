/**
 * The `evaluate` step in a child process: scoring a held-out file with a candidate model costs CPU (parsing,
 * inference, metrics) that must never stall the server's event loop, and a model that hangs or eats memory must
 * not take the server with it. `evaluateInChild` runs this file as a Node process, gives it the job on argv, reads
 * one JSON line back, and kills it at the step's timeout or on cancel.
 *
 * Run as a script: `node evaluate-process.ts <json>` prints `{"ok": Evaluation}` or `{"error": {code, message}}`.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ModelportError } from '../core/index.ts';
import type { Evaluation, EvaluationOptions } from './evaluation.ts';

export interface EvaluateJob extends Omit<EvaluationOptions, 'signal'> {
  model: string;
}

const SCRIPT = fileURLToPath(import.meta.url);

/** Runs the evaluation in a child process; rejects with the child's error, a timeout, or `cancelled`. */
export function evaluateInChild(
  job: EvaluateJob,
  options: { timeoutMs: number; signal?: AbortSignal; execPath?: string },
): Promise<Evaluation> {
  return new Promise((resolve, reject) => {
    const child = spawn(options.execPath ?? process.execPath, [SCRIPT, JSON.stringify(job)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let ended: string | undefined;
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    // Keep the end of stderr only: enough for a crash's last words.
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err = (err + c).slice(-2000)));
    const stop = (why: string) => {
      ended ??= why;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(
      () => stop(`evaluate: timed out after ${Math.round(options.timeoutMs / 1000)} s`),
      options.timeoutMs,
    );
    const onAbort = () => stop('cancelled');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    child.once('error', (error) => reject(error));
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (ended) return reject(new ModelportError(ended === 'cancelled' ? 'conflict' : 'timeout', ended));
      const last = out.trim().split('\n').at(-1) ?? '';
      try {
        const answer = JSON.parse(last) as { ok?: Evaluation; error?: { code: string; message: string } };
        if (answer.ok) return resolve(answer.ok);
        if (answer.error) {
          return reject(new ModelportError(answer.error.code as 'invalid_input', answer.error.message));
        }
      } catch {}
      const tail = err.trim().split('\n').slice(-3).join(' ');
      reject(
        new Error(`the evaluation process ${signal ? `was killed by ${signal}` : `exited with code ${code}`}: ${tail}`),
      );
    });
  });
}

async function main(arg: string): Promise<void> {
  const job = JSON.parse(arg) as EvaluateJob;
  const [{ InProcessScorer }, { evaluateModel }] = await Promise.all([
    import('../scoring/index.ts'),
    import('./evaluation.ts'),
  ]);
  const scorer = await InProcessScorer.open(job.model);
  try {
    const { model: _, ...options } = job;
    const result = await evaluateModel(scorer, scorer.signature, options);
    process.stdout.write(`${JSON.stringify({ ok: result })}\n`);
  } finally {
    await scorer.close();
  }
}

if (process.argv[1] === SCRIPT) {
  main(process.argv[2] ?? '{}').catch((error: unknown) => {
    const e = error instanceof ModelportError ? error : undefined;
    const message = e ? e.message : (error as Error).message;
    process.stdout.write(`${JSON.stringify({ error: { code: e?.code ?? 'invalid_model', message } })}\n`);
    process.exitCode = 1;
  });
}
