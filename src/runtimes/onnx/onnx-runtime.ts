/**
 * `OnnxRuntime`: the `onnx` runtime kind, ONNX Runtime (onnxruntime-node) on the CPU.
 *
 * Runs only inside worker processes: `session.run` executes on the JavaScript thread and would stall the gateway.
 */
import type * as ort from 'onnxruntime-node';
import type { ModelSignature, Tensor } from '../../core/index.ts';
import { ModelportError } from '../../core/index.ts';
import type { ModelRuntime, RuntimeLoadOptions } from '../runtime.ts';
import { compileRuntimeSettings, notLoaded } from '../runtime.ts';
import { zeroBatch } from '../zero-batch.ts';
import { fromOrtTensor, toOrtTensor } from './convert.ts';
import { createSession, sessionSignature } from './session.ts';

/**
 * Example: `const rt = new OnnxRuntime(); await rt.load({ path, settings: { intraOpNumThreads: 2 } });
 * const [probability] = await rt.predict([{ name: 'input', datatype: 'FP32', shape: [2, 30], data }]);`
 */
export class OnnxRuntime implements ModelRuntime {
  #session: ort.InferenceSession | undefined;
  #signature: ModelSignature | undefined;
  /** Why the warm-up run failed, if it did. Not fatal: some models need real values (a sample rate, say). */
  warmupError: string | undefined;

  async load(options: RuntimeLoadOptions, signal?: AbortSignal): Promise<void> {
    if (this.#session) throw new ModelportError('conflict', 'the runtime already holds a model; unload it first');
    const settings = compileRuntimeSettings(options.settings);
    signal?.throwIfAborted();
    this.warmupError = undefined;
    const session = await createSession(options.path, settings).catch((error: unknown) => {
      throw new ModelportError('invalid_model', 'ONNX Runtime cannot load the model file', { cause: error });
    });
    try {
      signal?.throwIfAborted();
      const signature = sessionSignature(session);
      if (settings.warmup) {
        try {
          // logSeverityLevel 4: a failed warm-up is expected for some models and must not flood the log.
          await session.run(feeds(zeroBatch(signature)), { logSeverityLevel: 4 });
        } catch (error) {
          this.warmupError = error instanceof Error ? error.message : String(error);
        }
        signal?.throwIfAborted();
      }
      this.#session = session;
      this.#signature = signature;
    } catch (error) {
      await session.release();
      throw error;
    }
  }

  signature(): ModelSignature {
    if (!this.#signature) throw notLoaded();
    return this.#signature;
  }

  async predict(batch: Tensor[], outputs?: string[]): Promise<Tensor[]> {
    const session = this.#session;
    if (!session || !this.#signature) throw notLoaded();
    const fetches = outputs ?? this.#signature.outputs.map((o) => o.name);
    const results = await session.run(feeds(batch), fetches);
    return fetches.map((name) => {
      const value = results[name];
      if (!value) throw new ModelportError('internal', `the model did not return output '${name}'`);
      return fromOrtTensor(name, value);
    });
  }

  async unload(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    this.#signature = undefined;
    await session?.release();
  }
}

function feeds(batch: Tensor[]): Record<string, ort.Tensor> {
  const result: Record<string, ort.Tensor> = {};
  for (const tensor of batch) result[tensor.name] = toOrtTensor(tensor);
  return result;
}
