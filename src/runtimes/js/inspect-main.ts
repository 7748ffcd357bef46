/**
 * Child-process entry of `inspectJsModel`: imports one extracted js model, calls its `load` (and `unload`), and
 * sends back the declared signature. Started with an empty environment, so a model run at registration sees no
 * server setting or secret. A hang or crash here costs only this short-lived process.
 */

import type { ModelSignature } from '../../core/index.ts';
import { ModelportError } from '../../core/index.ts';
import { describeModelError, openJsModel } from './js-runtime.ts';

export interface JsInspectRequest {
  dir: string;
}

export type JsInspectReply = { ok: true; signature: ModelSignature } | { ok: false; message: string };

process.on('disconnect', () => process.exit(0));

process.once('message', async (message: JsInspectRequest) => {
  let reply: JsInspectReply;
  try {
    const model = await openJsModel(message.dir, {});
    await model.module.unload?.(model.context);
    reply = { ok: true, signature: model.context.signature };
  } catch (error) {
    const text = error instanceof ModelportError ? error.message : describeModelError(error, message.dir);
    reply = { ok: false, message: text.split(message.dir).join('<model>').slice(0, 500) };
  }
  process.send?.(reply, () => process.exit(0));
});
