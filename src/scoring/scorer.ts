/**
 * The scoring contract: something that turns one [rows, width] input tensor into the model's outputs.
 *
 * `InProcessScorer` runs ONNX Runtime in this process (the default of `modelport score`); `V2HttpScorer` posts to a
 * served model's Open Inference Protocol endpoint (`--url`). Both report the model's signature once open.
 */
import type { Tensor } from '../core/index.ts';
import type { ScoringSignature } from './signature.ts';

export interface BatchScorer {
  /** The model's tensors (and, when the source knows them, feature names and labels). */
  readonly signature: ScoringSignature;
  /** Batches worth having in flight at once (in-process: 1, since ONNX Runtime runs on this thread). */
  readonly concurrency: number;
  /** Runs one batch; resolves with the tensors named by `outputs`, in that order. */
  score(input: Tensor, outputs: readonly string[]): Promise<Tensor[]>;
  /** Releases the model or connections; idempotent. */
  close(): Promise<void>;
}
