/**
 * Test fixture: model files for runtime, worker and batcher tests. Generated ones come from src/onnx (they exist on
 * a fresh clone); the real-world ones under ../shared/models exist only on the team's machines, so callers skip
 * with `SHARED_SKIP` when `sharedModel` returns undefined.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildCnnModel,
  buildCrashModel,
  buildDatatypesModel,
  buildLogisticRegressionModel,
  buildMultiInputModel,
  buildSumModel,
} from '../../onnx-builder/index.ts';

const SHARED_MODELS = fileURLToPath(new URL('../../../../shared/models/', import.meta.url));

export const SHARED_SKIP = `${SHARED_MODELS} is absent (a fresh clone has none); real-world model cases skipped`;

/** Path of a real-world model from ../shared/models (`sk_rf30`, `mnist_dynbatch`, ...), or undefined. */
export function sharedModel(name: string): string | undefined {
  const path = join(SHARED_MODELS, `${name}.onnx`);
  return existsSync(path) ? path : undefined;
}

/** 30 features, weights 0.01 * (i - 15), bias 0.2: input FP32 [N, 30] -> label INT64 [N], probabilities FP32 [N, 2]. */
export const LR_WEIGHTS = Array.from({ length: 30 }, (_, i) => 0.01 * (i - 15));

export interface TestModels {
  dir: string;
  lr: string;
  cnn: string;
  multi: string;
  datatypes: string;
  /** The conformance fakes: SumModel (a + b) and CrashModel (every run fails); `broken` is not ONNX (ErrorModel). */
  sum: string;
  crash: string;
  broken: string;
  cleanup(): Promise<void>;
}

/** Writes the generated models to a fresh temp folder; call `cleanup()` in `after`. */
export async function writeTestModels(): Promise<TestModels> {
  const dir = await mkdtemp(join(tmpdir(), 'modelport-models-'));
  const files = {
    lr: buildLogisticRegressionModel({ weights: LR_WEIGHTS, bias: 0.2, featureCount: 30 }),
    cnn: buildCnnModel({ seed: 1 }),
    multi: buildMultiInputModel(),
    datatypes: buildDatatypesModel(),
    sum: buildSumModel(),
    crash: buildCrashModel(),
    broken: new TextEncoder().encode('ErrorModel: these bytes are not an ONNX model'),
  };
  const paths: Record<string, string> = {};
  for (const [name, bytes] of Object.entries(files)) {
    paths[name] = join(dir, `${name}.onnx`);
    await writeFile(paths[name], bytes);
  }
  return {
    dir,
    lr: paths['lr'] as string,
    cnn: paths['cnn'] as string,
    multi: paths['multi'] as string,
    datatypes: paths['datatypes'] as string,
    sum: paths['sum'] as string,
    crash: paths['crash'] as string,
    broken: paths['broken'] as string,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** `rows` rows of 30 features, row r feature i = ((r * 31 + i) % 17) / 17 - 0.5 (deterministic). */
export function lrInput(rows: number, offset = 0): Float32Array {
  const data = new Float32Array(rows * 30);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < 30; i++) data[r * 30 + i] = (((r + offset) * 31 + i) % 17) / 17 - 0.5;
  }
  return data;
}

/** True while a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
