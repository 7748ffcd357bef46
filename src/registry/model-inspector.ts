/**
 * `modelInspector`: the `ModelInspector` the server gives the registry, choosing the check by format. Each check
 * runs the model's own loader in a short-lived child process, so a hostile or broken file is refused at
 * registration with `invalid_model` and nothing is stored:
 *
 * - `onnx`: refused when it uses external data (a model is one self-contained blob), then loaded by ONNX Runtime;
 * - `js`: a .tgz folder unpacked safely, its manifest read and its module's `load` run (src/runtimes/js);
 * - `hosted`: a YAML/JSON descriptor (src/runtimes/hosted) checked, and its endpoint checked by the egress guard.
 *
 * Example: `new ModelRegistry({ store, artifacts, inspector: modelInspector({ workDir: uploadDir }) })`.
 */

import type { ModelSignature } from '../core/index.ts';
import { ModelportError, Semaphore } from '../core/index.ts';
import {
  inspectJsModel,
  inspectOnnxModel,
  readHostedDescriptor,
  refuseExternalData,
  sniffModelFile,
} from '../runtimes/index.ts';
import type { ModelInspector } from './types.ts';

export interface ModelInspectorOptions {
  /** Where js archives are unpacked while they are checked (a temp folder inside it, removed afterwards). */
  workDir: string;
  /** Per model: ONNX Runtime's load, or a js module's import and `load`. Default 60000 ms. */
  timeoutMs?: number;
  /** Checks a hosted model's endpoint (the server's `EgressGuard`); absent: not checked at registration. */
  egress?: { check(url: string): Promise<unknown> };
  /** Checks running at once (each is a child process loading a runtime). Default 2. */
  maxConcurrent?: number;
}

export function modelInspector(options: ModelInspectorOptions): ModelInspector {
  const timeoutMs = options.timeoutMs ?? 60_000;
  // A burst of uploads must not start a burst of runtimes: each check is a process with a model in memory.
  const slots = new Semaphore(options.maxConcurrent ?? 2, { maxWaiting: 64, what: 'model checks' });
  return {
    inspect: (path: string, format: string) => slots.run(() => inspectOne(path, format)),
  };

  async function inspectOne(path: string, format: string): Promise<ModelSignature> {
    switch (format) {
      case 'onnx':
        // The sniff first, so a pickle or a zip is named as such rather than as a malformed protobuf.
        await sniffModelFile(path);
        await refuseExternalData(path);
        return inspectOnnxModel(path, { timeoutMs });
      case 'js':
        return inspectJsModel(path, { timeoutMs, workDir: options.workDir });
      case 'hosted': {
        const descriptor = await readHostedDescriptor(path);
        await options.egress?.check(descriptor.endpoint);
        return descriptor.signature;
      }
      default:
        throw new ModelportError(
          'invalid_request',
          `format: '${format}' is not a model format; use onnx, js or hosted`,
          {
            field: 'format',
          },
        );
    }
  }
}
