/**
 * Routes of secrets: write-only values, names-only listing, and key rotation. No route returns a value; the two
 * bodies that carry one (a secret, a new key) are read here rather than by the router so that a malformed body is
 * refused without quoting any of it.
 */
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { ModelportError } from '../../core/index.ts';
import { readBody } from '../../http/index.ts';
import type { RotateSecretKey } from '../../secrets/index.ts';
import { checkSecretName, checkSecretValue, MAX_SECRET_BYTES, type SecretStore } from '../../secrets/index.ts';
import { route } from '../route.ts';
import { Name, ProjectParams } from '../schemas.ts';

export interface SecretRoutesDeps {
  secrets: SecretStore;
  rotateKey: RotateSecretKey;
}

const SecretName = z.string().describe('An environment variable name: A-Z, 0-9 and _, not starting with a digit');
const SecretParams = z.strictObject({ project: Name, name: SecretName });
const SecretInfoSchema = z.object({ name: z.string(), createdAt: z.string(), updatedAt: z.string() });

/** Reads a small JSON object whose string fields may be secret: errors name fields, never contents. */
async function readPrivateBody(req: IncomingMessage, fields: string[]): Promise<Record<string, string | undefined>> {
  const type = req.headers['content-type'] ?? 'application/json';
  if (!type.startsWith('application/json')) {
    throw new ModelportError('unsupported_media_type', `send the body as application/json, not ${type}`);
  }
  const raw = await readBody(req, MAX_SECRET_BYTES * 8);
  let body: unknown;
  try {
    body = JSON.parse(raw.length === 0 ? '{}' : raw.toString('utf8'));
  } catch {
    throw new ModelportError('invalid_json', 'body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ModelportError('invalid_request', 'body: send a JSON object', { field: 'body' });
  }
  const out: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(body)) {
    if (!fields.includes(key)) {
      throw new ModelportError('unknown_field', `body.${key}: unknown field; remove it or check its spelling`, {
        field: `body.${key}`,
      });
    }
    if (typeof value !== 'string') {
      throw new ModelportError('invalid_request', `body.${key}: must be a string`, { field: `body.${key}` });
    }
    out[key] = value;
  }
  return out;
}

export function secretRoutes({ secrets, rotateKey }: SecretRoutesDeps) {
  return [
    route({
      id: 'listSecrets',
      method: 'GET',
      path: '/projects/:project/secrets',
      permission: 'read',
      tag: 'secrets',
      summary: 'List the secrets of a project: names and timestamps, never values',
      params: ProjectParams,
      response: z.object({ secrets: z.array(SecretInfoSchema) }),
      handler: async ({ params }) => ({ secrets: await secrets.list(params.project) }),
    }),
    route({
      id: 'setSecret',
      method: 'PUT',
      path: '/projects/:project/secrets/:name',
      permission: 'admin',
      tag: 'secrets',
      summary:
        'Create or replace a secret. Body: {"value": "..."} (JSON, up to 64 KiB of UTF-8). The value is never returned',
      params: SecretParams,
      body: { stream: 'application/json', schema: z.strictObject({ value: z.string() }) },
      response: SecretInfoSchema.extend({ created: z.boolean() }),
      // The name only: the value never reaches the audit log.
      audit: { detail: ({ params }) => ({ secret: params.name, value: 'not recorded' }) },
      handler: async ({ params, req }) => {
        checkSecretName(params.name);
        const { value } = await readPrivateBody(req, ['value']);
        if (value === undefined) {
          throw new ModelportError('invalid_request', 'body.value: send the secret as {"value": "..."}', {
            field: 'body.value',
          });
        }
        checkSecretValue(value, 'body.value');
        return secrets.set(params.project, params.name, value);
      },
    }),
    route({
      id: 'deleteSecret',
      method: 'DELETE',
      path: '/projects/:project/secrets/:name',
      permission: 'admin',
      tag: 'secrets',
      summary: 'Delete a secret',
      params: SecretParams,
      status: 204,
      response: 'empty',
      handler: async ({ params }) => {
        await secrets.delete(params.project, params.name);
      },
    }),
    route({
      id: 'rotateSecretKey',
      method: 'POST',
      path: '/secrets/rotate',
      permission: 'admin',
      tag: 'secrets',
      summary:
        'Re-encrypt every secret under a new key in one transaction. With a key file, the server makes the key and replaces the file; with MODELPORT_SECRET_KEY, send {"newKey": "<base64 or hex of 32 bytes>"} and set the variable to it before the next restart',
      body: {
        stream: 'application/json',
        schema: z.strictObject({ newKey: z.string().optional().describe('base64 or hex of 32 bytes') }),
      },
      response: z.object({ rotated: z.number().int(), keyId: z.string(), origin: z.enum(['env', 'file']) }),
      handler: async ({ req }) => {
        const { newKey } = await readPrivateBody(req, ['newKey']);
        return rotateKey(newKey);
      },
    }),
  ];
}
