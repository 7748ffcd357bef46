/**
 * Authenticated webhook deliveries (`trigger: { webhook: { secret: NAME } }`): a delivery is signed with HMAC-SHA256
 * under the project secret the spec names, and starts at most one run per delivery id.
 *
 * Two signing schemes are accepted:
 * - Modelport's (replay-safe): `X-Modelport-Delivery: <id>`, `X-Modelport-Timestamp: <unix seconds>` and
 *   `X-Modelport-Signature: sha256=<hex HMAC of "<id>.<timestamp>.<body>">`; a timestamp more than 5 minutes away
 *   is refused, and an id seen before starts nothing (the run's trigger key is `webhook:<id>`, unique per pipeline).
 * - GitHub's: `X-Hub-Signature-256: sha256=<hex HMAC of the body>` with `X-GitHub-Delivery` and `X-GitHub-Event`.
 *   The id is de-duplicated the same way, but GitHub signs the body only: someone who captured a delivery could
 *   resend it under a new id. Prefer the Modelport scheme where you control the sender.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ModelportError } from '../core/index.ts';

/** Largest delivery body read (GitHub caps its payloads at 25 MB; a trigger needs far less). */
export const WEBHOOK_MAX_BYTES = 1024 * 1024;
/** How far a Modelport delivery's timestamp may be from the server's clock. */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

export interface VerifiedDelivery {
  delivery: string;
  /** `X-GitHub-Event` or `X-Modelport-Event`, when sent. */
  event: string | undefined;
  scheme: 'modelport' | 'github';
}

const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

const unauthenticated = (message: string) => new ModelportError('unauthenticated', message);

/** The signature a sender puts in `X-Modelport-Signature`. */
export function signModelportDelivery(secret: string, delivery: string, timestamp: number, body: Buffer | string) {
  const mac = createHmac('sha256', secret).update(`${delivery}.${timestamp}.`).update(body).digest('hex');
  return `sha256=${mac}`;
}

/** The signature GitHub puts in `X-Hub-Signature-256`. */
export function signGithubDelivery(secret: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

function same(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Checks a delivery's signature; throws `unauthenticated` (HTTP 401) saying what is wrong, never why it matched. */
export function verifyDelivery(
  headers: IncomingHttpHeaders,
  body: Buffer,
  secret: string,
  nowMs: number = Date.now(),
): VerifiedDelivery {
  const checkId = (id: string | undefined, name: string): string => {
    if (!id || !/^[A-Za-z0-9._:-]{1,128}$/.test(id)) {
      throw new ModelportError('invalid_request', `${name}: send a delivery id of 1-128 letters, digits, . _ : -`, {
        field: name,
      });
    }
    return id;
  };
  const modelport = header(headers, 'x-modelport-signature');
  if (modelport !== undefined) {
    const delivery = checkId(header(headers, 'x-modelport-delivery'), 'X-Modelport-Delivery');
    const timestamp = Number(header(headers, 'x-modelport-timestamp'));
    if (!Number.isInteger(timestamp)) {
      throw new ModelportError('invalid_request', 'X-Modelport-Timestamp: send the signing time in unix seconds', {
        field: 'X-Modelport-Timestamp',
      });
    }
    if (Math.abs(nowMs / 1000 - timestamp) > WEBHOOK_TOLERANCE_SECONDS) {
      throw unauthenticated(
        `the delivery was signed more than ${WEBHOOK_TOLERANCE_SECONDS / 60} minutes from now; sign each delivery when it is sent`,
      );
    }
    if (!same(modelport, signModelportDelivery(secret, delivery, timestamp, body))) {
      throw unauthenticated('the X-Modelport-Signature does not match the body under the pipeline webhook secret');
    }
    return { delivery, event: header(headers, 'x-modelport-event'), scheme: 'modelport' };
  }
  const github = header(headers, 'x-hub-signature-256');
  if (github !== undefined) {
    const delivery = checkId(header(headers, 'x-github-delivery'), 'X-GitHub-Delivery');
    if (!same(github, signGithubDelivery(secret, body))) {
      throw unauthenticated('the X-Hub-Signature-256 does not match the body under the pipeline webhook secret');
    }
    return { delivery, event: header(headers, 'x-github-event'), scheme: 'github' };
  }
  throw unauthenticated(
    'a webhook delivery must be signed: X-Modelport-Signature (with X-Modelport-Delivery and X-Modelport-Timestamp) or X-Hub-Signature-256',
  );
}
