/**
 * Child-process entry of `inspectOnnxModel`: loads one file with ONNX Runtime and sends back its signature.
 * It loads from the bytes, not the path, so ORT's messages never contain a server path and external-data
 * references cannot reach files beside the model. A crash here costs only this short-lived process.
 */
import { readFile } from 'node:fs/promises';
import { ModelportError, type ModelSignature } from '../../core/index.ts';
import { createSession, sessionSignature } from './session.ts';

export interface InspectRequest {
  path: string;
}

export type InspectReply =
  | { ok: true; signature: ModelSignature }
  | { ok: false; code: 'invalid_model'; message: string };

process.on('disconnect', () => process.exit(0));

process.once('message', async (message: InspectRequest) => {
  let reply: InspectReply;
  try {
    const bytes = await readFile(message.path);
    const session = await createSession(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    try {
      reply = { ok: true, signature: sessionSignature(session) };
    } finally {
      await session.release();
    }
  } catch (error) {
    const text =
      error instanceof ModelportError ? error.message : error instanceof Error ? error.message : String(error);
    reply = { ok: false, code: 'invalid_model', message: text.split(message.path).join('<model>').slice(0, 500) };
  }
  process.send?.(reply, () => process.exit(0));
});
