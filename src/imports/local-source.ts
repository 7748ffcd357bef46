/**
 * What `modelport models import <name> <path>` uploads for a local path, decided on this machine:
 *
 * - a folder with `MLmodel` (MLflow, onnx flavor): its .onnx file, with the MLflow signature summarised into the
 *   version's description and tags (`mlflow.signature.inputs`, `mlflow.signature.outputs`);
 * - a folder with `modelport.json` (a js model): packed into a .tgz;
 * - a .tgz / .tar.gz file: a js model archive;
 * - any other file: an ONNX model.
 *
 * An ONNX file that uses external data is refused here already when a location leaves its folder (the server
 * refuses any external data: a version is one self-contained file).
 *
 * Example: `const source = await localImport('./mlruns/0/abc/artifacts/model', tmp); try { upload(source.file) }
 * finally { await source.cleanup() }`
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelportError } from '../core/index.ts';
import { locationInsideFolder, MANIFEST_FILE, onnxExternalData, packFolder } from '../runtimes/index.ts';
import { sniffFormat } from './format.ts';
import { describeMlflowSpecs, readMlflowModel } from './mlflow.ts';

export interface LocalImport {
  file: string;
  format: 'onnx' | 'js';
  /** What the import learnt about the model (from an MLmodel file), to record on the version. */
  description?: string;
  tags: Record<string, string>;
  /** Removes any temp file made for the upload. */
  cleanup(): Promise<void>;
}

/** Refuses an ONNX file whose external data leaves its folder; anything else is for the server to judge. */
async function refuseEscapingData(onnx: string): Promise<void> {
  const locations = await onnxExternalData(onnx).catch(() => []);
  const outside = locations.find((l) => !locationInsideFolder(l));
  if (outside !== undefined) {
    throw new ModelportError(
      'invalid_model',
      `the ONNX model is refused: a tensor points at external data outside the model's folder (${JSON.stringify(outside.slice(0, 200))})`,
      { field: 'file' },
    );
  }
}

const exists = async (path: string) => (await stat(path).catch(() => undefined)) !== undefined;
const nothing = async () => {};

export async function localImport(path: string, tempDir: string): Promise<LocalImport> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new ModelportError('invalid_request', `cannot read '${path}'`, { field: 'path' });
  if (info.isDirectory()) {
    if (await exists(join(path, 'MLmodel'))) {
      const model = await readMlflowModel(path);
      await refuseEscapingData(model.onnxPath);
      const tags: Record<string, string> = { 'imported.from': 'mlflow' };
      let description: string | undefined;
      if (model.signature) {
        tags['mlflow.signature.inputs'] = JSON.stringify(model.signature.inputs).slice(0, 4096);
        tags['mlflow.signature.outputs'] = JSON.stringify(model.signature.outputs).slice(0, 4096);
        description = `MLflow model; inputs: ${describeMlflowSpecs(model.signature.inputs)}; outputs: ${describeMlflowSpecs(model.signature.outputs)}`;
      }
      return { file: model.onnxPath, format: 'onnx', tags, cleanup: nothing, ...(description ? { description } : {}) };
    }
    if (await exists(join(path, MANIFEST_FILE))) {
      const dir = await mkdtemp(join(tempDir, 'modelport-pack-'));
      const file = join(dir, 'model.tgz');
      try {
        await packFolder(path, file);
      } catch (error) {
        await rm(dir, { recursive: true, force: true });
        throw error;
      }
      return { file, format: 'js', tags: {}, cleanup: () => rm(dir, { recursive: true, force: true }) };
    }
    throw new ModelportError(
      'invalid_request',
      `'${path}' is a folder without MLmodel (MLflow) or ${MANIFEST_FILE} (a js model); point at the model file or folder`,
      { field: 'path' },
    );
  }
  if ((await sniffFormat(path)) === 'js') return { file: path, format: 'js', tags: {}, cleanup: nothing };
  await refuseEscapingData(path);
  return { file: path, format: 'onnx', tags: {}, cleanup: nothing };
}

/**
 * What a container model type's upload is: a file as it is, a folder packed into a .tgz as js models are. Nothing
 * is opened or parsed: the file is data for the type's base image (a pickle runs code when loaded).
 */
export async function localContainerImport(
  path: string,
  tempDir: string,
): Promise<{ file: string; cleanup(): Promise<void> }> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new ModelportError('invalid_request', `cannot read '${path}'`, { field: 'path' });
  if (!info.isDirectory()) return { file: path, cleanup: nothing };
  const dir = await mkdtemp(join(tempDir, 'modelport-pack-'));
  const file = join(dir, 'model.tgz');
  try {
    await packFolder(path, file);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return { file, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
