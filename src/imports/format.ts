/** Telling a model file's format by its bytes, for uploads and imports that do not say it. */
import { open } from 'node:fs/promises';
import { isGzip } from '../runtimes/index.ts';

/** 'js' for a gzip file (a js model archive), else 'onnx' (whose own checks then refuse what is not ONNX). */
export async function sniffFormat(path: string): Promise<'onnx' | 'js'> {
  const handle = await open(path, 'r');
  try {
    const head = new Uint8Array(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    return isGzip(head.subarray(0, bytesRead)) ? 'js' : 'onnx';
  } finally {
    await handle.close();
  }
}
