/**
 * `InProcessScorer`: ONNX Runtime in this process, through the `onnx` runtime kind. onnxruntime-node is imported
 * only when `open` is called, so CLI commands other than `score` never load it.
 *
 * Example: `const scorer = await InProcessScorer.open('/cache/ab12...onnx'); await scorer.score(input, ['label']);`
 */
import type { Tensor } from '../core/index.ts';
import type { ModelRuntime } from '../runtimes/index.ts';
import { createRuntime } from '../runtimes/index.ts';
import type { BatchScorer } from './scorer.ts';
import type { ScoringSignature } from './signature.ts';

export class InProcessScorer implements BatchScorer {
  readonly signature: ScoringSignature;
  readonly concurrency = 1;
  readonly #runtime: ModelRuntime;

  /** Use `InProcessScorer.open`; this wraps a runtime that is already loaded. */
  constructor(runtime: ModelRuntime) {
    this.#runtime = runtime;
    this.signature = runtime.signature();
  }

  /** Loads the (verified) model file at `path` with one intra-op thread (`js`: a model .tgz, see JsRuntime). */
  static async open(path: string, signal?: AbortSignal, kind: 'onnx' | 'js' = 'onnx'): Promise<InProcessScorer> {
    const runtime = await createRuntime(kind);
    await runtime.load({ path, settings: { warmup: false } }, signal);
    return new InProcessScorer(runtime);
  }

  score(input: Tensor, outputs: readonly string[]): Promise<Tensor[]> {
    return this.#runtime.predict([input], [...outputs]);
  }

  close(): Promise<void> {
    return this.#runtime.unload();
  }
}
