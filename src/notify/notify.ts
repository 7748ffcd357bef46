/**
 * Notifications to a webhook: Slack's incoming-webhook shape (`{ text }`) or JSON (the event's fields and `text`).
 * Pipelines' `notify` step and deployments' drift alerts both send through here; the POST itself is the caller's
 * (the composition root passes the egress guard's), so no URL leaves unchecked.
 */
import { z } from 'zod';
import { ModelportError } from '../core/index.ts';

export const NotifySchema = z.strictObject({
  webhook: z.strictObject({
    /** The webhook URL; or `urlSecret`, the name of a secret holding it (Slack URLs are credentials). */
    url: z.string().max(2048).optional(),
    urlSecret: z.string().optional(),
    format: z.enum(['slack', 'json']).default('json'),
  }),
});

export type Notify = z.output<typeof NotifySchema>;

/** Sends a body to a URL (the egress guard's fetch at the composition root). */
export type PostJson = (url: string, body: string, signal?: AbortSignal) => Promise<{ status: number }>;

/** Refuses a webhook with neither or both of url and urlSecret, or a URL that is not http(s); names `field`. */
export function checkNotify(notify: Notify, field: string): void {
  const hook = notify.webhook;
  if ((hook.url === undefined) === (hook.urlSecret === undefined)) {
    throw new ModelportError(
      'invalid_request',
      `${field}.webhook: give the webhook as url or as urlSecret (a secret holding the URL)`,
      { field: `${field}.webhook` },
    );
  }
  if (hook.url !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(hook.url);
    } catch {}
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
      throw new ModelportError(
        'invalid_request',
        `${field}.webhook.url: '${hook.url.slice(0, 100)}' is not an http(s) URL`,
        {
          field: `${field}.webhook.url`,
        },
      );
    }
  }
}

export interface Notification {
  /** Lines of text: Slack shows them, JSON carries them as `text`. */
  lines: string[];
  /** The event's fields, sent as they are in the JSON format. */
  fields: Record<string, unknown>;
}

/**
 * Sends one notification. Resolves with where it went (the URL's origin, or the secret's name: a Slack URL is a
 * credential) and the HTTP status; throws `ModelportError` when the secret is unset, the guard refuses the URL, or
 * the webhook answers outside 2xx (`shown` and `status` are in its message).
 */
export async function sendNotification(
  notify: Notify,
  notification: Notification,
  deps: { post: PostJson; secrets: Record<string, string | undefined>; signal?: AbortSignal },
): Promise<{ shown: string; status: number }> {
  const hook = notify.webhook;
  const url = hook.url ?? deps.secrets[hook.urlSecret ?? ''];
  if (!url) {
    throw new ModelportError('invalid_request', `notify.webhook.urlSecret: the secret '${hook.urlSecret}' is not set`, {
      field: 'notify.webhook.urlSecret',
    });
  }
  const text = notification.lines.join('\n');
  const body = hook.format === 'slack' ? { text } : { ...notification.fields, text };
  const shown = hook.url ? new URL(url).origin : `the URL in secret ${hook.urlSecret}`;
  const response = await deps.post(url, JSON.stringify(body), deps.signal);
  if (response.status < 200 || response.status >= 300) {
    throw new ModelportError('not_ready', `the ${hook.format} webhook at ${shown} answered HTTP ${response.status}`);
  }
  return { shown, status: response.status };
}
