/**
 * `POST /hooks/pipelines/<project>/<pipeline>`: signed webhook deliveries that start pipeline runs. Outside /api/v1
 * on purpose: the sender (GitHub, a CI job) holds no Modelport token; the HMAC signature under the secret the
 * pipeline's `trigger.webhook` names is the authentication (see src/pipelines/webhook.ts). The body is capped at
 * 1 MiB before anything is verified.
 */
import { ModelportError } from '../core/index.ts';
import { type PathHandler, readBody, sendJson } from '../http/index.ts';
import type { Logger } from '../logging/index.ts';
import { type PipelineService, WEBHOOK_MAX_BYTES } from '../pipelines/index.ts';

export const HOOKS_PREFIX = '/hooks/pipelines/';

export function createPipelineHooksHandler(pipelines: PipelineService, log: Logger): PathHandler {
  return async (req, res, path) => {
    const parts = path.slice(HOOKS_PREFIX.length).split('/');
    if (!path.startsWith(HOOKS_PREFIX) || parts.length !== 2 || parts.some((p) => p === '')) {
      throw new ModelportError(
        'not_found',
        `nothing is served at ${path}; POST to ${HOOKS_PREFIX}<project>/<pipeline>`,
      );
    }
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      throw new ModelportError('method_not_allowed', 'a webhook delivery is a POST');
    }
    const [project, name] = parts.map((p) => decodeURIComponent(p)) as [string, string];
    const body = await readBody(req, WEBHOOK_MAX_BYTES);
    const run = await pipelines.webhook(project, name, req.headers, body);
    log.info('pipeline webhook delivery started a run', {
      project,
      pipeline: name,
      run: run.id,
      delivery: run.trigger.kind === 'webhook' ? run.trigger.delivery : undefined,
    });
    sendJson(res, 202, { id: run.id, pipeline: run.pipeline, number: run.number, state: run.state });
  };
}
