/**
 * The one place that creates ONNX Runtime sessions and reads their signatures (used by OnnxRuntime in workers and
 * by the inspector child process; never imported by the gateway).
 */
import * as ort from 'onnxruntime-node';
import type { ModelSignature, TensorSpec } from '../../core/index.ts';
import { ModelportError } from '../../core/index.ts';
import type { RuntimeSettings } from '../runtime.ts';
import { compileRuntimeSettings } from '../runtime.ts';
import { v2Datatype } from './convert.ts';

/** A session from a file path or the file's bytes, with the model's settings (see `RuntimeSettings`). */
export function createSession(source: string | Uint8Array, settings?: RuntimeSettings): Promise<ort.InferenceSession> {
  const s = compileRuntimeSettings(settings);
  const options: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: s.intraOpNumThreads,
    interOpNumThreads: s.interOpNumThreads,
    graphOptimizationLevel: s.graphOptimizationLevel,
    executionMode: s.interOpNumThreads > 1 ? 'parallel' : 'sequential',
    logSeverityLevel: 3,
  };
  return typeof source === 'string'
    ? ort.InferenceSession.create(source, options)
    : ort.InferenceSession.create(source, options);
}

function spec(meta: ort.InferenceSession.ValueMetadata, role: 'input' | 'output'): TensorSpec | undefined {
  if (!meta.isTensor) {
    if (role === 'input') {
      throw new ModelportError(
        'invalid_model',
        `input '${meta.name}' is not a tensor (a sequence or map); re-export the model with tensor inputs`,
      );
    }
    return undefined;
  }
  const datatype = v2Datatype(meta.type);
  if (datatype === undefined) {
    throw new ModelportError(
      'invalid_model',
      `${role} '${meta.name}' has element type ${meta.type}, which is not supported`,
    );
  }
  // ORT reports a symbolic dimension as its label ('N') and an unknown one as '' (or a negative number).
  const shape = meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1));
  const dimNames = meta.shape.map((d) => (typeof d === 'string' && d !== '' ? d : null));
  return dimNames.some((n) => n !== null)
    ? { name: meta.name, datatype, shape, dimNames }
    : { name: meta.name, datatype, shape };
}

/**
 * The signature of a loaded session. Non-tensor outputs (a scikit-learn ZipMap, say) are left out, since V2 cannot
 * carry them; a model with non-tensor inputs or no tensor output is refused with `invalid_model`.
 */
export function sessionSignature(session: ort.InferenceSession): ModelSignature {
  const inputs = session.inputMetadata.map((m) => spec(m, 'input')).filter((s) => s !== undefined);
  const outputs = session.outputMetadata.map((m) => spec(m, 'output')).filter((s) => s !== undefined);
  if (outputs.length === 0) {
    throw new ModelportError('invalid_model', 'the model has no tensor output; re-export it with tensor outputs');
  }
  return { inputs, outputs };
}
